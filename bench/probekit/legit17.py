"""Round-17 legitimate kinds: an everyday background and hard negatives written for this round.

Each kind is `fn(log, pools, r, scale)` and labels its accounts `legit:<kind>` with no campaign.

- people: ordinary chat users (light, medium, heavy); some move to the new flagship model after its launch.
- mobile: people on the provider's phone app behind mobile carriers' NAT (the carriers the phone farm uses),
  a third of them students pasting homework with the answer from the back of the book: "why is it X?".
- launchday: companies that re-run their own prompt suite on the new model the day it launches over the keys
  of their org, then move their product traffic to it.
- batchjobs: enterprises' nightly cron jobs (FAQ questions from their help articles, ticket triage, summaries),
  hundreds of requests in a burst at a fixed minute from one host.
- browseruse: users of a browser-agent extension (its fixed prompt, their own errands on common sites, page
  trees and actions) and QA teams running nightly end-to-end checks of their own web app with an agent.
- authors: edtech content teams writing course chapters from outlines over their org's keys, and novelists
  drafting long chapters of their own books.
- viral: a sign-up wave after a viral video: hundreds of free accounts opened within two days, exploring hard
  (some into the free daily cap and its 429s), then mostly quiet.
- neutral: newsrooms, trust-and-safety and ad-compliance teams rewriting text for neutral tone and checking it
  against their own rules, over their org's keys in office hours.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from probekit.legit15 import _weekday
from probekit.pools15 import Phrase, prose
from probekit.pools17 import (
    APP_NAME,
    AUDIENCE,
    FREE_CAP,
    NEW_MODEL,
    NEWS_WHAT,
    NEWS_WHO,
    NEWS_WHY,
    SITES,
    SUBJECTS,
    WEB_TASKS,
    Pools17,
    ax_tree,
    carriers,
    errand,
    launch,
    nat_ip,
    ua_phone,
    web_action,
)
from probekit.text import Voice
from probekit.world import (
    END,
    T0,
    WORK_HOURS,
    Acct,
    Log,
    active_days,
    cloud_block,
    day_start,
    flat_times,
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


def _talk(log: Log, P: Pools17, r: random.Random, a: Acct, t: datetime, convs: list, max_turns: int = 4,
          sysm: list[dict] | None = None, model: str | None = None, ip: str | None = None,
          params: dict | None = None) -> None:
    """One human chat session from a real conversation, history resent each turn."""
    turns, lens = r.choice(convs)
    hist = list(sysm or [])
    for j in range(min(len(turns), r.randint(1, max_turns))):
        hist.append({"role": "user", "content": turns[j]})
        comp = prose(r, P.q, lens[j])
        log.add(r, a, t, [dict(m) for m in hist], completion=comp, model=model, ip=ip, params=params)
        hist.append({"role": "assistant", "content": comp[:900]})
        t += think(r, 12, 60 + len(comp) / 25)


# -- people --------------------------------------------------------------------------------------------------------

def people(log: Log, P: Pools17, r: random.Random, scale: float) -> None:
    """Everyday users; after the new model's launch some (more of the heavy ones) switch to it, hours to days later."""
    go = launch(log.seed)
    convs = P.c.chats + P.p.tail[:-3000]
    casual = P.c.casual + P.c.vicuna + [x[:600] for x in P.c.personas]
    for _ in range(scaled(2250, scale, 5)):
        a, p_day, per = tiered_user(log, r, "legit:people", [55, 34, 11], 0.12,
                                    {"light": (0.1, 0.3, 0.8, 1.6), "medium": (0.35, 0.7, 1.3, 2.8),
                                     "heavy": (0.75, 1.0, 3, 7)})
        moves = go + timedelta(hours=r.expovariate(1 / 40)) if r.random() < (0.15 + 0.4 * (p_day > 0.65)) else END
        for t in human_session_starts(r, a, active_days(r, p=p_day) or [r.randrange(14)], per):
            model = NEW_MODEL if t >= moves else None
            if r.random() < 0.22:
                log.add(r, a, t, [{"role": "user", "content": r.choice(casual)}], model=model,
                        completion=prose(r, P.q, r.randint(200, 1100)))
                continue
            _talk(log, P, r, a, t, convs, 6, model=model, params={"stream": True} if r.random() < 0.4 else None)


# -- mobile -------------------------------------------------------------------------------------------------------

HW_ASK = ["{q}\n\nthe answer in the book is {a} but i dont get how", "{q} answer is {a}. how??",
          "Can you explain how to get {a} for this one?\n{q}",
          "{q}\n\nI got {w} but the answer says {a}, what did i do wrong",
          "why is the answer {a}?\n\n{q}", "{q}\n(answer: {a}) pls explain step by step",
          "my teacher says {a} for this, can you show the working\n{q}"]
HW_MORE = ["ok but why do you divide there", "thank you!!", "can you do it a simpler way", "what about the next one",
           "got it", "why not multiply first?", "wait i still dont understand step 2"]


def mobile(log: Log, P: Pools17, r: random.Random, scale: float) -> None:
    """People using the provider's phone app over mobile data (carrier NAT addresses shared with many others),
    short chats at human hours; a third are students asking why the back-of-book answer is right."""
    cs = carriers(log.seed)
    weights = [{"ID": 3, "VN": 3, "IN": 4, "BR": 3, "US": 4, "NG": 2, "MX": 2, "PL": 1}[c.country] for c in cs]
    convs = P.p.tail[:-3000]
    hw = P.c.gsm_test
    for _ in range(scaled(480, scale, 3)):
        car = r.choices(cs, weights=weights)[0]
        a = log.account(r, "legit:mobile", country=car.country, tier=r.choice(["free", "free", "plus"]),
                        ua=ua_phone(r, APP_NAME) if r.random() < 0.85 else ua_phone(r),
                        model=r.choice(["frontier-1", "frontier-1-mini", "gpt-4o"]))
        student = r.random() < 0.33
        v = Voice(r)
        for t in human_session_starts(r, a, active_days(r, p=r.uniform(0.2, 0.8)), r.uniform(1, 3.5)):
            ip = nat_ip(r, car)
            if student and r.random() < 0.6:
                it = r.choice(hw)
                ans = it.answer.rsplit(" ", 1)[-1].rstrip(".")
                wrong = str(int(ans) + r.choice([-2, -1, 1, 3])) if ans.isdigit() else "0"
                m = [{"role": "user", "content": v(r, r.choice(HW_ASK).format(q=it.text, a=ans, w=wrong))}]
                comp = it.answer
                log.add(r, a, t, m, completion=comp, ip=ip)
                for _ in range(r.choice([0, 0, 1, 1, 2])):
                    t += think(r, 15, 60)
                    m = m + [{"role": "assistant", "content": comp[:900]},
                             {"role": "user", "content": r.choice(HW_MORE)}]
                    comp = prose(r, P.q, r.randint(150, 600))
                    log.add(r, a, t, m, completion=comp, ip=ip)
                continue
            _talk(log, P, r, a, t, convs, 3, ip=ip)


# -- launchday -----------------------------------------------------------------------------------------------------

PRODUCTS = ["a legal-research assistant for small law firms", "an e-commerce product-description writer",
            "a coding copilot for data teams", "a customer-support bot for a telecom", "a recipe and meal-planning app",
            "a tutoring app for high-school maths", "a recruiting assistant that screens CVs", "a travel-planning chat",
            "a financial-news summariser", "a writing assistant for marketing teams", "an internal IT helpdesk bot",
            "a medical-coding helper for clinics"]


def launchday(log: Log, P: Pools17, r: random.Random, scale: float) -> None:
    """Companies (each an org with 3-7 keys, one card, one datacenter block) serving their product on the current
    models, running their own prompt suite once in the first week, re-running the same suite on the new model
    within a day of its launch, then moving their product traffic over to it."""
    go = launch(log.seed)
    suite_src = P.c.alpaca_eval_all + [m[1] for m in P.c.mtbench] + P.c.code_chats
    users = P.p.tail[:-3000]
    for _ in range(scaled(12, scale, 1)):
        org, card, block = "org_" + hexid(r, 10), "pm_" + hexid(r, 16), cloud_block(r)
        ua, old = ua_sdk(r), r.choice(["frontier-1", "gpt-4o", "frontier-1-mini"])
        sys_p = f"You are {r.choice(PRODUCTS)}. Be accurate and concise; say when you are unsure."
        tz = r.choice([-8, -5, 0, 1])
        accts = [log.account(r, "legit:launchday", org=org, payment=card, ip_mode="pool", ips=[in_block(r, block)],
                             ua=ua, model=old, tier="enterprise", tz=tz) for _ in range(r.randint(3, 7))]
        suite = r.sample(suite_src, r.randint(60, 200))
        move = go + timedelta(hours=r.uniform(20, 96))

        def run(t0: datetime, model: str, suite=suite, accts=accts, sys_p=sys_p) -> None:  # noqa: ANN001
            t = t0
            for j, q in enumerate(suite):
                log.add(r, accts[j % len(accts)], t,
                        [{"role": "system", "content": sys_p}, {"role": "user", "content": q}],
                        completion=prose(r, P.q, r.randint(200, 900)), model=model,
                        params={"temperature": 0, "seed": 7})
                t += timedelta(seconds=r.uniform(1, 6))

        run(local_time(accts[0], r.randint(1, 4), r.uniform(10, 16)), old)
        run(go + timedelta(hours=r.uniform(0.5, 24)), NEW_MODEL)
        for t in flat_times_ok(r, T0, END, r.uniform(20, 80), accts[0].tz):
            share = 0 if t < move else min(1.0, (t - move).total_seconds() / (r.uniform(1, 3) * 86400))
            turns, lens = r.choice(users)
            log.add(r, r.choice(accts), t,
                    [{"role": "system", "content": sys_p}, {"role": "user", "content": turns[0]}],
                    completion=prose(r, P.q, lens[0]), model=NEW_MODEL if r.random() < share else old)


def flat_times_ok(r: random.Random, start: datetime, end: datetime, per_day: float, tz: float) -> list[datetime]:
    """A product's traffic: Poisson over the fortnight, peaking in its users' daytime (zone `tz`)."""
    return flat_times(r, start, end, per_day, amp=0.7, phase_h=(14 - tz) % 24)


# -- batchjobs -----------------------------------------------------------------------------------------------------

BJ_JOBS = {
    "faq": "List the questions a customer would ask that this help-centre article answers. One per line, at most 8.",
    "triage": "Classify this support ticket into billing, technical, account, shipping or other, and give the "
              "urgency (low/medium/high). Reply as JSON.",
    "summary": "Summarise this document for the weekly digest in three bullet points.",
    "title": "Write a short, descriptive title for this text (max 10 words).",
}


def batchjobs(log: Log, P: Pools17, r: random.Random, scale: float) -> None:
    """Enterprises' scheduled jobs: at a fixed minute each night (and for some at noon) 80-300 requests in a burst
    over the 2-4 keys of their org from one host: FAQ questions from their own help articles, ticket triage,
    digest summaries, titles."""
    docs, tickets = P.q.docs_b, [t[0] for t, _ in P.p.tail[-3000:]]
    for _ in range(scaled(5, scale, 1)):
        org, card, host = "org_" + hexid(r, 10), "pm_" + hexid(r, 16), in_block(r, cloud_block(r))
        ua = ua_sdk(r)
        accts = [log.account(r, "legit:batchjobs", org=org, payment=card, ip_mode="pool", ips=[host], ua=ua,
                             tier="enterprise", model=r.choice(["frontier-1-mini", "gpt-4o-mini", "frontier-1"]))
                 for _ in range(r.randint(2, 4))]
        jobs = r.sample(list(BJ_JOBS), r.randint(1, 3))
        crons = [r.uniform(0, 6)] + ([r.uniform(11, 13)] if r.random() < 0.4 else [])
        mine = r.sample(docs, min(len(docs), 400))
        for d in range(14):
            for h in crons:
                if not _weekday(d) and r.random() < 0.6:
                    continue
                t = day_start(d) + timedelta(hours=h)
                for j in range(r.randint(80, 300)):
                    job = r.choice(jobs)
                    if job in ("faq", "summary"):
                        x = r.choice(mine)[: r.randint(800, 2500)]
                    else:
                        x = r.choice(tickets)[:1200]
                    words = x.split()
                    cat = r.choice(["billing", "technical", "account", "shipping", "other"])
                    comp = {"faq": "\n".join(f"- {' '.join(words[i * 5:i * 5 + 7])}?" for i in range(r.randint(3, 8))),
                            "triage": json.dumps({"category": cat, "urgency": r.choice(["low", "medium", "high"])}),
                            "summary": "\n".join("- " + prose(r, P.q, 90)[:110] for _ in range(3)),
                            "title": " ".join(x.split()[:r.randint(4, 9)]).title()}[job]
                    log.add(r, accts[j % len(accts)], t, [{"role": "system", "content": BJ_JOBS[job]},
                                                          {"role": "user", "content": x}], completion=comp,
                            params={"temperature": 0.2})
                    t += timedelta(seconds=r.uniform(0.2, 4))


# -- browseruse ------------------------------------------------------------------------------------------------------

EXT_SYS = ("You are Wayfinder, a browser assistant running in the user's own browser. You see the page as an "
           "accessibility tree with numbered elements. Decide the single next step toward the user's goal and answer "
           "in JSON: {\"note\": short explanation, \"do\": {\"action\": ..., \"element\": ..., \"text\": ...}}. "
           "Ask the user before paying, sending or submitting anything.")
QA_DO = ["log in as the test user", "add two items to the cart", "open the pricing page", "search for a known "
         "product", "start a password reset", "create a project", "switch the language", "upload the sample file",
         "apply the staff discount code", "invite a teammate", "export the report", "open the mobile menu"]
QA_CHECK = ["the total updates", "an order number is shown", "every plan shows a price", "a result appears",
            "the confirmation step appears", "it appears in the list", "the menu text changes", "the preview shows "
            "all rows", "no error banner appears", "the page loads in under 3 s", "the badge count goes up"]
QA_SYS = Phrase(["You are a QA agent", "Act as our end-to-end test runner", "You test our web app"],
                ["on staging.", "for the nightly regression.", "in a headless browser."],
                ["One action per turn, JSON only.", "Output a single JSON action each turn.",
                 "Reply with the next step as JSON."],
                ["Finish with PASS or FAIL and the reason.", "When done, report PASS/FAIL.",
                 "End with a verdict (PASS or FAIL) and one line of evidence."])
QA_NAMES = ["Brightline", "Quokka", "Tessel", "Mintly", "Orbitly", "Parcelo", "Helix", "Fernway", "Corvid", "Lumio"]


def _browse(log: Log, P: Pools17, r: random.Random, a: Acct, t: datetime, sys_p: str, task: str, site: str,
            steps: int, pause: tuple[float, float], style: str, url: str | None = None) -> None:
    hist: list[str] = []
    for s in range(steps):
        tree = ax_tree(r, site, s, style, url)
        body = f"Goal: {task}\n\nDone so far:\n{chr(10).join(hist) or '-'}\n\nPage:\n{tree}"
        act = web_action(r, tree) if s < steps - 1 else {"action": "done"}
        log.add(r, a, t, [{"role": "system", "content": sys_p}, {"role": "user", "content": body}],
                completion=json.dumps({"note": prose(r, P.q, 80)[:120], "do": act}), params={"temperature": 0})
        el = f" [{act['element']}]" if act.get("element") is not None else ""
        hist.append(f"- {act['action']}{el}" + (f" \"{act['text']}\"" if act.get("text") else ""))
        t += timedelta(seconds=r.uniform(*pause))


def browseruse(log: Log, P: Pools17, r: random.Random, scale: float) -> None:
    """A browser-agent extension's users (its prompt, their own errands on common sites, pauses while they watch
    or confirm) at human hours from home; and QA teams whose agent checks their own app's flows every night."""
    sites = list(SITES)
    for _ in range(scaled(150, scale, 2)):
        a = log.account(r, "legit:browseruse", ua=ua_browser(r), model=r.choice(["frontier-1-mini", "gpt-4o-mini",
                                                                                "frontier-1"]))
        v = Voice(r)
        for t in human_session_starts(r, a, active_days(r, p=r.uniform(0.15, 0.6)), r.uniform(0.6, 2)):
            site = r.choice(sites)
            # the extension's onboarding examples now and then, otherwise the person's own errand in their words
            task = r.choice(WEB_TASKS[site]) if r.random() < 0.12 else v(r, errand(r, site))
            _browse(log, P, r, a, t, EXT_SYS, task, site, r.randint(3, 10), (4, 40), "aria")
    for _ in range(scaled(4, scale, 1)):
        org, card, block = "org_" + hexid(r, 10), "pm_" + hexid(r, 16), cloud_block(r)
        ua, sys_p, name = ua_sdk(r), QA_SYS(r), r.choice(QA_NAMES)
        url = f"https://staging.{name.lower()}{r.choice(['.io', '.com', '.app'])}"
        accts = [log.account(r, "legit:browseruse", org=org, payment=card, ip_mode="pool", ips=[in_block(r, block)],
                             ua=ua, tier="enterprise", model="frontier-1-mini", tz=r.choice([-5, 0, 1, 5.5]))
                 for _ in range(r.randint(2, 4))]
        flows = [f"{d.capitalize()} and check that {c}" for d, c in zip(r.sample(QA_DO, 8), r.sample(QA_CHECK, 8),
                                                                           strict=True)][: r.randint(4, 8)]
        site = r.choice(sites)
        for d in range(14):
            if not _weekday(d):
                continue
            t = local_time(accts[0], d, 2 + r.random() * 0.2)
            for j, f in enumerate(flows):
                _browse(log, P, r, accts[j % len(accts)], t, sys_p, f, site, r.randint(4, 9), (1, 4), "dom", url)
                t += timedelta(minutes=r.uniform(1, 4))


# -- authors ---------------------------------------------------------------------------------------------------------

NOVEL = ["a cosy mystery set in a Welsh bookshop", "a space opera about a salvage crew", "a YA fantasy with a "
         "reluctant heir", "a literary novel about three sisters in 1970s Lagos", "a thriller on an oil rig",
         "a romance between rival bakers", "a historical novel about the 1918 flu", "a horror novella in a ski lodge"]


def authors(log: Log, P: Pools17, r: random.Random, scale: float) -> None:
    """Edtech content teams (an org, 2-4 keys, office hours) drafting course chapters from their outlines; and
    novelists drafting long chapters of their own book with the outline and last chapter's summary, evenings."""
    for _ in range(scaled(3, scale, 1)):
        org, card = "org_" + hexid(r, 10), "pm_" + hexid(r, 16)
        tz = r.choice([-5, 0, 1, 5.5])
        accts = [log.account(r, "legit:authors", org=org, payment=card,
                             ua=ua_sdk(r) if r.random() < 0.5 else ua_browser(r), tz=tz, tier="enterprise",
                             model="frontier-1") for _ in range(r.randint(2, 4))]
        subj = r.sample(list(SUBJECTS), 2)
        for a in accts:
            s = r.choice(subj)
            aud = r.choice(AUDIENCE)
            outline = "\n".join(f"{i + 1}. {c}" for i, c in enumerate(SUBJECTS[s]))
            sys_p = (f"House style for our {s} course ({aud}): friendly, concrete, short paragraphs, UK spelling. "
                     f"Outline:\n{outline}")
            days = [d for d in range(14) if _weekday(d) and r.random() < 0.7]
            for t in human_session_starts(r, a, days, r.uniform(1, 3), hours=WORK_HOURS):
                i = r.randrange(len(SUBJECTS[s]))
                body = (f"Draft section {r.randint(1, 5)} of chapter {i + 1} ({SUBJECTS[s][i]}). "
                        + r.choice(["~1500 words.", "About 2000 words, two worked examples.",
                                    "Include 5 quiz questions."]))
                log.add(r, a, t, [{"role": "system", "content": sys_p}, {"role": "user", "content": body}],
                        completion=prose(r, P.q, r.randint(5000, 12000)), max_completion_chars=4000,
                        params={"temperature": 0.6, "max_tokens": 6000})
                if r.random() < 0.5:
                    t += think(r, 120, 600)
                    log.add(r, a, t, [{"role": "system", "content": sys_p}, {"role": "user", "content": body},
                                      {"role": "assistant", "content": "(draft)"},
                                      {"role": "user", "content": r.choice(["Shorter, and simpler words.",
                                                                            "Add a real-world example.",
                                                                            "Turn the quiz into multiple choice."])}],
                            completion=prose(r, P.q, r.randint(2000, 6000)), max_completion_chars=4000)
    for _ in range(scaled(30, scale, 1)):
        a = log.account(r, "legit:authors", ua=ua_browser(r), model=r.choice(["frontier-1", "gpt-4o"]))
        book = r.choice(NOVEL)
        days = active_days(r, p=r.uniform(0.2, 0.5))
        ch = r.randint(1, 8)
        for t in human_session_starts(r, a, days, 1, hours=[0.1] * 17 + [1, 2, 3, 3, 2, 1, 0.3]):
            m = [{"role": "user", "content": f"I'm writing {book}. Outline so far: {prose(r, P.q, 300)[:300]}\n\n"
                                             f"Last chapter summary: {prose(r, P.q, 200)[:200]}\n\nDraft chapter {ch} "
                                             f"({r.choice(['2000', '3000', '2500'])} words), my voice, present tense."}]
            comp = prose(r, P.q, r.randint(6000, 14000))
            log.add(r, a, t, m, completion=comp, max_completion_chars=4000, params={"temperature": 0.9})
            for _ in range(r.randint(0, 3)):
                t += think(r, 60, 400)
                m = m + [{"role": "assistant", "content": comp[:900]},
                         {"role": "user", "content": r.choice(["less purple prose please", "more dialogue",
                                                               "rewrite the ending, she shouldn't forgive him yet",
                                                               "cut it by a third"])}]
                comp = prose(r, P.q, r.randint(3000, 9000))
                log.add(r, a, t, m, completion=comp, max_completion_chars=4000, params={"temperature": 0.9})
            ch += 1


# -- viral -----------------------------------------------------------------------------------------------------------

def viral(log: Log, P: Pools17, r: random.Random, scale: float) -> None:
    """A viral video on day 3 or 4 sends a wave of sign-ups: free accounts made within 48 hours, mostly from phones
    and home browsers; the first days are intense (some reach the free daily cap and see 429s), then most fade."""
    rv = random.Random(f"{log.seed}:r17:viral")
    t0 = T0 + timedelta(days=rv.choice([3, 4]), hours=rv.uniform(14, 22))
    casual = P.c.casual + P.c.vicuna + [x[:600] for x in P.c.personas] + [it.text for it in P.c.gsm_test[:300]] + \
        [it.text for it in P.c.humaneval]
    convs = P.c.chats
    for _ in range(scaled(380, scale, 3)):
        made = t0 + timedelta(hours=min(48, r.expovariate(1 / 12)))
        a = log.account(r, "legit:viral", created=made, tier="free", verified=r.random() < 0.6,
                        ua=ua_browser(r) if r.random() < 0.6 else ua_phone(r, APP_NAME), ip_mode="home",
                        model="frontier-1-mini")
        v = Voice(r)
        d0 = (made - T0).days
        keen = r.random() < 0.35
        for d in range(d0, 14):
            age = d - d0
            if r.random() > (0.95 if age == 0 else (0.8 if keen else 0.35) * 0.75 ** age):
                continue
            per = (r.uniform(1, 4) if age < 2 else r.uniform(0.5, 1.5)) * (2 if keen else 1)
            used = 0
            for t in human_session_starts(r, a, [d], per):
                if t < made:
                    continue
                for _ in range(r.randint(2, 9) if age < 2 else r.randint(1, 4)):
                    m = [{"role": "user", "content": v(r, r.choice(casual))}]
                    if used >= FREE_CAP:
                        log.add(r, a, t, m, status=429)
                        break
                    if r.random() < 0.4:
                        _talk(log, P, r, a, t, convs, 3)
                        used += 2
                    else:
                        log.add(r, a, t, m, completion=prose(r, P.q, r.randint(200, 1200)))
                        used += 1
                    t += think(r, 10, 50)


# -- neutral ---------------------------------------------------------------------------------------------------------

NT_ASK = {"newsroom": "Rewrite this wire item in a neutral, factual tone for our aggregator. Remove loaded words, keep "
                      "all facts and numbers, max 80 words.",
          "trust": "Check this user post against our community guidelines (no harassment, no doxxing, no spam, no "
                   "graphic violence). Reply: ALLOW or REMOVE, the rule, and a one-line reason.",
          "ads": "Adapt this ad copy for the German market: comply with German advertising rules (no unverifiable "
                 "superlatives, clear pricing), keep it under 40 words, in German."}


def neutral(log: Log, P: Pools17, r: random.Random, scale: float) -> None:
    """Newsrooms rewriting wire items in a neutral tone, trust-and-safety teams checking posts against their own
    rules, and ad agencies adapting copy to a market's rules: 3-6 keys of an org, office hours, weekdays."""
    posts = [t[0] for t, _ in P.p.tail[-3000:] if len(t[0]) < 600]
    ads = [it.text for it in P.c.alpaca if "product" in it.text.lower() or "advert" in it.text.lower()] or posts
    for _ in range(scaled(4, scale, 1)):
        kind = r.choice(list(NT_ASK))
        org, card, tz = "org_" + hexid(r, 10), "pm_" + hexid(r, 16), r.choice([-5, 0, 1, 8])
        office = ip_residential(r) if r.random() < 0.5 else in_block(r, cloud_block(r))
        accts = [log.account(r, "legit:neutral", org=org, payment=card, tz=tz, ip_mode="pool", ips=[office],
                             ua=ua_browser(r) if kind == "newsroom" else ua_sdk(r), tier="enterprise",
                             model=r.choice(["frontier-1", "frontier-1-mini"])) for _ in range(r.randint(3, 6))]
        for a in accts:
            days = [d for d in range(14) if _weekday(d) and r.random() < 0.85]
            for t in human_session_starts(r, a, days, r.uniform(3, 7), hours=WORK_HOURS):
                for _ in range(r.randint(2, 8)):
                    if kind == "newsroom":
                        x = f"{r.choice(NEWS_WHO)} {r.choice(NEWS_WHAT)} {r.choice(NEWS_WHY)}"
                        comp = x.replace(" to the fury of local shops", "").replace(" reckless", " risky")
                    elif kind == "trust":
                        x = r.choice(posts)
                        comp = r.choice(["ALLOW - no rule broken.", "REMOVE - spam: repeated promotional links.",
                                         "ALLOW - criticism of a public figure is permitted.",
                                         "REMOVE - harassment: targets a private person."])
                    else:
                        x = r.choice(ads)[:500]
                        comp = prose(r, P.q, 200)[:240]
                    log.add(r, a, t, [{"role": "system", "content": NT_ASK[kind]}, {"role": "user", "content": x}],
                            completion=comp, params={"temperature": 0.3})
                    t += think(r, 20, 90)


KINDS: dict[str, Callable[..., None]] = {
    "people": people, "mobile": mobile, "launchday": launchday, "batchjobs": batchjobs, "browseruse": browseruse,
    "authors": authors, "viral": viral, "neutral": neutral,
}
