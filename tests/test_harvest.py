"""Harvesting shape: a linked group walking through distinct writing/roleplay payloads is a campaign even
though none of it is reasoning, coding or tool use; a linked QA team re-sending one suite is not."""

from __future__ import annotations

import csv
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.detection import DetectConfig, detect_logs
from distillguard.detection.campaigns import Grouping
from distillguard.detection.scoring import ScoreConfig, score_accounts, threshold_for
from handbuilt import T0, WORDS, _rec, legit_users, write_jsonl

OPENERS = ("Hey, quick favour for a side project of mine.", "Hope you are doing well today, I need a hand.",
           "Could you help me out with something for my blog.", "I have a small creative request for you.")
CLOSERS = ("Thanks so much, this really helps me a lot.", "Please keep it friendly and easy to read.",
           "Appreciate it, looking forward to your version.", "No rush at all, whenever you are ready.")
TASKS = ("Write a short poem about the {a} and the {b}", "Pretend you are a {a} seller and greet a {b} buyer",
         "Describe a rainy {a} afternoon spent at the {b}", "Write a friendly note inviting a {a} to the {b}",
         "Tell a bedtime story about a {a} who finds a {b}", "Write a product blurb for a {a} shaped {b}")


def harvesters(n: int, per_account: int = 60, seed: int = 5) -> list[dict[str, Any]]:
    """Low-and-slow harvesters: one phrase bank around always-new writing/roleplay payloads, single-turn."""
    rng = random.Random(seed)
    out = []
    for a in range(n):
        acc = f"harv-{a:03d}"
        for i in range(per_account):
            ts = T0 + timedelta(days=i // 8, hours=9 + rng.random() * 12, seconds=rng.random() * 60)
            task = rng.choice(TASKS).format(a=rng.choice(WORDS), b=rng.choice(WORDS))
            task += ", mentioning " + " and ".join(rng.sample(WORDS, 3)) + "."
            text = f"{rng.choice(OPENERS)} {task} {rng.choice(CLOSERS)}"
            out.append(_rec(f"{acc}-{i}", ts, acc, text, ip=f"198.18.{a}.{i % 7}", ua="Mozilla/5.0",
                            params={"temperature": 0.8}))
    return out


def qa_team(n: int, nights: int = 6, seed: int = 6) -> list[dict[str, Any]]:
    """A QA team: the same support eval suite, same wrapper, re-sent every night from every key."""
    rng = random.Random(seed)
    suite = [f"{rng.choice(OPENERS)} " + rng.choice(TASKS).format(a=rng.choice(WORDS), b=rng.choice(WORDS))
             + f". {rng.choice(CLOSERS)}" for _ in range(8)]
    out = []
    for a in range(n):
        acc = f"qa-{a:03d}"
        for night in range(nights):
            for i, text in enumerate(suite):
                ts = T0 + timedelta(days=night, hours=1, minutes=i, seconds=a)
                out.append(_rec(f"{acc}-{night}-{i}", ts, acc, text, ip="192.0.2.77", ua="acme-eval/1.0",
                                params={"temperature": 0}))
    return out


def test_linked_harvest_group_flagged_and_qa_team_not(tmp_path: Path) -> None:
    log = write_jsonl(legit_users(40) + harvesters(12) + qa_team(10), tmp_path / "harvest.jsonl")
    detect_logs([log], tmp_path / "out", config=DetectConfig())
    with open(tmp_path / "out" / "accounts.csv", newline="") as f:
        flagged = {r["account_id"] for r in csv.DictReader(f) if r["flagged"] == "true"}
    assert {a for a in flagged if a.startswith("harv")} == {f"harv-{i:03d}" for i in range(12)}
    assert not {a for a in flagged if not a.startswith("harv")}


def _harvest_table(n: int, **over: float) -> pa.Table:
    base = dict(cap_other=1.0, cot_share=0.0, single_turn_share=1.0, long_max_tokens_share=0.0,
                template_diversity=1.0, replayed_share=0.0, hour_entropy=0.6, burstiness=0.3,
                output_input_ratio=3.0, exchanges=150.0)
    base.update(over)
    cols = {k: [v] * n for k, v in base.items()}
    return pa.table({"account_id": [f"a{i}" for i in range(n)], "first_ts": [0.0] * n, "last_ts": [1e5] * n,
                     **cols})


def _grouping(n: int, strength: float) -> Grouping:
    return Grouping(accounts=[f"a{i}" for i in range(n)], group=np.zeros(n, np.int64), strength=np.full(n, strength),
                    in_block=np.zeros(n, bool), families=np.array([1]),
                    edges=pa.table({"src": [], "dst": [], "weight": []}), degree=np.full(n, 8.0))


def test_harvest_shape_needs_strong_links_and_distinct_payloads() -> None:
    def flagged(t: pa.Table, g: Grouping) -> int:
        sc = score_accounts(t, g)
        return int((sc.accounts["score"].to_numpy() >= threshold_for(sc, 0.001)).sum())

    assert flagged(_harvest_table(10), _grouping(10, 8.0)) == 10
    # loosely bound (a popular template shared by unrelated users): the shape alone is not enough
    assert flagged(_harvest_table(10), _grouping(10, 0.5)) == 0
    # the same prompts as everyone else (a shared suite) or one repeated suite: not harvesting
    assert flagged(_harvest_table(10, replayed_share=0.9), _grouping(10, 8.0)) == 0
    assert flagged(_harvest_table(10, template_diversity=0.1), _grouping(10, 8.0)) == 0
    # conversational traffic with follow-ups: not harvesting
    assert flagged(_harvest_table(10, single_turn_share=0.4), _grouping(10, 8.0)) == 0
    # never on its own: an unlinked harvester keeps the capped individual score
    g = Grouping(accounts=[], group=np.zeros(0, np.int64), strength=np.zeros(0), in_block=np.zeros(0, bool),
                 families=np.zeros(0), edges=pa.table({"src": [], "dst": [], "weight": []}), degree=np.zeros(0))
    sc = score_accounts(_harvest_table(3), g)
    assert sc.accounts["score"].to_numpy().max() <= ScoreConfig().individual_cap


def test_shared_rare_params_link_blank_network_accounts(tmp_path: Path) -> None:
    rng = random.Random(9)
    recs = legit_users(30)
    for a in range(8):  # no ip, no user agent, no shared wording: only the exact sampling configuration
        for i in range(15):
            text = " ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "?"
            recs.append(_rec(f"blank-{a}-{i}", T0 + timedelta(hours=rng.random() * 48), f"blank-{a:03d}", text,
                             params={"temperature": 0.37, "top_p": 0.91, "max_tokens": 3072}))
    for r in recs:  # casual users share a common two-parameter choice: not a client fingerprint
        if r["account_id"].startswith("user"):
            r["params"] = {"temperature": 0.7, "max_tokens": 1024}
    log = write_jsonl(recs, tmp_path / "params.jsonl")
    detect_logs([log], tmp_path / "out", config=DetectConfig())
    links = pq.read_table(tmp_path / "out" / "links.parquet").to_pylist()
    pairs = {(r["src"], r["dst"]) for r in links if r["kind"] == "shared-params"}
    assert len(pairs) == 8 * 7 // 2 and all(s.startswith("blank") and d.startswith("blank") for s, d in pairs)
