"""The round-10 probe suite (`bench/probe_families.py --suite round10`) builds deterministically and labels
every family and kind; its log is accepted by `distillguard ingest`. Generator contract only, not detection.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from distillguard.cli import main

# isort: off
import probe_suite as ps  # first: it puts bench/ on the path
from probekit.attacks10b import FAMILIES
from probekit.legit10 import KINDS
# isort: on


def _gen(corpora: Path, out: Path, *args: str) -> Path:
    return ps.build("round10", 7, 0.03, corpora, out, *args)


def test_round10_is_deterministic_and_labels_every_family_and_kind(corpora: Path, tmp_path: Path) -> None:
    a = _gen(corpora, tmp_path / "a")
    b = _gen(corpora, tmp_path / "b")
    labels, rows = ps.check_builds(a, b, FAMILIES, KINDS, "r10")
    res = CliRunner().invoke(main, ["ingest", str(a / "exchanges.jsonl"), "--accounts", str(a / "accounts.jsonl"),
                                    "--db", str(tmp_path / "s.duckdb")])
    assert res.exit_code == 0, res.output
    assert f"stored {len(rows)}" in res.output and "rejected 0" in res.output


def test_round10_sizes_scrub_and_unknown_family(corpora: Path, tmp_path: Path) -> None:
    _gen(corpora, tmp_path / "z", "--legit", "course", "--families", "ladder,polyglot", "--sizes", "5,12",
         "--scrub")
    for n in (5, 12):
        labels = ps.labels(tmp_path / "z" / f"size-{n}")
        for fam in ("ladder", "polyglot"):
            assert sum(r["campaign_id"] == f"r10-{fam}-n{n}" for r in labels) == n
        rows = [json.loads(x) for x in (tmp_path / "z" / f"size-{n}" / "exchanges.jsonl").read_text().splitlines()]
        assert rows and all(r["ip"] == "" and r["user_agent"] == "" for r in rows)
    assert ps.probe_families.main(["--suite", "round10", "--list"]) == 0
    try:
        ps.probe_families.main(["--suite", "round10", "--families", "mimicry", "--data", str(corpora)])
    except SystemExit as e:  # a round-1 family is unknown to round 10
        assert "unknown family mimicry" in str(e)
    else:
        raise AssertionError("a round-1 family name was accepted by --suite round10")
