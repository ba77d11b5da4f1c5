"""Round-13 legitimate kinds: ordinary users and the hard negatives of issue 20, written for this round.

Each kind is `fn(log, pools, r, scale)` and labels its accounts `legit:<kind>` with no campaign.

- chat: ordinary chat users of light, medium and heavy intensity (ShareGPT conversations).
- support: customer-support bot operators, one brand system prompt each, end users' questions all day.
- evaljudge: companies using the model as an LLM judge of their own product's outputs, nightly eval runs.
- translate: translation agencies sending documents segment by segment in business hours.
- ide: one IDE coding assistant; hundreds of developers send its system prompt and tools with their own keys.
- classroom: two university courses running one problem set in one week, plus each course's autograder.
- benchlab: labs running a public benchmark once over several keys of one organisation.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import timedelta

from probekit.corpora import Item
from probekit.pools13 import Pools13, filler
from probekit.world import (
    COUNTRIES,
    T0,
    WORK_HOURS,
    Log,
    active_days,
    cloud_block,
    hexid,
    human_session_starts,
    in_block,
    local_time,
    scaled,
    think,
    ua_browser,
    ua_sdk,
)


def _filler(r: random.Random, p: Pools13, n: int) -> str:
    return filler(r, p, n, 30)


# -- chat -----------------------------------------------------------------------------------------------------

def chat(log: Log, p: Pools13, r: random.Random, scale: float) -> None:
    """People chatting: most a few times in two weeks, some daily, a few heavy users; multi-turn sessions."""
    convs = p.tail + p.c.chats
    for _ in range(scaled(3300, scale, 5)):
        tier = r.choices(["light", "medium", "heavy"], weights=[62, 30, 8])[0]
        a = log.account(r, "legit:chat", tier=r.choice(["free", "free", "plus", "pay-as-you-go"]))
        if r.random() < 0.1:
            a.ua = ua_sdk(r)  # some hobbyists call the API from scripts
        if tier == "light":
            days, per = active_days(r, p=r.uniform(0.08, 0.25)) or [r.randrange(14)], r.uniform(0.8, 1.6)
        elif tier == "medium":
            days, per = active_days(r, p=r.uniform(0.3, 0.6)), r.uniform(1.2, 2.5)
        else:
            days, per = active_days(r, p=r.uniform(0.7, 1.0)), r.uniform(3, 7)
        persona = r.choice(p.c.personas) if r.random() < 0.07 else None
        for t in human_session_starts(r, a, days, per):
            turns, lens = r.choice(convs)
            hist: list[dict] = [{"role": "user", "content": persona}] if persona and r.random() < 0.5 else []
            if hist:
                hist.append({"role": "assistant", "content": _filler(r, p, 300)})
            conv = "conv_" + hexid(r, 12) if r.random() < 0.4 else None
            for j in range(min(len(turns), r.choice([1, 1, 2, 2, 3, 4, 6]))):
                hist.append({"role": "user", "content": turns[j]})
                comp = _filler(r, p, lens[j])
                log.add(r, a, t, [dict(m) for m in hist], completion=comp, conv=conv,
                        params={"stream": True} if r.random() < 0.5 else None)
                hist.append({"role": "assistant", "content": comp[:900]})
                t += think(r, 12, 60 + len(comp) / 20)


# -- support bots ---------------------------------------------------------------------------------------------

DOMAINS = {
    "telecom": (["my mobile plan", "the fibre router", "roaming charges", "my SIM card", "the last bill"],
                "a mobile and broadband provider"),
    "bank": (["a card payment", "my savings account", "the mobile banking app", "an international transfer",
              "my overdraft"], "a retail bank"),
    "shop": (["my order", "a return", "the delivery date", "a discount code", "a damaged parcel"],
             "an online store for home goods"),
    "airline": (["my booking", "checked baggage", "a cancelled flight", "seat selection", "my refund"],
                "a regional airline"),
    "saas": (["SSO login", "the billing portal", "API rate limits", "a data export", "user seats"],
             "a project-management software company"),
    "utility": (["my meter reading", "a payment plan", "moving house", "the outage yesterday", "my tariff"],
                "an energy supplier"),
    "games": (["a missing purchase", "my account ban", "cross-play", "a refund for DLC", "lag on servers"],
              "an online game studio"),
}
ISSUE = ["I have a problem with {x}.", "Quick question about {x}", "Why is {x} not working?",
         "can you help me with {x}", "What are my options regarding {x}?", "{x} — this is the third time I ask!!",
         "Hi, I need information on {x}.", "hello. {x}. thanks", "Is it possible to change {x}?",
         "I want to complain about {x}", "How long does it take to sort out {x}?"]
BOT_NAMES = ["Ava", "Max", "Nova", "Sunny", "Pixel", "Leo", "Mia", "Orbit", "Juniper", "Kai", "Remy", "Zed"]
TONE = ["Be warm and concise.", "Use a friendly, professional tone.", "Keep answers under 120 words.",
        "Write in the customer's language.", "Never promise refunds; explain the policy instead.",
        "Avoid jargon."]


def support(log: Log, p: Pools13, r: random.Random, scale: float) -> None:
    """Operators of customer-support bots: one brand prompt, their end users' questions at regional hours."""
    generic = [x for x in p.c.casual if len(x) < 400]
    for _ in range(scaled(24, scale)):
        dom = r.choice(list(DOMAINS))
        things, desc = DOMAINS[dom]
        brand = r.choice(["Acme", "Blue", "Nord", "Helio", "Vanta", "Kestrel", "Pine", "Orca", "Lumen", "Tessel"]) + \
            r.choice(["tel", "bank", "Mart", "Air", "Soft", "Power", "Play", "ly", " Group", "Hub"])
        sys_p = (f"You are {r.choice(BOT_NAMES)}, the virtual assistant of {brand}, {desc}. "
                 f"{' '.join(r.sample(TONE, 2))} If you cannot resolve an issue, offer to connect the customer "
                 f"with a human agent. Today's reference number prefix is {brand[:3].upper()}.")
        country = r.choice(list(COUNTRIES))
        org = "org_" + hexid(r, 10)
        block = cloud_block(r)
        ua = ua_sdk(r)
        accts = [log.account(r, "legit:support", country=country, org=org, ip_mode="pool",
                             ips=[in_block(r, block) for _ in range(3)], ua=ua, tier="enterprise",
                             model=r.choice(["gpt-4o-mini", "frontier-1-mini", "gpt-4o"]))
                 for _ in range(r.randint(1, 3))]
        vol = r.uniform(40, 260)
        for d in range(14):
            wd = (T0 + timedelta(days=d)).weekday()
            for t in human_session_starts(r, accts[0], [d], vol * (0.6 if wd >= 5 else 1.0)):
                a = accts[0] if r.random() < 0.8 else r.choice(accts)
                hist = [{"role": "system", "content": sys_p}]
                first = r.choice(ISSUE).format(x=r.choice(things)) if r.random() < 0.65 else r.choice(generic)
                for j in range(r.choice([1, 1, 2, 2, 3])):
                    u = first if j == 0 else r.choice(["ok thanks", "that didn't help", "order number is "
                                                       + str(r.randint(10**6, 10**7)), "can I talk to a human?",
                                                       "and how much will it cost?", "yes please"])
                    hist.append({"role": "user", "content": u})
                    comp = _filler(r, p, r.randint(120, 500))
                    log.add(r, a, t, [dict(m) for m in hist], completion=comp,
                            params={"temperature": 0.3, "max_tokens": 400})
                    hist.append({"role": "assistant", "content": comp})
                    t += think(r, 10, 45)


# -- evaljudge: a company's LLM-as-judge over its own outputs --------------------------------------------------

JUDGE_SYS = ["You grade answers produced by our assistant for {prod}. Criteria: {crit}. Return JSON "
             '{{"score": 1-5, "issues": [..]}}. Be strict and consistent.',
             "Evaluation rubric for {prod} release candidates. Check {crit}. Respond with a JSON object containing "
             "'verdict' (pass/fail), 'score' (0-10) and 'notes'.",
             "You are the QA judge for {prod}. Compare the candidate reply with the reference reply and decide "
             "if the candidate is at least as good on {crit}. Output WIN, TIE or LOSS and one sentence.",
             "Score the response of {prod} on {crit} using 1-5. Output only the digit and a short reason."]
PRODUCTS = ["our travel-planning assistant", "the HR policy bot", "our tax help chatbot", "the recipe app's helper",
            "our legal intake assistant", "the onboarding copilot", "our e-commerce shopping guide",
            "the internal IT helpdesk bot"]
JCRIT = [["groundedness in the provided policy", "tone", "no hallucinated numbers"],
         ["task completion", "safety", "brevity"], ["factuality", "politeness", "format compliance"],
         ["correctness", "helpfulness", "staying in scope"]]


def evaljudge(log: Log, p: Pools13, r: random.Random, scale: float) -> None:
    """Product teams grading their assistant's outputs on a fixed internal test set, nightly and on demand."""
    src = [x for x in p.c.casual] + [x.text for _, x in p.oriented] + [t[0] for t, _ in p.tail[:3000]]
    for _ in range(scaled(6, scale)):
        org = "org_" + hexid(r, 10)
        prod = r.choice(PRODUCTS)
        fmt = r.randrange(len(JUDGE_SYS))
        sys_p = JUDGE_SYS[fmt].format(prod=prod, crit=", ".join(r.choice(JCRIT)))
        tests = r.sample(src, r.randint(150, 400))
        ref = {q: _filler(r, p, r.randint(200, 700)) for q in tests}
        country = r.choice(["US", "GB", "DE", "FR", "IN", "SG", "CA"])
        block = cloud_block(r)
        accts = [log.account(r, "legit:evaljudge", country=country, org=org, ip_mode="pool",
                             ips=[in_block(r, block) for _ in range(2)], ua=ua_sdk(r), tier="enterprise",
                             model="gpt-4o") for _ in range(r.randint(1, 3))]
        runs = [(d, r.uniform(1, 3.5), accts[0]) for d in range(14) if (T0 + timedelta(days=d)).weekday() < 5
                and r.random() < 0.85]
        runs += [(r.randrange(14), r.uniform(9.5, 17), r.choice(accts)) for _ in range(r.randint(1, 5))]
        version = 0
        for d, h, a in sorted(runs, key=lambda x: (x[0], x[1])):
            if r.random() < 0.4:
                version += 1
            t = local_time(a, d, h)
            subset = tests if r.random() < 0.8 else r.sample(tests, len(tests) // 3)
            for q in subset:
                cand = _filler(random.Random(f"{q}:{version}"), p, r.randint(150, 600))
                if fmt == 2:
                    body = f"[Question]\n{q}\n\n[Reference]\n{ref[q]}\n\n[Candidate]\n{cand}"
                    comp = r.choice(["WIN", "TIE", "LOSS"]) + " - " + r.choice(
                        ["equally grounded.", "candidate skips a step.", "candidate is clearer."])
                else:
                    body = f"User message:\n{q}\n\nAssistant response:\n{cand}"
                    comp = json.dumps({"score": r.randint(1, 5), "issues": r.sample(
                        ["too long", "missing source", "tone", "none"], 1)}) if fmt != 3 else \
                        f"{r.randint(1, 5)} - {r.choice(['fine', 'vague', 'off-scope', 'accurate'])}"
                log.add(r, a, t, [{"role": "system", "content": sys_p}, {"role": "user", "content": body}],
                        completion=comp, params={"temperature": 0, "max_tokens": 300})
                t += timedelta(seconds=r.uniform(0.2, 3.0))


# -- translation agencies -----------------------------------------------------------------------------------

TARGET = {"German": "Die folgenden Hinweise gelten für alle Kunden. Bitte lesen Sie sie sorgfältig durch.",
          "French": "Les informations ci-dessous s'appliquent à l'ensemble de nos clients.",
          "Spanish": "La siguiente información es válida para todos los clientes.",
          "Japanese": "以下の内容はすべてのお客様に適用されます。",
          "Italian": "Le informazioni seguenti valgono per tutti.",
          "Portuguese (Brazil)": "As informações a seguir se aplicam a todos os clientes.",
          "Polish": "Poniższe informacje dotyczą wszystkich klientów.",
          "Korean": "다음 내용은 모든 고객에게 적용됩니다.",
          "Dutch": "De onderstaande informatie geldt voor alle klanten.",
          "Chinese (Simplified)": "以下信息适用于所有客户。"}
TR_SYS = ["You are a professional translator. Translate the user's text from English into {lang}. Preserve "
          "formatting, numbers and product names. Output only the translation.",
          "Translate into {lang}. Keep markdown, placeholders like {{name}} and line breaks unchanged. Glossary: "
          "'account' -> keep consistent; do not translate brand names.",
          "Localise the following segment for a {lang}-speaking audience. Formal register. No commentary.",
          "EN>{lang} translation. Segment-by-segment, faithful, fluent. Return the target text only."]


def translate(log: Log, p: Pools13, r: random.Random, scale: float) -> None:
    """Agencies translating documents: jobs split into segments, sent back to back in office hours."""
    docs = [x.answer for x in p.c.alpaca if len(x.answer) > 300] + [t for ts, _ in p.tail for t in ts
                                                                    if len(t) > 600][:2000]
    for _ in range(scaled(12, scale)):
        country = r.choice(["DE", "FR", "ES", "PL", "GB", "JP", "KR", "BR", "IN"])
        org = "org_" + hexid(r, 10)
        tmpl = r.choice(TR_SYS)
        langs = r.sample(list(TARGET), r.randint(1, 4))
        accts = [log.account(r, "legit:translate", country=country, org=org, ua=r.choice([ua_sdk(r), ua_browser(r)]),
                             tier="pay-as-you-go", model=r.choice(["gpt-4o", "frontier-1"]))
                 for _ in range(r.randint(1, 3))]
        for a in accts:
            for d in active_days(r, p=0.65):
                if (T0 + timedelta(days=d)).weekday() >= 5:
                    continue
                for _ in range(r.randint(1, 3)):
                    t = local_time(a, d, r.choices(range(24), weights=WORK_HOURS)[0] + r.random())
                    lang = r.choice(langs)
                    sys_p = tmpl.format(lang=lang)
                    doc = "\n\n".join(r.sample(docs, r.randint(1, 4)))
                    segs = [s for s in re.split(r"\n{1,2}", doc) if s.strip()][:60]
                    for s in segs:
                        out = (TARGET[lang] + " ") * max(1, len(s) // max(1, len(TARGET[lang])))
                        log.add(r, a, t, [{"role": "system", "content": sys_p}, {"role": "user", "content": s}],
                                completion=out.strip(), params={"temperature": 0.1})
                        t += timedelta(seconds=r.uniform(1.5, 12))


# -- IDE coding assistant ---------------------------------------------------------------------------------

IDE_SYS = ("You are Quill, an AI pair programmer inside the Quillcode editor. You can read and edit files in the "
           "user's open workspace and run terminal commands when the user allows it. Follow the user's coding "
           "style, keep edits minimal, never print secrets from .env files, and explain changes briefly. When a "
           "tool returns an error, tell the user what went wrong and propose the next step. Respond in the "
           "language of the user's question. Use fenced code blocks with the file path in the info string.")
IDE_TOOLS = [{"name": n, "description": d, "parameters": {"type": "object", "properties": {"arg": {"type": "string"}}}}
             for n, d in [("read_file", "Read a workspace file"), ("edit_file", "Apply an edit to a file"),
                          ("run_terminal_cmd", "Run a command in the integrated terminal"),
                          ("grep_search", "Search the workspace"), ("list_dir", "List a folder")]]
ERRORS = ["TypeError: Cannot read properties of undefined (reading 'map')",
          "ModuleNotFoundError: No module named 'pandas'", "error[E0382]: borrow of moved value: `buf`",
          "SyntaxError: unexpected EOF while parsing", "npm ERR! code ERESOLVE", "KeyError: 'user_id'",
          "Segmentation fault (core dumped)", "java.lang.NullPointerException", "1 failed, 12 passed in 0.84s",
          "fatal: refusing to merge unrelated histories"]


CODE_LINE = re.compile(r"[;{}]\s*$|^\s*(def|class|import|from|return|const|let|var|public|private|#include|if|for)\b")


def _user_code(p: Pools13) -> list[str]:
    """Code that real users pasted into their chats: the files an IDE user's workspace would hold."""
    out = []
    for ts, _ in p.tail + p.c.chats:
        for t in ts:
            lines = t.splitlines()
            if len(lines) >= 6 and sum(bool(CODE_LINE.search(x)) for x in lines) >= 0.3 * len(lines):
                out.append(t)
    return out


def ide(log: Log, p: Pools13, r: random.Random, scale: float) -> None:
    """Developers using one IDE assistant with their own keys: the app's prompt and tools, their own code."""
    qs = p.tail_code + p.c.code_chats
    files = _user_code(p)
    teams = ["org_" + hexid(r, 10) for _ in range(scaled(30, scale))]
    for _ in range(scaled(520, scale, 3)):
        plat = r.choice(["win32", "darwin", "linux"])
        ver = f"Quillcode/1.{r.randint(20, 27)}.{r.randint(0, 9)} (vscode {r.randint(88, 96)}; {plat})"
        a = log.account(r, "legit:ide", ua=ver, org=r.choice(teams) if r.random() < 0.35 else None,
                        model=r.choice(["gpt-4o", "frontier-1", "gpt-4o-mini"]))
        days = [d for d in active_days(r, p=r.uniform(0.3, 0.85)) if (T0 + timedelta(days=d)).weekday() < 5
                or r.random() < 0.2]
        for t in human_session_starts(r, a, days, r.uniform(1, 4), hours=WORK_HOURS):
            conv = "thread_" + hexid(r, 12)
            hist = [{"role": "system", "content": IDE_SYS}, {"role": "user", "content": r.choice(qs)}]
            for s in range(r.choice([1, 2, 2, 3, 4])):
                if s < 2 and r.random() < 0.6:
                    tool = r.choice(["read_file", "grep_search", "run_terminal_cmd"])
                    call = {"id": "call_" + hexid(r, 12), "type": "function",
                            "function": {"name": tool, "arguments": json.dumps({"arg": r.choice(
                                ["src/app.ts", "main.py", "utils/db.py", "pytest -q", "npm test", "TODO"])})}}
                    log.add(r, a, t, [dict(m) for m in hist], completion="", tools=IDE_TOOLS, conv=conv)
                    obs = r.choice(files)[:1500] if tool != "run_terminal_cmd" else r.choice(ERRORS)
                    hist += [{"role": "assistant", "content": None, "tool_calls": [call]},
                             {"role": "tool", "tool_call_id": call["id"], "content": obs}]
                    t += timedelta(seconds=r.uniform(1, 8))
                else:
                    code = r.choice(files)
                    comp = (r.choice(["Here's a fix:", "The problem is the loop bound.", "Try this instead:",
                                      "You can simplify it like this:"]) + f"\n```\n{code[:700]}\n```\n"
                            + _filler(r, p, r.randint(80, 300)))
                    log.add(r, a, t, [dict(m) for m in hist], completion=comp, tools=IDE_TOOLS, conv=conv)
                    hist += [{"role": "assistant", "content": comp[:700]},
                             {"role": "user", "content": r.choice(["that didn't work", "now it says " +
                                                                   r.choice(ERRORS), "ok, and the tests?",
                                                                   "can you make it async", "thanks, next: " +
                                                                   r.choice(qs)[:300]])}]
                    t += think(r, 20, 120)


# -- classroom: one problem set, one week ---------------------------------------------------------------------

STUDENT = ["I'm stuck on {n} of the homework:\n\n{q}\n\n{try_}", "{q}\n\nhow do I even start this",
           "can you explain {n}? I don't get what it's asking.\n{q}", "My answer for {n} is wrong, why?\n{q}\n{try_}",
           "hint only please, don't give me the full solution!\n{q}", "{q}", "{n}: {q}\nI got a different result",
           "help with {n} pls. due tonight\n{q}"]


def _bug(code: str) -> str:
    return code.replace("<=", "<").replace(" + 1", "").replace("return True", "return False", 1)


def classroom(log: Log, p: Pools13, r: random.Random, scale: float) -> None:
    """Students of two courses on the same problems in their assignment week; each course's autograder."""
    courses = [("cs", r.sample(p.c.humaneval, 6), 110, 7, "US"), ("stats", r.sample(p.c.gsm_test, 8), 80, 2, "DE")]
    for name, probs, size, start, country in courses:
        org = "org_" + hexid(r, 10)
        deadline = start + 4
        subs = []
        for _ in range(scaled(size, scale, 3)):
            a = log.account(r, "legit:classroom", country=country, email=r.choice(["gmail.com", "uni.edu"]),
                            tier="free")
            days = [d for d in range(start, deadline + 1) if r.random() < 0.25 + 0.15 * (d - start)]
            for t in human_session_starts(r, a, days, r.uniform(0.8, 2.0)):
                i = r.randrange(len(probs))
                it = probs[i]
                n = r.choice([f"problem {i + 1}", f"Q{i + 1}", f"exercise {i + 1}", f"#{i + 1}", f"task {i + 1}"])
                try_ = "my code:\n" + _bug(it.answer) if name == "cs" and r.random() < 0.6 else \
                    f"I got {r.randint(2, 500)}" if r.random() < 0.5 else ""
                hist = [{"role": "user", "content": r.choice(STUDENT).format(n=n, q=it.text, try_=try_).strip()}]
                for k in range(r.randint(1, 3)):  # a tutor-style reply: the worked answer or a hint
                    comp = it.answer if k == 0 and r.random() < 0.4 else _filler(r, p, r.randint(300, 900))
                    log.add(r, a, t, [dict(m) for m in hist], completion=comp)
                    hist += [{"role": "assistant", "content": comp[:700]},
                             {"role": "user", "content": r.choice(["why?", "ok got it", "what about the edge case",
                                                                   "can you check again", "I still get an error"])}]
                    t += think(r, 30, 150)
            subs += [(i, it) for i, it in enumerate(probs)]
        ta = log.account(r, "legit:classroom", country=country, org=org, ua=ua_sdk(r), tier="education",
                         ip_mode="pool", ips=[in_block(r, cloud_block(r))], model="gpt-4o-mini")
        t = local_time(ta, deadline + 1, r.uniform(8, 11))
        grader = (f"You are the teaching assistant for course {name.upper()}-{r.randint(100, 299)}. Give formative "
                  "feedback on the student's submission in under 150 words: what is right, what is wrong, one hint. "
                  "Never reveal a complete solution. End with a mark out of 10.")
        for i, it in subs:
            sub = _bug(it.answer) if r.random() < 0.4 else it.answer
            log.add(r, ta, t, [{"role": "system", "content": grader},
                               {"role": "user", "content": f"Problem {i + 1}:\n{it.text}\n\nSubmission:\n{sub}"}],
                    completion=_filler(r, p, 500) + f"\nMark: {r.randint(4, 10)}/10", params={"temperature": 0})
            t += timedelta(seconds=r.uniform(1, 5))


# -- benchlab: one public benchmark run over several keys -----------------------------------------------------

def benchlab(log: Log, p: Pools13, r: random.Random, scale: float) -> None:
    """Research labs evaluating once on a public benchmark, items split across their org's keys."""
    shots = p.c.gsm_train[:8]
    benches: dict[str, list[Item]] = {
        "gsm8k": p.c.gsm_test, "humaneval": p.c.humaneval,
        "mtbench": [Item(t1, "", c) for c, t1, _ in p.c.mtbench],
        "wizard": [Item(x) for v in p.wiz.values() for x in v],
        "alpacaeval": [Item(x) for x in p.c.alpaca_eval_all]}
    for k in range(scaled(5, scale)):
        bench = list(benches)[k % len(benches)] if scale >= 1 else r.choice(list(benches))
        items = benches[bench]
        org = "org_" + hexid(r, 10)
        block = cloud_block(r)
        country = r.choice(["US", "GB", "CN", "DE", "KR", "SG"])
        accts = [log.account(r, "legit:benchlab", country=country, org=org, ip_mode="pool",
                             ips=[in_block(r, block)], ua=ua_sdk(r), email="lab.ac.uk" if r.random() < 0.5 else
                             "gmail.com", tier="research", model="gpt-4o") for _ in range(r.randint(2, 5))]
        if bench == "gsm8k" and r.random() < 0.5:
            prefix = "".join(f"Question: {s.text}\nAnswer: {s.answer}\n\n" for s in shots)
        else:
            prefix = r.choice(["", "Answer the following question.\n\n", "Let's think step by step.\n\n"])
        models = r.sample(["gpt-4o", "gpt-4o-mini", "frontier-1", "o3-mini"], r.randint(1, 2))
        d = r.randrange(1, 13)
        t = local_time(accts[0], d, r.uniform(9, 20))
        for m in models:
            for j, it in enumerate(items):
                a = accts[j % len(accts)]
                log.add(r, a, t, [{"role": "user", "content": f"{prefix}Question: {it.text}\nAnswer:"
                                   if bench == "gsm8k" else f"{prefix}{it.text}"}], model=m,
                        completion=it.answer or _filler(r, p, r.randint(200, 800)),
                        params={"temperature": 0, "max_tokens": 1024, "seed": 1234})
                t += timedelta(seconds=r.uniform(0.3, 2.5) / len(accts))
        for a in accts:  # the researchers also use their keys a little by hand
            for t in human_session_starts(r, a, active_days(r, p=0.3), 1.0, hours=WORK_HOURS):
                turns, lens = r.choice(p.tail)
                log.add(r, a, t, [{"role": "user", "content": turns[0]}], completion=_filler(r, p, lens[0]))


KINDS: dict[str, Callable[..., None]] = {
    "chat": chat, "support": support, "evaljudge": evaljudge, "translate": translate, "ide": ide,
    "classroom": classroom, "benchlab": benchlab,
}
