"""Round-15 campaign families, written from the threat description alone (issue 20, public 2026 disclosures).

Each family is one operator: `fn(log, pools, r, n_accounts, campaign_id)`; per-account behaviour does not
depend on n, so the same family at 20, 200 or 2,000 accounts differs only in size. Wording is this round's own.

- drift: one script over hundreds of accounts whose whole prompt template is replaced every 2-4 days.
- drip: a thousand-plus aged accounts on home lines, each only 2-5 requests a day at human hours, every day.
- formatlock: every account its own corpus slice and its own instruction wording; only the task mix and the
  machine-readable answer layout the operator's trainer parses are common.
- qafront: a shell "AI quality" vendor grading public-dataset answers under a rubric and asking for the ideal
  rewrite, at volume, from a few enterprise organisations.
- simenv: agent trajectories whose tool results are themselves produced by the model (other accounts of the
  operator are asked to play the API), fed back step by step.
- docqa: long real documents each harvested by several accounts, many questions per document, resent whole.
- parallel: worked solutions and explanations sent for translation into many languages (a multilingual
  reasoning set made from the model's own translations).
- piggyback: a free chat app that opens one API account per end user and slips its owner's jobs into each.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import timedelta

from probekit.agentic import fake_args, fake_result
from probekit.corpora import Item
from probekit.pools15 import ASK, LANGS, WHY, Phrase, Pools15, prose, translated
from probekit.world import (
    END,
    HUMAN_HOURS,
    STRONG,
    T0,
    Log,
    active_days,
    cloud_block,
    day_start,
    days_ago,
    flat_times,
    hexid,
    human_session_starts,
    in_block,
    think,
    ua_browser,
    ua_sdk,
)


def _strong(r: random.Random) -> str:
    return r.choice(STRONG)


def _lines(text: str) -> list[str]:
    parts = [x.strip() for x in re.split(r"\n+|(?<=[.!?])\s+(?=[A-Z0-9])", text) if x.strip()]
    return parts or [text.strip()]


def _solution(r: random.Random, P: Pools15, it: Item, lo: int = 300, hi: int = 1200) -> tuple[str, str]:
    """(worked reasoning, final line) for an item, from its reference answer where it has one."""
    ans = it.answer or prose(r, P, r.randint(lo, hi))
    ls = _lines(ans)
    if len(ls) == 1:
        return ls[0], ls[0][:160]
    body = ls[:-1]
    if r.random() < 0.5:
        return "\n".join(f"{i + 1}. {x}" for i, x in enumerate(body)), ls[-1]
    return "\n".join(body), ls[-1]


def _cards(r: random.Random, n: int, lo: int, hi: int) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        c = "pm_" + hexid(r, 16)
        out += [c] * r.randint(lo, hi)
    r.shuffle(out)
    return out[:n]


# -- drift: template rotation --------------------------------------------------------------------------------

D_SYS = Phrase(["You are", "Act as", "You will act as", "Role:", "Persona:"],
               ["an expert problem solver", "a senior tutor", "a knowledgeable assistant", "a domain specialist",
                "a careful analyst", "an experienced engineer and teacher", "a world-class reasoner"],
               ["", "who explains everything", "who never guesses", "writing model solutions",
                "preparing reference answers", "who values correctness over brevity"])
D_FMT = ["Format: reasoning first, then a line starting with 'ANSWER:'.", "End with: #### <final answer>",
         "Wrap the final result in \\boxed{}.", "Return markdown with the headings 'Approach', 'Steps', 'Result'.",
         "Final line must be 'Answer = ...'.", "Give the answer in bold at the very end.",
         "Respond in JSON: {\"steps\": [...], \"final\": \"...\"}.", "Use numbered steps; put the result last.",
         "First a one-line plan, then the solution, then 'Final:'.", ""]


def _drift_template(r: random.Random) -> dict:
    style = r.random()
    return {"sys": D_SYS(r) + "." if r.random() < 0.6 else "", "pre": ASK(r) + (":" if style < 0.5 else "."),
            "post": (WHY(r) + ". " + r.choice(D_FMT)).strip(), "before": style < 0.7,
            "params": {"temperature": r.choice([0, 0.2, 0.5, 0.7, 1.0])}
            | ({"max_tokens": r.choice([1024, 2048, 4096])} if r.random() < 0.6 else {})
            | ({"top_p": 0.95} if r.random() < 0.3 else {}),
            "ua": ua_sdk(r), "model": _strong(r)}


def drift(log: Log, P: Pools15, r: random.Random, n: int, cid: str) -> None:
    """One script, many accounts; its template (system prompt, frame, output format, sampling, client) is
    replaced every 2-4 days, and each account picks up the new one within hours."""
    items = P.c.gsm_train[3000:6000] + P.c.codegen[1500:2600] + P.wiz_items() + P.c.alpaca[500:]
    r.shuffle(items)
    bounds = [0.0]
    while bounds[-1] < 14:
        bounds.append(bounds[-1] + r.uniform(2, 4))
    tmpls = [_drift_template(r) for _ in bounds]
    blocks = [cloud_block(r) for _ in range(max(2, n // 40))]
    cards = _cards(r, n, 3, 8)
    k = r.randrange(len(items))
    for i in range(n):
        wave = r.randrange(3)
        a = log.account(r, "campaign:drift", cid, created=days_ago(r, 3 + 20 * wave, 10 + 20 * wave),
                        payment=cards[i], ip_mode="per-request" if r.random() < 0.6 else "pool",
                        ips=[in_block(r, r.choice(blocks)) for _ in range(4)],
                        email=r.choice(["gmail.com", "outlook.com", "hotmail.com", "proton.me", "yandex.ru"]))
        lag = timedelta(hours=r.uniform(0, 10))
        start = T0 + timedelta(days=r.uniform(0, 3))
        for t in flat_times(r, start, END, r.uniform(8, 20), amp=r.uniform(0, 0.4), phase_h=r.uniform(0, 24)):
            e = sum(1 for b in bounds if day_start(0) + timedelta(days=b) + lag <= t) - 1
            tp = tmpls[max(0, e)]
            it = items[k % len(items)]
            k += 1
            body = (f"{tp['pre']}\n\n{it.text}\n\n{tp['post']}" if tp["before"]
                    else f"{it.text}\n\n{tp['pre']} {tp['post']}")
            m = ([{"role": "system", "content": tp["sys"]}] if tp["sys"] else []) + [{"role": "user", "content": body}]
            steps, final = _solution(r, P, it)
            log.add(r, a, t, m, completion=f"{steps}\n\n{final}", params=tp["params"], ua=tp["ua"], model=tp["model"])


# -- drip: very many accounts, very little each --------------------------------------------------------------

def drip(log: Log, P: Pools15, r: random.Random, n: int, cid: str) -> None:
    """A farm of aged accounts on residential lines, each 2-5 single requests a day at local human hours."""
    items = P.wiz_items() + [x for _, x in P.p.oriented] + P.c.codegen[2600:3600] + P.c.gsm_train[:3000] + \
        P.c.selfinstruct
    r.shuffle(items)
    wraps = [(ASK(r), WHY(r)) for _ in range(r.randint(8, 14))]
    cards = _cards(r, n, 1, 3)
    where = r.sample(["US", "GB", "DE", "BR", "IN", "ID", "VN", "PL", "MX", "CA"], 4)
    k = r.randrange(len(items))
    for i in range(n):
        a = log.account(r, "campaign:drip", cid, country=r.choice(where), created=days_ago(r, 30, 700),
                        payment=cards[i], model=r.choice(STRONG + ["gpt-4o-mini"]),
                        tier=r.choice(["free", "pay-as-you-go", "plus"]))
        w = wraps[i % len(wraps)]
        days = active_days(r, r.randrange(0, 3), 14, p=r.uniform(0.75, 0.97))
        for d in days:
            for _ in range(r.randint(2, 5)):
                h = r.choices(range(24), weights=HUMAN_HOURS)[0] + r.random() - a.tz
                t = day_start(d) + timedelta(hours=h)
                if t < T0:
                    continue
                it = items[k % len(items)]
                k += 1
                ask = w[0] if r.random() < 0.8 else ASK(r)
                body = f"{ask}. {w[1]}.\n\n{it.text}" if r.random() < 0.6 else f"{it.text}\n\n{ask}, {w[1].lower()}."
                steps, final = _solution(r, P, it)
                log.add(r, a, t, [{"role": "user", "content": body}], completion=f"{steps}\n{final}",
                        params={"temperature": r.choice([0.3, 0.7, 1.0])} if r.random() < 0.5 else None)


# -- formatlock: no shared wording, one answer layout ---------------------------------------------------------

FL_KEYS = Phrase(["Reply", "Answer", "Respond", "Output", "Give your response", "Write your reply"],
                 ["as a JSON object", "only as JSON", "in JSON form", "as one JSON document", "as strict JSON"],
                 ["with two keys,", "having the fields", "containing", "with exactly the keys", "that has"],
                 ['"reasoning" and "answer"'],
                 ["", "and nothing else", "(no prose outside it)", "- the reasoning in full, the answer short",
                  "; put every step in reasoning"])


def formatlock(log: Log, P: Pools15, r: random.Random, n: int, cid: str) -> None:
    """Accounts with nothing textual in common: each its own corpus slice and its own instruction; all demand
    the same machine-readable layout (JSON with a full reasoning field and a short answer field)."""
    socr = [Item(q, "\n".join(f"{a} {b}" for a, b in st) + f"\nThe answer is {fin}.", "math")
            for q, st, fin in P.p.socratic]
    sources = [P.c.gsm_train[6000:], P.c.codegen[3600:], P.c.toolformer[3000:6000], P.c.roleplay[1000:],
               P.c.alpaca[:500], P.c.selfinstruct, socr, P.wiz_items({"Reasoning", "Math", "Physics",
                                                                       "Computer Science", "Code Generation"})]
    for i in range(n):
        src = sources[i % len(sources)]
        per = max(40, len(src) // max(1, (n + len(sources) - 1) // len(sources)))
        lo = (i // len(sources)) * per % max(1, len(src))
        mine = (src[lo:lo + per] or src)[:]
        r.shuffle(mine)
        a = log.account(r, "campaign:formatlock", cid, created=days_ago(r, 2, 200), model=_strong(r),
                        ip_mode=r.choice(["per-day", "per-request", "home"]),
                        ua=ua_sdk(r) if r.random() < 0.6 else ua_browser(r),
                        email=r.choice(["gmail.com", "outlook.com", "icloud.com", "proton.me", "qq.com", "gmx.de"]))
        instr = ASK(r) + ". " + WHY(r) + ". " + FL_KEYS(r) + "."
        sys_first = r.random() < 0.5
        params = {"temperature": 0.6, "max_tokens": 3000, "response_format": {"type": "json_object"}}
        k = 0
        for t in flat_times(r, T0 + timedelta(days=r.uniform(0, 5)), END, r.uniform(12, 30), amp=r.uniform(0, 0.5),
                            phase_h=r.uniform(0, 24)):
            it = mine[k % len(mine)]
            k += 1
            m = [{"role": "system", "content": instr}, {"role": "user", "content": it.text}] if sys_first else \
                [{"role": "user", "content": f"{it.text}\n\n{instr}"}]
            steps, final = _solution(r, P, it)
            out = json.dumps({"reasoning": steps[:1500], "answer": final[:300]}, ensure_ascii=False)
            log.add(r, a, t, m, completion=out,
                    params=params, max_completion_chars=4000)


# -- qafront: rubric grading disguised as product QA ----------------------------------------------------------

QA_BRAND = ["Veritune", "Qualibrate", "Gradewell", "Assurely", "Benchwise", "Scorecraft", "Truelens", "Evalon"]
QA_SYS = ["You are a senior reviewer at {b}, an AI quality assurance company. For each assistant transcript, "
          "rate it on the client's rubric ({crit}), explain each rating, then write the ideal assistant reply.",
          "{b} QA pipeline, reviewer mode. Score the transcript 1-10 per criterion: {crit}. Then provide a "
          "corrected gold response that would score 10.",
          "As a {b} quality analyst, audit the chatbot answer below. Criteria: {crit}. Output a score table, "
          "the main defects, and a rewritten reference answer."]
QA_CRIT = ["correctness", "completeness", "reasoning transparency", "instruction adherence", "tone", "safety",
           "concision", "code quality", "factual grounding", "formatting"]


def qafront(log: Log, P: Pools15, r: random.Random, n: int, cid: str) -> None:
    """Enterprise-looking accounts of a few shell QA firms grading 'client transcripts' that are public-dataset
    questions with candidate answers of every domain, never the same twice; asks for the ideal rewrite."""
    pool = P.c.codegen[:1500] + P.c.gsm_train[6000:] + P.c.alpaca + [x for _, x in P.p.oriented] + \
        P.c.roleplay[:1000] + P.c.toolformer[:1500]
    r.shuffle(pool)
    firms = max(1, min(4, n // 6))
    firm = []
    for _ in range(firms):
        b = r.choice(QA_BRAND)
        firm.append({"org": "org_" + hexid(r, 10), "sys": r.choice(QA_SYS).format(
            b=b, crit=", ".join(r.sample(QA_CRIT, r.randint(3, 5)))), "blocks": [cloud_block(r) for _ in range(2)],
            "card": "pm_" + hexid(r, 16), "country": r.choice(["US", "GB", "SG", "CA", "DE"]), "ua": ua_sdk(r)})
    k = 0
    for i in range(n):
        f = firm[i % firms]
        a = log.account(r, "campaign:qafront", cid, created=days_ago(r, 20, 120), org=f["org"], payment=f["card"],
                        country=f["country"], tier="enterprise", ip_mode="pool", ua=f["ua"], model=_strong(r),
                        ips=[in_block(r, b) for b in f["blocks"] for _ in range(2)], email=f"{f['org'][4:10]}.io")
        for t in flat_times(r, T0 + timedelta(days=r.uniform(0, 2)), END, r.uniform(60, 160), amp=0.6,
                            phase_h=r.uniform(13, 17)):
            if t.weekday() >= 5 and r.random() < 0.5:
                continue
            it = pool[k % len(pool)]
            k += 1
            ans = it.answer or prose(r, P, r.randint(200, 800))
            if r.random() < 0.5:  # the "client bot" answer is damaged so the rewrite matters
                ls = _lines(ans)
                ans = " ".join(ls[: max(1, len(ls) * 2 // 3)])
            ticket = f"TCK-{r.randint(100000, 999999)}"
            body = f"Ticket {ticket}\n\n[USER]\n{it.text}\n\n[ASSISTANT]\n{ans[:1500]}"
            steps, final = _solution(r, P, it)
            comp = ("| criterion | score |\n|---|---|\n" + "\n".join(f"| {c} | {r.randint(3, 10)} |" for c in
                                                                      r.sample(QA_CRIT, 3))
                    + f"\n\nDefects: {r.choice(['missing steps', 'wrong final value', 'unclear', 'incomplete code'])}."
                    + f"\n\nIdeal response:\n{steps}\n{final}")
            log.add(r, a, t, [{"role": "system", "content": f["sys"]}, {"role": "user", "content": body}],
                    completion=comp, params={"temperature": 0.2, "max_tokens": 2000})


# -- simenv: the model plays the tools too --------------------------------------------------------------------

SIM_ASK = ["You are simulating the backend of the API `{name}` ({desc}). A client called it with the arguments "
           "below. Return only a realistic JSON response body.\n\nArguments: {args}",
           "Pretend to be the `{name}` endpoint. Input: {args}\nProduce the HTTP 200 JSON output a real service "
           "would return. No explanation.",
           "Mock server mode. Tool: {name} - {desc}\nCall: {args}\nRespond with plausible output data only."]
AG_SYS = ["You are an assistant that can call functions. Think about which tool to use, call it, read its result "
          "and continue until you can answer the user fully. Explain your reasoning at each step.",
          "Agent. Available functions are listed. Plan, call tools one at a time, reflect on every observation, "
          "then give a complete final answer.",
          "You solve user requests with tools. Before each call, state why. After the last observation, write "
          "the final answer with a short justification."]


def simenv(log: Log, P: Pools15, r: random.Random, n: int, cid: str) -> None:
    """Tool-use trajectories over public tool sets where every tool result is generated by the model itself:
    a quarter of the accounts are asked to 'play the API', the rest run the agent loop with those results."""
    envs = list(P.c.toolenvs)
    n_sim = max(1, n // 4)
    block = [cloud_block(r) for _ in range(3)]
    mk = []
    for i in range(n):
        role = "sim" if i < n_sim else "agent"
        mk.append((log.account(r, "campaign:simenv", cid, created=days_ago(r, 5, 90), model=_strong(r),
                               ip_mode="pool" if r.random() < 0.7 else "per-request",
                               ips=[in_block(r, r.choice(block)) for _ in range(3)], ua=ua_sdk(r)), role))
    sims = [a for a, ro in mk if ro == "sim"]
    agents = [a for a, ro in mk if ro == "agent"] or sims
    sys_of = {a.account_id: r.choice(AG_SYS) for a in agents}
    for a in agents:
        for t in flat_times(r, T0 + timedelta(days=r.uniform(0, 3)), END, r.uniform(3, 7), amp=0.3,
                            phase_h=r.uniform(0, 24)):
            env = r.choice(envs)
            tools = [dict(s) for s in env.schemas][:6]
            q = env.query if r.random() < 0.5 else f"{env.query} {r.choice(['Please be thorough.', 'Explain.', ''])}"
            hist = [{"role": "system", "content": sys_of[a.account_id]}, {"role": "user", "content": q}]
            conv = "traj_" + hexid(r, 12)
            for s in range(r.randint(2, 5)):
                sc = tools[s % len(tools)]
                args = fake_args(r, sc, q)
                cid_ = "call_" + hexid(r, 20)
                say = f"To answer this I need {sc['name']}; calling it with {json.dumps(args)[:200]}."
                log.add(r, a, t, [dict(m) for m in hist], completion=say, tools=tools, conv=conv,
                        params={"temperature": 0.4})
                t += timedelta(seconds=r.uniform(2, 10))
                sim = r.choice(sims)
                ask = r.choice(SIM_ASK).format(name=sc["name"], desc=str(sc.get("description", ""))[:200],
                                               args=json.dumps(args))
                res = fake_result(r, sc["name"], args)
                log.add(r, sim, t, [{"role": "user", "content": ask}], completion=res,
                        params={"temperature": 0.9, "max_tokens": 600})
                t += timedelta(seconds=r.uniform(2, 10))
                hist += [{"role": "assistant", "content": say, "tool_calls": [
                    {"id": cid_, "type": "function", "function": {"name": sc["name"], "arguments": json.dumps(args)}}]},
                    {"role": "tool", "tool_call_id": cid_, "content": res}]
            fin = "Based on the results: " + prose(r, P, r.randint(300, 900))
            log.add(r, a, t, [dict(m) for m in hist], completion=fin, tools=tools, conv=conv,
                    params={"temperature": 0.4})


# -- docqa: long documents, many questions, several accounts each --------------------------------------------

DQ = ["Summarise the document above in {k} bullet points.", "List every named person, organisation and product in "
      "the text as JSON.", "What is the main argument of this text, and what evidence supports it? Quote it.",
      "Write {k} question-answer pairs that test understanding of this document.",
      "Explain the section that mentions \"{w}\" to a newcomer, step by step.",
      "Create {k} multiple-choice questions (4 options, mark the correct one) from this text.",
      "What would a critical reviewer object to in this document? Give reasons.",
      "Extract all numbers, dates and quantities with what they refer to, as a table.",
      "Rewrite the document as a structured outline with headings.",
      "According to the text, why \"{w}\"? Cite the line.",
      "Identify any logical gaps or contradictions in the text and explain each."]
DQ_WRAP = [("<document>\n", "\n</document>\n\n"), ("DOCUMENT:\n", "\n\nTASK: "), ("", "\n\n---\n"),
           ("Read the following carefully.\n\n", "\n\nQuestion: "), ("### Context\n", "\n### Instruction\n")]


def docqa(log: Log, P: Pools15, r: random.Random, n: int, cid: str) -> None:
    """Each real long document goes to 3-6 accounts; every account asks it 4-12 questions, one request each,
    the whole document resent each time; around the clock from cloud addresses and proxies."""
    docs = P.docs_a[:]
    r.shuffle(docs)
    wrap = r.choice(DQ_WRAP)
    accts = [log.account(r, "campaign:docqa", cid, created=days_ago(r, 5, 150), model=_strong(r),
                         ip_mode=r.choice(["pool", "per-request"]), ips=[in_block(r, cloud_block(r)) for _ in range(3)],
                         ua=ua_sdk(r)) for _ in range(n)]
    clock = {a.account_id: T0 + timedelta(hours=r.uniform(0, 72)) for a in accts}
    rate = {a.account_id: r.uniform(6, 14) for a in accts}
    di = 0
    while True:
        live = [a for a in accts if clock[a.account_id] < END]
        if not live:
            return
        doc = docs[di % len(docs)]
        di += 1
        words = re.findall(r"\b[A-Za-z][a-z]{5,}\b", doc) or ["this"]
        for a in r.sample(live, min(len(live), r.randint(3, 6))):
            t = clock[a.account_id]
            for _ in range(r.randint(4, 12)):
                q = r.choice(DQ).format(k=r.randint(3, 10), w=r.choice(words))
                log.add(r, a, t, [{"role": "user", "content": f"{wrap[0]}{doc}{wrap[1]}{q}"}],
                        completion=prose(r, P, r.randint(400, 1600)), params={"temperature": 0.3, "max_tokens": 1500},
                        max_completion_chars=1600)
                t += timedelta(seconds=r.expovariate(rate[a.account_id] / 86400))
            clock[a.account_id] = t


# -- parallel: reasoning translated into many languages -------------------------------------------------------

PL_ASK = Phrase(["Translate", "Render", "Convert", "Put", "Carry over", "Turn"],
                ["the worked solution below", "this step-by-step explanation", "the following solution",
                 "this reasoning", "the text below (question and answer)", "the explanation that follows"],
                ["into {lang}", "to {lang}", "into natural {lang}"],
                ["", "keeping every step", "keeping numbers and code unchanged", "without shortening it",
                 "preserving the structure line by line", "fluently and completely"])


def parallel(log: Log, P: Pools15, r: random.Random, n: int, cid: str) -> None:
    """Worked solutions and explanations (the corpora's reference answers) sent for translation into many
    languages, question and answer together; each account 1-3 target languages, own wording, all day."""
    src = [it for it in P.c.gsm_train[:6000] if it.answer] + [it for it in P.c.codegen[:2000] if it.answer] + \
        [Item(q, "\n".join(f"{a} {b}" for a, b in st) + f"\nAnswer: {fin}", "math") for q, st, fin in P.p.socratic]
    r.shuffle(src)
    k = r.randrange(len(src))
    for _ in range(n):
        langs = r.sample(list(LANGS), r.randint(1, 3))
        a = log.account(r, "campaign:parallel", cid, created=days_ago(r, 3, 300), model=_strong(r),
                        ip_mode=r.choice(["per-request", "per-day"]),
                        ua=ua_sdk(r) if r.random() < 0.7 else ua_browser(r))
        ask = PL_ASK(r)
        json_out = r.random() < 0.4
        for t in flat_times(r, T0 + timedelta(days=r.uniform(0, 4)), END, r.uniform(12, 30), amp=0.3,
                            phase_h=r.uniform(0, 24)):
            it = src[k % len(src)]
            k += 1
            lang = r.choice(langs)
            text = f"Question: {it.text}\n\nSolution:\n{it.answer}"
            instr = ask.format(lang=lang) + "." + \
                (' Return JSON {"question": ..., "solution": ...}.' if json_out else "")
            out = translated(r, lang, text)
            if json_out:
                qa = out.split("\n\n", 1)
                out = json.dumps({"question": qa[0], "solution": qa[-1]}, ensure_ascii=False)
            log.add(r, a, t, [{"role": "user", "content": f"{instr}\n\n{text}"}], completion=out,
                    params={"temperature": 0.2}, max_completion_chars=6000)


# -- piggyback: a consumer app's per-user accounts carry the owner's jobs ------------------------------------

PB_APPS = [("Lumi", "You are Lumi, a friendly AI companion in the Lumi Chat app. Be helpful, warm and concise. "
                    "Use emoji sparingly. Today is {d}."),
           ("AskBee", "You are AskBee, the assistant of the AskBee mobile app. Answer clearly; for maths and code, "
                      "be accurate. Current date: {d}."),
           ("Chatwise", "Chatwise assistant. Reply in the user's language. Keep answers focused. Date: {d}.")]
PB_JOB = ["{q}", "{q}\n\nExplain step by step.", "Answer in detail with full reasoning:\n{q}",
          "{q}\n\n(Provide a complete, well-reasoned answer.)"]


def piggyback(log: Log, P: Pools15, r: random.Random, n: int, cid: str) -> None:
    """One API account per end user of a free chat app (each account one person's real chat from the app's
    servers), and the owner's extraction jobs, 10-25 % of each account's requests, at any hour."""
    name, sys_t = r.choice(PB_APPS)
    blocks = [cloud_block(r) for _ in range(2)]
    app_ua = f"{name.lower()}-server/{r.randint(1, 3)}.{r.randint(0, 9)}.{r.randint(0, 20)} " + ua_sdk(r)
    jobs = P.c.codegen[2600:3600] + P.c.gsm_train[3000:6000] + P.wiz_items() + [x for _, x in P.p.oriented]
    r.shuffle(jobs)
    convs = P.p.tail
    card = "pm_" + hexid(r, 16)
    k = r.randrange(len(jobs))
    for _ in range(n):
        a = log.account(r, "campaign:piggyback", cid, created=T0 + timedelta(days=r.uniform(-40, 6)),
                        payment=card if r.random() < 0.7 else "pm_" + hexid(r, 16), ip_mode="pool",
                        ips=[in_block(r, b) for b in blocks for _ in range(2)], ua=app_ua, tier="free",
                        email=f"users.{name.lower()}.app", model="gpt-4o-mini")
        first = max(0, (a.created - T0).days)
        days = active_days(r, first, 14, p=r.uniform(0.3, 0.8)) or [min(13, first)]
        n_chat = 0
        for t in human_session_starts(r, a, days, r.uniform(0.8, 3)):
            if t < a.created:
                continue
            turns, lens = r.choice(convs)
            sp = sys_t.format(d=t.strftime("%Y-%m-%d"))
            hist = [{"role": "system", "content": sp}]
            for j in range(min(len(turns), r.choice([1, 2, 2, 3, 4]))):
                hist.append({"role": "user", "content": turns[j]})
                comp = prose(r, P, lens[j])
                log.add(r, a, t, [dict(m) for m in hist], completion=comp, params={"stream": True})
                hist.append({"role": "assistant", "content": comp[:900]})
                t += think(r, 12, 70)
                n_chat += 1
        share = r.uniform(0.1, 0.25)
        n_jobs = max(1, int(round(n_chat * share / (1 - share))))
        span0 = max(a.created, day_start(days[0]))
        for _ in range(n_jobs):
            t = span0 + timedelta(seconds=r.uniform(0, max(3600, (END - span0).total_seconds())))
            it = jobs[k % len(jobs)]
            k += 1
            steps, final = _solution(r, P, it)
            log.add(r, a, t, [{"role": "system", "content": sys_t.format(d=t.strftime("%Y-%m-%d"))},
                              {"role": "user", "content": r.choice(PB_JOB).format(q=it.text)}],
                    completion=f"{steps}\n\n{final}", model=_strong(r), params={"temperature": 0.5})


FAMILIES: dict[str, tuple[Callable[..., None], int]] = {
    "drift": (drift, 240), "drip": (drip, 1000), "formatlock": (formatlock, 150), "qafront": (qafront, 24),
    "simenv": (simenv, 120), "docqa": (docqa, 60), "parallel": (parallel, 100), "piggyback": (piggyback, 200),
}
