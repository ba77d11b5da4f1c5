"""Legitimate kinds, including hard negatives that share text, tools or infrastructure without extracting.

Every kind is `fn(log, corpora, rng, scale)`; `scale` multiplies the number of accounts (groups for the
group kinds).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import timedelta

from probekit import agentic as ag
from probekit.corpora import Corpora, Item
from probekit.text import Paraphraser, Voice, answer_for, followup_answer, msgs
from probekit.world import (
    ALL_MODELS,
    DAYS,
    T0,
    WORK_HOURS,
    Log,
    active_days,
    cloud_block,
    day_start,
    hexid,
    human_session_starts,
    in_block,
    ip_residential,
    think,
    ua_browser,
    ua_sdk,
)

Kind = Callable[[Log, Corpora, random.Random, float], None]


def _n(scale: float, base: int) -> int:
    return max(1, int(round(base * scale)))


# -- ordinary chat ------------------------------------------------------------------------------------------

def _chat_session(log: Log, c: Corpora, r: random.Random, a, t, conv_ids: bool) -> None:
    k = r.random()
    conv = "conv_" + hexid(r, 16) if conv_ids else None
    if k < 0.6:
        turns, lens = r.choice(c.chats)
        sysp = None
    elif k < 0.8:
        turns, lens, sysp = [r.choice(c.casual)], [700], None
    elif k < 0.9:
        turns, lens, sysp = [r.choice(c.personas)] + r.choice(c.chats)[0][:2], [500, 700, 700], None
    else:
        turns, lens = r.choice(c.chats)
        sysp = r.choice(c.personas)[:600]
    hist = [{"role": "system", "content": sysp}] if sysp else []
    params = None if a.ua.startswith("Mozilla") or r.random() < 0.4 else \
        {"temperature": r.choice([0.2, 0.5, 0.7, 1.0])} | ({"max_tokens": r.choice([512, 1024, 2048])}
                                                           if r.random() < 0.4 else {})
    for u, ln in list(zip(turns, lens, strict=False))[: r.randint(1, 6)]:
        hist.append({"role": "user", "content": u})
        comp = answer_for(r, c, length=ln)
        log.add(r, a, t, [dict(m) for m in hist[-6:]], completion=comp, conv=conv, params=params)
        hist.append({"role": "assistant", "content": comp[:800]})
        t += think(r)


def chat(log: Log, c: Corpora, r: random.Random, scale: float) -> None:
    """Ordinary people chatting (ShareGPT conversations, everyday questions, persona prompts)."""
    for _ in range(_n(scale, 2400)):
        heavy = r.random() < 0.1
        a = log.account(r, "legit:chat", tier=r.choice(["free", "pay-as-you-go", "pay-as-you-go"]),
                        ua=ua_browser(r) if r.random() < 0.75 else ua_sdk(r), sends_conv=r.random() < 0.4)
        days = active_days(r, p=r.choice([0.15, 0.3, 0.5]) if not heavy else 0.8)
        for t in human_session_starts(r, a, days, 2.5 if heavy else r.uniform(0.6, 1.4)):
            _chat_session(log, c, r, a, t, a.sends_conv)


# -- heavy developers -----------------------------------------------------------------------------------------

DEV_ROLE = ["You are the support assistant for {co}.", "You are {co}'s helpful product expert.",
            "Act as a customer service agent for {co}.", "You help users of {co}'s app.",
            "You are an internal tool at {co} that {task}.", "{co} assistant. Your job: {task}.",
            "You are a bot that {task}.", "System: {task}. Company: {co}."]
DEV_TASK = ["extracts invoice fields as JSON", "answers questions about our docs",
            "translates messages into {lang}", "summarises customer feedback", "rewrites product copy",
            "tags incoming emails", "drafts replies to reviews", "explains error codes to users",
            "suggests recipes from a pantry list", "writes release notes"]
DEV_RULES = ["Be concise.", "Reply in JSON only.", "If you are unsure, say so.", "Never mention competitors.",
             "Use a friendly tone.", "Keep answers under {k} words.", "Do not make up facts.", "Use British spelling.",
             "Format lists as bullet points.", "Always end with a follow-up question.", "No emojis."]
ERRORS = ["TypeError: unsupported operand type(s) for +: 'int' and 'str'", "KeyError: '{w}'",
          "AttributeError: 'NoneType' object has no attribute '{w}'", "IndexError: list index out of range",
          "ValueError: invalid literal for int() with base 10: '{w}'", "ModuleNotFoundError: No module named '{w}'",
          "RecursionError: maximum recursion depth exceeded", "ZeroDivisionError: division by zero",
          "TypeError: Cannot read properties of undefined (reading '{w}')", "SyntaxError: unexpected EOF while parsing"]
ASK_DEBUG = ["why does this fail?", "getting this error, what's wrong?", "can't figure out this bug",
             "any idea why I get this", "this throws, help", "what am I doing wrong here", "fix this please",
             "error below, code above", "stuck on this one", "how do I fix", "", "it worked yesterday?!"]


def _dev_prompt(r: random.Random, c: Corpora) -> str:
    co = r.choice(["Acme", "Brightly", "Tallis", "Nordfjord", "Pixelmint", "Quarry", "Ovid", "Lumo", "Fernway",
                   "Kestrel", "Orchard", "Bramble", "Cobalt", "Juniper"]) + " " + \
        r.choice(["Labs", "Inc", "GmbH", "Studio", "Cloud", "Health", "Foods", "Travel", "Bank", "Games"])
    task = r.choice(DEV_TASK).format(lang=r.choice(["German", "Spanish", "Japanese", "French"]))
    rules = " ".join(x.format(k=r.choice([50, 80, 120, 200])) for x in r.sample(DEV_RULES, r.randint(1, 4)))
    doc = ("\n\nDocs:\n" + r.choice(c.alpaca).answer[:400]) if r.random() < 0.4 else ""
    return f"{r.choice(DEV_ROLE).format(co=co, task=task)} {rules}{doc}"


def developer(log: Log, c: Corpora, r: random.Random, scale: float) -> None:
    """Developers building on the API: their app's prompt with varied inputs, coding questions, debugging."""
    for _ in range(_n(scale, 120)):
        office = cloud_block(r) if r.random() < 0.4 else None
        sysp = _dev_prompt(r, c)
        voice = Voice(r)
        fname = r.choice(["app.py", "main.py", "server.js", "utils.py", "index.ts", "handler.py", "views.py"])
        a = log.account(r, "legit:developer", ua=ua_sdk(r), model=r.choice(ALL_MODELS),
                        ip_mode="pool" if office else "home",
                        ips=[in_block(r, office) for _ in range(3)] if office else [ip_residential(r)],
                        keys=["key_" + hexid(r, 10) for _ in range(r.randint(1, 3))])
        for t in human_session_starts(r, a, active_days(r, p=0.6), r.uniform(1.5, 3), WORK_HOURS, weekend=0.2):
            for _ in range(r.randint(2, 16)):
                k = r.random()
                if k < 0.5:
                    user = r.choice(c.chats)[0][0] if r.random() < 0.7 else r.choice(c.casual)
                    log.add(r, a, t, msgs(user, sysp), completion=answer_for(r, c, length=400),
                            params={"temperature": r.choice([0, 0.2, 0.7]), "max_tokens": r.choice([256, 512, 800])})
                elif k < 0.85:
                    log.add(r, a, t, msgs(voice(r, r.choice(c.code_chats))), completion=answer_for(r, c, kind="code"))
                else:
                    code = r.choice(c.codegen).answer[:700]
                    w = r.choice(["user_id", "items", "config", "total", "name", "data", "requests", "np"])
                    where = r.choice(["<module>", "main", "run"])
                    err = "Traceback (most recent call last):\n" \
                          f"  File \"{fname}\", line {r.randint(3, 400)}, in {where}\n" + r.choice(ERRORS).format(w=w)
                    ask = voice(r, r.choice(ASK_DEBUG)) if r.random() < 0.8 else ""
                    parts = [ask, f"```\n{code}\n```", err] if r.random() < 0.5 else [err, code, ask]
                    log.add(r, a, t, msgs("\n".join(x for x in parts if x)), completion=answer_for(r, c, kind="code"))
                t += timedelta(seconds=r.uniform(3, 120))


# -- popular apps (bring your own key) --------------------------------------------------------------------------

APPS = [
    ("Quillwright", "Quillwright/{v} (Macintosh; Mac OS X 14) Electron/29.1.0",
     "You are Quillwright, a writing companion. Improve the user's text while keeping their voice. Never add facts. "
     "Return only the revised text unless asked otherwise.", None, "Rewrite the following in a {tone} tone:\n\n{text}"),
    ("shellmate", "shellmate/{v} node/20.11.1 linux",
     "You are shellmate, a terminal coding assistant. You can read and write files and run commands with the tools "
     "provided. Ask before destructive operations. Keep explanations short; prefer showing diffs. The user's "
     "project is in the current working directory. Follow the project's style. When tests exist, run them after "
     "changes. Do not invent file contents: read files first.", ["read_file", "write_file", "run_command", "list_dir"],
     None),
    ("MinuteMind", "MinuteMind/{v} (Windows NT 10.0; Win64)",
     "You turn meeting transcripts into notes: a 3-sentence summary, decisions, and action items with owners.",
     None, "Transcript:\n{text}"),
    ("Wayfarer", "Wayfarer/{v} CFNetwork/1494.0.7 Darwin/23.4.0",
     "You are Wayfarer, a travel planning assistant. Use the tools to look up flights, hotels and weather. Confirm "
     "dates and budget before booking anything.", ["search_flights", "search_hotels", "get_weather"], None),
    ("MathMentor", "MathMentor/{v} (Android 14; Pixel 7)",
     "You are a patient tutor for school students. Guide the student step by step, check their understanding, and "
     "encourage them. Do not just give the final answer unless they ask for it.", None, None),
]


def app_users(log: Log, c: Corpora, r: random.Random, scale: float) -> None:
    """Unrelated people using popular apps with their own keys: one app's system prompt and tools, many users."""
    for name, ua_t, sysp, tool_names, tmpl in APPS:
        tools = [{"name": x, "description": x.replace("_", " "), "parameters": {"type": "object", "properties": {
            "q": {"type": "string"}}, "required": ["q"]}} for x in tool_names or []]
        for _ in range(_n(scale, 80)):
            a = log.account(r, "legit:app-users", ua=ua_t.format(v=f"{r.randint(1, 4)}.{r.randint(0, 12)}."
                                                                  f"{r.randint(0, 9)}"), sends_conv=r.random() < 0.5)
            for t in human_session_starts(r, a, active_days(r, p=r.uniform(0.2, 0.7)), r.uniform(0.8, 2)):
                conv = "conv_" + hexid(r, 16) if a.sends_conv else None
                if name == "MathMentor":
                    it = r.choice(c.gsm_train)
                    hist = msgs(it.text, sysp)
                    for f in [None] + r.sample(["I don't get the second step", "so is it {x}?", "why do we divide "
                                                "there?", "ok thanks!", "can you give me a similar one to practice"],
                                               k=r.randint(0, 2)):
                        if f:
                            hist.append({"role": "user", "content": f.format(x=r.randint(2, 90))})
                        comp = answer_for(r, c, it, kind="math") if f is None else \
                            followup_answer(r, c, it, hist[-1]["content"])
                        log.add(r, a, t, [dict(m) for m in hist], completion=comp, conv=conv)
                        hist.append({"role": "assistant", "content": comp[:800]})
                        t += think(r, 20, 90)
                elif tools:
                    env_q = r.choice(c.chats)[0][0] if name == "shellmate" else r.choice(c.toolenvs).query
                    hist = msgs(env_q, sysp)
                    for s in range(r.randint(1, 4)):
                        cid = ag.call_id(r)
                        call = {"name": tools[s % len(tools)]["name"], "arguments": {"q": env_q[:60]}}
                        log.add(r, a, t, [dict(m) for m in hist], completion=str(call), tools=tools, conv=conv)
                        hist += [{"role": "assistant", "content": None, "tool_calls": [{"id": cid, "type": "function",
                                  "function": {"name": call["name"], "arguments": str(call["arguments"])}}]},
                                 {"role": "tool", "tool_call_id": cid,
                                  "content": ag.fake_result(r, call["name"], call["arguments"])}]
                        t += timedelta(seconds=r.uniform(1, 20))
                    log.add(r, a, t, hist, completion=answer_for(r, c, length=500), tools=tools, conv=conv)
                else:
                    for _ in range(r.randint(1, 4)):
                        text = r.choice(r.choice(c.chats)[0])
                        u = tmpl.format(text=text, tone=r.choice(["friendly", "formal", "concise", "confident"]))
                        log.add(r, a, t, msgs(u, sysp), completion=answer_for(r, c, length=len(text)), conv=conv)
                        t += think(r, 10, 60)


# -- a class running the same problem set -----------------------------------------------------------------------

def classroom(log: Log, c: Corpora, r: random.Random, scale: float) -> None:
    """Students of one course paste the same assignment in one week, ask follow-ups, and chat otherwise."""
    for g in range(_n(scale, 2)):
        coding = g % 2 == 1
        probs = r.sample(c.humaneval if coding else c.gsm_test, 8)
        campus = in_block(r, cloud_block(r))
        campus_ips = [campus] + [campus.rsplit(".", 1)[0] + f".{r.randint(2, 250)}" for _ in range(2)]
        week = r.randint(1, DAYS - 8)
        for _ in range(r.randint(25, 45)):
            new = r.random() < 0.4
            a = log.account(r, "legit:class", tier=r.choice(["free", "pay-as-you-go"]),
                            created=day_start(week) - timedelta(days=r.uniform(0.1, 3)) if new else None,
                            email=r.choice(["gmail.com", "uni-example.edu"]), ua=ua_browser(r),
                            country=r.choice(["US", "GB", "DE"]), sends_conv=r.random() < 0.4)
            for p in r.sample(probs, r.randint(3, 8)):
                day = week + r.randint(0, 6)
                on_campus = r.random() < 0.5
                h = r.uniform(9, 16) if on_campus else r.uniform(17, 24)
                t = day_start(day) + timedelta(hours=h - a.tz)
                conv = "conv_" + hexid(r, 16) if a.sends_conv else None
                hist = msgs(r.choice(["", "", "help with this: ", "hw question - ", "can you explain "]) + p.text)
                for f in [None] + r.sample(["why?", "can you explain step 2 again", "is my answer {x} right?",
                                            "what's the formula you used", "thanks"], r.randint(0, 3)):
                    if f:
                        hist.append({"role": "user", "content": f.format(x=r.randint(2, 120))})
                    comp = answer_for(r, c, p, kind=p.kind) if f is None else \
                        followup_answer(r, c, p, hist[-1]["content"])
                    log.add(r, a, t, [dict(m) for m in hist], completion=comp, conv=conv,
                            ip=r.choice(campus_ips) if on_campus else None)
                    hist.append({"role": "assistant", "content": comp[:800]})
                    t += think(r, 30, 120)
            for t in human_session_starts(r, a, active_days(r, p=0.2), 1.0):
                _chat_session(log, c, r, a, t, a.sends_conv)


# -- a lab's eval harness over several keys / a researcher running a benchmark ----------------------------------

JUDGE_MT = ("Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant "
            "to the user question displayed below. Be objective. After your explanation, rate the response on a "
            "scale of 1 to 10 by strictly following this format: \"[[rating]]\".\n\n[Question]\n{q}\n\n"
            "[The Start of Assistant's Answer]\n{a}\n[The End of Assistant's Answer]")


def _bench_items(r: random.Random, c: Corpora, which: str) -> list[tuple[Item, str]]:
    if which == "gsm8k":
        shots = "\n\n".join(f"Question: {x.text}\nAnswer: {x.answer}" for x in c.gsm_train[:4])
        return [(x, f"{shots}\n\nQuestion: {x.text}\nAnswer:") for x in c.gsm_test]
    if which == "humaneval":
        return [(x, "Complete the following Python function.\n\n" + x.text) for x in c.humaneval]
    if which == "mtbench":
        return [(Item(t1, "", "general"), t1) for _, t1, _ in c.mtbench]
    if which == "alpacaeval":
        return [(Item(x, ""), x) for x in c.alpaca_eval_all]
    return [(Item(x.text, "", x.kind), x.text) for x in c.wizard]


def lab_eval(log: Log, c: Corpora, r: random.Random, scale: float) -> None:
    """A lab's harness runs a public benchmark once over several keys (one org), plus MT-bench judging."""
    for g in range(_n(scale, 3)):
        org = "org_" + hexid(r, 10)
        card = "pm_" + hexid(r, 16)
        block = cloud_block(r)
        ua = f"lm-eval-harness/0.4.{r.randint(0, 5)} {ua_sdk(r)}"
        accts = [log.account(r, "legit:lab-eval", org=org, payment=card, tier="enterprise", ua=ua, ip_mode="pool",
                             ips=[in_block(r, block)], email="lab-example.org", model=r.choice(ALL_MODELS))
                 for _ in range(r.randint(3, 8))]
        which = ["gsm8k", "humaneval", "mtbench"][g % 3]
        day = r.randint(0, DAYS - 2)
        t = day_start(day) + timedelta(hours=r.uniform(8, 20))
        items = _bench_items(r, c, which)
        for i, (it, p) in enumerate(items):
            a = accts[i % len(accts)]
            log.add(r, a, t + timedelta(seconds=i * r.uniform(0.2, 1.5)), msgs(p), params={"temperature": 0,
                    "max_tokens": 512, "seed": 1234}, completion=answer_for(r, c, it, kind=it.kind))
        if which == "mtbench":  # judge the answers of the models under test
            t2 = t + timedelta(hours=2)
            for i, (_, t1, _) in enumerate(c.mtbench * 3):
                a = accts[i % len(accts)]
                log.add(r, a, t2 + timedelta(seconds=i * r.uniform(0.5, 2)),
                        msgs(JUDGE_MT.format(q=t1, a=answer_for(r, c, length=700)),
                             "You are a helpful assistant."), params={"temperature": 0, "max_tokens": 2048},
                        completion=f"The response is {r.choice(['accurate', 'partly relevant', 'thorough'])}. "
                                   f"Rating: [[{r.randint(3, 10)}]]")


def researcher(log: Log, c: Corpora, r: random.Random, scale: float) -> None:
    """One researcher runs one public benchmark once from one account, and otherwise chats a little."""
    for i in range(_n(scale, 12)):
        a = log.account(r, "legit:researcher", ua=ua_sdk(r), email=r.choice(["gmail.com", "uni-example.edu"]),
                        model=r.choice(ALL_MODELS))
        which = ["gsm8k", "humaneval", "mtbench", "alpacaeval", "wizard"][i % 5]
        t = day_start(r.randint(0, DAYS - 1)) + timedelta(hours=r.uniform(7, 22))
        items = _bench_items(r, c, which)
        if which == "gsm8k" and r.random() < 0.5:
            items = items[: r.randint(200, 600)]
        conc = r.choice([1, 4, 8])
        for k, (it, p) in enumerate(items):
            log.add(r, a, t + timedelta(seconds=(k // conc) * r.uniform(1.5, 6)), msgs(p),
                    params={"temperature": 0, "max_tokens": r.choice([512, 1024])},
                    completion=answer_for(r, c, it, kind=it.kind))
        for t in human_session_starts(r, a, active_days(r, p=0.2), 1.0):
            _chat_session(log, c, r, a, t, False)


# -- enterprise batch jobs ------------------------------------------------------------------------------------------

BATCH = [("Classify the customer message into exactly one of: billing, technical, account, feedback, other. "
          "Reply with JSON {\"label\": ...}.", "Message:\n{text}"),
         ("You summarise support tickets for an internal dashboard in at most two sentences.", "Ticket:\n{text}"),
         ("Extract every product name and sentiment (positive/neutral/negative) from the review. JSON only.",
          "Review: {text}")]


def enterprise_batch(log: Log, c: Corpora, r: random.Random, scale: float) -> None:
    """A company's nightly batch over its own documents: one prompt template, several service accounts."""
    for g in range(_n(scale, 3)):
        org, card, block = "org_" + hexid(r, 10), "pm_" + hexid(r, 16), cloud_block(r)
        sysp, tmpl = BATCH[g % len(BATCH)]
        ua = ua_sdk(r)
        accts = [log.account(r, "legit:enterprise-batch", org=org, payment=card, tier="enterprise", ua=ua,
                             ip_mode="pool", ips=[in_block(r, block) for _ in range(2)], email=f"corp{g}.example.com",
                             created=T0 - timedelta(days=r.uniform(100, 700))) for _ in range(r.randint(2, 5))]
        hour = r.uniform(0, 4)
        for d in range(DAYS):
            t = day_start(d) + timedelta(hours=hour + r.uniform(0, 0.3))
            for k in range(r.randint(150, 350)):
                a = accts[k % len(accts)]
                text = r.choice(r.choice(c.chats)[0])[:900]
                log.add(r, a, t, msgs(tmpl.format(text=text), sysp), params={"temperature": 0, "max_tokens": 200},
                        completion=json.dumps({"label": r.choice(["billing", "technical", "account", "other"])}))
                t += timedelta(seconds=r.uniform(0.3, 2.5))


# -- agent-framework users -----------------------------------------------------------------------------------------

FRAMEWORK_SYS = ("Answer the following questions as best you can. You have access to the following tools:\n\n"
                 "{tools}\n\nUse the following format:\n\nQuestion: the input question you must answer\nThought: you "
                 "should always think about what to do\nAction: the action to take, one of [{names}]\nAction Input: "
                 "the input to the action\nObservation: the result of the action\n... (this Thought/Action/Action "
                 "Input/Observation can repeat N times)\nThought: I now know the final answer\nFinal Answer: the "
                 "final answer to the original input question\n\nBegin!")


def agent_framework(log: Log, c: Corpora, r: random.Random, scale: float) -> None:
    """People running a popular agent framework on their own small tool sets (tool loops, working hours)."""
    for _ in range(_n(scale, 150)):
        envs = r.sample(c.toolenvs, r.randint(1, 3))
        native = r.random() < 0.6
        a = log.account(r, "legit:agent-framework", ua=f"langchain-openai/0.{r.randint(1, 3)}.{r.randint(0, 20)} "
                        f"{ua_sdk(r)}", model=r.choice(ALL_MODELS))
        for t in human_session_starts(r, a, active_days(r, p=0.5), r.uniform(1, 4), WORK_HOURS, weekend=0.3):
            env = r.choice(envs)
            q = r.choice([env.query, r.choice(c.casual)])
            if native:
                hist = msgs(q, "You are a helpful assistant.")
                for s in range(r.randint(1, 3)):
                    am, tm, call = ag.tool_turns(r, env, s, q)
                    log.add(r, a, t, [dict(m) for m in hist], completion=call, tools=list(env.schemas))
                    hist += [am, tm]
                    t += timedelta(seconds=r.uniform(1, 15))
                log.add(r, a, t, hist, completion=ag.final_answer(r, env, hist[-1]["content"]), tools=list(env.schemas))
            else:
                names = ", ".join(s["name"] for s in env.schemas)
                tools_s = "\n".join(f"{s['name']}: {s.get('description', '')}" for s in env.schemas)
                scratch = f"Question: {q}\n"
                for s in range(r.randint(1, 3)):
                    _, tm, call = ag.tool_turns(r, env, s, q)
                    log.add(r, a, t, msgs(scratch, FRAMEWORK_SYS.format(tools=tools_s, names=names)),
                            completion=f"Thought: I should use a tool.\nAction: {call}",
                            params={"stop": ["Observation:"]})
                    scratch += f"Thought: I should use a tool.\nAction: {call}\nObservation: {tm['content'][:300]}\n"
                    t += timedelta(seconds=r.uniform(1, 15))


KINDS: dict[str, Kind] = {
    "chat": chat, "developer": developer, "app-users": app_users, "class": classroom, "lab-eval": lab_eval,
    "researcher": researcher, "enterprise-batch": enterprise_batch, "agent-framework": agent_framework,
}


# -- test-data generation (hard negative for synthetic-data campaigns) -----------------------------------------

FIX_VERB = ["Generate", "Create", "Make", "Write", "Give me", "I need", "Can you produce", "Come up with",
            "Draft", "Please write", "could you make"]
FIX_WHAT = ["realistic fake customer records (name, email, city, signup date)", "example product descriptions for "
            "{x}", "sample support tickets about {x} with subject and body", "example sentences a user might type "
            "to book {x}", "multiple-choice quiz questions about {x} with answers", "test user profiles",
            "dummy blog post titles about {x}", "fake reviews of {x}, mixed sentiment", "mock API responses for a "
            "{x} endpoint", "short FAQ entries about {x}", "sample tweets announcing {x}"]
FIX_WHY = ["", "", "for our test database", "for a demo", "for my students", "to seed our staging env",
           "for a classifier test set", "for a pitch deck", "for unit tests", "for the landing page mockup"]
FIX_FMT = ["", "", "as JSON", "in a table", "as CSV", "one per line", "as a JSON array", "in markdown"]
THINGS = ["hiking gear", "ceramic mugs", "a restaurant table", "a dentist appointment", "the water cycle",
          "the French revolution", "bike parts", "our billing page", "a flight to Lisbon", "houseplants",
          "a yoga studio", "vintage cameras", "a coworking space", "dog food", "a chess club"]


def test_data(log: Log, c: Corpora, r: random.Random, scale: float) -> None:
    """People asking for fixtures, sample content or quiz items for their own product or class."""
    for _ in range(_n(scale, 50)):
        a = log.account(r, "legit:test-data", ua=ua_sdk(r) if r.random() < 0.6 else ua_browser(r))
        voice, whats = Voice(r), r.sample(FIX_WHAT, 3)
        for t in human_session_starts(r, a, active_days(r, p=0.35), r.uniform(0.7, 2), WORK_HOURS, weekend=0.3):
            for _ in range(r.randint(1, 6)):
                what = r.choice(whats).format(x=r.choice(THINGS))
                core = " ".join(x for x in (r.choice(FIX_VERB), str(r.choice([5, 10, 12, 20, 25, 50])), what,
                                            r.choice(FIX_WHY), r.choice(FIX_FMT)) if x)
                p = voice(r, core)
                out = "\n".join(json.dumps({"text": x.answer[:160]}) for x in r.sample(c.alpaca, r.randint(3, 8)))
                log.add(r, a, t, msgs(p), completion=out, params={"temperature": r.choice([0.7, 0.9, 1.0])})
                t += think(r, 20, 80)


KINDS["test-data"] = test_data


# -- learners asking for help in generic words (hard negative for paraphrasing campaigns) -------------------------

HELP_FOLLOW = ["why?", "I still don't get it", "can you check my answer, I got {x}", "ok thanks!", "what about part b",
               "can you explain it more simply", "is there an easier way?", "thank you!!"]


def homework(log: Log, c: Corpora, r: random.Random, scale: float) -> None:
    """Students and self-learners asking maths, coding and general questions in generic instruction words."""
    pools = [c.gsm_train, c.codegen, c.alpaca, c.selfinstruct]
    for _ in range(_n(scale, 250)):
        a = log.account(r, "legit:homework", tier=r.choice(["free", "free", "pay-as-you-go"]),
                        ua=ua_browser(r) if r.random() < 0.8 else ua_sdk(r), sends_conv=r.random() < 0.4)
        frame, voice = Paraphraser(r), Voice(r)
        favourite = r.choices(pools, weights=[4, 2, 2, 1], k=2)
        for t in human_session_starts(r, a, active_days(r, p=r.uniform(0.15, 0.5)), r.uniform(0.7, 1.6)):
            conv = "conv_" + hexid(r, 16) if a.sends_conv else None
            it = r.choice(r.choice(favourite))
            hist = msgs(voice(r, frame(r, it.text, it.kind == "math")))
            for f in [None] + r.sample(HELP_FOLLOW, r.randint(0, 2)):
                if f:
                    hist.append({"role": "user", "content": voice(r, f.format(x=r.randint(2, 200)))})
                comp = answer_for(r, c, it, kind=it.kind) if f is None else \
                    followup_answer(r, c, it, hist[-1]["content"])
                log.add(r, a, t, [dict(m) for m in hist], completion=comp, conv=conv)
                hist.append({"role": "assistant", "content": comp[:800]})
                t += think(r, 30, 120)
            if r.random() < 0.5:
                _chat_session(log, c, r, a, t + think(r, 60, 600), a.sends_conv)


KINDS["homework"] = homework
