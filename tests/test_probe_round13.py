"""The round-13 probe suite (`bench/probe_families.py --suite round13`) builds deterministically, labels every
family and kind, scrubs and resizes like the other suites, and its log is accepted by `distillguard ingest`.
Generator contract only, not detection.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from distillguard.cli import main

# isort: off
import probe_suite as ps  # first: it puts bench/ on the path
from probekit.attacks13 import FAMILIES
from probekit.legit13 import KINDS
# isort: on


def _gen(corpora: Path, out: Path, *args: str) -> Path:
    return ps.build("round13", 13, 0.04, corpora, out, *args)


def test_round13_is_deterministic_labels_everything_and_ingests(corpora: Path, tmp_path: Path) -> None:
    a = _gen(corpora, tmp_path / "a")
    b = _gen(corpora, tmp_path / "b")
    labels, rows = ps.check_builds(a, b, FAMILIES, KINDS, "r13")
    assert any(m["role"] == "tool" for r in rows for m in r.get("messages") or [])  # agent sessions carry results
    assert any("prompt" in r for r in rows)  # and one bootstrap solver speaks the completions endpoint
    res = CliRunner().invoke(main, ["ingest", str(a / "exchanges.jsonl"), "--accounts", str(a / "accounts.jsonl"),
                                    "--db", str(tmp_path / "s.duckdb")])
    assert res.exit_code == 0, res.output
    assert f"stored {len(rows)}" in res.output and "rejected 0" in res.output


def test_round13_sizes_scrub_and_one_account_campaigns(corpora: Path, tmp_path: Path) -> None:
    _gen(corpora, tmp_path / "z", "--legit", "classroom", "--sizes", "1,7", "--scrub")
    for n in (1, 7):
        labels = ps.labels(tmp_path / "z" / f"size-{n}")
        for fam in FAMILIES:
            assert sum(r["campaign_id"] == f"r13-{fam}-n{n}" for r in labels) == n, (fam, n)
        rows = ps.rows(tmp_path / "z" / f"size-{n}")
        assert rows and all(r["ip"] == "" and r["user_agent"] == "" for r in rows)
