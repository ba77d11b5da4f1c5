"""Round-16 legitimate kinds: an everyday background and hard negatives written for this round.

Each kind is `fn(log, pools, r, scale)` and labels its accounts `legit:<kind>` with no campaign.

- public: ordinary people chatting, some pressing "regenerate" (the same prompt again at high temperature).
- agentfw: developers using one open-source agent framework's default prompt and tools with their own keys,
  many running its quickstart examples verbatim.
- hackathon: a weekend hackathon: hundreds of accounts opened within 48 hours, the sponsor's starter prompt,
  teams building similar things from the venue network, then mostly silence.
- tutor: a tutoring product with one key per student: its servers, its system prompt, homework after school.
- helpdesk: a multi-tenant support-bot SaaS: one account per tenant business, one scaffold prompt, end users.
- safetylab: safety vendors and researchers replaying a public jailbreak benchmark over several keys.
- scstudy: research groups' self-consistency studies on a public benchmark: each question sampled many times.
- canary: an LLM-monitoring vendor's synthetic probes, every hour on each customer's own key, next to the
  customer's product traffic.
- hubfolk: the real customers of small API aggregators (the aggregators `relay` hides in).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

from probekit.agentic import fake_result
from probekit.legit15 import _tool, _weekday
from probekit.pools15 import prose
from probekit.pools16 import Pools16, hubs
from probekit.world import (
    END,
    T0,
    WORK_HOURS,
    Log,
    active_days,
    cloud_block,
    days_ago,
    flat_times,
    hexid,
    human_session_starts,
    in_block,
    ip_residential,
    local_time,
    scaled,
    think,
    tiered_user,
    ua_sdk,
)


def _chat(log: Log, P: Pools16, r: random.Random, a, t, convs: list, sysm: list[dict] | None = None,  # noqa: ANN001
          max_turns: int = 4, params: dict | None = None) -> None:
    """One human chat session from a real conversation, history resent each turn."""
    turns, lens = r.choice(convs)
    hist = list(sysm or [])
    for j in range(min(len(turns), r.randint(1, max_turns))):
        hist.append({"role": "user", "content": turns[j]})
        comp = prose(r, P.q, lens[j])
        log.add(r, a, t, [dict(m) for m in hist], completion=comp, params=params)
        hist.append({"role": "assistant", "content": comp[:900]})
        t += think(r, 12, 60 + len(comp) / 25)


# -- public ------------------------------------------------------------------------------------------------------

def public(log: Log, P: Pools16, r: random.Random, scale: float) -> None:
    """Everyday users (light, medium, heavy); ~6 % of their prompts regenerated 1-3 times at high temperature."""
    convs = P.c.chats + P.p.tail[:-3000]
    casual = P.c.casual + P.c.vicuna + [x[:600] for x in P.c.personas]
    for _ in range(scaled(1800, scale, 5)):
        a, p_day, per = tiered_user(log, r, "legit:public", [58, 32, 10], 0.15,
                                    {"light": (0.06, 0.25, 0.8, 1.6), "medium": (0.3, 0.6, 1.2, 2.6),
                                     "heavy": (0.7, 1.0, 3, 7)})
        for t in human_session_starts(r, a, active_days(r, p=p_day) or [r.randrange(14)], per):
            if r.random() < 0.2:
                q = r.choice(casual)
                m = [{"role": "user", "content": q}]
                temp = r.choice([None, 0.7, 1.0])
                log.add(r, a, t, m, completion=prose(r, P.q, r.randint(200, 1100)),
                        params={"temperature": temp} if temp else None)
                if r.random() < 0.3:  # regenerate
                    for _ in range(r.randint(1, 3)):
                        t += think(r, 5, 25)
                        log.add(r, a, t, m, completion=prose(r, P.q, r.randint(200, 1100)),
                                params={"temperature": 1.0})
                continue
            _chat(log, P, r, a, t, convs, max_turns=6, params={"stream": True} if r.random() < 0.5 else None)


# -- agentfw: one open-source framework's defaults ---------------------------------------------------------------

AFW_SYS = ("Answer the following questions as best you can. You have access to the following tools:\n\n{tools}\n\n"
           "Use the following format:\n\nQuestion: the input question you must answer\nThought: you should always "
           "think about what to do\nAction: the action to take, should be one of [{names}]\nAction Input: the input "
           "to the action\nObservation: the result of the action\n... (this Thought/Action/Action Input/Observation "
           "can repeat N times)\nThought: I now know the final answer\nFinal Answer: the final answer to the "
           "original input question\n\nBegin!")
AFW_TOOLS = [_tool("search", "A search engine. Useful for questions about current events.", "query"),
             _tool("python_repl", "A Python shell. Use it to run python commands.", "code"),
             _tool("wikipedia", "Look up a topic on Wikipedia.", "query"),
             _tool("calculator", "Useful for math questions.", "expression")]
AFW_QUICKSTART = ["What is the population of the capital of France raised to the 0.23 power?",
                  "Who is the current CEO of the company that makes the iPhone, and how old are they?",
                  "What was the high temperature in SF yesterday in Fahrenheit? What is that number raised to .023?",
                  "Find the 10th Fibonacci number using Python.", "What is 13 raised to the .3432 power?",
                  "Who won the last FIFA World Cup and what is the square root of the year it was held?"]


def agentfw(log: Log, P: Pools16, r: random.Random, scale: float) -> None:
    """Unrelated developers running one popular agent framework with its default ReAct prompt and tools on their
    own keys; a third of sessions are the framework's quickstart examples, word for word."""
    names = ", ".join(t["name"] for t in AFW_TOOLS)
    desc = "\n".join(f"{t['name']}: {t['description']}" for t in AFW_TOOLS)
    sys_p = AFW_SYS.format(tools=desc, names=names)
    asks = P.p.tail_code + P.c.casual + [t.text for t in P.c.toolformer[6000:]]
    for _ in range(scaled(300, scale, 3)):
        a = log.account(r, "legit:agentfw", ua=f"{ua_sdk(r)} strand/0.{r.randint(1, 3)}.{r.randint(0, 40)}",
                        model=r.choice(["gpt-4o-mini", "gpt-4o", "frontier-1-mini"]))
        days = [d for d in active_days(r, p=r.uniform(0.15, 0.7)) if _weekday(d) or r.random() < 0.4]
        for t in human_session_starts(r, a, days, r.uniform(0.8, 3), hours=WORK_HOURS):
            q = r.choice(AFW_QUICKSTART) if r.random() < 0.35 else r.choice(asks)[:800]
            scratch = ""
            for _ in range(r.randint(1, 4)):
                tl = r.choice(AFW_TOOLS)
                act = f"Thought: I should use {tl['name']}.\nAction: {tl['name']}\nAction Input: {q[:60]}"
                log.add(r, a, t, [{"role": "system", "content": sys_p},
                                  {"role": "user", "content": f"Question: {q}\nThought:{scratch}"}],
                        completion=act, params={"temperature": 0, "stop": ["\nObservation:"]})
                scratch += f"\n{act}\nObservation: {fake_result(r, tl['name'], {'q': q[:40]})[:300]}\nThought:"
                t += timedelta(seconds=r.uniform(1, 8))
            log.add(r, a, t, [{"role": "system", "content": sys_p},
                              {"role": "user", "content": f"Question: {q}\nThought:{scratch}"}],
                    completion="I now know the final answer\nFinal Answer: " + prose(r, P.q, r.randint(60, 300)),
                    params={"temperature": 0, "stop": ["\nObservation:"]})


# -- hackathon ----------------------------------------------------------------------------------------------------

HK_SYS = ("You are the AI teammate for a HackNorth 2026 project. Help the team ship a working demo by Sunday "
          "noon: suggest simple architectures, write code they can paste, and keep answers short.")
HK_IDEAS = ["a study planner that reads a syllabus PDF", "a recipe app that uses what's in my fridge",
            "a Discord bot that summarises long threads", "an accessibility checker for websites",
            "a carbon footprint tracker from receipts", "a chatbot for the city's bus timetable",
            "a flashcard generator from lecture notes", "a tool that explains legal letters in plain language",
            "a volunteer-matching app for local charities", "a meme generator for our club",
            "a job-application tracker with reminders", "a plant-watering reminder with a camera"]
HK_ASK = ["How should we structure {i}? We have 30 hours.", "Write a Flask endpoint for {i}.",
          "Our React component for {i} doesn't re-render, why?", "Give me a pitch for {i} in 3 sentences.",
          "What API could we use for {i}?", "Write the README for {i}.", "Fix this error in {i}: {e}"]
HK_ERR = ["TypeError: Cannot read properties of undefined (reading 'map')", "CORS policy: No 'Access-Control-Allow-"
          "Origin' header", "ModuleNotFoundError: No module named 'dotenv'", "401 Unauthorized from the API"]


def hackathon(log: Log, P: Pools16, r: random.Random, scale: float) -> None:
    """A weekend hackathon (Friday evening to Sunday noon, venue network): accounts created in 48 hours, the
    sponsor's starter system prompt, teams of 2-4 building one idea each (ideas repeat across teams), short
    bursts day and night; afterwards most accounts fall silent, a few keep going from home."""
    venue = [cloud_block(r), cloud_block(r)]
    fri = 4  # T0 is a Monday
    n = scaled(240, scale, 4)
    made = 0
    while made < n:
        idea = r.choice(HK_IDEAS)
        size = min(n - made, r.randint(2, 4))
        made += size
        team = [log.account(r, "legit:hackathon", created=T0 + timedelta(days=fri, hours=r.uniform(15, 40)),
                            tier="free", country="CA",
                            email=r.choice(["gmail.com", "uwaterloo.example", "outlook.com"]),
                            ip_mode="pool", ips=[in_block(r, v) for v in venue], model="gpt-4o-mini")
                for _ in range(size)]
        for a in team:
            a.tz = -5
            t = a.created + timedelta(minutes=r.uniform(5, 120))
            stop = T0 + timedelta(days=fri + 2, hours=12 + 5)
            while t < stop:
                for _ in range(r.randint(1, 5)):
                    q = r.choice(HK_ASK).format(i=idea, e=r.choice(HK_ERR))
                    if r.random() < 0.3:
                        q = r.choice(P.c.code_chats)[:900]
                    log.add(r, a, t, [{"role": "system", "content": HK_SYS}, {"role": "user", "content": q}],
                            completion=prose(r, P.q, r.randint(200, 1000)))
                    t += think(r, 20, 90)
                t += timedelta(minutes=r.expovariate(1 / 70))
            if r.random() < 0.25:  # keeps using the account afterwards
                a.ip_mode, a.ips = "home", [ip_residential(r)]
                for ts in human_session_starts(r, a, active_days(r, fri + 3, 14, p=0.4), 1.2):
                    _chat(log, P, r, a, ts, P.c.chats, max_turns=3)


# -- tutor: one product, one key per student --------------------------------------------------------------------

TU_SYS = ("You are Sprout, a patient maths and coding tutor for a {g}th-grade student. Never give the final answer "
          "straight away: ask what they tried, give one hint at a time, and praise effort. If the student is stuck "
          "after three hints, show the worked solution.")
TU_SAY = ["I don't get it", "is it {x}?", "ok what's the next step", "I tried dividing but it's wrong",
          "can you just tell me", "why do we multiply here?", "I got {x}", "thank you!!", "wait what", "hint pls"]


def tutor(log: Log, P: Pools16, r: random.Random, scale: float) -> None:
    """A tutoring product that gives each student a key of their own: requests from the product's servers with
    its system prompt (the student's grade), homework problems and many short replies, after school and
    evenings in US time zones, fewer at weekends."""
    blocks = [cloud_block(r) for _ in range(2)]
    ua = f"sprout-backend/{r.randint(3, 5)}.{r.randint(0, 20)} " + ua_sdk(r)
    hw = P.c.gsm_test + P.c.humaneval[:80]
    for _ in range(scaled(400, scale, 4)):
        a = log.account(r, "legit:tutor", country="US", ip_mode="pool", ips=[in_block(r, b) for b in blocks], ua=ua,
                        tier="free", email="students.sprout.example", model="gpt-4o-mini",
                        created=days_ago(r, 0, 300))
        a.tz = r.choice([-5, -6, -7, -8])
        sp = TU_SYS.format(g=r.randint(6, 12))
        days = active_days(r, p=r.uniform(0.2, 0.7))
        after_school = [0.05] * 7 + [0.2] * 8 + [1.5] * 4 + [2.0] * 4 + [0.3]
        for t in human_session_starts(r, a, days, r.uniform(0.6, 1.5), hours=after_school, weekend=0.4):
            it = r.choice(hw)
            hist = [{"role": "system", "content": sp}, {"role": "user", "content": it.text}]
            for _ in range(r.randint(2, 7)):
                comp = prose(r, P.q, r.randint(120, 500))
                log.add(r, a, t, [dict(m) for m in hist], completion=comp)
                hist += [{"role": "assistant", "content": comp[:600]},
                         {"role": "user", "content": r.choice(TU_SAY).format(x=r.randint(1, 200))}]
                t += think(r, 10, 45)


# -- helpdesk: multi-tenant support bot SaaS ---------------------------------------------------------------------

HD_SYS = ("You are the virtual assistant of {co}, a {kind}. Use the knowledge base excerpt below to answer "
          "customer questions. If you cannot answer, offer to open a ticket. Be friendly and brief.\n\n"
          "Knowledge base:\n{kb}")
HD_KIND = ["bike shop", "dental clinic", "boutique hotel", "yoga studio", "online bookstore", "plumbing company",
           "language school", "pet grooming salon", "coworking space", "car rental agency", "bakery chain"]


def helpdesk(log: Log, P: Pools16, r: random.Random, scale: float) -> None:
    """One support-bot SaaS with one account per tenant business (the vendor's servers and client, one scaffold
    system prompt filled with each tenant's name and knowledge base), end users' questions in the tenant's
    business hours."""
    block = cloud_block(r)
    ua = f"deskbot-worker/{r.randint(1, 4)}.{r.randint(0, 9)} " + ua_sdk(r)
    qs = [t[0] for t, _ in P.p.tail[:6000] if len(t[0]) < 400] + P.c.casual
    kbs = [x.answer for x in P.c.alpaca if len(x.answer) > 200]
    for _ in range(scaled(60, scale, 2)):
        co = r.choice(["Alder", "Brightway", "Copper", "Dune", "Elm", "Fable", "Granite", "Harbor"]) + " " + \
            r.choice(["& Co", "Group", "Studio", "Partners", "Ltd"])
        kb = "\n".join(r.sample(kbs, 2))[:1500]
        a = log.account(r, "legit:helpdesk", ip_mode="pool", ips=[in_block(r, block) for _ in range(2)], ua=ua,
                        tier="pay-as-you-go", model="gpt-4o-mini", org="org_" + hexid(r, 10))
        sp = HD_SYS.format(co=co, kind=r.choice(HD_KIND), kb=kb)
        for t in human_session_starts(r, a, list(range(14)), r.uniform(10, 45), hours=WORK_HOURS, weekend=0.5):
            hist = [{"role": "system", "content": sp}, {"role": "user", "content": r.choice(qs)}]
            for _ in range(r.choice([1, 1, 2, 3])):
                comp = prose(r, P.q, r.randint(100, 450))
                log.add(r, a, t, [dict(m) for m in hist], completion=comp, params={"temperature": 0.3})
                hist += [{"role": "assistant", "content": comp[:500]},
                         {"role": "user", "content": r.choice(["ok", "and the price?", "can I talk to a human",
                                                               "what are your opening hours?", "thanks"])}]
                t += think(r, 15, 50)


# -- safetylab: public jailbreak benchmark replays ------------------------------------------------------------------

SAFE_SAY = ["I can't help with that request.", "Sorry, I can't assist with that.",
            "I won't provide instructions for that, but I can share general safety information."]


def safetylab(log: Log, P: Pools16, r: random.Random, scale: float) -> None:
    """Safety vendors replaying a public jailbreak benchmark (its fixed prompts, in order) over 3-5 keys of one org
    for one to three models, at temperature 0, each run once or twice in the fortnight; and independent
    researchers replaying a slice of it once."""
    bench = P.jb_bench
    for _ in range(scaled(3, scale)):
        org = "org_" + hexid(r, 10)
        block = cloud_block(r)
        ua = ua_sdk(r)
        keys = [log.account(r, "legit:safetylab", org=org, ip_mode="pool", ips=[in_block(r, block)], ua=ua,
                            tier="enterprise", email=f"{r.choice(['aegis', 'redline', 'guardrail'])}{hexid(r, 2)}.ai")
                for _ in range(r.randint(3, 5))]
        for _run in range(r.randint(1, 2)):
            d = r.randrange(0, 13)
            for model in r.sample(["gpt-4o", "frontier-1", "o3-mini", "gpt-4o-mini"], r.randint(1, 3)):
                t = local_time(keys[0], d, r.uniform(9, 17))
                for j, q in enumerate(bench[: max(20, round(len(bench) * min(1.0, scale)))]):
                    log.add(r, keys[j % len(keys)], t, [{"role": "user", "content": q}], completion=r.choice(SAFE_SAY),
                            model=model, params={"temperature": 0, "max_tokens": 512})
                    t += timedelta(seconds=r.uniform(0.5, 3))
    for _ in range(scaled(8, scale)):
        a = log.account(r, "legit:safetylab", email=r.choice(["cs.example.edu", "gmail.com", "mit.example.edu"]),
                        ua=ua_sdk(r), tier="research")
        lo = r.randrange(0, len(bench) - 40)
        t = local_time(a, r.randrange(0, 14), r.uniform(10, 22))
        for q in bench[lo:lo + r.randint(30, 80)]:
            log.add(r, a, t, [{"role": "user", "content": q}], completion=r.choice(SAFE_SAY),
                    params={"temperature": 0})
            t += timedelta(seconds=r.uniform(1, 6))
        for ts in human_session_starts(r, a, active_days(r, p=0.3), 1.0):
            _chat(log, P, r, a, ts, P.c.chats, max_turns=3)


# -- scstudy: self-consistency research on a public benchmark --------------------------------------------------------

SC_TMPL = ["Q: {q}\nA: Let's think step by step.", "Solve the following math problem. Put the final answer after "
           "'####'.\n\n{q}", "{q}\nAnswer the question with reasoning, then 'The answer is X'."]


def scstudy(log: Log, P: Pools16, r: random.Random, scale: float) -> None:
    """Research groups sampling each question of a public benchmark (GSM8K test) 5-20 times at temperature 0.5-1.0
    (separate requests or `n`), some with log-probabilities, over 2-4 keys of their lab org in a day or two."""
    for _ in range(scaled(3, scale)):
        org = "org_" + hexid(r, 10)
        home = in_block(r, cloud_block(r))
        keys = [log.account(r, "legit:scstudy", org=org, ip_mode="pool", ips=[home], ua=ua_sdk(r), tier="research",
                            email=r.choice(["cs.example.edu", "ethz.example.ch", "lab.example.ac.uk"]),
                            model="gpt-4o") for _ in range(r.randint(2, 4))]
        qs = r.sample(P.c.gsm_test, max(10, round(r.randint(150, 400) * min(1.0, scale))))
        tmpl = r.choice(SC_TMPL)
        k = r.choice([5, 8, 10, 20])
        use_n = r.random() < 0.4
        temp = r.choice([0.5, 0.7, 1.0])
        t = local_time(keys[0], r.randrange(0, 12), r.uniform(9, 20))
        for j, it in enumerate(qs):
            a = keys[j % len(keys)]
            m = [{"role": "user", "content": tmpl.format(q=it.text)}]
            reps = 1 if use_n else k
            for _ in range(reps):
                params = {"temperature": temp, "max_tokens": 512} | ({"n": k} if use_n else {}) | \
                    ({"logprobs": True} if j % 3 == 0 else {})
                log.add(r, a, t, m, completion=it.answer, params=params)
                t += timedelta(seconds=r.uniform(0.3, 2))
        for a in keys:
            for ts in human_session_starts(r, a, active_days(r, p=0.3), 1.0, hours=WORK_HOURS):
                _chat(log, P, r, a, ts, P.c.chats, max_turns=2)


# -- canary: synthetic monitoring on customers' own keys -------------------------------------------------------

CANARY = ["What is 17 * 23?", "Reply with the word OK.", "Translate 'good morning' into Spanish.",
          "Return the JSON {\"status\": \"up\"} exactly.", "What is the capital of Australia?",
          "Summarise in one sentence: The quick brown fox jumps over the lazy dog.",
          "Write a Python function that returns the sum of a list.", "Is 97 a prime number? Answer yes or no.",
          "List three primary colours.", "Classify the sentiment of: 'I love this product!'",
          "Convert 100 Fahrenheit to Celsius.", "What day comes after Tuesday?"]
CAN_APP = ["You are the assistant inside {p}. Help users with their questions about the product and general tasks.",
           "{p} writing helper. Improve the user's text; keep their voice.",
           "You answer questions for {p} customers. Be accurate and concise."]


def canary(log: Log, P: Pools16, r: random.Random, scale: float) -> None:
    """An LLM-monitoring vendor sends a fixed set of synthetic probes every 1-2 hours, day and night, through each
    customer's own key (from the vendor's servers, the vendor's client); the same accounts carry the
    customers' own product traffic from their servers."""
    vblock = cloud_block(r)
    vua = f"watchtower-synthetics/{r.randint(2, 4)}.{r.randint(0, 9)}"
    convs = P.p.tail[:-3000]
    for _ in range(scaled(50, scale, 2)):
        prod = r.choice(["Notely", "Shipfast", "Quillo", "Budgetly", "Tasko", "Recruitr", "Mapster", "Lexi"])
        a = log.account(r, "legit:canary", ip_mode="pool", ips=[in_block(r, cloud_block(r))], ua=ua_sdk(r),
                        tier="pay-as-you-go", org="org_" + hexid(r, 10), model=r.choice(["gpt-4o-mini", "gpt-4o"]))
        every = r.choice([1, 2, 3])
        probes = r.sample(CANARY, r.randint(1, 3))
        t = T0 + timedelta(hours=r.uniform(0, every))
        while t < END:
            for q in probes:
                log.add(r, a, t, [{"role": "user", "content": q}], completion=prose(r, P.q, 40)[:80],
                        params={"temperature": 0, "max_tokens": 64}, ip=in_block(r, vblock), ua=vua)
                t += timedelta(seconds=r.uniform(0.5, 3))
            t += timedelta(hours=every, seconds=r.uniform(-60, 60))
        sp = r.choice(CAN_APP).format(p=prod)
        for ts in human_session_starts(r, a, list(range(14)), r.uniform(3, 12)):
            _chat(log, P, r, a, ts, convs, sysm=[{"role": "system", "content": sp}], max_turns=3)


# -- hubfolk: small aggregators' real customers ------------------------------------------------------------------

def hubfolk(log: Log, P: Pools16, r: random.Random, scale: float) -> None:
    """The real customers of the small API aggregators (the aggregator's org, card, egress and relay client):
    people chatting, students, developers' scripts and a few small apps with their own system prompt."""
    hs = hubs(log.seed)
    convs = P.c.chats + P.p.tail[:-3000]
    asks = P.p.tail_code + P.c.code_chats
    for _ in range(scaled(480, scale, 4)):
        h = r.choice(hs)
        kind = r.choices(["person", "dev", "app"], weights=[70, 22, 8])[0]
        a = log.account(r, "legit:hubfolk", org=h.org, payment=h.card, ip_mode="pool",
                        ips=[in_block(r, b) for b in h.blocks for _ in range(2)], ua=h.ua, country=h.country,
                        created=days_ago(r, 1, 400), model=r.choice(["gpt-4o-mini", "gpt-4o", "frontier-1"]))
        sysm = [{"role": "system", "content": h.default_sys}] if h.default_sys else []
        if kind == "person":
            for t in human_session_starts(r, a, active_days(r, p=r.uniform(0.1, 0.8)) or [3], r.uniform(0.8, 3)):
                _chat(log, P, r, a, t, convs, sysm=sysm, max_turns=5)
        elif kind == "dev":
            for t in human_session_starts(r, a, [d for d in active_days(r, p=0.5) if _weekday(d)], r.uniform(1, 4),
                                          hours=WORK_HOURS):
                for _ in range(r.randint(1, 4)):
                    log.add(r, a, t, sysm + [{"role": "user", "content": r.choice(asks)[:1500]}],
                            completion=prose(r, P.q, r.randint(300, 1200)), params={"temperature": 0.2})
                    t += think(r, 20, 120)
        else:
            who = r.choice(["Mika", "Zed", "Pip", "Orla"])
            what = r.choice(["journaling", "language-learning", "fitness", "dating-advice"])
            sp = f"You are {who}, the assistant in a {what} app. Be warm and brief."
            for t in flat_times(r, T0, END, r.uniform(10, 30), amp=0.8, phase_h=r.uniform(0, 24)):
                _chat(log, P, r, a, t, convs, sysm=[{"role": "system", "content": sp}], max_turns=2)


KINDS: dict[str, Callable[..., None]] = {
    "public": public, "agentfw": agentfw, "hackathon": hackathon, "tutor": tutor, "helpdesk": helpdesk,
    "safetylab": safetylab, "scstudy": scstudy, "canary": canary, "hubfolk": hubfolk,
}
