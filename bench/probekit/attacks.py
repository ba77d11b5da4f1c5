"""Campaign families, written from the threat description only (no knowledge of how detection works).

Every family is `fn(log, corpora, rng, n, campaign_id)` and makes one campaign of n accounts; per-account
behaviour does not depend on n, so the same family at 20, 200 and 2,000 accounts differs only in size.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import timedelta

from probekit import agentic as ag
from probekit.corpora import Corpora, Item
from probekit.text import (
    Paraphraser,
    answer_for,
    followup_answer,
    jitter,
    light_variants,
    msgs,
    perturb_problem,
    synonyms,
)
from probekit.world import (
    DAYS,
    END,
    STRONG,
    T0,
    Log,
    active_days,
    cloud_block,
    flat_times,
    hexid,
    human_session_starts,
    in_block,
    ip_residential,
    think,
    ua_browser,
    ua_sdk,
)

Family = Callable[[Log, Corpora, random.Random, int, str], None]
DISPOSABLE = ["mailnest.io", "tmpbox.net", "quickinbox.org", "dropmail.cc", "sendfree.me", "inboxkit.xyz"]


def _cards(r: random.Random, n_accounts: int, per_card: tuple[int, int]) -> list[str]:
    return ["pm_" + hexid(r, 16) for _ in range(max(1, n_accounts // r.randint(*per_card)))]


def _own_domain(r: random.Random) -> str:
    return r.choice(["north", "blue", "data", "lumen", "apex", "hub", "zen"]) + \
        r.choice(["works", "labs", "mail", "ly", "io-team", "stack"]) + r.choice([".net", ".io", ".co", ".dev"])


def _payload(r: random.Random, c: Corpora, mix: dict[str, float]) -> Item:
    """One extraction payload drawn from the operator's dataset mix."""
    src = r.choices(list(mix), weights=list(mix.values()))[0]
    pool = {"gsm": c.gsm_train, "humaneval": c.humaneval, "codegen": c.codegen, "alpaca": c.alpaca,
            "selfinstruct": c.selfinstruct, "wizard": c.wizard, "roleplay": c.roleplay}.get(src)
    if pool is not None:
        return r.choice(pool)
    cat, t1, _ = r.choice(c.mtbench)
    return Item(t1, "", {"math": "math", "coding": "code", "reasoning": "math"}.get(cat, "general"))


# -- 1. rubric / reward-model grading ----------------------------------------------------------------------

JUDGE_SYS = [
    "You are a strict and impartial grader. Judge only the quality of the responses, never their length.",
    "Act as an expert reviewer who evaluates AI assistant answers against a rubric. Be consistent.",
    "You evaluate model outputs for a quality-assurance pipeline. Follow the scoring instructions exactly.",
    "You are an evaluation model. Read the task, the candidate answer(s) and the criteria, then grade.",
    "Your job: compare candidate completions and decide which better satisfies the user's request.",
]
CRIT = {
    "math": ["the final numeric answer is correct", "every intermediate calculation is valid",
             "the reasoning is complete with no skipped steps", "units and quantities are handled properly",
             "the explanation is easy to follow"],
    "code": ["the code is functionally correct", "edge cases are handled", "time and space complexity are "
             "reasonable", "the code is idiomatic and readable", "the explanation matches the code"],
    "general": ["the answer addresses what was asked", "facts are accurate", "the answer is complete",
                "it is well organised and clear", "tone and format suit the request", "it avoids harmful content"],
}
LABELS = [("Response A", "Response B"), ("Answer 1", "Answer 2"), ("[A]", "[B]"), ("Candidate X", "Candidate Y"),
          ("Assistant 1", "Assistant 2")]


def _kind(it: Item) -> str:
    return it.kind if it.kind in CRIT else "general"


def _corrupt(r: random.Random, c: Corpora, it: Item) -> str:
    a = it.answer or answer_for(r, c, kind=_kind(it))
    k = r.random()
    if k < 0.4:
        return perturb_problem(r, a)
    if k < 0.7:
        return a[: max(40, len(a) // 2)]
    return answer_for(r, c, kind=_kind(it))


def _rubric_prompt(r: random.Random, c: Corpora, style: str, it: Item, labels: tuple[str, str],
                   scale: int, tags: bool) -> tuple[str, str]:
    kind = _kind(it)
    good = it.answer or answer_for(r, c, kind=kind)
    crit = r.sample(CRIT[kind], k=r.randint(3, len(CRIT[kind])))
    rubric = "\n".join(f"{i + 1}. {x}" + (f" ({r.randint(1, 4)} pts)" if style == "checklist" else "")
                       for i, x in enumerate(crit))
    q = it.text
    wrap = (lambda k, v: f"<{k}>\n{v}\n</{k}>") if tags else (lambda k, v: f"### {k}\n{v}")
    if style == "pointwise":
        cand = good if r.random() < 0.5 else _corrupt(r, c, it)
        p = "\n\n".join([wrap("Task", q), wrap("Response", cand), wrap("Criteria", rubric),
                         f"Rate the response on a 1-{scale} scale. Give a short justification, then the line "
                         f"'Score: <n>'."])
        comp = f"The response {r.choice(['handles', 'partially handles', 'misses'])} criterion 1. " + \
            r.choice(['Steps are clear.', 'One step is unjustified.', 'The format is fine.']) + \
            f"\nScore: {r.randint(1, scale)}"
    elif style == "pairwise":
        a, b = (good, _corrupt(r, c, it)) if r.random() < 0.5 else (_corrupt(r, c, it), good)
        p = "\n\n".join([wrap("Question", q), wrap(labels[0], a), wrap(labels[1], b), wrap("What matters", rubric),
                         f"Which is better, {labels[0]} or {labels[1]}? Explain briefly, then answer with exactly "
                         f"one of: {labels[0]}, {labels[1]}, tie."])
        comp = f"{labels[0]} {r.choice(['is more accurate', 'skips a step', 'has the right answer'])}, while " \
               f"{labels[1]} {r.choice(['is vaguer', 'is correct', 'contains an error'])}.\nVerdict: " + \
               r.choice([labels[0], labels[1], "tie"])
    elif style == "checklist":
        cand = good if r.random() < 0.5 else _corrupt(r, c, it)
        p = "\n\n".join([wrap("Prompt", q), wrap("Model output", cand), wrap("Rubric", rubric),
                         "For each rubric item say met / not met and award its points. Return JSON: "
                         '{"items": [...], "total": <int>}'])
        comp = json.dumps({"items": [{"criterion": x[:40], "met": r.random() < 0.6} for x in crit],
                           "total": r.randint(0, 10)})
    elif style == "listwise":
        cands = [good] + [_corrupt(r, c, it) for _ in range(r.randint(2, 3))]
        r.shuffle(cands)
        body = "\n\n".join(wrap(f"Candidate {i + 1}", x) for i, x in enumerate(cands))
        p = "\n\n".join([wrap("Instruction", q), body, wrap("Criteria", rubric),
                         "Rank all candidates from best to worst. Output the ranking as a list of numbers, "
                         "then one sentence per candidate."])
        order = list(range(1, len(cands) + 1))
        r.shuffle(order)
        comp = f"Ranking: {order}\n" + "\n".join(f"{i}: {r.choice(['solid', 'wrong result', 'incomplete', 'verbose'])}"
                                                 for i in order)
    elif style == "reward":
        cand = good if r.random() < 0.5 else _corrupt(r, c, it)
        p = "\n\n".join([wrap("User request", q), wrap("Assistant reply", cand),
                         f"Considering: {'; '.join(crit)}. Output a single reward in [-1, 1] on the last line."])
        comp = r.choice(["Mostly correct.", "Contains a mistake.", "Helpful and accurate."]) + \
            f"\n{r.uniform(-1, 1):.2f}"
    else:  # verify
        cand = good if r.random() < 0.5 else _corrupt(r, c, it)
        p = "\n\n".join([wrap("Problem", q), wrap("Proposed solution", cand),
                         "Check the solution carefully. Is it correct? Reply CORRECT or INCORRECT, identify the first "
                         "wrong step if any, and give your confidence from 0 to 100."])
        comp = f"{r.choice(['CORRECT', 'INCORRECT'])}. {r.choice(['Step 2 miscounts.', 'All steps check out.'])} " \
               f"Confidence: {r.randint(55, 99)}"
    return p, comp


def rubric(log: Log, c: Corpora, r: random.Random, n: int, cid: str) -> None:
    """Reward-model data: the model is asked to grade or compare candidate answers against a rubric."""
    styles = r.sample(["pointwise", "pairwise", "checklist", "listwise", "reward", "verify"], k=r.randint(2, 4))
    systems = r.sample(JUDGE_SYS, k=2) + [None]
    labels = r.choice(LABELS)
    scale = r.choice([5, 7, 10])
    tags = r.random() < 0.5
    blocks = [cloud_block(r) for _ in range(r.randint(2, 4))]
    uas = [ua_sdk(r) for _ in range(2)]
    cards, dom = _cards(r, n, (5, 12)), _own_domain(r)
    mix = r.choice([{"gsm": 3, "codegen": 2, "alpaca": 3, "selfinstruct": 1},
                    {"alpaca": 4, "wizard": 1, "codegen": 2, "humaneval": 1, "gsm": 1}])
    for _ in range(n):
        ips = [in_block(r, b) for b in blocks for _ in range(2)]
        a = log.account(r, "campaign:rubric", cid, created=T0 - timedelta(days=r.uniform(1, 12)),
                        email=dom if r.random() < 0.4 else r.choice(["gmail.com", "outlook.com"]),
                        payment=r.choice(cards), signup_ip=r.choice(ips), ip_mode="pool", ips=ips,
                        ua=r.choice(uas), model=r.choice(STRONG))
        start = T0 + timedelta(hours=r.uniform(0, 48))
        for t in flat_times(r, start, END, r.uniform(5, 11), amp=0.15, phase_h=r.uniform(0, 24)):
            it = _payload(r, c, mix)
            p, comp = _rubric_prompt(r, c, r.choice(styles), it, labels, scale, tags)
            params = {"temperature": r.choice([0, 0, 0.2]), "max_tokens": r.choice([512, 1024])}
            if "JSON" in p:
                params["response_format"] = {"type": "json_object"}
            log.add(r, a, t, msgs(p, r.choice(systems)), completion=comp, params=params)


# -- 2. agentic tool-use trajectories --------------------------------------------------------------------

AGENT_SYS = [
    "You are an autonomous assistant with access to functions. Today is {date}. Call functions when they are "
    "needed and reason about their results before answering.",
    "You can use the tools listed below. Think about which tool fits, call it with valid JSON arguments, read "
    "the result, and continue until the user's goal is met. Current date: {date}.",
    "Agent mode. Plan, act with tools, observe, repeat. Stop when the task is solved and give the user a concise "
    "final answer. ({date})",
]


def agent_tools(log: Log, c: Corpora, r: random.Random, n: int, cid: str) -> None:
    """Tool-use trajectories over many synthetic tool sets, with the tool results fed back step by step."""
    frames = r.sample(AGENT_SYS, k=2)
    blocks = [cloud_block(r) for _ in range(r.randint(1, 3))]
    ua = ua_sdk(r)
    cards = _cards(r, n, (10, 25))
    envs = c.toolenvs + [ag.toolformer_env(x) for x in r.sample(c.toolformer, 400)]
    for _ in range(n):
        ips = [in_block(r, b) for b in blocks for _ in range(3)]
        a = log.account(r, "campaign:agent-tools", cid, created=T0 - timedelta(days=r.uniform(2, 30)),
                        payment=r.choice(cards), signup_ip=r.choice(ips), ip_mode="pool", ips=ips, ua=ua,
                        model=r.choice(STRONG))
        for t in flat_times(r, T0 + timedelta(hours=r.uniform(0, 30)), END, r.uniform(1.8, 3.2), amp=0.1):
            env = r.choice(envs)
            q = synonyms(r, env.query, 0.3)
            sysp = r.choice(frames).format(date=t.strftime("%Y-%m-%d"))
            hist = msgs(q, sysp)
            steps = r.randint(1, 4)
            temp = r.choice([0, 0.3, 0.7, 1.0])
            for s in range(steps + 1):
                if s < steps:
                    am, tm, call = ag.tool_turns(r, env, s, q)
                    log.add(r, a, t, list(hist), completion=call, tools=list(env.schemas),
                            params={"temperature": temp, "tool_choice": "auto"})
                    hist += [am, tm]
                else:
                    log.add(r, a, t, list(hist), completion=ag.final_answer(r, env, hist[-1]["content"]),
                            tools=list(env.schemas), params={"temperature": temp, "tool_choice": "auto"})
                t += timedelta(seconds=r.uniform(0.8, 7))


# -- 3. agentic coding sessions --------------------------------------------------------------------------

CODER_SYS = [
    "You are a senior software engineer operating inside a developer's repository. Make minimal, correct "
    "changes. Output patches as unified diffs. Run the tests after every change.",
    "You are a coding agent. You may read files, apply patches and run the test suite through the provided "
    "tools. Keep going until all tests pass, then summarise the change.",
    "Role: autonomous code maintainer. Inputs: repository layout, relevant files, task. Output: a diff and a "
    "one-paragraph rationale. Prefer small, well-tested edits.",
]
CODER_TOOLS = [["read_file", "apply_patch", "run_tests", "grep"], ["open", "edit", "bash", "search_code"],
               ["view_file", "write_file", "execute", "find_references"]]
AFTER_PASS = ["All tests pass now. Refactor for readability and add docstrings.",
              "Good. Now add type hints and handle invalid input with a clear error.",
              "Tests are green. Please add three more test cases covering edge conditions.",
              "Now optimise it; the input can have 10^6 elements.",
              "Explain the change in a short commit message."]


def _tool_schema(name: str) -> dict:
    return {"name": name, "description": f"{name.replace('_', ' ')} in the workspace",
            "parameters": {"type": "object", "properties": {"arg": {"type": "string"}}, "required": ["arg"]}}


def agent_coding(log: Log, c: Corpora, r: random.Random, n: int, cid: str) -> None:
    """Coding-agent sessions: repo context, a diff back, test failures fed back, follow-up edits."""
    sysps = r.sample(CODER_SYS, k=2)
    tools = [_tool_schema(x) for x in r.choice(CODER_TOOLS)]
    blocks = [cloud_block(r) for _ in range(r.randint(1, 3))]
    uas = [f"{r.choice(['devagent', 'codeloop', 'patchpilot'])}/{r.randint(0, 2)}.{r.randint(1, 20)}.{r.randint(0, 9)} "
           f"python/3.{r.randint(10, 12)}", ua_sdk(r)]
    cards = _cards(r, n, (4, 10))
    for _ in range(n):
        ips = [in_block(r, b) for b in blocks for _ in range(2)]
        a = log.account(r, "campaign:agent-coding", cid, created=T0 - timedelta(days=r.uniform(3, 60)),
                        payment=r.choice(cards), signup_ip=r.choice(ips), ip_mode="pool", ips=ips,
                        ua=r.choice(uas), model=r.choice(STRONG))
        for t in flat_times(r, T0 + timedelta(hours=r.uniform(0, 30)), END, r.uniform(1.5, 2.6), amp=0.2):
            it = ag.coding_task(r, c)
            repo, mod = ag.repo_name(r), ag.module_for(it)
            stub = it.text if it.kind == "code" and "def " in it.text else f"# TODO: {it.text[:300]}\n"
            user = (f"Repository: {repo}\n\n{ag.file_tree(r, repo, mod)}\n\nFile {mod}:\n```python\n{stub}\n```\n\n"
                    f"Task: {r.choice(['implement', 'complete', 'fix'])} the code in {mod} so that "
                    f"tests/test_{mod} passes." + ("" if it.text.startswith(stub[:20]) else f"\nSpec: {it.text[:600]}"))
            hist = msgs(user, r.choice(sysps))
            sol = it.answer or answer_for(r, c, kind="code")
            entry = it.extra.split("\n")[0] if it.extra else mod[:-3]
            for s in range(r.randint(2, 5)):
                d = ag.diff_for(mod, stub, sol if s else sol[: len(sol) * 2 // 3])
                log.add(r, a, t, [dict(m) for m in hist], completion=d, tools=tools,
                        params={"temperature": 0, "max_tokens": 4096})
                cidt = ag.call_id(r)
                hist.append({"role": "assistant", "content": None, "tool_calls": [{"id": cidt, "type": "function",
                             "function": {"name": tools[1]["name"], "arguments": json.dumps({"arg": d[:200]})}}]})
                if s == 0 or r.random() < 0.4:
                    hist.append({"role": "tool", "tool_call_id": cidt, "content": ag.pytest_failure(r, mod, entry)})
                else:
                    hist.append({"role": "tool", "tool_call_id": cidt, "content": "applied; all tests passed"})
                    hist.append({"role": "user", "content": r.choice(AFTER_PASS)})
                hist = hist[:2] + hist[-6:]
                t += timedelta(seconds=r.uniform(4, 45))


# -- 4. multi-turn harvesting ------------------------------------------------------------------------------

FOLLOW = {
    "again": ["Can you solve it a completely different way?", "Try another method and see if you get the same.",
              "Is there a second approach? Show it.", "Redo this using a different technique please"],
    "verify": ["Check your answer by plugging it back in.", "Are you sure? Verify every step.",
               "Double check that result independently.", "Go over it once more and confirm it's right."],
    "general": ["Now generalise this to any n.", "What is the general formula behind this?",
                "How would this change if all the numbers were doubled?", "Extend it to handle the general case."],
    "explain": ["Explain it again as if I were 12.", "I didn't follow, explain it more simply.",
                "Can you re-explain the key idea in plain words?", "Summarise the reasoning in 3 bullet points."],
    "tests": ["Write unit tests for that.", "Give me pytest cases including edge cases.",
              "Now write a test suite that would catch off-by-one errors.", "Add tests and a docstring."],
    "complexity": ["What's the time complexity? Can it be improved?", "Make it faster and explain why it is.",
                   "Rewrite it without recursion."],
}


def _followups(r: random.Random, kind: str) -> list[str]:
    keys = ["again", "verify", "general", "explain"] + (["tests", "complexity"] if kind == "code" else [])
    return [jitter(r, r.choice(FOLLOW[k]), 0.2) for k in r.sample(keys, k=r.randint(2, min(4, len(keys))))]


def multiturn(log: Log, c: Corpora, r: random.Random, n: int, cid: str) -> None:
    """A problem, then 2-4 follow-ups to re-solve, verify, generalise, explain, test; human-paced sessions."""
    mix = r.choice([{"gsm": 4, "humaneval": 1, "codegen": 2, "wizard": 1, "mt": 1},
                    {"gsm": 2, "codegen": 3, "humaneval": 1, "wizard": 1}])
    cards = _cards(r, n, (2, 5))
    for _ in range(n):
        a = log.account(r, "campaign:multiturn", cid, created=T0 - timedelta(days=r.uniform(10, 120)),
                        payment=r.choice(cards), sends_conv=r.random() < 0.5,
                        ua=ua_browser(r) if r.random() < 0.6 else ua_sdk(r), model=r.choice(STRONG))
        days = active_days(r, p=0.75)
        for t in human_session_starts(r, a, days, r.uniform(1.5, 3.0)):
            it = _payload(r, c, mix)
            conv = "conv_" + hexid(r, 16) if a.sends_conv else None
            q = perturb_problem(r, it.text) if it.kind == "math" and r.random() < 0.3 else it.text
            hist = msgs(q)
            for f in [None] + _followups(r, it.kind):
                if f:
                    hist.append({"role": "user", "content": f})
                comp = answer_for(r, c, it, kind=it.kind) if f is None else followup_answer(r, c, it, f)
                log.add(r, a, t, [dict(m) for m in hist], completion=comp, conv=conv,
                        params={"temperature": r.choice([0.7, 1.0, 0.2])} if r.random() < 0.5 else None)
                hist.append({"role": "assistant", "content": comp[:800]})
                t += think(r, 25, 110)


# -- 5. proxy reseller ----------------------------------------------------------------------------------------

def proxy_reseller(log: Log, c: Corpora, r: random.Random, n: int, cid: str) -> None:
    """A reseller's pooled accounts: ~70 % its end users' real chat, ~30 % paraphrased extraction, 24/7."""
    para = Paraphraser(r)
    blocks = [cloud_block(r) for _ in range(r.randint(2, 3))]
    cards = ["pm_" + hexid(r, 16) for _ in range(r.randint(2, 4))]
    dom = _own_domain(r)
    ua = r.choice([ua_sdk(r), f"relay-gw/{r.randint(1, 3)}.{r.randint(0, 9)}"])
    mix = {"gsm": 2, "codegen": 2, "wizard": 1, "alpaca": 1, "humaneval": 1}
    for _ in range(n):
        ips = [in_block(r, b) for b in blocks for _ in range(2)]
        a = log.account(r, "campaign:proxy-reseller", cid, created=T0 - timedelta(days=r.uniform(5, 90)),
                        email=dom if r.random() < 0.7 else "gmail.com", payment=r.choice(cards),
                        signup_ip=r.choice(ips), ip_mode="pool", ips=ips, ua=ua, model=r.choice(STRONG))
        for t in flat_times(r, T0, END, r.uniform(14, 22), amp=0.3, phase_h=r.uniform(12, 16)):
            if r.random() < 0.3:
                it = _payload(r, c, mix)
                log.add(r, a, t, msgs(para(r, it.text, it.kind == "math")),
                        completion=answer_for(r, c, it, kind=it.kind),
                        params={"temperature": r.choice([0.3, 0.7]), "max_tokens": r.choice([2048, 4096])})
                continue
            turns, lens = r.choice(c.chats)
            hist: list[dict] = []
            for u, ln in list(zip(turns, lens, strict=True))[: r.randint(1, 3)]:
                hist.append({"role": "user", "content": u})
                comp = answer_for(r, c, kind="general", length=ln)
                log.add(r, a, t, [dict(m) for m in hist[-6:]], completion=comp)
                hist.append({"role": "assistant", "content": comp[:800]})
                t += think(r)


# -- 6. per-request paraphrasing ------------------------------------------------------------------------

def paraphrase(log: Log, c: Corpora, r: random.Random, n: int, cid: str) -> None:
    """Every request freshly reworded (frame and payload), rotating proxies, new accounts, 24/7."""
    para = Paraphraser(r)
    mix = r.choice([{"gsm": 3, "codegen": 2, "wizard": 1, "alpaca": 2, "selfinstruct": 1},
                    {"gsm": 2, "humaneval": 1, "codegen": 3, "roleplay": 1, "alpaca": 1}])
    for _ in range(n):
        a = log.account(r, "campaign:paraphrase", cid, created=T0 - timedelta(days=r.uniform(1, 30)),
                        ip_mode="per-request", signup_ip=ip_residential(r), model=r.choice(STRONG),
                        ua=ua_sdk(r) if r.random() < 0.5 else ua_browser(r))
        for t in flat_times(r, T0 + timedelta(hours=r.uniform(0, 72)), END, r.uniform(5, 9), amp=0.25,
                            phase_h=r.uniform(0, 24)):
            it = _payload(r, c, mix)
            log.add(r, a, t, msgs(para(r, it.text, it.kind == "math")),
                    completion=answer_for(r, c, it, kind=it.kind),
                    params={"temperature": round(r.uniform(0.2, 1.0), 1)} if r.random() < 0.6 else None)


# -- 7. bought aged accounts ---------------------------------------------------------------------------------

def aged(log: Log, c: Corpora, r: random.Random, n: int, cid: str) -> None:
    """Aged accounts bought from their owners: the owner's light chat, then the buyer's paraphrased harvesting
    at human hours of one time zone through a rotating residential proxy."""
    para = Paraphraser(r)
    op_tz = r.choice([8, 3, 1, -5, 5.5])
    mix = {"gsm": 2, "codegen": 2, "wizard": 1, "alpaca": 2, "roleplay": 1, "mt": 1}
    for _ in range(n):
        a = log.account(r, "campaign:aged", cid, created=T0 - timedelta(days=r.uniform(400, 1800)))
        take = T0 + timedelta(days=r.uniform(0.5, 4))
        # the previous owner's ordinary use before the hand-over
        for t in human_session_starts(r, a, active_days(r, 0, 4, 0.5), 1.0):
            if t >= take:
                break
            turns, lens = r.choice(c.chats)
            log.add(r, a, t, msgs(turns[0]), completion=answer_for(r, c, length=lens[0]))
        buyer_ua = ua_browser(r)
        a.tz, a.ip_mode = op_tz, "per-request"
        days = [d for d in range((take - T0).days, DAYS) if r.random() < 0.85]
        for t in human_session_starts(r, a, days, r.uniform(2, 3.5)):
            if t < take:
                continue
            for _ in range(r.randint(1, 5)):
                it = _payload(r, c, mix)
                log.add(r, a, t, msgs(para(r, it.text, it.kind == "math")), ua=buyer_ua,
                        completion=answer_for(r, c, it, kind=it.kind), model=r.choice(STRONG))
                t += think(r, 20, 60)


# -- 8. hydra -----------------------------------------------------------------------------------------------

HYDRA_WRAP = ["Answer the following and show your working.\n\n{q}", "{q}\n\nGive a complete, step-by-step answer.",
              "Question:\n{q}\n\nProvide a detailed solution.", "Solve:\n{q}", "{q}\n\n(Full explanation please)"]


def hydra(log: Log, c: Corpora, r: random.Random, n: int, cid: str) -> None:
    """Short-lived free accounts, each replaced after ~2 days, one script and dataset behind them all."""
    wraps = [jitter(r, w, 0.1) for w in r.sample(HYDRA_WRAP, k=3)]
    exits = [in_block(r, cloud_block(r)) for _ in range(r.randint(15, 40))]
    ua = ua_sdk(r)
    mix = {"gsm": 3, "humaneval": 1, "codegen": 2, "wizard": 1}
    span = (DAYS * 86400 - 2 * 86400)
    for i in range(n):
        born = T0 + timedelta(seconds=span * (i + r.random()) / n)
        life = timedelta(days=r.uniform(1.5, 2.5))
        a = log.account(r, "campaign:hydra", cid, created=born - timedelta(minutes=r.uniform(5, 240)),
                        email=r.choice(DISPOSABLE), verified=False, tier="free", signup_ip=r.choice(exits),
                        ip_mode="pool", ips=r.sample(exits, k=3), ua=ua, model=r.choice(STRONG))
        quota = r.randint(80, 120)
        for k, t in enumerate(flat_times(r, born, born + life, r.uniform(28, 45), amp=0.2)):
            it = _payload(r, c, mix)
            q = r.choice(wraps).format(q=it.text)
            log.add(r, a, t, msgs(q), completion=answer_for(r, c, it, kind=it.kind),
                    status=200 if k < quota else 429, params={"max_tokens": 2000})


# -- 9. mimicry -------------------------------------------------------------------------------------------------

MIMIC_BASE = ["Please work through this carefully and show your reasoning:",
              "I'd like a careful, well-reasoned answer to the following:",
              "Take your time with this one and explain each step:",
              "Could you think this through properly and give a full answer?"]


def mimicry(log: Log, c: Corpora, r: random.Random, n: int, cid: str) -> None:
    """Residential IP per day, browser user agents, ~30 % ordinary chat, a shared wrapper lightly varied."""
    base = r.sample(MIMIC_BASE, k=2)
    variants = [v for b in base for v in light_variants(r, b, 6)]
    mix = {"gsm": 3, "codegen": 2, "humaneval": 1, "wizard": 1, "mt": 1}
    for _ in range(n):
        a = log.account(r, "campaign:mimicry", cid, created=T0 - timedelta(days=r.uniform(30, 200)),
                        ip_mode="per-day", ua=ua_browser(r), sends_conv=r.random() < 0.5, model=r.choice(STRONG))
        for t in human_session_starts(r, a, active_days(r, p=0.8), r.uniform(2, 3.5)):
            for _ in range(r.randint(1, 5)):
                conv = "conv_" + hexid(r, 16) if a.sends_conv else None
                if r.random() < 0.3:
                    turns, lens = r.choice(c.chats)
                    log.add(r, a, t, msgs(turns[0]), completion=answer_for(r, c, length=lens[0]), conv=conv)
                else:
                    it = _payload(r, c, mix)
                    v = r.choice(variants)
                    p = f"{v}\n\n{it.text}" if r.random() < 0.75 else f"{it.text}\n\n{v}"
                    log.add(r, a, t, msgs(p), completion=answer_for(r, c, it, kind=it.kind), conv=conv)
                t += think(r, 30, 90)


FAMILIES: dict[str, tuple[Family, int]] = {
    "rubric": (rubric, 120), "agent-tools": (agent_tools, 100), "agent-coding": (agent_coding, 80),
    "multiturn": (multiturn, 150), "proxy-reseller": (proxy_reseller, 40), "paraphrase": (paraphrase, 120),
    "aged": (aged, 100), "hydra": (hydra, 200), "mimicry": (mimicry, 150),
}



# -- 10. reasoning-trace elicitation -------------------------------------------------------------------------

COT_TAGS = ["scratchpad", "reasoning", "analysis", "working", "notes", "deliberation", "trace", "draft"]
COT_SYS = ["Before you answer, reason privately inside <{t}></{t}> tags, exploring the problem fully. After the "
           "closing tag write 'FINAL:' and the answer.",
           "Always structure replies as: <{t}> your complete internal reasoning, every step, no shortcuts </{t}> "
           "followed by the final answer on its own line.",
           "You are a meticulous problem solver. Put all intermediate reasoning in a <{t}> block; it will be "
           "checked, so do not skip steps. Then give a one-line answer prefixed with 'Answer:'."]


def cot_elicit(log: Log, c: Corpora, r: random.Random, n: int, cid: str) -> None:
    """Reasoning traces asked for in the operator's own tag format, several samples per prompt (n > 1)."""
    tag = r.choice(COT_TAGS)
    sysps = [s.format(t=tag) for s in r.sample(COT_SYS, k=2)]
    proxies = [ip_residential(r) for _ in range(r.randint(30, 80))]  # a rented residential proxy pool
    mix = {"gsm": 4, "wizard": 1, "mt": 1, "humaneval": 1}
    cards = _cards(r, n, (3, 8))
    ua = ua_sdk(r)
    for _ in range(n):
        a = log.account(r, "campaign:cot-elicit", cid, created=T0 - timedelta(days=r.uniform(1, 40)),
                        payment=r.choice(cards), ip_mode="pool", ips=r.sample(proxies, k=8), ua=ua,
                        model=r.choice(STRONG))
        for t in flat_times(r, T0 + timedelta(hours=r.uniform(0, 48)), END, r.uniform(5, 10), amp=0.2,
                            phase_h=r.uniform(0, 24)):
            it = _payload(r, c, mix)
            body = it.answer or answer_for(r, c, kind=it.kind)
            comp = f"<{tag}>\n{body}\n</{tag}>\n" + (f"FINAL: {body.splitlines()[-1][:80]}" if body else "")
            log.add(r, a, t, msgs(it.text, r.choice(sysps)), completion=comp,
                    params={"temperature": r.choice([0.6, 0.8, 1.0]), "n": r.choice([1, 2, 4]), "max_tokens": 4096})


# -- 11. synthetic instruction-data generation --------------------------------------------------------------

DATAGEN = ["Generate {k} new, diverse task instructions with an input and a high-quality output each, in the "
           "style of the examples but on different topics. Topic area: {topic}. Return JSON lines with keys "
           "instruction, input, output.\n\nExamples:\n{ex}",
           "You are creating training data. Write {k} question-answer pairs about {topic}. Vary difficulty and "
           "format; answers must be complete and correct. Output a JSON array.\n\nFor reference:\n{ex}",
           "Produce {k} fresh examples like the ones below ({topic}). Each: a realistic user request and an "
           "ideal assistant reply. Do not repeat the examples.\n\n{ex}"]
TOPICS = ["personal finance", "high-school algebra", "Python data structures", "cooking", "travel", "history of "
          "science", "SQL queries", "creative writing", "physics puzzles", "email etiquette", "probability",
          "regular expressions", "nutrition", "geography trivia", "unit conversions", "job interviews"]


def datagen(log: Log, c: Corpora, r: random.Random, n: int, cid: str) -> None:
    """The model asked to write instruction data itself: k new examples per request seeded with a few samples."""
    tmpls = r.sample(DATAGEN, k=2)
    blocks = [cloud_block(r) for _ in range(r.randint(1, 2))]
    ua = ua_sdk(r)
    for _ in range(n):
        ips = [in_block(r, b) for b in blocks for _ in range(2)]
        a = log.account(r, "campaign:datagen", cid, created=T0 - timedelta(days=r.uniform(1, 25)), ip_mode="pool",
                        ips=ips, ua=ua, model=r.choice(STRONG))
        for t in flat_times(r, T0 + timedelta(hours=r.uniform(0, 48)), END, r.uniform(4, 8), amp=0.1):
            seeds = r.sample(c.selfinstruct, 3) if r.random() < 0.5 else r.sample(c.alpaca, 3)
            ex = "\n".join(json.dumps({"instruction": x.text[:300], "output": x.answer[:300]}) for x in seeds)
            p = r.choice(tmpls).format(k=r.choice([5, 8, 10, 20]), topic=r.choice(TOPICS), ex=ex)
            out = "\n".join(json.dumps({"instruction": x.text[:200], "input": "", "output": x.answer[:300]})
                            for x in r.sample(c.alpaca, r.randint(3, 6)))
            log.add(r, a, t, msgs(p), completion=out, params={"temperature": 1.0, "top_p": 0.95, "max_tokens": 4096})


FAMILIES["cot-elicit"] = (cot_elicit, 100)
FAMILIES["datagen"] = (datagen, 60)
