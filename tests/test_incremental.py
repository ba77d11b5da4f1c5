"""Incremental detection: ingest part 1 → detect --incremental → ingest part 2 → detect --incremental
gives what a full detect on everything gives; a failed update leaves the state as it was."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from distillguard.cli import main
from distillguard.detect import DetectConfig, detect_store
from distillguard.ingest import ingest_logs
from distillguard.store import Store
from handbuilt import batch_integration, campaign, legit_users, write_jsonl

FAST = DetectConfig(rich_report=False)
# features derived from wrapper ids / near-duplicate groups: fingerprints are batch-relative (a wrapper
# segment is one that repeats within the fingerprinted batch), so old texts keep the wrapper they got
# when first seen, while a full run re-derives them over all texts at once
WRAPPER_FEATURES = {"group_diversity"}
WRAPPER_KINDS = {"near-duplicate-template", "shared-wrapper", "lockstep-timing"}


def _records() -> list[dict[str, Any]]:
    # every account below features.FP_SAMPLE_PER_ACCOUNT distinct texts: a full run fingerprints a bounded
    # sample per account, the incremental state every text (docs/incremental.md)
    recs = (legit_users(40) + campaign(12) + campaign(8, seed=5, prefix="ring", ip=False, start_day=8)
            + batch_integration(per_account=100))
    return sorted(recs, key=lambda r: r["ts"])


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    d = tmp_path_factory.mktemp("incr")
    recs = _records()
    cut = recs[int(len(recs) * 0.7)]["ts"]
    return (write_jsonl([r for r in recs if r["ts"] < cut], d / "p1.jsonl"),
            write_jsonl([r for r in recs if r["ts"] >= cut], d / "p2.jsonl"), d)


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "accounts.csv", newline="") as f:
        return {r["account_id"]: r for r in csv.DictReader(f)}


def _partition(rows: dict[str, dict[str, str]]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for a, r in rows.items():
        if r["campaign_id"]:
            groups.setdefault(r["campaign_id"], set()).add(a)
    return {frozenset(g) for g in groups.values()}


@pytest.fixture(scope="module")
def runs(parts: tuple[Path, Path, Path]) -> tuple[Path, Path, Path, Path]:
    p1, p2, d = parts
    with Store.open(d / "inc.duckdb") as store:
        ingest_logs(store, [p1])
        first = detect_store(store, d / "inc1", FAST, incremental=True)
        ingest_logs(store, [p2])
        second = detect_store(store, d / "inc2", FAST, incremental=True)
    with Store.open(d / "full.duckdb") as store:
        ingest_logs(store, [p1, p2])
        detect_store(store, d / "full", FAST)
    assert first.accounts < second.accounts
    return d / "inc1", d / "inc2", d / "full", d / "inc.duckdb"


def test_incremental_equals_full(runs: tuple[Path, Path, Path, Path]) -> None:
    _, inc, full, _ = runs
    a, b = _rows(inc), _rows(full)
    assert set(a) == set(b)
    flagged = {k for k, r in b.items() if r["flagged"] == "true"}
    assert {k for k, r in a.items() if r["flagged"] == "true"} == flagged
    assert flagged >= {f"camp-{i:03d}" for i in range(12)}
    assert _partition(a) == _partition(b) and len(_partition(b)) >= 1
    assert max(abs(float(a[k]["score"]) - float(b[k]["score"])) for k in b) < 0.02


def test_incremental_features_and_links(runs: tuple[Path, Path, Path, Path]) -> None:
    _, inc, full, _ = runs
    fa, fb = pq.read_table(inc / "features.parquet"), pq.read_table(full / "features.parquet")
    assert fa["account_id"].to_pylist() == fb["account_id"].to_pylist()
    assert set(fa.column_names) == set(fb.column_names)
    for c in fb.column_names[1:]:
        if c in WRAPPER_FEATURES:
            continue
        x = np.asarray(fa[c].to_pylist(), float)
        y = np.asarray(fb[c].to_pylist(), float)
        assert np.allclose(x, y, atol=1e-9, equal_nan=True), c

    def keyed(t: pa.Table) -> dict[tuple[str, str, str], float]:
        return {(r["src"], r["dst"], r["kind"]): r["weight"] for r in t.to_pylist() if r["kind"] not in WRAPPER_KINDS}

    la, lb = keyed(pq.read_table(inc / "links.parquet")), keyed(pq.read_table(full / "links.parquet"))
    assert set(la) == set(lb) and len(lb) > 50
    assert max(abs(la[k] - lb[k]) for k in lb) < 1e-9


def test_update_touches_only_new_data(parts: tuple[Path, Path, Path], runs: tuple[Path, Path, Path, Path]) -> None:
    _, p2, _ = parts
    with Store.open(runs[3]) as store:
        last = dict(store.con.sql("SELECT key, value FROM dgi_meta WHERE starts_with(key, 'last_')").fetchall())
        new_rows = len(p2.read_text().splitlines())
        assert store.count("dgi_x") == store.count("exchanges")
        accounts = store.count("dgi_features")
    # the second update absorbed part 2 only, and recomputed the features of the accounts it touched
    assert int(last["last_exchanges"]) == new_rows and last["last_rebuilt"] == "0"
    assert 0 < int(last["last_affected"]) < accounts
    assert 0 < int(last["last_texts"]) <= new_rows


def test_no_new_data_is_a_cheap_rerun(runs: tuple[Path, Path, Path, Path], tmp_path: Path) -> None:
    _, inc, _, db = runs
    with Store.open(db) as store:
        res = detect_store(store, tmp_path / "again", FAST, incremental=True)
    assert _rows(tmp_path / "again") == _rows(inc)
    assert res.accounts == len(_rows(inc))


def test_failed_update_leaves_state_and_rerun_completes(parts: tuple[Path, Path, Path],
                                                        runs: tuple[Path, Path, Path, Path], tmp_path: Path) -> None:
    p1, p2, _ = parts

    def broken(wrappers: object) -> np.ndarray:
        # near-duplicate grouping runs after the new fingerprints were written to the state tables
        raise RuntimeError("simulated crash in the middle of the update")

    with Store.open(tmp_path / "s.duckdb") as store:
        ingest_logs(store, [p1])
        detect_store(store, tmp_path / "o1", FAST, incremental=True)
        before = {t: store.count(t) for t in ("dgi_x", "dgi_fp", "dgi_features", "dgi_u_template")}
        mark = store.con.sql("SELECT value FROM dgi_meta WHERE key = 'high_water'").fetchall()
        ingest_logs(store, [p2])
        with pytest.raises(RuntimeError, match="simulated crash"):
            detect_store(store, tmp_path / "o2", FAST, near_groups=broken, incremental=True)
        assert {t: store.count(t) for t in before} == before
        assert store.con.sql("SELECT value FROM dgi_meta WHERE key = 'high_water'").fetchall() == mark
        detect_store(store, tmp_path / "o2", FAST, incremental=True)
        assert store.count("dgi_x") == store.count("exchanges") > before["dgi_x"]
    assert _rows(tmp_path / "o2") == _rows(runs[1])


def test_cli_incremental(parts: tuple[Path, Path, Path], tmp_path: Path) -> None:
    p1, p2, _ = parts
    r = CliRunner().invoke(main, ["detect", str(p1), str(p2), "--db", str(tmp_path / "cli.duckdb"),
                                  "--out", str(tmp_path / "o"), "--incremental", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "flagged" in r.output and (tmp_path / "o" / "report.html").is_file()
    with Store.open(tmp_path / "cli.duckdb") as store:
        assert store.count("dgi_x") == store.count("exchanges")
    r = CliRunner().invoke(main, ["detect", str(p1), "--out", str(tmp_path / "o3"), "--incremental"])
    assert r.exit_code == 2 and "--db" in r.output
