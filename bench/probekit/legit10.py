"""Round-10 legitimate traffic: an everyday background and hard negatives that look organised but are not.

`KINDS` (name -> function(log, pools, stream, scale)) is the round-10 legitimate registry. Hard negatives: a
popular app's many users with one app's system prompt and tools through their own keys; university courses doing
one problem set in one week with follow-ups; QA teams re-running a fixed regression set nightly over several keys;
data-labelling teams grading their own answers with a rubric; translation agencies; developer teams' CI agents
with tools; researchers replaying one public benchmark once.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta

from probekit.agentic import call_id, pytest_failure
from probekit.attacks10 import hour_at
from probekit.pools10 import Pools
from probekit.text import Voice, answer_for
from probekit.world import (
    DAYS,
    END,
    T0,
    WORK_HOURS,
    Log,
    cloud_block,
    flat_times,
    hexid,
    in_block,
    ip_residential,
    poisson,
    think,
    ua_browser,
    ua_sdk,
)

LEG = "legit:"


def _n(base: float, scale: float) -> int:
    return max(1, int(round(base * scale)))


# -- background: everyday users ----------------------------------------------------------------------------

def everyday(log: Log, P: Pools, r: random.Random, scale: float) -> None:
    """Ordinary people: ShareGPT conversations with history, everyday questions, personas, a little homework."""
    c = P.c
    for _ in range(_n(2100, scale)):
        a = log.account(r, LEG + "everyday", ua=ua_sdk(r) if r.random() < 0.2 else ua_browser(r))
        v = Voice(r)
        heavy = 4 if r.random() < 0.12 else 1
        p_day = r.uniform(0.15, 0.6)
        for d in range(DAYS):
            if r.random() > p_day:
                continue
            for _ in range(max(1, poisson(r, 1.2 * heavy))):
                t = hour_at(r, d, a.tz)
                k = r.random()
                if k < 0.6:
                    turns, lens = r.choice(c.chats)
                    m: list[dict] = []
                    for u, ln in list(zip(turns, lens, strict=False))[: r.randint(1, 5)]:
                        m.append({"role": "user", "content": u})
                        rep = answer_for(r, c, length=ln)
                        log.add(r, a, t, list(m), completion=rep)
                        m.append({"role": "assistant", "content": rep[:1000]})
                        t += think(r, 20, 90)
                elif k < 0.85:
                    log.add(r, a, t, [{"role": "user", "content": v(r, r.choice(c.casual + c.vicuna))}],
                            completion=answer_for(r, c))
                elif k < 0.93:
                    m = [{"role": "user", "content": r.choice(c.personas)}]
                    rep = answer_for(r, c, r.choice(c.roleplay))
                    log.add(r, a, t, list(m), completion=rep)
                    m += [{"role": "assistant", "content": rep[:800]},
                          {"role": "user", "content": v(r, r.choice(c.casual))}]
                    log.add(r, a, t + think(r), m, completion=answer_for(r, c))
                else:
                    it = r.choice(c.gsm_train)
                    log.add(r, a, t, [{"role": "user", "content": v(r, it.text)}], completion=answer_for(r, c, it))


# -- hard negative: one popular app, many users ------------------------------------------------------------

APPS = [("MathMate", "You are MathMate, a patient maths tutor for school students. Guide the student; show the "
         "method, then the answer. Keep a friendly tone.", "math", ()),
        ("CodeNest", "You are CodeNest, an assistant inside the user's editor. Use the tools to inspect the open "
         "project before answering. Keep edits small.", "code", ("read_file", "list_dir", "run_tests", "apply_patch")),
        ("Wordsmith", "You are Wordsmith, a writing coach. Improve the user's text while keeping their voice. "
         "Explain the main changes briefly.", "write", ()),
        ("TripPilot", "You are TripPilot, a travel concierge. Use the available functions to look things up.",
         "tools", ())]
FOLLOW_MATH = ["why do we multiply there?", "i got {n}, is that right?", "can you explain the second step again",
               "what if it was {n} instead", "ok thanks, and how would i check it", "I still don't get it"]


def app_crowd(log: Log, P: Pools, r: random.Random, scale: float) -> None:
    """Unrelated users of four popular apps: the app's system prompt, tools and client, each user's own content."""
    c = P.c
    for name, sysp, kind, tnames in APPS:
        ver = f"{r.randint(2, 5)}.{r.randint(0, 9)}"
        tools = [{"name": x, "description": f"{x} tool", "parameters": {"type": "object", "properties": {}}}
                 for x in tnames]
        for _ in range(_n(105, scale)):
            a = log.account(r, LEG + "app-crowd", ua=f"{name}/{ver}.{r.randint(0, 30)} "
                            f"({r.choice(['iOS 17', 'Android 14', 'Windows', 'macOS'])})")
            v = Voice(r)
            for d in range(DAYS):
                if r.random() > 0.35:
                    continue
                for _ in range(max(1, poisson(r, 1.3))):
                    t = hour_at(r, d, a.tz)
                    m = [{"role": "system", "content": sysp}]
                    if kind == "math":
                        it = r.choice(c.gsm_train)
                        m.append({"role": "user", "content": v(r, it.text)})
                        log.add(r, a, t, list(m), completion=answer_for(r, c, it))
                        for _ in range(r.choice([0, 0, 1, 1, 2])):
                            m += [{"role": "assistant", "content": it.answer[:800]},
                                  {"role": "user", "content": r.choice(FOLLOW_MATH).format(n=r.randint(2, 90))}]
                            t += think(r, 30, 120)
                            log.add(r, a, t, list(m), completion=answer_for(r, c, kind="math")[:600])
                    elif kind == "code":
                        m.append({"role": "user", "content": v(r, r.choice(c.code_chats))})
                        for x in tnames[: r.randint(0, 2)]:
                            cid = call_id(r)
                            log.add(r, a, t, list(m), tools=tools, completion=f"Let me look at {x}.")
                            m += [{"role": "assistant", "content": None, "tool_calls": [{"id": cid, "type": "function",
                                   "function": {"name": x, "arguments": "{}"}}]},
                                  {"role": "tool", "tool_call_id": cid, "content": r.choice(c.code_chats)[:600]}]
                            t += timedelta(seconds=r.uniform(2, 9))
                        log.add(r, a, t, list(m), tools=tools, completion=answer_for(r, c, kind="code"))
                    elif kind == "write":
                        turns, _ = r.choice(c.chats)
                        m.append({"role": "user", "content": v(r, "Can you improve this: " + turns[0][:900])})
                        log.add(r, a, t, list(m), completion=answer_for(r, c))
                    else:
                        env = r.choice(c.toolenvs)
                        log.add(r, a, t, m + [{"role": "user", "content": v(r, env.query)}],
                                tools=list(env.schemas), completion=answer_for(r, c))


# -- hard negative: a course's problem set in one week -----------------------------------------------------

STUDENT_ASK = ["I don't understand step {k}", "why is it {n} and not {m}?", "can you check my answer: {n}",
               "is there a quicker way to do this?", "what does the question mean by that?", "ok, and for part 2?",
               "can you explain it like I'm new to this", "my code fails on the empty list, why?"]


def course(log: Log, P: Pools, r: random.Random, scale: float) -> None:
    """Two university courses: 40-80 students each paste the same problem set within one week, with follow-ups."""
    c = P.c
    for week0, which in ((2, "math"), (7, "code")):
        probs = [s.question for s in r.sample(P.socratic, k=9)] if which == "math" else \
            [it.text for it in r.sample(c.humaneval, k=7)]
        campus = cloud_block(r)
        for _ in range(_n(r.randint(40, 80), scale)):
            created = T0 + timedelta(days=week0 - r.uniform(0, 2)) if r.random() < 0.4 else None
            a = log.account(r, LEG + "course", created=created, country="US")
            v = Voice(r)
            for p in probs:
                if r.random() < 0.25:
                    continue
                d = week0 + min(6, int(r.triangular(0, 7, 6)))
                t = hour_at(r, d, a.tz)
                ip = in_block(r, campus) if r.random() < 0.5 else None
                m = [{"role": "user", "content": p if r.random() < 0.6 else v(r, p)}]
                rep = answer_for(r, c, kind="code" if which == "code" else "math")
                log.add(r, a, t, list(m), completion=rep, ip=ip)
                for _ in range(r.choice([0, 1, 1, 2, 3])):
                    m += [{"role": "assistant", "content": rep[:800]}, {"role": "user", "content": v(
                        r, r.choice(STUDENT_ASK).format(k=r.randint(1, 4), n=r.randint(2, 99), m=r.randint(2, 99)))}]
                    t += think(r, 40, 150)
                    rep = answer_for(r, c, kind="math")[:500]
                    log.add(r, a, t, list(m), completion=rep, ip=ip)
            for d in range(DAYS):
                if r.random() < 0.15:
                    log.add(r, a, hour_at(r, d, a.tz), [{"role": "user", "content": r.choice(c.casual)}],
                            completion=answer_for(r, c))


# -- hard negative: nightly QA regression over several keys ------------------------------------------------

def own(r: random.Random, *banks: list[str]) -> str:
    """One customer's own sentence: a phrase from each bank (so unrelated customers rarely share a skeleton)."""
    return " ".join(x for x in (r.choice(b) for b in banks) if x)


QA_ROLE = ["You are the {p} assistant.", "{p} support bot here.", "Act as {p}'s virtual agent.",
           "You answer on behalf of {p}.", "This is {p}'s help centre assistant."]
QA_RULE = ["Answer customer questions accurately using company policy.", "Be brief and cite the relevant policy.",
           "Escalate billing disputes to a human.", "Never promise refunds.", "Reply in the customer's language.", ""]
QA_PREFIX = ["Customer asks: ", "User: ", "Q: ", "Ticket text: ", "", "[regression] "]


def qa_regression(log: Log, P: Pools, r: random.Random, scale: float) -> None:
    """Two companies re-run one fixed regression prompt set every night, split over several service accounts."""
    c = P.c
    for size in (_n(90, scale), _n(150, scale)):
        prod = r.choice(["Acme Helpdesk", "Northwind Bot", "Contoso Assist", "Globex Agent", "Initech Care"])
        sysp = own(r, QA_ROLE, QA_RULE, QA_RULE).format(p=prod)
        pre = r.choice(QA_PREFIX)
        suite = [x[1] for x in r.sample(c.mtbench, k=min(20, size // 3))] + \
            r.sample(c.alpaca_eval_all, k=size // 3) + \
            [f"{pre}{q}" for q in r.sample(P.ae_selfinstruct, k=size - size // 3 - min(20, size // 3))]
        org, pay, block = "org_" + hexid(r, 10), "pm_" + hexid(r, 16), cloud_block(r)
        ua = ua_sdk(r)
        accts = [log.account(r, LEG + "qa-regression", org=org, payment=pay, ua=ua, tier="enterprise",
                             ip_mode="pool", ips=[in_block(r, block)], email=f"{prod.split()[0].lower()}.com")
                 for _ in range(r.randint(3, 6))]
        par = {"temperature": 0, "seed": r.choice([0, 7, 42, 1234, 2024]), "max_tokens": r.choice([512, 800, 1024])}
        start_h = r.uniform(1, 3)
        for d in range(DAYS):
            t = T0 + timedelta(days=d, hours=start_h)
            for i, q in enumerate(suite):
                log.add(r, accts[i % len(accts)], t, [{"role": "system", "content": sysp}, {"role": "user",
                        "content": q}], completion=answer_for(r, c), params=par)
                t += timedelta(seconds=r.uniform(1, 6))


# -- hard negative: data-labelling team grading with a rubric ----------------------------------------------

LAB_ROLE = ["You grade customer-support replies for quality assurance.", "QA reviewer mode.",
            "You are an annotation assistant for our support quality programme.", "Rate the agent's answer below.",
            "Evaluate support conversations for our internal audit."]
LAB_OUT = ["Score each of {c} from 1 to 5 and return JSON with those keys and a short comment.",
           "Give {c} a 1-5 score each; output a JSON object.", "For {c}: 1 (poor) to 5 (excellent). JSON only.",
           "Return {{\"scores\": {{...}}, \"note\": \"...\"}} covering {c}."]
LAB_BODY = ["Customer message:\n{q}\n\nAgent reply:\n{a}", "### Ticket\n{q}\n### Response\n{a}",
            "CUSTOMER: {q}\nAGENT: {a}", "<ticket>{q}</ticket>\n<reply>{a}</reply>", "Q) {q}\n\nA) {a}"]


def label_team(log: Log, P: Pools, r: random.Random, scale: float) -> None:
    """Two labelling teams grade their own product's support answers with a fixed rubric over a few keys."""
    c = P.c
    for _ in range(2):
        crit = r.sample(["correctness", "tone", "policy compliance", "empathy", "resolution", "brevity"], k=3)
        rubric = own(r, LAB_ROLE, LAB_OUT).format(c=", ".join(crit))
        layout = r.choice(LAB_BODY)
        org, pay = "org_" + hexid(r, 10), "pm_" + hexid(r, 16)
        accts = [log.account(r, LEG + "label-team", org=org, payment=pay, tier="enterprise", ua=ua_browser(r),
                             country=r.choice(["IN", "PL", "BR"])) for _ in range(_n(r.randint(3, 5), scale))]
        for a in accts:
            for d in range(DAYS):
                if (T0 + timedelta(days=d)).weekday() >= 5:
                    continue
                for _ in range(r.randint(40, 90)):
                    turns, _ = r.choice(c.chats)
                    body = layout.format(q=turns[0][:600], a=answer_for(r, c)[:600])
                    sc = {k: r.randint(1, 5) for k in crit}
                    log.add(r, a, hour_at(r, d, a.tz, WORK_HOURS), [{"role": "system", "content": rubric},
                            {"role": "user", "content": body}], params={"temperature": 0},
                            completion=json.dumps(dict(sc, comment="Reasonable reply; could be more specific.")))


# -- hard negative: translation agency ---------------------------------------------------------------------

TR_ROLE = ["You are a professional translator.", "Translation engine for our agency.", "Act as a certified "
           "translator.", "You translate client documents.", ""]
TR_ASK = ["Translate the user's text into {l}.", "Render the following in {l}.", "Target language: {l}.",
          "Output the {l} translation only."]
TR_RULE = ["Keep formatting, names and numbers; do not add commentary.", "Preserve markdown and line breaks.",
           "Use a formal register.", "Keep product names in English.", ""]


def translation_agency(log: Log, P: Pools, r: random.Random, scale: float) -> None:
    """Three agencies translate client documents paragraph by paragraph in office hours."""
    c = P.c
    for country, langs in (("DE", ["German", "French"]), ("ES", ["Spanish", "Portuguese"]), ("JP", ["Japanese"])):
        org, pay = "org_" + hexid(r, 10), "pm_" + hexid(r, 16)
        office = ip_residential(r)
        house = own(r, TR_ROLE, TR_ASK, TR_RULE)
        accts = [log.account(r, LEG + "translation-agency", country=country, org=org, payment=pay, ua=ua_sdk(r),
                             ip_mode="pool", ips=[office]) for _ in range(_n(r.randint(2, 5), scale))]
        for a in accts:
            for d in range(DAYS):
                if (T0 + timedelta(days=d)).weekday() >= 5:
                    continue
                lang = r.choice(langs)
                sysp = house.format(l=lang)
                for _ in range(r.randint(40, 100)):
                    src = r.choice(c.general_answers) if r.random() < 0.6 else r.choice(r.choice(c.chats)[0])
                    log.add(r, a, hour_at(r, d, a.tz, WORK_HOURS), [{"role": "system", "content": sysp},
                            {"role": "user", "content": src[:1200]}], params={"temperature": 0.2},
                            completion=f"[{lang}] " + src[:1000])


# -- hard negative: a developer team's CI agent ------------------------------------------------------------

CI_ROLE = ["You are the build doctor for", "You're the automated CI assistant of", "Act as the on-call fixer for",
           "You keep green the builds of", "You are a release engineer bot working on"]
CI_REPO = ["our monorepo.", "the payments service.", "the mobile backend.", "our data pipeline repo.",
           "the web frontend.", "the infra-as-code repository."]
CI_ASK = ["Diagnose the failing job and propose a minimal fix as a diff.", "Read the log, find the root cause and "
          "suggest a patch.", "Explain what broke and how to fix it in one commit.", "Output a unified diff that "
          "fixes the failure, then a short rationale.", "Use the tools to inspect files before proposing changes."]
CI_MSG = ["Job failed:\n{log}\n\nContext: {ctx}", "CI run #{n} on branch {br} failed.\n```\n{log}\n```\n"
          "Related discussion: {ctx}", "{log}\n---\nnotes: {ctx}", "Pipeline {br} is red. Output:\n{log}\n"
          "Recent change: {ctx}", "failure in {br} (attempt {n}):\n{log}"]


def _ci_log(r: random.Random, style: str, mod: str) -> str:
    if style == "pytest":
        return pytest_failure(r, mod, mod.split(".")[0])
    if style == "go":
        f = mod.split(".")[0]
        return (f"--- FAIL: Test{f.title()} ({r.uniform(0, 2):.2f}s)\n    {f}_test.go:{r.randint(10, 200)}: got "
                f"{r.randint(0, 9)}, want {r.randint(0, 9)}\nFAIL\nFAIL\texample.com/{f}\t{r.uniform(0, 3):.3f}s")
    return (f"FAIL src/{mod}\n  ● {mod.split('.')[0]} › handles input\n\n    expect(received).toEqual(expected)\n"
            f"    Expected: {r.randint(0, 99)}\n    Received: {r.randint(0, 99)}\n\nTests: 1 failed, "
            f"{r.randint(3, 60)} passed")


def ci_agent(log: Log, P: Pools, r: random.Random, scale: float) -> None:
    """Four developer teams' CI coding agents fix their own failing builds with tools on pushes and nightly."""
    c = P.c
    for _ in range(_n(4, scale)):
        tn = r.choice([("bash", "view_file", "str_replace"), ("shell", "read", "write"), ("run", "cat", "edit")])
        tools = [{"name": x, "description": f"{x} tool", "parameters": {"type": "object", "properties": {}}}
                 for x in tn]
        org, block = "org_" + hexid(r, 10), cloud_block(r)
        sysp = own(r, CI_ROLE, CI_REPO, CI_ASK)
        msg = r.choice(CI_MSG)
        style = r.choice(["pytest", "go", "jest"])
        ext = {"pytest": ".py", "go": ".go", "jest": ".ts"}[style]
        mods = [w + ext for w in r.sample(["api", "models", "billing", "utils", "auth", "queue", "cache", "report",
                                           "search", "export", "ledger", "orders"], k=5)]
        ua = f"{r.choice(['GitHub-Actions', 'GitLab-Runner', 'Buildkite-Agent'])}/{r.randint(2, 17)}.{r.randint(0, 9)}"
        for a in [log.account(r, LEG + "ci-agent", org=org, ua=ua, ip_mode="pool",
                              ips=[in_block(r, block) for _ in range(4)]) for _ in range(r.randint(2, 3))]:
            for d in range(DAYS):
                pushes = 0 if (T0 + timedelta(days=d)).weekday() >= 5 else poisson(r, 4)
                for _ in range(pushes + 1):
                    t = hour_at(r, d, a.tz, WORK_HOURS)
                    mod = r.choice(mods)
                    user = msg.format(log=_ci_log(r, style, mod), ctx=r.choice(c.code_chats)[:500],
                                      n=r.randint(100, 9999), br=r.choice(["main", "develop", "release", "feat-x"]))
                    m = [{"role": "system", "content": sysp}, {"role": "user", "content": user}]
                    for x in tn[: r.randint(1, 3)]:
                        cid = call_id(r)
                        log.add(r, a, t, list(m), tools=tools, completion="")
                        m += [{"role": "assistant", "content": None, "tool_calls": [{"id": cid, "type": "function",
                               "function": {"name": x, "arguments": json.dumps({"target": mod})}}]},
                              {"role": "tool", "tool_call_id": cid, "content": r.choice(c.code_chats)[:500]}]
                        t += timedelta(seconds=r.uniform(2, 20))
                    log.add(r, a, t, list(m), tools=tools, completion=answer_for(r, c, kind="code"))


# -- hard negative: a public benchmark replayed once -------------------------------------------------------

def bench_once(log: Log, P: Pools, r: random.Random, scale: float) -> None:
    """Researchers each replay one public benchmark once (a lab may split it over 2-3 accounts), plus chat."""
    c = P.c
    shots = "\n\n".join(f"Question: {it.text}\nAnswer: {it.answer}" for it in r.sample(c.gsm_train, k=4))
    benches = [("gsm8k-socratic", [f"{shots}\n\nQuestion: {s.question}\nAnswer:" for s in P.socratic]),
               ("humaneval", [it.text for it in c.humaneval]), ("mt-bench", [x[1] for x in c.mtbench]),
               ("wizardlm", [x for v in P.wizard_by.values() for _, x in v]),
               ("alpaca-eval", c.alpaca_eval_all), ("seed-tasks", [s.text for s in P.seeds]),
               ("gsm8k-test", [it.text for it in c.gsm_test]), ("mt-bench", [x[2] for x in c.mtbench])]
    for _bench, items in benches[: _n(8, scale)]:
        org = "org_" + hexid(r, 10) if r.random() < 0.5 else None
        ua = f"{r.choice(['lm-eval-harness', 'evalkit', 'openai-evals', 'helm'])}/{r.randint(0, 4)}.{r.randint(0, 9)}"
        accts = [log.account(r, LEG + "bench-once", org=org, ua=ua) for _ in range(r.randint(2, 3) if org else 1)]
        t = T0 + timedelta(days=r.uniform(1, DAYS - 2))
        for i, q in enumerate(items):
            log.add(r, accts[i % len(accts)], t, [{"role": "user", "content": q}],
                    params={"temperature": 0, "max_tokens": 1024}, completion=answer_for(r, c, kind="code"
                                                                                         if "def " in q else "math"))
            t += timedelta(seconds=r.uniform(0.5, 4))
        for a in accts:
            for t in flat_times(r, T0, END, 0.6):
                log.add(r, a, t, [{"role": "user", "content": r.choice(c.casual)}], completion=answer_for(r, c))


KINDS = {"everyday": everyday, "app-crowd": app_crowd, "course": course, "qa-regression": qa_regression,
         "label-team": label_team, "translation-agency": translation_agency, "ci-agent": ci_agent,
         "bench-once": bench_once}
