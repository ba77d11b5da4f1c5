"""Round-15 legitimate kinds: an everyday background and hard negatives written for this round.

Each kind is `fn(log, pools, r, scale)` and labels its accounts `legit:<kind>` with no campaign.

- consumer: ordinary chat users, light to heavy (ShareGPT conversations, everyday questions, personas).
- byok: one popular bring-your-own-key desktop app: its system prompt and tools, hundreds of users' own keys.
- mooc: an online course's hundreds of students worldwide on one problem set in one week, most pasting the
  instructor's study-buddy prompt verbatim (shared wording and a shared answer-format demand).
- evalteam: enterprise eval teams running a public benchmark through a harness over several keys, twice.
- annotators: a labelling vendor's annotators grading their client's chatbot answers under one guideline.
- localize: batch localisation customers (help centre, game dialogue) into many languages, nightly.
- codeagent: users of a CLI coding agent with their own keys: long tool loops over their own code.
- sweep: research groups sweeping sampling parameters over one fixed prompt set, once.
- docfirm: firms asking many questions about their own long documents, and an enterprise search assistant.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import timedelta

from probekit.corpora import Item
from probekit.pools15 import LANGS, Pools15, prose, translated
from probekit.world import (
    T0,
    WORK_HOURS,
    Log,
    active_days,
    cloud_block,
    hexid,
    human_session_starts,
    in_block,
    ip_residential,
    local_time,
    scaled,
    think,
    tiered_user,
    ua_browser,
    ua_sdk,
)


def _weekday(d: int) -> bool:
    return (T0 + timedelta(days=d)).weekday() < 5


def _tool(name: str, desc: str, arg: str) -> dict:
    return {"name": name, "description": desc,
            "parameters": {"type": "object", "properties": {arg: {"type": "string"}}, "required": [arg]}}


def _call(r: random.Random, name: str, args: dict) -> dict:
    return {"id": "call_" + hexid(r, 20), "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


# -- consumer ---------------------------------------------------------------------------------------------

def consumer(log: Log, P: Pools15, r: random.Random, scale: float) -> None:
    """People chatting: most a few times in two weeks, some daily, a few heavy users; multi-turn sessions."""
    convs = P.c.chats + P.p.tail
    for _ in range(scaled(2400, scale, 5)):
        a, p_day, per = tiered_user(log, r, "legit:consumer", [60, 31, 9], 0.12,
                                    {"light": (0.07, 0.25, 0.8, 1.5), "medium": (0.3, 0.6, 1.2, 2.5),
                                     "heavy": (0.7, 1.0, 3, 8)})
        days = active_days(r, p=p_day) or [r.randrange(14)]
        for t in human_session_starts(r, a, days, per):
            if r.random() < 0.15:
                q = r.choice(P.c.casual + P.c.vicuna)
                log.add(r, a, t, [{"role": "user", "content": q}], completion=prose(r, P, r.randint(200, 1200)))
                continue
            turns, lens = r.choice(convs)
            hist: list[dict] = []
            conv = "c_" + hexid(r, 12) if r.random() < 0.4 else None
            for j in range(min(len(turns), r.choice([1, 1, 2, 2, 3, 4, 6]))):
                hist.append({"role": "user", "content": turns[j]})
                comp = prose(r, P, lens[j])
                log.add(r, a, t, [dict(m) for m in hist], completion=comp, conv=conv,
                        params={"stream": True} if r.random() < 0.5 else None)
                hist.append({"role": "assistant", "content": comp[:900]})
                t += think(r, 12, 60 + len(comp) / 20)


# -- byok: a popular desktop app, users' own keys ---------------------------------------------------------

BYOK_SYS = ("You are Prism, a desktop AI assistant. You can search the web, open URLs, do exact arithmetic and "
            "save notes to the user's notebook when asked. Prefer concise answers with sources when you searched. "
            "Format with Markdown. If a question is ambiguous, ask one clarifying question. The user's locale and "
            "time are provided by the app.")
BYOK_TOOLS = [_tool("web_search", "Search the web and return top results", "query"),
              _tool("open_url", "Fetch a web page as text", "url"),
              _tool("calculator", "Evaluate an arithmetic expression exactly", "expression"),
              _tool("save_note", "Save text to the user's notebook", "text")]


def byok(log: Log, P: Pools15, r: random.Random, scale: float) -> None:
    """Unrelated users of one desktop app with their own keys: the app's system prompt and tools, own content."""
    qs = P.c.casual + P.c.vicuna + [t[0] for t, _ in P.c.chats[:6000]]
    for _ in range(scaled(350, scale, 3)):
        plat = r.choice(["Windows 10.0.22631", "macOS 14.5", "macOS 13.6", "Ubuntu 22.04"])
        a = log.account(r, "legit:byok", ua=f"Prism/{r.randint(2, 3)}.{r.randint(0, 14)}.{r.randint(0, 5)} ({plat})",
                        model=r.choice(["gpt-4o", "gpt-4o-mini", "frontier-1", "frontier-1-mini"]))
        days = active_days(r, p=r.uniform(0.2, 0.8))
        for t in human_session_starts(r, a, days, r.uniform(1, 3.5)):
            loc = f"\nLocale: {a.country}. Local time: {(t + timedelta(hours=a.tz)).strftime('%Y-%m-%d %H:%M')}."
            q = r.choice(qs)
            hist = [{"role": "system", "content": BYOK_SYS + loc}, {"role": "user", "content": q}]
            conv = "prism_" + hexid(r, 10)
            if r.random() < 0.35:
                tl = r.choice(BYOK_TOOLS)
                arg = list(tl["parameters"]["properties"])[0]
                call = _call(r, tl["name"], {arg: q[:80]})
                log.add(r, a, t, [dict(m) for m in hist], completion="", tools=BYOK_TOOLS, conv=conv)
                res = json.dumps({"results": [{"title": w, "url": f"https://{w.lower()}.example/{hexid(r, 4)}"}
                                              for w in q.split()[:3]]})
                hist += [{"role": "assistant", "content": None, "tool_calls": [call]},
                         {"role": "tool", "tool_call_id": call["id"], "content": res}]
                t += timedelta(seconds=r.uniform(1, 5))
            for _ in range(r.choice([1, 1, 2, 3])):
                comp = prose(r, P, r.randint(200, 1100))
                log.add(r, a, t, [dict(m) for m in hist], completion=comp, tools=BYOK_TOOLS, conv=conv)
                hist += [{"role": "assistant", "content": comp[:700]},
                         {"role": "user", "content": r.choice(["thanks, save that as a note", "shorter please",
                                                               "and in metric?", "can you give sources?",
                                                               r.choice(qs)[:300]])}]
                t += think(r, 15, 80)


# -- mooc: one problem set, one week, one handed-out prompt ------------------------------------------------

MOOC_PROMPT = ("You are my study buddy for Week 6 of 'Quantitative Reasoning and Programming' (online). Do not "
               "just give me the answer: explain each step so I can follow, check my working if I include it, and "
               "end with a line 'Final answer: ...'.")
MOOC_ASK = ["{q}", "Problem {i}: {q}", "{q}\n\nMy attempt: {x}", "Can you check this? {q}\nI get {x}.",
            "{q}\nI don't understand what the question wants.", "Help with problem {i} please\n{q}"]


def mooc(log: Log, P: Pools15, r: random.Random, scale: float) -> None:
    """An online course's students worldwide on one problem set between release and deadline; ~60 % paste
    the instructor's study-buddy prompt verbatim; follow-ups; a deadline rush."""
    probs = r.sample(P.c.gsm_test, 7) + r.sample(P.c.humaneval, 3)
    release, deadline = 7, 13
    for _ in range(scaled(260, scale, 5)):
        a = log.account(r, "legit:mooc", created=T0 - timedelta(days=r.uniform(-6, 500)) if r.random() < 0.7 else
                        T0 + timedelta(days=r.uniform(release - 2, release)),
                        tier=r.choice(["free", "free", "plus"]), email=r.choice(["gmail.com", "outlook.com",
                                                                                 "qq.com", "yahoo.com", "edu.example"]))
        use_prompt = r.random() < 0.6
        days = [d for d in range(release, deadline + 1) if r.random() < 0.2 + 0.12 * (d - release)]
        done = set()
        for t in human_session_starts(r, a, days, r.uniform(0.8, 2.2)):
            if t < a.created:
                continue
            i = r.randrange(len(probs))
            it = probs[i]
            done.add(i)
            u = r.choice(MOOC_ASK).format(q=it.text, i=i + 1, x=r.randint(2, 400))
            hist = [{"role": "user", "content": f"{MOOC_PROMPT}\n\n{u}"}] if use_prompt and r.random() < 0.5 else \
                ([{"role": "system", "content": MOOC_PROMPT}] if use_prompt else []) + [{"role": "user", "content": u}]
            for k in range(r.randint(1, 4)):
                comp = (it.answer if k == 0 and r.random() < 0.5 else prose(r, P, r.randint(250, 900))) + \
                    ("\nFinal answer: " + it.answer.rsplit(" ", 1)[-1] if use_prompt and it.kind == "math" else "")
                log.add(r, a, t, [dict(m) for m in hist], completion=comp)
                hist += [{"role": "assistant", "content": comp[:700]},
                         {"role": "user", "content": r.choice(["why is step 2 like that?", "ok thanks!",
                                                               "I still get a different number",
                                                               "what's a hint for the next one",
                                                               "can you explain it more simply", "is my method ok?"])}]
                t += think(r, 25, 160)
        # the rest of the fortnight: a little ordinary use
        for t in human_session_starts(r, a, active_days(r, p=0.15), 1.0):
            if t >= a.created:
                turns, lens = r.choice(P.p.tail)
                log.add(r, a, t, [{"role": "user", "content": turns[0]}], completion=prose(r, P, lens[0]))


# -- evalteam: a harness run twice over several keys -------------------------------------------------------

HARNESS = [("gsm8k", "Question: {q}\nLet's think step by step.\nAnswer:"),
           ("humaneval", "Complete the following Python function. Return only code.\n\n{q}"),
           ("mtbench", "{q}"), ("alpaca_eval", "{q}")]


def evalteam(log: Log, P: Pools15, r: random.Random, scale: float) -> None:
    """Enterprise eval teams: a public benchmark through their harness over 3-6 keys of one org, run once,
    then again days later after a harness change; temperature 0, fixed seed, datacenter."""
    sets = {"gsm8k": P.c.gsm_test, "humaneval": P.c.humaneval,
            "mtbench": [Item(t1) for _, t1, _ in P.c.mtbench], "alpaca_eval": [Item(x) for x in P.c.alpaca_eval_all]}
    for k in range(scaled(4, scale)):
        bench, tmpl = HARNESS[k % len(HARNESS)] if scale >= 1 else r.choice(HARNESS)
        items = sets[bench]
        if bench == "gsm8k":
            items = r.sample(items, r.randint(400, 700))
        items = items[: max(20, round(len(items) * min(1.0, scale)))]
        org = "org_" + hexid(r, 10)
        block = cloud_block(r)
        country = r.choice(["US", "GB", "DE", "FR", "JP", "SG", "CA"])
        ua = ua_sdk(r)
        accts = [log.account(r, "legit:evalteam", country=country, org=org, ip_mode="pool", tier="enterprise",
                             ips=[in_block(r, block) for _ in range(2)], ua=ua, email=f"corp{hexid(r, 3)}.com",
                             model="gpt-4o") for _ in range(r.randint(3, 6))]
        d1 = r.randrange(0, 8)
        for run, d in enumerate([d1, min(13, d1 + r.randint(3, 6))]):
            t = local_time(accts[0], d, r.uniform(10, 18))
            sys_p = "" if run == 0 else r.choice(["You are a helpful assistant.", "Answer accurately."])
            for j, it in enumerate(items):
                a = accts[j % len(accts)]
                m = ([{"role": "system", "content": sys_p}] if sys_p else []) + \
                    [{"role": "user", "content": tmpl.format(q=it.text)}]
                log.add(r, a, t, m, completion=it.answer or prose(r, P, r.randint(200, 900)),
                        params={"temperature": 0, "max_tokens": 1024, "seed": 42},
                        model=r.choice(["gpt-4o", "frontier-1"]) if run else "gpt-4o")
                t += timedelta(seconds=r.uniform(0.2, 1.5))


# -- annotators: a labelling vendor ---------------------------------------------------------------------------

GUIDE = ("Annotation guideline v{v} for project {proj}. You assist a human annotator. Given a user message and "
         "the client chatbot's reply, rate the reply on helpfulness (1-5), accuracy (1-5) and policy compliance "
         "(pass/fail). Give one short sentence per rating. The annotator makes the final call.")


def annotators(log: Log, P: Pools15, r: random.Random, scale: float) -> None:
    """A vendor's annotators, each with a seat in the vendor org, pre-grading their client's chatbot replies
    under one guideline at their own pace in local office hours on weekdays."""
    for _ in range(scaled(2, scale)):
        org = "org_" + hexid(r, 10)
        proj = r.choice(["ORCA", "TEAL", "BIRCH", "QUARTZ", "NIMBUS"])
        country = r.choice(["IN", "NG", "PL", "ID", "VN"])
        guide = GUIDE.format(v=r.randint(2, 5), proj=proj)
        client_q = [t[0] for t, _ in r.sample(P.p.tail, 2500)]
        for _ in range(max(2, round(r.randint(12, 25) * min(1.0, scale)))):
            a = log.account(r, "legit:annotators", country=country, org=org, tier="enterprise",
                            model=r.choice(["gpt-4o", "gpt-4o-mini"]))
            for d in active_days(r, p=0.8):
                if not _weekday(d):
                    continue
                t = local_time(a, d, r.uniform(8.5, 10.5))
                for _ in range(r.randint(15, 50)):
                    q = r.choice(client_q)
                    rep = prose(r, P, r.randint(150, 700))
                    log.add(r, a, t, [{"role": "system", "content": guide},
                                      {"role": "user", "content": f"USER:\n{q}\n\nCLIENT BOT:\n{rep}"}],
                            completion=f"Helpfulness: {r.randint(1, 5)} - {r.choice(['on topic', 'vague', 'good'])}.\n"
                                       f"Accuracy: {r.randint(1, 5)}.\nPolicy: {r.choice(['pass'] * 5 + ['fail'])}.",
                            params={"temperature": 0.2})
                    t += think(r, 40, 150)


# -- localize: batch translation -------------------------------------------------------------------------------

LOC_SYS = ["Translate the help-centre article into {lang}. Keep Markdown, links and UI labels in [brackets] "
           "unchanged. Output the translation only.",
           "You localise game dialogue into {lang}. Keep speaker tags and placeholders like {{player}}. Natural, "
           "in-character, no notes.",
           "Localise this product text for {lang}-speaking customers. Same meaning, local conventions."]


def localize(log: Log, P: Pools15, r: random.Random, scale: float) -> None:
    """Customers localising their own content into 5-10 languages in nightly batches, one org each."""
    arts = [x.answer for x in P.c.alpaca if len(x.answer) > 250]
    lines = [x.answer for x in P.c.roleplay[:1000] if x.answer]
    for k in range(scaled(4, scale)):
        sys_t = LOC_SYS[k % len(LOC_SYS)]
        src = r.sample(arts if k % 3 != 1 else lines, max(5, round(r.randint(60, 140) * min(1.0, scale))))
        langs = r.sample(list(LANGS), r.randint(5, 10))
        org = "org_" + hexid(r, 10)
        block = cloud_block(r)
        accts = [log.account(r, "legit:localize", org=org, ip_mode="pool", ips=[in_block(r, block)], ua=ua_sdk(r),
                             tier="enterprise", model=r.choice(["gpt-4o", "gpt-4o-mini"]))
                 for _ in range(r.randint(1, 2))]
        nights = sorted(r.sample(range(14), 2))
        for d in range(14):
            todo = src if d in nights else (r.sample(src, min(len(src), r.randint(1, 6)))
                                            if _weekday(d) and r.random() < 0.6 else [])
            t = local_time(accts[0], d, r.uniform(0.5, 3))
            for text in todo:
                for lang in langs:
                    a = r.choice(accts)
                    log.add(r, a, t, [{"role": "system", "content": sys_t.format(lang=lang)},
                                      {"role": "user", "content": text}], completion=translated(r, lang, text),
                            params={"temperature": 0.1})
                    t += timedelta(seconds=r.uniform(0.5, 4))


# -- codeagent: a CLI coding agent, users' own keys -----------------------------------------------------------

CA_SYS = ("You are Forge, an interactive CLI agent that helps with software engineering tasks in the user's "
          "repository. Use the tools to read and edit files and run commands; prefer small, verifiable steps. "
          "Never commit or push unless asked. Keep responses short; the user sees them in a terminal.")
CA_TOOLS = [_tool("Read", "Read a file", "path"), _tool("Edit", "Replace text in a file", "path"),
            _tool("Bash", "Run a shell command", "command"), _tool("Grep", "Search file contents", "pattern"),
            _tool("Glob", "Find files by pattern", "pattern")]
SHELL = ["$ npm test\n\n  14 passing (2s)\n  1 failing\n\n  1) api /users returns 200:\n"
         "     AssertionError: expected 500 to equal 200",
         "$ pytest -q\n..F.\nFAILED tests/test_parse.py::test_dates - ValueError: unconverted data remains: Z",
         "$ cargo build\nerror[E0308]: mismatched types\n  --> src/main.rs:42:17", "$ go vet ./...\n(no output)",
         "$ make\ngcc -O2 -c util.c\nutil.c:88:5: warning: implicit declaration of function 'strlcpy'",
         "$ git status\nOn branch feature/login\nChanges not staged for commit:\n  modified:   src/auth.ts"]


def codeagent(log: Log, P: Pools15, r: random.Random, scale: float) -> None:
    """Developers running a CLI coding agent with their own keys: long tool loops over their own code, work hours."""
    asks = P.p.tail_code + P.c.code_chats
    for _ in range(scaled(160, scale, 3)):
        a = log.account(r, "legit:codeagent", ua=f"forge-cli/0.{r.randint(30, 48)}.{r.randint(0, 9)} node/"
                        f"{r.choice(['18', '20', '22'])}", model=r.choice(["frontier-1", "gpt-4o", "o3-mini"]))
        days = [d for d in active_days(r, p=r.uniform(0.3, 0.9)) if _weekday(d) or r.random() < 0.25]
        for t in human_session_starts(r, a, days, r.uniform(0.7, 2.5), hours=WORK_HOURS):
            hist = [{"role": "system", "content": CA_SYS}, {"role": "user", "content": r.choice(asks)}]
            conv = "forge_" + hexid(r, 12)
            for _ in range(r.randint(3, 12)):
                tl = r.choice(CA_TOOLS)
                arg = list(tl["parameters"]["properties"])[0]
                call = _call(r, tl["name"], {arg: r.choice(["src/index.ts", "app/models.py", "README.md", "npm test",
                                                            "pytest -q", "TODO", "*.go", "Cargo.toml"])})
                say = r.choice(["Let me look at the code first.", "Running the tests.", "I'll fix the parser.",
                                "Searching for the call sites.", ""])
                log.add(r, a, t, [dict(m) for m in hist], completion=say, tools=CA_TOOLS, conv=conv)
                obs = r.choice(SHELL) if tl["name"] == "Bash" else r.choice(asks)[:1800]
                hist += [{"role": "assistant", "content": say or None, "tool_calls": [call]},
                         {"role": "tool", "tool_call_id": call["id"], "content": obs}]
                t += timedelta(seconds=r.uniform(2, 25))
                if r.random() < 0.15:  # the user steers
                    hist.append({"role": "user", "content": r.choice(["no, keep the old API", "also update the docs",
                                                                      "run the linter too", "stop, explain first"])})
                    t += think(r, 10, 60)
            log.add(r, a, t, [dict(m) for m in hist], completion=prose(r, P, r.randint(100, 500)), tools=CA_TOOLS,
                    conv=conv)


# -- sweep: one prompt set over a grid of sampling parameters, once ------------------------------------------

def sweep(log: Log, P: Pools15, r: random.Random, scale: float) -> None:
    """Research groups running one fixed prompt set over a temperature/top_p/seed grid once, over 1-2 days."""
    sets = [[Item(x) for x in P.c.alpaca_eval_all], [Item(t1) for _, t1, _ in P.c.mtbench], P.c.gsm_test,
            [x for _, x in P.p.oriented]]
    for k in range(scaled(3, scale)):
        want = max(10, round(r.randint(80, 200) * min(1.0, scale)))
        items = r.sample(sets[k % len(sets)], min(len(sets[k % len(sets)]), want))
        grid = [{"temperature": tt, "top_p": tp} for tt in r.sample([0.0, 0.2, 0.5, 0.7, 1.0, 1.3], r.randint(3, 5))
                for tp in r.sample([1.0, 0.95, 0.9], r.randint(1, 2))]
        seeds = list(range(r.randint(1, 3)))
        uni = r.choice(["ethz.ch", "cs.example.edu", "tum.de", "kaist.ac.kr", "u-tokyo.ac.jp"])
        ip = ip_residential(r)
        accts = [log.account(r, "legit:sweep", email=uni, tier="research", ip_mode="pool", ips=[ip],
                             ua=ua_sdk(r), model="gpt-4o") for _ in range(r.randint(1, 2))]
        d = r.randrange(1, 12)
        t = local_time(accts[0], d, r.uniform(14, 22))
        for g in grid:
            for s in seeds:
                for j, it in enumerate(items):
                    a = accts[j % len(accts)]
                    log.add(r, a, t, [{"role": "user", "content": it.text}],
                            completion=it.answer or prose(r, P, r.randint(150, 800)),
                            params=g | {"seed": s, "max_tokens": 768} | ({"n": 4} if g["temperature"] >= 1 else {}))
                    t += timedelta(seconds=r.uniform(0.3, 2.0))
        for a in accts:
            for t in human_session_starts(r, a, active_days(r, p=0.25), 1.0, hours=WORK_HOURS):
                turns, lens = r.choice(P.c.chats)
                log.add(r, a, t, [{"role": "user", "content": turns[0]}], completion=prose(r, P, lens[0]))


# -- docfirm: questions about one's own long documents ------------------------------------------------------

FIRM_Q = ["What are the key obligations in this document?", "Summarise this for a client email, 5 bullets.",
          "Is there anything unusual or risky in here?", "What deadlines or dates are mentioned?",
          "Explain the second part in plain language.", "Draft three questions we should ask the author.",
          "Does this contradict itself anywhere?", "Give me a one-paragraph summary.", "What is missing from this?",
          "Turn this into a checklist."]
RAG_SYS = ("You are Atlas, the internal knowledge assistant of {co}. Answer the employee's question using only the "
           "passages below; cite passages as [1], [2]. If the answer is not in them, say so.\n\n{ctx}")


def docfirm(log: Log, P: Pools15, r: random.Random, scale: float) -> None:
    """Firms asking many questions about their own long documents in office hours, and an enterprise search
    assistant that puts retrieved passages of the company's documents into its system prompt."""
    docs = P.docs_b[:]
    r.shuffle(docs)
    di = 0
    for _ in range(scaled(6, scale)):
        org = "org_" + hexid(r, 10)
        country = r.choice(["US", "GB", "DE", "FR", "ES", "SG", "AU"])
        ppl = [log.account(r, "legit:docfirm", country=country, org=org, tier="enterprise", ua=ua_browser(r),
                           model=r.choice(["gpt-4o", "frontier-1"])) for _ in range(r.randint(1, 4))]
        for a in ppl:
            for d in active_days(r, p=0.6):
                if not _weekday(d):
                    continue
                t = local_time(a, d, r.choices(range(24), weights=WORK_HOURS)[0] + r.random())
                doc = docs[di % len(docs)]
                di += 1
                hist = [{"role": "user", "content": f"{doc}\n\n{r.choice(FIRM_Q)}"}]
                for _ in range(r.randint(2, 8)):
                    comp = prose(r, P, r.randint(300, 1200))
                    log.add(r, a, t, [dict(m) for m in hist], completion=comp, max_completion_chars=1500)
                    hist += [{"role": "assistant", "content": comp[:1000]},
                             {"role": "user", "content": r.choice(FIRM_Q)}]
                    t += think(r, 30, 180)
    for _ in range(scaled(2, scale)):  # enterprise search assistants
        co = r.choice(["Northwind", "Contoso", "Globex", "Initech", "Umbrella Logistics"])
        org = "org_" + hexid(r, 10)
        block = cloud_block(r)
        svc = log.account(r, "legit:docfirm", org=org, tier="enterprise", ip_mode="pool",
                          ips=[in_block(r, block) for _ in range(2)], ua=ua_sdk(r), model="gpt-4o-mini")
        mine = [docs[(di + j) % len(docs)] for j in range(40)]
        di += 40
        for t in human_session_starts(r, svc, [d for d in range(14) if _weekday(d)], r.uniform(60, 160),
                                      hours=WORK_HOURS):
            ctx = "\n\n".join(f"[{j + 1}] {r.choice(mine)[:r.randint(600, 1500)]}" for j in range(r.randint(2, 4)))
            q = r.choice(FIRM_Q + ["Who owns this process?", "What's the policy on this?", "Where is this documented?"])
            log.add(r, svc, t, [{"role": "system", "content": RAG_SYS.format(co=co, ctx=ctx)},
                                {"role": "user", "content": q}], completion=prose(r, P, r.randint(150, 600)),
                    params={"temperature": 0})


KINDS: dict[str, Callable[..., None]] = {
    "consumer": consumer, "byok": byok, "mooc": mooc, "evalteam": evalteam, "annotators": annotators,
    "localize": localize, "codeagent": codeagent, "sweep": sweep, "docfirm": docfirm,
}
