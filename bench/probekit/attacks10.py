"""Round-10 campaign families, part 1: low-and-slow, self-critique loops, preference pairs, curriculum ladders.

Written from the threat description alone (issue 20's threat: many fake accounts behind proxies sending
systematic prompts to harvest reasoning, coding and tool use). Every family varies client fingerprints per
account, pays with one card per account unless said otherwise, and composes its request wording per request.
Part 2 (attacks10b.py) holds the multilingual, SaaS-front, structured-synthesis and agent-repo families.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from probekit.corpora import Item
from probekit.pools10 import Composer, Pools, pick, soc_item
from probekit.text import answer_for, perturb_problem
from probekit.world import (
    DAYS,
    END,
    HUMAN_HOURS,
    STRONG,
    T0,
    WORK_HOURS,
    Acct,
    Log,
    cloud_block,
    day_start,
    flat_times,
    hexid,
    in_block,
    ip_residential,
    ua_sdk,
)

CAMP = "campaign:"


def hour_at(r: random.Random, day: int, tz: float, weights: list[float] | None = None) -> datetime:
    """A time on probe day `day` at a local hour drawn from `weights` in zone `tz`."""
    h = r.choices(range(24), weights=weights or HUMAN_HOURS)[0] + r.random()
    return day_start(day) + timedelta(hours=h - tz)


def acct_params(r: random.Random) -> dict:
    """A per-account sampling habit (so accounts of one operator do not share one parameter set)."""
    p: dict = {}
    if r.random() < 0.6:
        p["temperature"] = r.choice([0, 0.2, 0.3, 0.5, 0.7, 0.8, 1, 1.1])
    if r.random() < 0.4:
        p["max_tokens"] = r.choice([1024, 1500, 2000, 2048, 3000, 4000, 4096, 8192])
    if r.random() < 0.2:
        p["top_p"] = r.choice([0.9, 0.95, 1])
    if r.random() < 0.15:
        p["stream"] = True
    return p


def payload(r: random.Random, P: Pools) -> Item:
    """One harvest payload over reasoning, coding and open tasks, from round-10 corpus fields."""
    c, k = P.c, r.random()
    if k < 0.3:
        it = soc_item(r.choice(P.socratic))
        return Item(perturb_problem(r, it.text) if r.random() < 0.5 else it.text, it.answer, "math")
    if k < 0.45:
        s = r.choice(P.seeds)
        return Item(s.text, s.answer)
    if k < 0.6:
        skill = r.choice(["Reasoning", "Math", "Computer Science", "Code Generation", "Physics", "Counterfactual",
                          "Common-Sense", "Code Debug"])
        return Item(r.choice(P.wizard_by[skill])[1], "", "code" if "Code" in skill else "general")
    if k < 0.75:
        return r.choice(c.humaneval)
    if k < 0.88:
        return r.choice(c.codegen)
    cat, t1, _ = r.choice(c.mtbench)
    return Item(t1, "", "math" if cat in ("math", "reasoning") else "general")


def new_acct(log: Log, r: random.Random, fam: str, cid: str, **kw: object) -> Acct:
    """A campaign account: own card, own client fingerprint, model among the strong ones."""
    kw.setdefault("model", r.choice(STRONG))
    return log.account(r, CAMP + fam, cid, **kw)


# -- 1. low-and-slow -------------------------------------------------------------------------------------

def low_slow(log: Log, P: Pools, r: random.Random, n: int, cid: str) -> None:
    """Many aged accounts, each 2-6 exchanges a day at human hours over the whole 14 days, home broadband."""
    comp = Composer(r, 0.8, lane=0)
    for _ in range(n):
        a = new_acct(log, r, "low-slow", cid, created=T0 - timedelta(days=r.uniform(150, 1500)))
        par = acct_params(r)
        for d in range(DAYS):
            if r.random() > 0.85:
                continue
            for _ in range(r.randint(2, 6)):
                ts = hour_at(r, d, a.tz)
                if r.random() < 0.12:
                    q = r.choice(P.c.casual)
                    log.add(r, a, ts, [{"role": "user", "content": q}], completion=answer_for(r, P.c),
                            params=par or None)
                    continue
                it = payload(r, P)
                log.add(r, a, ts, [{"role": "user", "content": comp(r, it.text)}],
                        completion=answer_for(r, P.c, it, it.kind), params=par or None)


# -- 2. self-critique loops --------------------------------------------------------------------------------

CRIT_A = ["Now", "Next,", "Before we go on,", "OK.", "Good start.", "Alright,", "Hold on -", "Thanks. Now", ""]
CRIT_B = ["critique", "scrutinise", "poke holes in", "review harshly", "audit", "stress-test", "find the flaws in",
          "grade", "play devil's advocate against", "assess the weaknesses of"]
CRIT_C = ["your answer above", "what you just wrote", "that solution", "your reasoning", "the previous reply",
          "your own response", "that attempt"]
CRIT_D = ["List concrete weaknesses.", "Point out errors, gaps and unclear steps.", "Be specific about each flaw.",
          "Rate it from 1 to 10 and justify the score.", "Check every step for mistakes.",
          "What would an expert reviewer object to?", "Note anything missing or ambiguous.", ""]
IMP_A = ["Now", "Using that critique,", "Taking those points into account,", "Good.", "Great -",
         "Based on your review,", "With that in mind,", ""]
IMP_B = ["rewrite", "produce an improved version of", "revise", "redo", "fix", "rework", "strengthen"]
IMP_C = ["the answer", "your solution", "it", "the response", "your first attempt"]
IMP_D = ["fixing every issue you listed.", "so that none of those weaknesses remain.", "addressing each point.",
         "and make it airtight.", "keeping what was right.", "with clearer reasoning this time.", "."]
FIN = ["Give only the final polished version, no commentary.", "Now the final clean answer, as you'd publish it.",
       "Condense that into the definitive version.", "Final version please, just the answer and its reasoning.",
       "Merge everything into one best answer.", "Output the final answer only, nicely formatted.",
       "Last step: the clean final write-up.", "Now write the version you'd hand to a student."]


def _cap(s: str) -> str:
    s = s.strip()
    return s[:1].upper() + s[1:]


def critique_loop(log: Log, P: Pools, r: random.Random, n: int, cid: str) -> None:
    """One conversation per problem: answer, critique your answer, improve it, give the final; many accounts."""
    comp = Composer(r, 0.8, lane=1)
    fin = pick(r, FIN, 5)
    for _ in range(n):
        a = new_acct(log, r, "critique-loop", cid, created=T0 - timedelta(days=r.uniform(1, 40)),
                     ip_mode="per-day", ua=ua_sdk(r), sends_conv=r.random() < 0.5)
        par = acct_params(r)
        for t in flat_times(r, T0 + timedelta(days=r.uniform(0, 3)), END, r.uniform(2, 5), amp=0.3):
            it = payload(r, P)
            ans = answer_for(r, P.c, it, it.kind)
            m = [{"role": "user", "content": comp(r, it.text)}]
            conv = "c_" + hexid(r, 16) if a.sends_conv else None
            log.add(r, a, t, list(m), completion=ans, params=par or None, conv=conv)
            m.append({"role": "assistant", "content": ans[:1200]})
            lines = [x for x in ans.splitlines() if x.strip()] or [ans]
            crit = " ".join(x for x in (r.choice(CRIT_A), r.choice(CRIT_B), r.choice(CRIT_C) + ".",
                                        r.choice(CRIT_D)) if x)
            crit_ans = "Weaknesses:\n" + "\n".join(
                f"{i + 1}. {r.choice(['The step', 'The line', 'This part'])} '{x[:70]}' "
                f"{r.choice(['is not justified', 'skips a case', 'could be clearer', 'needs a check'])}."
                for i, x in enumerate(r.sample(lines, k=min(3, len(lines)))))
            steps = [(_cap(crit), crit_ans)]
            imp = " ".join(x for x in (r.choice(IMP_A), r.choice(IMP_B), r.choice(IMP_C), r.choice(IMP_D)) if x)
            steps.append((_cap(imp.replace(" .", ".")), "Revised answer:\n" + ans))
            if r.random() < 0.6:
                steps.append((r.choice(fin), ans))
            for ask, reply in steps:
                t = t + timedelta(seconds=r.uniform(4, 45))
                m.append({"role": "user", "content": ask})
                log.add(r, a, t, list(m), completion=reply, params=par or None, conv=conv)
                m.append({"role": "assistant", "content": reply[:1200]})


# -- 3. preference pairs -----------------------------------------------------------------------------------

CRITERIA = ["helpfulness", "factual accuracy", "harmlessness", "clarity", "depth", "concision",
            "instruction following", "tone", "completeness", "logical soundness", "creativity", "readability",
            "relevance", "honesty about uncertainty", "structure", "level of detail"]
LABELS = [("Answer 1", "Answer 2"), ("Response A", "Response B"), ("Candidate X", "Candidate Y"),
          ("Option Left", "Option Right"), ("Reply #1", "Reply #2"), ("First", "Second"), ("[A]", "[B]")]
OUT = ['Reply as JSON: {{"preferred": "{a}" or "{b}", "reason": "..."}}.', "End with 'Verdict: {a}' or 'Verdict: {b}'.",
       "Give each a score from 1 to 10, then name the better one.", "State which wins and by how much (slight/clear).",
       "First explain, then output only the label of the better one on the last line.",
       "Answer with the winning label and three reasons."]
DUAL = ["Give me two different responses to this", "Write two alternative answers to the following",
        "Draft two candidate replies for this", "Produce a pair of contrasting answers", "I need two versions of an "
        "answer here", "Write two distinct takes on this"]
DUAL_HOW = ["one concise, one detailed.", "that differ in tone.", "labelled A and B.", "using different approaches.",
            "one for a beginner, one for an expert.", "so they can be compared side by side."]


def _worse(r: random.Random, P: Pools, good: str) -> str:
    k = r.random()
    if k < 0.35:
        return good[: max(40, len(good) // 3)].rsplit(" ", 1)[0] + "..."
    if k < 0.6:
        return r.choice(P.c.general_answers)[:700]
    if k < 0.8:
        s = good.replace("\n", " ").split(". ")
        r.shuffle(s)
        return ". ".join(s)[:900]
    return "I'm not sure, but probably: " + good.splitlines()[0][:200]


def pref_pairs(log: Log, P: Pools, r: random.Random, n: int, cid: str) -> None:
    """Chosen/rejected pairs: two different answers asked for, or two candidates compared with reasons."""
    labels = pick(r, LABELS, 4)
    for _ in range(n):
        block = cloud_block(r)
        a = new_acct(log, r, "pref-pairs", cid, created=T0 - timedelta(days=r.uniform(3, 90)), ip_mode="pool",
                     ips=[in_block(r, block) for _ in range(2)], ua=ua_sdk(r))
        crit = r.sample(CRITERIA, k=6)
        par = acct_params(r)
        for t in flat_times(r, T0 + timedelta(days=r.uniform(0, 4)), END, r.uniform(8, 16), amp=0.2):
            k = r.random()
            src = r.random()
            if src < 0.35:
                q, good = r.choice(P.ae_selfinstruct), ""
            elif src < 0.55:
                it = r.choice(P.c.roleplay)
                q, good = it.text, it.answer
            elif src < 0.75:
                it = r.choice(P.c.alpaca)
                q, good = it.text, it.answer
            else:
                q, good = r.choice(P.c.mtbench)[1], ""
            good = good or answer_for(r, P.c)
            if k < 0.35:
                ask = f"{r.choice(DUAL)}, {r.choice(DUAL_HOW)}"
                body = f"{ask}\n\n{q}" if r.random() < 0.5 else f"{q}\n\n{ask}"
                pp = dict(par, n=2, temperature=r.choice([0.9, 1, 1.2])) if r.random() < 0.4 else par
                log.add(r, a, t, [{"role": "user", "content": body}], completion=f"A:\n{good}\n\nB:\n" +
                        _worse(r, P, good), params=pp or None)
                continue
            la, lb = r.choice(labels)
            pair = (good, _worse(r, P, good)) if r.random() < 0.5 else (_worse(r, P, good), good)
            cs = r.sample(crit, k=r.randint(2, 4))
            out = r.choice(OUT).format(a=la, b=lb)
            if k < 0.85:
                body = (f"{r.choice(['Prompt', 'Question', 'User request', 'Task', 'Instruction'])}: {q}\n\n"
                        f"{la}:\n{pair[0]}\n\n{lb}:\n{pair[1]}\n\n"
                        f"{_cap(r.choice(['compare', 'judge', 'evaluate', 'weigh']))} the two on "
                        f"{', '.join(cs[:-1])} and {cs[-1]}. {out}")
                win = la if pair[0] == good else lb
                log.add(r, a, t, [{"role": "user", "content": body}], params=par or None,
                        completion=f"{la} and {lb} differ mainly in {cs[0]}. {win} is better: it is more "
                                   f"{r.choice(['complete', 'accurate', 'focused', 'clear'])}.\nVerdict: {win}")
            else:
                body = (f"This reply lost a comparison:\n\n{_worse(r, P, good)}\n\nThe request was: {q}\n\n"
                        f"Rewrite the reply so it would win on {cs[0]} and {cs[1]}.")
                log.add(r, a, t, [{"role": "user", "content": body}], completion=good, params=par or None)


# -- 4. curriculum ladders ---------------------------------------------------------------------------------

TWIST = ["Now suppose every quantity doubles after the first week.", "Add a 15% tax on the total at the end.",
         "Assume a third person joins with half as much as the first.", "Now one of the amounts is lost halfway.",
         "Repeat the situation for three consecutive months, with 10% growth each month.",
         "The price rises by a quarter after the first purchase.", "Half of the result has to be split evenly "
         "among four people."]
GENERAL = ["Replace each number with a letter and derive a general formula.", "Write the answer as an expression "
           "in terms of the given quantities.", "Generalise to any starting amount n and prove it.",
           "What is the answer for arbitrary inputs? Give a formula and a short proof."]
CODE_UP = ["Handle empty and malformed input explicitly.", "Do it in O(n) time and O(1) extra space.",
           "Do not use any built-in sorting or library helpers.", "Make it generic over iterables, fully typed, "
           "with doctests.", "Also give the complexity analysis and two alternative designs."]
RUNG = ["Level {k}:", "Step {k} of the series -", "Stage {k}.", "({k})", "Variant {k}:", "Harder version ({k}):",
        "Round {k} -", ""]


def _small(r: random.Random, s: str) -> str:
    return perturb_problem(random.Random(r.random()), s).replace("000", "0")


def ladder_rungs(r: random.Random, P: Pools) -> list[tuple[str, Item]]:
    """One problem in easy-to-hard variants (rung prompts and the item each answers)."""
    k = r.random()
    if k < 0.45:
        s = r.choice(P.socratic)
        base = soc_item(s)
        first_q = s.steps[0][0]
        rungs = [(f"{s.question.rsplit('.', 1)[0]}. {first_q}", Item("", s.steps[0][1], "math")),
                 (_small(r, s.question), base), (s.question, base),
                 (f"{perturb_problem(r, s.question)} {r.choice(TWIST)}", base)]
        if r.random() < 0.5:
            rungs.append((f"{s.question} {r.choice(GENERAL)}", base))
        return rungs
    if k < 0.8:
        it = r.choice(P.c.humaneval)
        doc = it.text.split('"""')[1].strip().splitlines()[0] if '"""' in it.text else it.text[:120]
        entry = it.extra.split("\n")[0]
        ups = r.sample(CODE_UP, k=r.randint(1, 3))
        return [(f"Write a Python function {entry} that does this: {doc}", it), (it.text, it)] + \
            [(f"{it.text}\n{u}", it) for u in ups]
    skill = r.choice(["Math", "Reasoning", "Code Generation", "Computer Science", "Physics"])
    items = P.wizard_by[skill]
    i = r.randrange(max(1, len(items) - 4))
    kind = "code" if "Code" in skill else "general"
    return [(items[j][1], Item(items[j][1], "", kind)) for j in range(i, min(len(items), i + 4))]


def ladder(log: Log, P: Pools, r: random.Random, n: int, cid: str) -> None:
    """The same problem asked easy to hard in separate requests, rung after rung, over many accounts."""
    comp = Composer(r, 0.8, lane=2)
    pool = [ip_residential(r) for _ in range(max(20, n // 2))]
    tz = r.choice([8, 7, 3, 5.5, 1])
    rung = pick(r, RUNG, 4)
    for _ in range(n):
        a = new_acct(log, r, "ladder", cid, created=T0 - timedelta(days=r.uniform(10, 300)), ip_mode="pool",
                     ips=r.sample(pool, k=6), ua=ua_sdk(r))
        par = acct_params(r)
        for d in range(DAYS):
            if (T0 + timedelta(days=d)).weekday() >= 5 or r.random() < 0.2:
                continue
            for _ in range(r.randint(2, 5)):
                t = hour_at(r, d, tz, WORK_HOURS)
                for k, (text, it) in enumerate(ladder_rungs(r, P)):
                    lab = r.choice(rung).format(k=k + 1)
                    body = comp(r, text)
                    body = f"{lab} {body}" if lab and r.random() < 0.5 else body
                    log.add(r, a, t, [{"role": "user", "content": body}], params=par or None,
                            completion=answer_for(r, P.c, it if it.answer else None, it.kind))
                    t += timedelta(seconds=r.uniform(20, 200))


__all__ = ["acct_params", "critique_loop", "hour_at", "ladder", "low_slow", "new_acct", "payload",
           "pref_pairs"]
