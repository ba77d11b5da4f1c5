"""Helpers of the probe suites' generator-contract tests: build a suite into a folder, read its labels and log."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import probe_families  # noqa: E402


def build(suite: str, seed: int, scale: float, corpora: Path, out: Path, *args: str) -> Path:
    """`bench/probe_families.py --suite SUITE --seed SEED --scale SCALE ... ARGS` into `out`."""
    assert probe_families.main(["--suite", suite, "--seed", str(seed), "--scale", str(scale), "--data",
                                str(corpora), "--out", str(out), *args]) == 0
    return out


def labels(p: Path) -> list[dict]:
    with open(p / "labels.csv") as f:
        return list(csv.DictReader(f))


def rows(p: Path) -> list[dict]:
    """The exchange records of `p/exchanges.jsonl` (split on newlines only: texts may hold U+2028)."""
    return [json.loads(x) for x in (p / "exchanges.jsonl").read_bytes().split(b"\n") if x]


def check_builds(a: Path, b: Path, families: object, kinds: object, prefix: str) -> tuple[list[dict], list[dict]]:
    """Two builds of one seed are byte-identical, every family and kind is labelled, campaign ids are
    `prefix-<family>` (none for legitimate kinds) and every labelled account is in the log, once. Returns the
    labels and the log records of `a`."""
    for name in ("exchanges.jsonl", "accounts.jsonl", "labels.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    lab = labels(a)
    camp = [r for r in lab if r["actor"].startswith("campaign:")]
    assert {r["family"] for r in camp} == set(families)  # type: ignore[call-overload]
    assert {r["family"] for r in lab if r["actor"].startswith("legit:")} == set(kinds)  # type: ignore[call-overload]
    assert all(r["campaign_id"] == f"{prefix}-{r['family']}" for r in camp)
    assert all(not r["campaign_id"] for r in lab if r["actor"].startswith("legit:"))
    log = rows(a)
    ids = [r["account_id"] for r in lab]
    assert len(ids) == len(set(ids)) and set(ids) == {r["account_id"] for r in log}
    return lab, log
