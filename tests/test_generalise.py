"""Detection properties that must hold beyond any one generator (issue 20): a campaign is caught at least as
well as it grows, one campaign's verdict does not depend on another's presence, a few hundred odd records move
no verdict, and independent runs of one public suite are not a campaign."""

from __future__ import annotations

import copy
import csv
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from distillguard.detection.run import DetectConfig, detect_logs
from handbuilt import QUESTIONS, T0, WORDS, _rec, campaign, legit_users, write_jsonl

FAST = DetectConfig()


def _flags(out: Path) -> dict[str, bool]:
    with open(out / "accounts.csv", newline="") as f:
        return {r["account_id"]: r["flagged"] == "true" for r in csv.DictReader(f)}


def _scores(out: Path) -> dict[str, float]:
    with open(out / "accounts.csv", newline="") as f:
        return {r["account_id"]: float(r["score"]) for r in csv.DictReader(f)}


def _covered(n: int, seed: int, prefix: str, per_account: int = 12) -> list[dict[str, Any]]:
    """A campaign whose accounts hide extraction (`per_account` exchanges each) inside 6 ordinary chats."""
    rng = random.Random(seed)
    out = campaign(n, per_account=per_account, seed=seed, prefix=prefix, ip=False)
    for a in range(n):
        acc = f"{prefix}-{a:03d}"
        for i in range(6):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(6, 14))).capitalize() + "?"
            out.append(_rec(f"{acc}-c{i}", T0 + timedelta(hours=rng.random() * 48), acc, text,
                            ua="Mozilla/5.0", params={"temperature": 0.7}))
    return out


def _recall(out: Path, prefix: str) -> float:
    flags = _flags(out)
    mine = [v for a, v in flags.items() if a.startswith(prefix + "-")]
    return sum(mine) / len(mine)


def test_recall_does_not_fall_as_a_campaign_grows(tmp_path: Path) -> None:
    background = legit_users(300, per_account=10)
    recalls = []
    for n in (20, 200, 1000):
        log = write_jsonl(background + _covered(n, seed=n, prefix="camp"), tmp_path / f"log{n}.jsonl")
        out = tmp_path / f"out{n}"
        detect_logs([log], out, config=FAST)
        recalls.append(_recall(out, "camp"))
        assert not any(v for a, v in _flags(out).items() if a.startswith("user-")), f"legit flagged at {n}"
    # (not strictly: community detection splits a large campaign into fragments judged one by one, so a few
    # accounts at a fragment's edge may fall either side; before the fix this read [1.0, 0.66, 0.0])
    assert min(recalls) >= 0.95, recalls
    assert recalls[1] >= recalls[0] - 0.03 and recalls[2] >= recalls[1] - 0.03, recalls


def test_a_campaign_paid_by_many_cards_is_one_campaign(tmp_path: Path) -> None:
    """240 accounts sending one operator's wrappers, paid by 12 cards and run from 12 address blocks (a ring of
    20 accounts per card and block), are one campaign, not twelve: operator evidence that comes in rings says
    who pays, not where a campaign ends (a campaign-refinement pass on that evidence alone split it by card)."""
    recs = campaign(240, per_account=10, seed=9, prefix="ring", ip=False)
    for r in recs:
        a = int(r["account_id"].rsplit("-", 1)[1])
        r["ip"], r["user_agent"] = f"198.18.{a // 20}.{a % 20 + 1}", "python-httpx/0.27"
    accounts = tmp_path / "accounts.jsonl"
    write_jsonl([{"account_id": f"ring-{a:03d}", "payment_fingerprint": f"card-{a // 20}"} for a in range(240)],
                accounts)
    out = tmp_path / "out"
    detect_logs([write_jsonl(legit_users(200, per_account=10) + recs, tmp_path / "log.jsonl")], out,
                accounts=accounts, config=FAST)
    with open(out / "accounts.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["account_id"].startswith("ring-") and r["flagged"] == "true"]
    assert len(rows) >= 0.95 * 240
    ids = [r["campaign_id"] for r in rows]
    assert max(ids.count(c) for c in set(ids)) >= 0.95 * len(rows), sorted(set(ids))


def test_a_campaign_outgrowing_its_problem_pool_is_not_replay(tmp_path: Path) -> None:
    """In the traffic a group shares, a text counts as replayed when a good part of the group sends it (a
    class's problem set), not when a campaign that outgrew its pool of problems repeats an item across a few
    of its 120 accounts: the campaign's shared traffic stays fresh however large it grows."""
    import numpy as np
    import pyarrow as pa

    from distillguard.detection import features
    from distillguard.detection.campaigns import Grouping
    from distillguard.detection.shared_traffic import shared_traffic_features
    from handbuilt import prepared_store

    rng = random.Random(3)
    pool = [rng.choice(QUESTIONS).format(a=rng.randrange(2, 999), b=rng.randrange(2, 99), c=rng.randrange(2, 50))
            for _ in range(400)]
    recs = []
    for a in range(120):   # 120 accounts × 10 items of 400: each item sent by ~3 of them (2.5 % of the group)
        recs += [_rec(f"p{a}-{i}", T0 + timedelta(hours=a + i), f"pool-{a:03d}",
                      f"Batch item, answer fully:\n\n{q.capitalize()}?") for i, q in enumerate(rng.sample(pool, 10))]
    problems = [q.capitalize() + "?" for q in rng.sample(pool, 10)]
    for s in range(30):    # a class: every student sends the same ten problems
        recs += [_rec(f"s{s}-{i}", T0 + timedelta(days=1, hours=s % 8 + i), f"stud-{s:03d}", f"Homework: {q}")
                 for i, q in enumerate(problems)]
    recs += legit_users(60, per_account=8)
    with prepared_store(recs, tmp_path) as store:
        features.account_features(store.con)
        ids = [f"pool-{a:03d}" for a in range(120)] + [f"stud-{s:03d}" for s in range(30)]
        n = len(ids)
        g = Grouping(accounts=ids, group=np.array([0] * 120 + [1] * 30), strength=np.ones(n), degree=np.ones(n),
                     in_block=np.zeros(n, bool), families=np.array([1, 1]),
                     edges=pa.table({"src": [], "dst": [], "weight": []}))
        sh = {r["account_id"]: r for r in shared_traffic_features(store.con, g).to_pylist()}
    pooled = [sh[a]["replayed_share"] for a in ids[:120] if a in sh]
    students = [sh[a]["replayed_share"] for a in ids[120:] if a in sh]
    assert len(pooled) >= 100 and len(students) >= 25
    assert sum(pooled) / len(pooled) <= 0.25 and min(students) >= 0.9, (sum(pooled) / len(pooled), min(students))


def test_one_campaign_does_not_decide_another(tmp_path: Path) -> None:
    background = legit_users(200, per_account=10)
    a = _covered(60, seed=5, prefix="alpha")
    b = campaign(40, per_account=20, seed=6, prefix="beta", ip=False)
    both, alone = tmp_path / "both", tmp_path / "alone"
    detect_logs([write_jsonl(background + a + b, tmp_path / "both.jsonl")], both, config=FAST)
    detect_logs([write_jsonl(background + a, tmp_path / "alone.jsonl")], alone, config=FAST)
    assert _recall(both, "alpha") >= 0.9
    assert abs(_recall(both, "alpha") - _recall(alone, "alpha")) <= 0.02


def test_a_few_hundred_odd_records_move_no_verdict(tmp_path: Path) -> None:
    records = legit_users(200, per_account=10) + _covered(60, seed=7, prefix="camp", per_account=20)
    base = tmp_path / "base"
    detect_logs([write_jsonl(records, tmp_path / "base.jsonl")], base, config=FAST)
    rng = random.Random(8)
    odd = []
    accounts = sorted({r["account_id"] for r in records})
    for i in range(300):
        r = copy.deepcopy(rng.choice(records))
        r["request_id"] = f"odd-{i}"
        kind = i % 5
        if kind == 0:    # absurd timestamps at both ends of time
            r["ts"] = "0001-01-01T00:00:00Z" if i % 2 else "9999-12-31T23:59:59Z"
        elif kind == 1:  # an empty prompt
            r["messages"] = [{"role": "user", "content": ""}]
        elif kind == 2:  # a huge token count and a string of repeated words
            r["completion_tokens"] = 2**31
            r["messages"] = [{"role": "user", "content": "word " * 5000}]
        elif kind == 3:  # a record that breaks the contract (rejected, reported, never fatal)
            del r["ts"]
        else:            # a new account with one odd exchange
            r["account_id"] = f"stray-{i}"
        odd.append(r)
    with_odd = tmp_path / "odd"
    detect_logs([write_jsonl(records + odd, tmp_path / "odd.jsonl")], with_odd, config=FAST)
    before, after = _flags(base), _flags(with_odd)
    # at most 2 % of the verdicts (the odd records land on real accounts and do change their traffic a little;
    # before the fixes one group of 62 campaign accounts moved across the threshold at once)
    changed = [a for a in accounts if after[a] != before[a]]
    assert len(changed) <= 0.02 * len(accounts), changed
    # nor do they move the campaign's scores much (60 absurd timestamps took the campaign's concurrency from
    # 1.0 to 0.6 and a tenth of its accounts lost .28 or more while staying flagged)
    s0, s1 = _scores(base), _scores(with_odd)
    drops = sorted(s0[a] - s1[a] for a in accounts if a.startswith("camp-"))
    assert drops[-len(drops) // 10] <= 0.1, drops[-10:]
    assert not any(v for a, v in after.items() if a.startswith("stray-"))


@pytest.mark.parametrize("n_runners", [4, 8])
def test_benchmark_runners_are_not_a_campaign(tmp_path: Path, n_runners: int) -> None:
    """Researchers each run one public suite once, in one burst, with one of two harnesses; a campaign that
    walks the same suite between its accounts, day after day, is still caught."""
    rng = random.Random(n_runners)
    words = random.Random(0)
    suite = [q.format(a=a, b=b, c=7) + " " + " ".join(words.choice(WORDS) for _ in range(4))
             for q in QUESTIONS for a in range(3, 23) for b in (4, 9)]
    harness = ("Question: {q}?\nAnswer: Let's think step by step.", "Solve this problem and give the final "
               "number after ####.\n{q}?")
    runs = []
    for r in range(n_runners):
        acc, day = f"lab-{r:02d}", rng.randrange(0, 12)
        for i, q in enumerate(suite):
            ts = T0 + timedelta(days=day, hours=10, seconds=20 * i)
            runs.append(_rec(f"{acc}-{i}", ts, acc, harness[r % 2].format(q=q), ip=f"192.0.2.{r + 1}",
                             ua="python-httpx/0.27", params={"temperature": 0, "max_tokens": 512}))
    walk = []
    for i, q in enumerate(suite):   # the same suite, split across 12 accounts over 10 days
        acc = f"walk-{i % 12:02d}"
        ts = T0 + timedelta(days=i % 10, hours=rng.random() * 24)
        walk.append(_rec(f"w-{i}", ts, acc, harness[0].format(q=q), ua="python-httpx/0.27",
                         params={"temperature": 0.2, "max_tokens": 8192}))
    out = tmp_path / "out"
    detect_logs([write_jsonl(legit_users(150, per_account=10) + runs + walk, tmp_path / "log.jsonl")], out,
                config=FAST)
    flags = _flags(out)
    assert not any(v for a, v in flags.items() if a.startswith("lab-"))
    assert sum(v for a, v in flags.items() if a.startswith("walk-")) >= 11
