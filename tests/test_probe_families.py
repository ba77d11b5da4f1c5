"""The probe generator (bench/probe_families.py) writes logs that `distillguard ingest` accepts, deterministically.

These check the generator's output contract only, not detection quality.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from distillguard.cli import main

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import probe_families  # noqa: E402


def _gen(corpora: Path, out: Path, *args: str) -> Path:
    assert probe_families.main(["--seed", "3", "--scale", "0.03", "--data", str(corpora), "--out", str(out),
                                *args]) == 0
    return out


def _rows(p: Path) -> list[dict]:
    return [json.loads(x) for x in (p / "exchanges.jsonl").read_text().splitlines()]


def test_probe_ingests_without_rejects_and_labels_every_account(corpora: Path, tmp_path: Path) -> None:
    out = _gen(corpora, tmp_path / "p")
    rows = _rows(out)
    res = CliRunner().invoke(main, ["ingest", str(out / "exchanges.jsonl"), "--accounts",
                                    str(out / "accounts.jsonl"), "--db", str(tmp_path / "s.duckdb")])
    assert res.exit_code == 0, res.output
    assert f"rows read {len(rows)}" in res.output and f"stored {len(rows)}" in res.output
    assert "rejected 0" in res.output
    with open(out / "labels.csv") as f:
        labels = list(csv.DictReader(f))
    ids = [r["account_id"] for r in labels]
    assert len(ids) == len(set(ids)) and set(ids) == {r["account_id"] for r in rows}
    fams = {r["family"] for r in labels if r["actor"].startswith("campaign:")}
    assert fams == set(probe_families.FAMILIES)
    assert all(bool(r["campaign_id"]) == r["actor"].startswith("campaign:") for r in labels)
    assert any(m["role"] == "tool" for r in rows for m in r.get("messages") or [])


def test_same_seed_same_bytes_and_families_are_independent(corpora: Path, tmp_path: Path) -> None:
    a = _gen(corpora, tmp_path / "a", "--legit", "chat,app-users")
    b = _gen(corpora, tmp_path / "b", "--legit", "chat,app-users")
    assert (a / "exchanges.jsonl").read_bytes() == (b / "exchanges.jsonl").read_bytes()
    only = _gen(corpora, tmp_path / "only", "--legit", "none", "--families", "rubric")
    with open(a / "labels.csv") as f:
        rubric_ids = {r["account_id"] for r in csv.DictReader(f) if r["family"] == "rubric"}
    assert [r for r in _rows(a) if r["account_id"] in rubric_ids] == _rows(only)


def test_scrub_blanks_network_fields(corpora: Path, tmp_path: Path) -> None:
    out = _gen(corpora, tmp_path / "s", "--scrub", "--legit", "chat", "--families", "mimicry,hydra")
    rows = _rows(out)
    assert rows and all(r["ip"] == "" and r["user_agent"] == "" for r in rows)
    assert all(json.loads(x)["signup_ip"] == "" for x in (out / "accounts.jsonl").read_text().splitlines())


def test_sizes_write_one_folder_per_size(corpora: Path, tmp_path: Path) -> None:
    _gen(corpora, tmp_path / "z", "--legit", "none", "--families", "hydra", "--sizes", "20,50")
    for n in (20, 50):
        with open(tmp_path / "z" / f"size-{n}" / "labels.csv") as f:
            assert sum(1 for r in csv.DictReader(f) if r["campaign_id"] == f"pf-hydra-n{n}") == n


def test_unknown_family_is_a_clear_error(corpora: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unknown family nope"):
        probe_families.main(["--families", "nope", "--data", str(corpora), "--out", str(tmp_path)])


def test_odd_records_are_ingested_or_rejected_with_a_reason(corpora: Path, tmp_path: Path) -> None:
    out = _gen(corpora, tmp_path / "o", "--legit", "chat", "--families", "hydra", "--odd", "60")
    plain = _gen(corpora, tmp_path / "p", "--legit", "chat", "--families", "hydra")
    n_odd = len((out / "exchanges.jsonl").read_text().splitlines())
    assert n_odd == len(_rows(plain)) + 60
    res = CliRunner().invoke(main, ["ingest", str(out / "exchanges.jsonl"), "--db", str(tmp_path / "s.duckdb")])
    assert res.exit_code == 0, res.output
    assert "rejected 0" not in res.output and "duplicates 0" not in res.output
