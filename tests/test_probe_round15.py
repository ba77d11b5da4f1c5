"""The round-15 probe suite (`bench/probe_families.py --suite round15`) builds deterministically, labels every
family and kind, scrubs and resizes like the other suites, and its log is accepted by `distillguard ingest`.
Generator contract only, not detection.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

from distillguard.cli import main

# isort: off
import probe_suite as ps  # first: it puts bench/ on the path
from probekit.attacks15 import FAMILIES
from probekit.legit15 import KINDS
# isort: on


def _gen(corpora: Path, out: Path, *args: str) -> Path:
    return ps.build("round15", 15, 0.04, corpora, out, *args)


def test_round15_is_deterministic_labels_everything_and_ingests(corpora: Path, tmp_path: Path) -> None:
    a = _gen(corpora, tmp_path / "a")
    b = _gen(corpora, tmp_path / "b")
    labels, rows = ps.check_builds(a, b, FAMILIES, KINDS, "r15")
    fam = {r["account_id"]: r["family"] for r in labels}
    # the model plays the tools for simenv: tool results fed back, and requests that ask for a mock response
    sim = [r for r in rows if fam[r["account_id"]] == "simenv"]
    assert any(m["role"] == "tool" for r in sim for m in r.get("messages") or [])
    # formatlock: no instruction wording shared by two accounts, one answer layout for all
    fl = [r for r in rows if fam[r["account_id"]] == "formatlock"]
    instr = {}
    for r in fl:
        m = r["messages"]
        instr.setdefault(r["account_id"], m[0]["content"] if m[0]["role"] == "system" else
                         m[-1]["content"].rsplit("\n\n", 1)[-1])
    assert len(set(instr.values())) == len(instr) >= 2
    assert all(set(json.loads(r["completion"])) == {"reasoning", "answer"} for r in fl if "completion" in r)
    # drift: one template per epoch shared by the accounts, several epochs over the fortnight
    sys_by_day = Counter((r["ts"][:10], r["messages"][0]["content"]) for r in rows
                         if fam[r["account_id"]] == "drift" and r["messages"][0]["role"] == "system")
    assert len({s for _, s in sys_by_day}) >= 2
    # drip: at most five requests an account a day
    per_day = Counter((r["account_id"], r["ts"][:10]) for r in rows if fam[r["account_id"]] == "drip")
    assert per_day and max(per_day.values()) <= 10  # 2-5 a local day; a local day straddles two UTC dates
    res = CliRunner().invoke(main, ["ingest", str(a / "exchanges.jsonl"), "--accounts", str(a / "accounts.jsonl"),
                                    "--db", str(tmp_path / "s.duckdb")])
    assert res.exit_code == 0, res.output
    assert f"stored {len(rows)}" in res.output and "rejected 0" in res.output


def test_round15_sizes_scrub_and_one_account_campaigns(corpora: Path, tmp_path: Path) -> None:
    _gen(corpora, tmp_path / "z", "--legit", "sweep", "--sizes", "1,7", "--scrub")
    for n in (1, 7):
        labels = ps.labels(tmp_path / "z" / f"size-{n}")
        for fam in FAMILIES:
            assert sum(r["campaign_id"] == f"r15-{fam}-n{n}" for r in labels) == n, (fam, n)
        rows = ps.rows(tmp_path / "z" / f"size-{n}")
        assert rows and all(r["ip"] == "" and r["user_agent"] == "" for r in rows)
