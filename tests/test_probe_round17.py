"""The round-17 probe suite (`bench/probe_families.py --suite round17`) builds deterministically, labels every
family and kind, scrubs and resizes like the other suites, and its log is accepted by `distillguard ingest`.
Generator contract only, not detection.
"""

from __future__ import annotations

import functools
import json
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from distillguard.cli import main

# isort: off
import probe_suite as ps  # first: it puts bench/ on the path
from probekit.attacks17 import FAMILIES
from probekit.legit17 import KINDS
from probekit.pools17 import APP_NAME, FREE_CAP, NEW_MODEL, carriers, launch, load17
# isort: on

SEED = 17


@pytest.fixture(autouse=True)
def _pools_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read the corpora once for all builds of this module (the families never change the pools they get)."""
    fams, kinds, _, prefix = ps.probe_families.SUITES["round17"]
    monkeypatch.setitem(ps.probe_families.SUITES, "round17", (fams, kinds, _cached, prefix))


@functools.cache
def _cached(data: Path):  # noqa: ANN202
    return load17(data)


def _gen(corpora: Path, out: Path, *args: str) -> Path:
    return ps.build("round17", SEED, 0.02, corpora, out, *args)


def _user(r: dict) -> str:
    return r["prompt"] if "prompt" in r else r["messages"][-1]["content"] or ""


def _ts(r: dict) -> datetime:
    return datetime.fromisoformat(r["ts"].replace("Z", "+00:00"))


def test_round17_is_deterministic_labels_everything_and_ingests(corpora: Path, tmp_path: Path) -> None:
    a = _gen(corpora, tmp_path / "a")
    b = _gen(corpora, tmp_path / "b")
    labels, rows = ps.check_builds(a, b, FAMILIES, KINDS, "r17")
    fam = {r["account_id"]: r["family"] for r in labels}
    by: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by[fam[r["account_id"]]].append(r)
    # quota rides the free daily cap: never more than the cap served a UTC day, and 429s right past it
    served = Counter((r["account_id"], r["ts"][:10]) for r in by["quota"] if r["status"] != 429)
    assert max(served.values()) <= FREE_CAP and Counter(served.values()).most_common(1)[0][0] >= FREE_CAP - 1
    assert sum(r["status"] == 429 for r in by["quota"]) >= len(served)
    assert any(r["status"] == 429 for r in by["viral"])  # new free users meet the cap too
    # the new model exists only after its launch; pounce replays its own earlier prompts on it
    go = launch(SEED)
    assert all(_ts(r) >= go for r in rows if r["model"] == NEW_MODEL)
    for k in ("pounce", "launchday", "people"):
        assert any(r["model"] == NEW_MODEL for r in by[k]), k
    before = {(r["account_id"], _user(r)) for r in by["pounce"] if r["model"] != NEW_MODEL}
    assert sum((r["account_id"], _user(r)) in before for r in by["pounce"] if r["model"] == NEW_MODEL) >= 10
    # the phone farm and ordinary phone users sit behind the same carriers' NAT blocks and the same app
    nat = {b for c in carriers(SEED) for b in c.blocks}
    assert all(r["ip"].rsplit(".", 1)[0] in nat for r in by["phonefarm"])
    assert {r["ip"].rsplit(".", 1)[0] for r in by["phonefarm"]} & {r["ip"].rsplit(".", 1)[0] for r in by["mobile"]}
    assert any(r["user_agent"].startswith(APP_NAME) for r in by["phonefarm"])
    # backtrans runs at two cron times a day: its bursts start in at most two hours of the day (UTC)
    starts = {_ts(r).hour for r in by["backtrans"]}
    assert len(starts) <= 4
    # webagent and browseruse both send page snapshots; textbook asks for very long generations
    assert all("https://" in _user(r) for r in by["webagent"] + by["browseruse"])
    assert any(r.get("params", {}).get("max_tokens", 0) >= 8000 for r in by["textbook"])
    # the viral wave: free accounts all opened within two days
    made = sorted(x["created_at"] for x in map(json.loads, (a / "accounts.jsonl").read_text().splitlines())
                  if fam[x["account_id"]] == "viral")
    assert made and (datetime.fromisoformat(made[-1][:19]) - datetime.fromisoformat(made[0][:19])).days <= 2
    res = CliRunner().invoke(main, ["ingest", str(a / "exchanges.jsonl"), "--accounts", str(a / "accounts.jsonl"),
                                    "--db", str(tmp_path / "s.duckdb")])
    assert res.exit_code == 0, res.output
    assert f"stored {len(rows)}" in res.output and "rejected 0" in res.output


def test_round17_sizes_scrub_and_one_account_campaigns(corpora: Path, tmp_path: Path) -> None:
    _gen(corpora, tmp_path / "z", "--legit", "neutral", "--sizes", "1,3", "--scrub")
    for n in (1, 3):
        labels = ps.labels(tmp_path / "z" / f"size-{n}")
        for fam in FAMILIES:
            assert sum(r["campaign_id"] == f"r17-{fam}-n{n}" for r in labels) == n, (fam, n)
        rows = ps.rows(tmp_path / "z" / f"size-{n}")
        assert rows and all(r["ip"] == "" and r["user_agent"] == "" for r in rows)
