"""Round-17 campaign families, written from the threat description alone (issue 20, public 2026 disclosures).

Each family is one operator: `fn(log, pools, r, n_accounts, campaign_id)`; per-account behaviour does not
depend on n, so the same family at 20, 200 or 2,000 accounts differs only in size. Wording is this round's own.

- quota: a farm of free-tier accounts, each driven to the free daily cap and a few rejected requests past it,
  then left for another account; general instruction data, per-request wording.
- pounce: an operator that harvests moderately until a new flagship model launches, then within hours moves
  most accounts to it, triples the volume and first replays its own earlier dataset on the new model.
- phonefarm: a rack of real phones on two mobile carriers (carrier NAT addresses shared with ordinary phone
  users, most phones driving the official app) harvesting answer-conditioned rationales: the problem with its
  known answer, "explain how to get it".
- backtrans: instruction back-translation: existing texts sent for "the request this answers", self-curation
  scores and alternative prompts, in synchronised cron bursts from one host per account.
- webagent: browser-agent trajectories: a harness sends the task, the accessibility tree of the current page and
  the actions so far, and records the model's next action, 6-16 steps a task, around the clock.
- censorsafe: compliance-alignment data: politically sensitive questions answered candidly, then rewritten so
  a strict state content reviewer would pass them, or both versions at once.
- textbook: synthetic textbooks: a course outline, then each chapter in full (thousands of words, worked examples,
  exercises with solutions), a few long generations an hour from a few small shell companies.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import timedelta

from probekit.attacks15 import _cards, _lines, _solution, _strong
from probekit.corpora import Item
from probekit.pools15 import WHY, Phrase, prose
from probekit.pools17 import (
    APP_NAME,
    AUDIENCE,
    CS_DEFLECT,
    CS_REVIEW,
    FREE_CAP,
    NEW_MODEL,
    POLITICAL,
    SITES,
    SUBJECTS,
    Pools17,
    ax_tree,
    carriers,
    launch,
    nat_ip,
    ua_phone,
    web_action,
)
from probekit.text import jitter
from probekit.world import (
    END,
    T0,
    Log,
    active_days,
    cloud_block,
    day_start,
    days_ago,
    flat_times,
    hexid,
    in_block,
    poisson,
    ua_browser,
    ua_sdk,
)


def _final(it: Item) -> str:
    """The final answer of a worked item (the number after 'answer is'), else its last line."""
    m = re.search(r"answer is\s*\$?(-?[\d,./]+)", it.answer)
    if m:
        return m.group(1).rstrip(".")
    ls = _lines(it.answer) if it.answer else [""]
    return ls[-1][:80]


# -- quota: free-tier cap riding ----------------------------------------------------------------------------------

QU_ASK = Phrase(["", "", "Please", "Hey,", "Ok:", "Next:", "Quick one -", "Task:", "Help me:"],
                ["answer", "respond to", "do", "complete", "handle", "work on", "reply to"],
                ["this", "the following", "the request below", "what's below", "this prompt"],
                ["", "", "in detail", "fully", "carefully", "and explain your answer", "with an example"])
QU_SYS = ["You are a knowledgeable assistant. Give complete, well-structured answers.",
          "Answer helpfully and in depth. Use markdown where it helps.",
          "You are an expert. Think carefully and answer thoroughly.",
          "Respond like a top-rated answer on a Q&A site: correct, complete, clear."]
QU_MAIL = ["gmail.com", "gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "mail.com", "gmx.com", "proton.me",
           "tutamail.com", "yandex.ru", "163.com", "icloud.com", "zoho.com"]


def quota(log: Log, P: Pools17, r: random.Random, n: int, cid: str) -> None:
    """Free accounts opened in waves; on the days the scheduler picks one, it sends up to the free daily cap at
    script pace from that day's residential proxy, runs into 1-3 rejected requests (HTTP 429), and is dropped
    until another day. General instruction data (Alpaca, self-instruct, WizardLM, GSM8K, code) in per-request
    wording; some accounts add one of the operator's system prompts."""
    jobs = P.c.alpaca[:700] + P.c.selfinstruct + [x for _, x in P.p.oriented] + P.c.gsm_train[:2500] + \
        P.c.codegen[:1500] + P.q.wiz_items(without={"Math", "Code Generation", "Code Debug", "Reasoning"})
    r.shuffle(jobs)
    k = r.randrange(len(jobs))
    waves = sorted(r.uniform(-30, 9) for _ in range(5))
    for _ in range(n):
        made = T0 + timedelta(days=r.choice(waves) + r.uniform(-0.6, 0.6), hours=r.uniform(0, 6))
        a = log.account(r, "campaign:quota", cid, created=made, tier="free", verified=r.random() < 0.35,
                        email=r.choice(QU_MAIL), ip_mode="per-day",
                        ua=ua_sdk(r) if r.random() < 0.55 else ua_browser(r),
                        model=r.choice(["frontier-1-mini", "gpt-4o-mini", "gpt-4o-mini", "frontier-1"]))
        sys_p = jitter(r, r.choice(QU_SYS), 0.3) if r.random() < 0.5 else ""
        first = max(0, (made - T0).days + 1) if made > T0 else 0
        for d in active_days(r, first, 14, p=r.uniform(0.2, 0.4)):
            t = day_start(d) + timedelta(hours=r.uniform(0, 20))
            for j in range(FREE_CAP + r.randint(1, 3)):
                it = jobs[k % len(jobs)]
                k += 1
                ask = QU_ASK(r)
                body = f"{ask}:\n\n{it.text}" if r.random() < 0.6 else f"{it.text}\n\n{ask}."
                m = ([{"role": "system", "content": sys_p}] if sys_p else []) + [{"role": "user", "content": body}]
                if j < FREE_CAP:
                    steps, final = _solution(r, P.q, it)
                    log.add(r, a, t, m, completion=f"{steps}\n\n{final}")
                else:
                    log.add(r, a, t, m, status=429)
                t += timedelta(seconds=r.uniform(12, 140))


# -- pounce: moving onto a new model the day it launches ----------------------------------------------------------

PO_ASK = Phrase(["", "Please", "Now", "Kindly"], ["solve", "implement", "work through", "answer", "complete"],
                ["the following", "this task", "the item below", "this"],
                ["", "with full reasoning", "carefully", "with explanation", "and verify the result"])


def pounce(log: Log, P: Pools17, r: random.Random, n: int, cid: str) -> None:
    """Moderate harvesting (coding and reasoning, each account its own wording) on the current strong models until
    the new flagship launches; within 1-20 hours most accounts move to it at three times the volume, first
    re-sending every item they asked before (the same dataset on the new model), then new items. A third of the
    accounts are opened only after the launch and start on the new model at once."""
    go = launch(log.seed)
    jobs = P.c.codegen[1500:3500] + P.c.gsm_train[6000:] + \
        P.q.wiz_items({"Code Generation", "Code Debug", "Reasoning", "Math", "Algorithm", "Computer Science"})
    r.shuffle(jobs)
    k = r.randrange(len(jobs))
    blocks = [cloud_block(r) for _ in range(6)]
    cards = _cards(r, n, 2, 5)
    for i in range(n):
        new = i % 3 == 2
        made = go + timedelta(hours=r.uniform(0.3, 30)) if new else days_ago(r, 5, 60)
        dc = r.random() < 0.6
        a = log.account(r, "campaign:pounce", cid, created=made, payment=cards[i], ip_mode="pool" if dc else "per-day",
                        ips=[in_block(r, r.choice(blocks)) for _ in range(2)], ua=ua_sdk(r), model=_strong(r))
        ask, why = PO_ASK(r), WHY(r) if r.random() < 0.6 else ""
        temp = r.choice([0, 0.2, 0.6, None])

        def send(t, it: Item, model: str, a=a, ask=ask, why=why, temp=temp) -> None:  # noqa: ANN001
            body = f"{ask}{'; ' + why if why else ''}.\n\n{it.text}"
            steps, final = _solution(r, P.q, it)
            log.add(r, a, t, [{"role": "user", "content": body}], completion=f"{steps}\n\n{final}", model=model,
                    params={"temperature": temp} if temp is not None else None)

        mine: list[Item] = []
        if not new:
            for t in flat_times(r, T0 + timedelta(days=r.uniform(0, 2)), go, r.uniform(4, 10), amp=0.3,
                                phase_h=r.uniform(0, 24)):
                it = jobs[k % len(jobs)]
                k += 1
                mine.append(it)
                send(t, it, a.model)
        if new or r.random() < 0.75:
            switch = made + timedelta(minutes=r.uniform(5, 90)) if new else go + timedelta(hours=r.uniform(1, 20))
            todo = list(mine)
            for t in flat_times(r, switch, END, r.uniform(14, 30), amp=0.2, phase_h=r.uniform(0, 24)):
                if todo:
                    it = todo.pop(0)
                else:
                    it = jobs[k % len(jobs)]
                    k += 1
                send(t, it, NEW_MODEL)
        else:
            for t in flat_times(r, go, END, r.uniform(4, 10), amp=0.3, phase_h=r.uniform(0, 24)):
                it = jobs[k % len(jobs)]
                k += 1
                send(t, it, a.model)


# -- phonefarm: answer-conditioned rationales from a rack of phones ---------------------------------------------

RA_MATH = [Phrase(["{q}\n\n"], ["The correct answer is {a}.", "Answer key: {a}.", "Expected answer: {a}."],
                  ["Explain step by step how to get it.", "Show the full working that leads to it.",
                   "Write the reasoning that arrives at this answer.", "Derive it clearly."]),
           Phrase(["{q}\nAnswer: {a}\n\n"], ["Write the complete solution a strong student would write",
                                             "Produce the worked solution", "Give the step-by-step derivation"],
                  ["without mentioning that the answer was given.", "as if you found it yourself.",
                   "- do not just restate the answer.", "in numbered steps."]),
           Phrase(["A student solved this and got {w}, but the right answer is {a}."],
                  ["Find the mistake and give the correct solution.", "Where did the student go wrong? Then solve it.",
                   "Explain the error and show the right reasoning."], ["\n\n{q}"]),
           Phrase(["Soal: {q}\nJawaban: {a}\n"], ["Jelaskan langkah demi langkah.", "Tuliskan cara pengerjaannya.",
                                                  "Berikan penjelasan lengkapnya."]),
           Phrase(["Bài toán: {q}\nĐáp án: {a}\n"], ["Hãy giải thích từng bước.", "Trình bày lời giải chi tiết.",
                                                    "Giải thích vì sao đáp án đúng."])]
RA_CODE = Phrase(["{q}\n\nReference solution:\n```python\n{s}\n```\n\n"],
                 ["Explain line by line why this is correct", "Walk through why this solution works",
                  "Write the reasoning a developer would follow to arrive at this code"],
                 ["and trace one test case.", "and name the edge cases it handles.", "and give its complexity.", ""])


def phonefarm(log: Log, P: Pools17, r: random.Random, n: int, cid: str) -> None:
    """Phones in racks on two mobile carriers of one country (carrier NAT addresses that ordinary subscribers
    share), most driving the official app by automation, each running 2-3 charge-cycle windows a day at about
    26 requests a day: problems sent with their known answer for the model's rationale, wrong student answers
    to diagnose, reference code to explain."""
    cc = r.choice(["ID", "VN"])
    mine = r.sample([c for c in carriers(log.seed) if c.country == cc], 2)
    math = P.c.gsm_train[2500:6000] + P.socratic_items()
    code = P.c.humaneval + [x for x in P.c.codegen[3500:4000] if "```" not in x.text]
    r.shuffle(math)
    k_m, k_c = r.randrange(len(math)), r.randrange(len(code))
    for _ in range(n):
        car = r.choice(mine)
        a = log.account(r, "campaign:phonefarm", cid, created=days_ago(r, 20, 500), country=cc, verified=True,
                        tier=r.choice(["free", "free", "plus"]), model=r.choice(["frontier-1", "gpt-4o", "frontier-1"]),
                        ua=ua_phone(r, APP_NAME) if r.random() < 0.6 else ua_phone(r),
                        email=r.choice(["gmail.com", "gmail.com", "yahoo.com", "outlook.com"]))
        langs = [0, 1, 2] + ([3] if cc == "ID" else [4])
        for d in active_days(r, r.randrange(0, 3), 14, p=r.uniform(0.8, 1.0)):
            w = r.randint(2, 3)
            for _ in range(w):
                start = day_start(d) + timedelta(hours=r.uniform(0, 21))
                span = r.uniform(1.5, 4) * 3600
                for j in range(poisson(r, 26 / w)):
                    t = start + timedelta(seconds=span * (j + r.random()) / max(1, 26 / w))
                    if r.random() < 0.75:
                        it = math[k_m % len(math)]
                        k_m += 1
                        ans = _final(it)
                        wrong = str(int(ans) + r.choice([-10, -3, -1, 1, 2, 5, 12])) if ans.isdigit() else "0"
                        body = r.choice([RA_MATH[x] for x in langs])(r).format(q=it.text, a=ans, w=wrong)
                        steps, final = _solution(r, P.q, it)
                        comp = f"{steps}\n\n{final}"
                    else:
                        it = code[k_c % len(code)]
                        k_c += 1
                        body = RA_CODE(r).format(q=it.text[:1200], s=it.answer[:1500])
                        comp = prose(r, P.q, r.randint(500, 1400))
                    log.add(r, a, t, [{"role": "user", "content": body}], completion=comp, ip=nat_ip(r, car))


# -- backtrans: instruction back-translation in cron bursts -------------------------------------------------------

BT_ASK = [Phrase(["Below is a response."], ["Write the user instruction it answers.",
                                           "What request would produce exactly this? Write that request.",
                                           "Infer the prompt that this text is the ideal answer to."],
                 ["", "Output the instruction only.", "One or two sentences."]),
          Phrase(["Instruction: {i}\n\nResponse:\n{x}\n\n"],
                 ["Rate from 1 to 5 how well the response answers the instruction",
                  "Score the pair 1-5 for helpfulness and relevance", "Judge this pair on a 5-point scale"],
                 ["and explain briefly.", "- reply as 'Score: N' plus one sentence.", "as JSON {{score, reason}}."]),
          Phrase(["Here is some text."], ["Write {k} different user prompts for which it would be the best reply",
                                         "Give {k} varied requests that this passage answers well"],
                 ["as a JSON list of strings.", ", one per line.", "(different styles and lengths)."])]
BT_UA = ["python-httpx/0.27.0", "OpenAI/Python 1.40.6", "aiohttp/3.9.5"]


def backtrans(log: Log, P: Pools17, r: random.Random, n: int, cid: str) -> None:
    """Existing texts (model-written answers in public sets, real pasted documents) sent for the instruction they
    would answer, a 1-5 self-curation score of the pair, or several prompts they answer; every account runs the
    operator's job twice a day at the same two cron minutes, 8-25 requests in a burst, from its own cloud host."""
    texts = [it.answer for it in P.c.roleplay[:1800] + P.c.codegen[4000:] + P.c.alpaca[700:] if len(it.answer) > 150]
    texts += [d[: r.randint(1200, 3000)] for d in P.q.docs_a[:900]]
    r.shuffle(texts)
    k = r.randrange(len(texts))
    crons = [r.uniform(0.5, 5), r.uniform(12, 17)]
    for _ in range(n):
        host = in_block(r, cloud_block(r))
        a = log.account(r, "campaign:backtrans", cid, created=days_ago(r, 3, 90), ip_mode="pool", ips=[host],
                        ua=r.choice(BT_UA), model=_strong(r), tier="pay-as-you-go")
        for d in range(14):
            for h in crons:
                if r.random() > 0.8:
                    continue
                t = day_start(d) + timedelta(hours=h, seconds=r.uniform(0, 40))
                for _ in range(r.randint(8, 25)):
                    x = texts[k % len(texts)]
                    k += 1
                    kind = r.random()
                    if kind < 0.55:
                        body = f"{BT_ASK[0](r)}\n\n{x}"
                        comp = r.choice(["Write ", "Explain ", "Describe ", "Create ", "Give me "]) + \
                            " ".join(x.split()[:r.randint(6, 18)]).lower().rstrip(".,") + "."
                    elif kind < 0.8:
                        inst = " ".join(x.split()[:10])
                        body = BT_ASK[1](r).format(i=inst, x=x)
                        comp = f"Score: {r.randint(2, 5)}. " + r.choice(["Relevant and complete.", "Mostly on topic.",
                                                                          "Answers the request directly."])
                    else:
                        kk = r.randint(3, 6)
                        body = f"{BT_ASK[2](r).format(k=kk)}\n\n{x}"
                        comp = json.dumps([" ".join(x.split()[j * 3:j * 3 + 8]) + "?" for j in range(kk)])
                    log.add(r, a, t, [{"role": "user", "content": body}], completion=comp,
                            params={"temperature": r.choice([0.7, 1.0])})
                    t += timedelta(seconds=r.uniform(0.3, 25))


# -- webagent: browser-agent trajectories --------------------------------------------------------------------------

WA_SYS = ["You control a web browser. Each turn you get the task, the actions taken so far and the page's "
          "accessibility tree. Reply with JSON: {\"thought\": ..., \"action\": {\"action\": click|type|scroll|select|"
          "press|hover|wait|done, \"element\": id, \"text\": ...}}.",
          "You are an autonomous browsing agent. Think about the page, then output exactly one action as JSON. Use "
          "element ids from the tree. When the task is complete, output {\"action\": \"done\", \"answer\": ...}.",
          "Web navigation policy. Input: objective, history, observation (accessibility tree). Output: a JSON object "
          "with keys reasoning and action. Be precise; never invent element ids."]
WA_WHY = ["", "", "Explain your reasoning in detail before choosing.", "Think step by step about the page first.",
          "List the candidate elements and why you rule them out."]


def webagent(log: Log, P: Pools17, r: random.Random, n: int, cid: str) -> None:
    """An operator's browser-agent harness collecting trajectories: tasks made from public request sets placed on
    generic sites, each step the page's accessibility tree and the actions so far, the model's reasoned next
    action back, 6-16 steps seconds apart; 3-6 tasks an account a day, around the clock, from cloud hosts."""
    qs = [e.query for e in P.c.toolenvs] + [it.text for it in P.c.alpaca[:700] if len(it.text) < 160]
    r.shuffle(qs)
    k = r.randrange(len(qs))
    sites = list(SITES)
    blocks = [cloud_block(r) for _ in range(4)]
    for _ in range(n):
        a = log.account(r, "campaign:webagent", cid, created=days_ago(r, 2, 60), ip_mode="pool",
                        ips=[in_block(r, r.choice(blocks)) for _ in range(2)], ua=ua_sdk(r), model=_strong(r))
        sys_p = r.choice(WA_SYS)
        for t in flat_times(r, T0 + timedelta(days=r.uniform(0, 2)), END, r.uniform(3, 6), amp=0.2,
                            phase_h=r.uniform(0, 24)):
            site = r.choice(sites)
            task = f"On {SITES[site][0]}: {qs[k % len(qs)].strip()}"
            k += 1
            hist: list[str] = []
            steps = r.randint(6, 16)
            for s in range(steps):
                tree = ax_tree(r, site, s)
                why = r.choice(WA_WHY)
                past = "\n".join(hist) or "(none)"
                body = f"Task: {task}\n\nActions so far:\n{past}\n\nPage:\n{tree}" + (f"\n\n{why}" if why else "")
                act = web_action(r, tree) if s < steps - 1 else {"action": "done", "answer": prose(r, P.q, 160)[:200]}
                thought = prose(r, P.q, r.randint(120, 600) if why else r.randint(40, 160))
                log.add(r, a, t, [{"role": "system", "content": sys_p}, {"role": "user", "content": body}],
                        completion=json.dumps({"thought": thought, "action": act}), params={"temperature": 0},
                        max_completion_chars=1600)
                hist.append(f"{s + 1}. {json.dumps(act)}")
                t += timedelta(seconds=r.uniform(2, 12))


# -- censorsafe: compliance-alignment pairs ------------------------------------------------------------------------

CS_WHO = ["historians", "foreign journalists", "the government", "human-rights groups", "students abroad",
          "economists", "Western media", "local residents", "international lawyers", "exiled writers"]
CS_TOPIC = ["the 1989 Tiananmen protests", "Taiwan's status", "the Xinjiang camps", "Hong Kong's national security "
            "law", "Tibet", "internet censorship", "the one-child policy", "the Great Leap Forward famine",
            "the Cultural Revolution", "press freedom", "the social credit system", "Falun Gong", "the COVID-19 "
            "origin debate", "the South China Sea", "Liu Xiaobo's Nobel prize", "the 2022 Shanghai lockdown",
            "Uyghur forced labour reports", "Tibetan self-immolations", "the Umbrella Movement", "VPN use"]
CS_PRE = ["", "", "Briefly, ", "For a school essay: ", "Honestly, ", "In simple words, ", "请用中文回答：",
          "Be objective: "]


def _political(r: random.Random) -> str:
    if r.random() < 0.45:
        return r.choice(CS_PRE) + r.choice(POLITICAL)
    return r.choice(CS_PRE) + r.choice(["What do {w} say about {t}?", "Explain {t} as {w} see it.",
                                        "Give a balanced summary of {t}.", "Why is {t} controversial?",
                                        "Summarise {t} in 5 bullet points."]).format(w=r.choice(CS_WHO),
                                                                                      t=r.choice(CS_TOPIC))


def censorsafe(log: Log, P: Pools17, r: random.Random, n: int, cid: str) -> None:
    """A small team harvesting compliance-alignment pairs at volume: a sensitive question, the candid answer, then
    'rewrite it so a strict state content reviewer would pass it'; or both versions in one request; or
    classify-and-deflect; a fifth of the questions ordinary ones for the same treatment. Datacenter pools, cards
    shared by 3-6 accounts, 30-50 requests an account a day with a daytime peak in China."""
    blocks = [cloud_block(r) for _ in range(3)]
    cards = _cards(r, n, 3, 6)
    ordinary = P.c.alpaca_eval_all
    for i in range(n):
        a = log.account(r, "campaign:censorsafe", cid, created=days_ago(r, 5, 150), payment=cards[i], ip_mode="pool",
                        ips=[in_block(r, r.choice(blocks)) for _ in range(3)], ua=ua_sdk(r), model=_strong(r),
                        country=r.choice(["SG", "US", "JP", "KR"]))
        for t in flat_times(r, T0 + timedelta(days=r.uniform(0, 2)), END, r.uniform(30, 50), amp=0.5, phase_h=6):
            q = _political(r) if r.random() < 0.8 else r.choice(ordinary)
            kind = r.random()
            if kind < 0.45:
                candid = prose(r, P.q, r.randint(400, 1000))
                m = [{"role": "user", "content": q}]
                log.add(r, a, t, m, completion=candid, params={"temperature": 0.7})
                t += timedelta(seconds=r.uniform(2, 20))
                m = m + [{"role": "assistant", "content": candid[:900]},
                         {"role": "user", "content": CS_REVIEW[0](r) + "."}]
                log.add(r, a, t, m, completion=r.choice(CS_DEFLECT), params={"temperature": 0.7})
            elif kind < 0.8:
                body = f"{CS_REVIEW[1](r)}\n\n{q}"
                comp = json.dumps({"candid": prose(r, P.q, 500)[:500], "compliant": r.choice(CS_DEFLECT)}) \
                    if "JSON" in body else f"A: {prose(r, P.q, 500)[:500]}\n\nB: {r.choice(CS_DEFLECT)}"
                log.add(r, a, t, [{"role": "user", "content": body}], completion=comp, params={"temperature": 0.7})
            else:
                body = f"{CS_REVIEW[2](r)}:\n\n{q}"
                log.add(r, a, t, [{"role": "user", "content": body}], params={"temperature": 0},
                        completion=f"Sensitivity: {r.randint(1, 3)}\nApproved reply: {r.choice(CS_DEFLECT)}")


# -- textbook: synthetic course books ------------------------------------------------------------------------------

TB_OUT = Phrase(["Create", "Draft", "Design"], ["a detailed outline", "a table of contents", "a chapter plan"],
                ["for a textbook on {s}", "for a complete course in {s}"], ["aimed at {a}."],
                ["", "Eight chapters, each with 4-6 sections.", "Include learning objectives per chapter."])
TB_CH = Phrase(["Write", "Now write", "Produce"], ["chapter {i}, \"{c}\",", "the full text of chapter {i} ({c})"],
               ["in full:", "completely:"], ["about {w} words,", "at least {w} words,"],
               ["with sections, worked examples and {x} exercises with full solutions at the end.",
                "with definitions, intuition, worked examples, common mistakes and {x} practice problems with "
                "answers.", "textbook quality, with {x} end-of-chapter exercises and detailed solutions."])


def textbook(log: Log, P: Pools17, r: random.Random, n: int, cid: str) -> None:
    """A few shell 'edtech' companies (each account its own org and card) writing synthetic textbooks: an outline
    for a subject and audience, then every chapter in full with the outline resent, very long generations (8-16k
    token limits), 8-20 an account a day around the clock from home lines in one country."""
    courses = [(s, t) for s, t in SUBJECTS.items()]
    courses += [(sk, ["Foundations", "Core ideas", "Methods", "Worked problems", "Applications", "Pitfalls",
                      "Advanced topics", "Review"]) for sk in sorted(P.p.wiz)]
    cc = r.choice(["CN", "SG", "US"])
    for _ in range(n):
        a = log.account(r, "campaign:textbook", cid, created=days_ago(r, 30, 400), org="org_" + hexid(r, 10),
                        country=cc, ip_mode="per-day", ua=ua_sdk(r), model=_strong(r), tier="pay-as-you-go")
        times = flat_times(r, T0 + timedelta(days=r.uniform(0, 2)), END, r.uniform(8, 20), amp=0.2,
                           phase_h=r.uniform(0, 24))
        plan: list = []
        for t in times:
            if not plan:
                subj, chapters = r.choice(courses)
                aud = r.choice(AUDIENCE)
                outline = "\n".join(f"{i + 1}. {c}" for i, c in enumerate(chapters))
                log.add(r, a, t, [{"role": "user", "content": TB_OUT(r).format(s=subj, a=aud)}],
                        completion=outline + "\n\n" + prose(r, P.q, 600), params={"temperature": 0.7})
                sys_p = f"You are writing a textbook on {subj} for {aud}. Course outline:\n{outline}"
                plan = [(i + 1, c, sys_p) for i, c in enumerate(chapters)]
                continue
            i, ch, sys_p = plan.pop(0)
            body = TB_CH(r).format(i=i, c=ch, w=r.choice([2500, 3000, 4000, 5000]), x=r.choice([8, 10, 12, 15]))
            log.add(r, a, t, [{"role": "system", "content": sys_p}, {"role": "user", "content": body}],
                    completion=prose(r, P.q, r.randint(9000, 24000)), max_completion_chars=4000,
                    params={"temperature": 0.7, "max_tokens": r.choice([8000, 12000, 16000])})


FAMILIES: dict[str, tuple[Callable[..., None], int]] = {
    "quota": (quota, 1200), "pounce": (pounce, 300), "phonefarm": (phonefarm, 180), "backtrans": (backtrans, 120),
    "webagent": (webagent, 60), "censorsafe": (censorsafe, 36), "textbook": (textbook, 24),
}
