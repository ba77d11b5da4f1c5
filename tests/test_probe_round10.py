"""The round-10 probe suite (`bench/probe_families.py --suite round10`) builds deterministically and labels
every family and kind; its log is accepted by `distillguard ingest`. Generator contract only, not detection.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from click.testing import CliRunner

from distillguard.cli import main

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import probe_families  # noqa: E402
from probekit.attacks10b import FAMILIES  # noqa: E402
from probekit.legit10 import KINDS  # noqa: E402


def _gen(corpora: Path, out: Path, *args: str) -> Path:
    assert probe_families.main(["--suite", "round10", "--seed", "7", "--scale", "0.03", "--data", str(corpora),
                                "--out", str(out), *args]) == 0
    return out


def _labels(p: Path) -> list[dict]:
    with open(p / "labels.csv") as f:
        return list(csv.DictReader(f))


def test_round10_is_deterministic_and_labels_every_family_and_kind(corpora: Path, tmp_path: Path) -> None:
    a = _gen(corpora, tmp_path / "a")
    b = _gen(corpora, tmp_path / "b")
    for name in ("exchanges.jsonl", "accounts.jsonl", "labels.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    labels = _labels(a)
    camp = [r for r in labels if r["actor"].startswith("campaign:")]
    assert {r["family"] for r in camp} == set(FAMILIES)
    assert {r["family"] for r in labels if r["actor"].startswith("legit:")} == set(KINDS)
    assert all(r["campaign_id"] == f"r10-{r['family']}" for r in camp)
    assert all(not r["campaign_id"] for r in labels if r["actor"].startswith("legit:"))
    rows = [json.loads(x) for x in (a / "exchanges.jsonl").read_text().splitlines()]
    ids = [r["account_id"] for r in labels]
    assert len(ids) == len(set(ids)) and set(ids) == {r["account_id"] for r in rows}
    res = CliRunner().invoke(main, ["ingest", str(a / "exchanges.jsonl"), "--accounts", str(a / "accounts.jsonl"),
                                    "--db", str(tmp_path / "s.duckdb")])
    assert res.exit_code == 0, res.output
    assert f"stored {len(rows)}" in res.output and "rejected 0" in res.output


def test_round10_sizes_scrub_and_unknown_family(corpora: Path, tmp_path: Path) -> None:
    _gen(corpora, tmp_path / "z", "--legit", "course", "--families", "ladder,polyglot", "--sizes", "5,12",
         "--scrub")
    for n in (5, 12):
        labels = _labels(tmp_path / "z" / f"size-{n}")
        for fam in ("ladder", "polyglot"):
            assert sum(r["campaign_id"] == f"r10-{fam}-n{n}" for r in labels) == n
        rows = [json.loads(x) for x in (tmp_path / "z" / f"size-{n}" / "exchanges.jsonl").read_text().splitlines()]
        assert rows and all(r["ip"] == "" and r["user_agent"] == "" for r in rows)
    assert probe_families.main(["--suite", "round10", "--list"]) == 0
    try:
        probe_families.main(["--suite", "round10", "--families", "mimicry", "--data", str(corpora)])
    except SystemExit as e:  # a round-1 family is unknown to round 10
        assert "unknown family mimicry" in str(e)
    else:
        raise AssertionError("a round-1 family name was accepted by --suite round10")
