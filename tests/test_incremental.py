"""Incremental detection: ingest part 1 → detect --incremental (full run + snapshot) → ingest part 2 →
detect --incremental (the update) agrees with a full detect on everything; late accounts of a campaign join
its campaign; a failed update leaves the snapshot as it was."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from distillguard.cli import main
from distillguard.detection import DetectConfig, detect_store, incremental
from distillguard.detection.campaigns import CONTENT_KINDS
from distillguard.ingest import ingest_logs
from distillguard.store import Store
from handbuilt import batch_integration, campaign, legit_users, write_jsonl

FAST = DetectConfig()
LATE = [f"late-{i:03d}" for i in range(4)]
# group_diversity: a wrapper first seen by the update is its own near-duplicate group (the full run groups
# wrappers over all texts at once); gap_median: from log-scale bins of the gaps (feature_state)
APPROXIMATE = {"group_diversity", "gap_median"}


def _records() -> list[dict[str, Any]]:
    # every account below features.FP_SAMPLE_PER_ACCOUNT distinct texts: the update samples new texts as
    # the full run does, so the content features agree exactly
    recs = sorted(legit_users(40) + campaign(12) + campaign(8, seed=5, prefix="ring", ip=False, start_day=8)
                  + batch_integration(per_account=100), key=lambda r: r["ts"])
    # a text that the user who stopped earliest sent alone is sent again by another user at the end: the
    # update must recompute the first one's replayed_share too, though it sent nothing new
    ends = {r["account_id"]: r["ts"] for r in recs if r["account_id"].startswith("user-")}
    early = min(ends, key=ends.__getitem__)
    first = next(r for r in recs if r["account_id"] == early)
    last = datetime.fromisoformat(recs[-1]["ts"].replace("Z", "+00:00")) + timedelta(minutes=1)
    return recs + [{**first, "request_id": "replay-1", "account_id": "user-039" if early != "user-039" else "user-038",
                    "ts": last.isoformat().replace("+00:00", "Z")}]


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    d = tmp_path_factory.mktemp("incr")
    recs = _records()
    cut = recs[int(len(recs) * 0.7)]["ts"]
    # accounts first seen after the cut, sending the campaign's wrappers: the update must put them in it
    late = campaign(4, seed=7, prefix="late", ip=False, start_day=13)
    assert min(r["ts"] for r in late) > cut
    return (write_jsonl([r for r in recs if r["ts"] < cut], d / "p1.jsonl"),
            write_jsonl(sorted([r for r in recs if r["ts"] >= cut] + late, key=lambda r: r["ts"]), d / "p2.jsonl"), d)


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "accounts.csv", newline="") as f:
        return {r["account_id"]: r for r in csv.DictReader(f)}


def _flagged(rows: dict[str, dict[str, str]]) -> set[str]:
    return {k for k, r in rows.items() if r["flagged"] == "true"}


@pytest.fixture(scope="module")
def runs(parts: tuple[Path, Path, Path]) -> tuple[Path, Path, Path, Path]:
    p1, p2, d = parts
    with Store.open(d / "inc.duckdb") as store:
        ingest_logs(store, [p1])
        first = detect_store(store, d / "inc1", FAST, incremental=True)
        assert "snapshot" in first.timings
        ingest_logs(store, [p2])
        second = detect_store(store, d / "inc2", FAST, incremental=True)
        assert "snapshot" not in second.timings and "fingerprints" in second.timings
    with Store.open(d / "full.duckdb") as store:
        ingest_logs(store, [p1, p2])
        detect_store(store, d / "full", FAST)
    assert first.accounts < second.accounts
    return d / "inc1", d / "inc2", d / "full", d / "inc.duckdb"


def test_update_agrees_with_full(runs: tuple[Path, Path, Path, Path]) -> None:
    _, inc, full, _ = runs
    a, b = _rows(inc), _rows(full)
    assert set(a) == set(b)
    assert _flagged(b) >= {f"camp-{i:03d}" for i in range(12)} | set(LATE)
    assert _flagged(a) == _flagged(b)
    assert not {k for k in _flagged(a) if k.startswith("user-")}


def test_late_accounts_join_the_campaign(runs: tuple[Path, Path, Path, Path]) -> None:
    first, inc, _, _ = runs
    assert not set(LATE) & set(_rows(first))
    a = _rows(inc)
    camp = {a[f"camp-{i:03d}"]["campaign_id"] for i in range(12)}
    assert len(camp) == 1 and "" not in camp
    assert {a[x]["campaign_id"] for x in LATE} == camp
    assert all(a[x]["reasons"].split(";")[0] in CONTENT_KINDS for x in LATE)
    # the campaign record counts its new members and their exchanges
    import json

    rec = {c["campaign_id"]: c for c in json.loads((inc / "campaigns.json").read_text())}[camp.pop()]
    members = [k for k, r in a.items() if r["campaign_id"] == rec["campaign_id"]]
    assert rec["accounts"] == len(members)


def test_update_features_equal_full(runs: tuple[Path, Path, Path, Path]) -> None:
    _, inc, full, _ = runs
    fa, fb = pq.read_table(inc / "features.parquet"), pq.read_table(full / "features.parquet")
    assert fa["account_id"].to_pylist() == fb["account_id"].to_pylist()
    assert fa.column_names == fb.column_names
    # (the share of traffic each member was judged on is the snapshot's until the next full run)
    for c in [c for c in fb.column_names[1:] if not c.startswith("shared_")]:
        x = np.asarray(fa[c].to_pylist(), float)
        y = np.asarray(fb[c].to_pylist(), float)
        if c in APPROXIMATE:
            assert np.allclose(x, y, rtol=0.05, atol=0.05, equal_nan=True), c
        else:
            assert np.allclose(x, y, rtol=1e-9, atol=1e-9, equal_nan=True), c


def test_update_touches_only_new_data(parts: tuple[Path, Path, Path], runs: tuple[Path, Path, Path, Path]) -> None:
    _, p2, _ = parts
    with Store.open(runs[3]) as store:
        meta = dict(store.con.sql("SELECT key, value FROM dgd_meta").fetchall())
        accounts = store.count("dgd_features")
        assert int(meta["high_water"]) == store.count("exchanges")
    assert int(meta["last_exchanges"]) == len(p2.read_text().splitlines())
    assert 0 < int(meta["last_accounts"]) < accounts
    assert int(meta["last_joined"]) >= len(LATE)


def test_no_new_data_is_a_cheap_rerun(runs: tuple[Path, Path, Path, Path], tmp_path: Path) -> None:
    _, inc, _, db = runs
    with Store.open(db) as store:
        res = detect_store(store, tmp_path / "again", FAST, incremental=True)
    assert _rows(tmp_path / "again") == _rows(inc)
    assert res.accounts == len(_rows(inc))


def test_failed_update_leaves_snapshot_and_rerun_completes(parts: tuple[Path, Path, Path],
                                                           runs: tuple[Path, Path, Path, Path], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    p1, p2, _ = parts
    with Store.open(tmp_path / "s.duckdb") as store:
        ingest_logs(store, [p1])
        detect_store(store, tmp_path / "o1", FAST, incremental=True)
        tables = [t for (t,) in store.con.sql("SELECT table_name FROM duckdb_tables() WHERE NOT temporary "
                                              "AND starts_with(table_name, 'dgd_')").fetchall()]
        before = {t: store.con.sql(f"SELECT count(*), hash(string_agg(CAST(x AS VARCHAR), '|' ORDER BY "
                                   f"CAST(x AS VARCHAR))) FROM {t} x").fetchall() for t in tables}
        ingest_logs(store, [p2])

        def crash(*args: object, **kwargs: object) -> None:
            # scoring runs after the new rows were merged into every state table
            raise RuntimeError("simulated crash in the middle of the update")

        monkeypatch.setattr(incremental, "score_accounts", crash)
        with pytest.raises(RuntimeError, match="simulated crash"):
            detect_store(store, tmp_path / "o2", FAST, incremental=True)
        monkeypatch.undo()
        after = {t: store.con.sql(f"SELECT count(*), hash(string_agg(CAST(x AS VARCHAR), '|' ORDER BY "
                                  f"CAST(x AS VARCHAR))) FROM {t} x").fetchall() for t in tables}
        assert after == before and len(tables) >= 8
        detect_store(store, tmp_path / "o2", FAST, incremental=True)
    assert _rows(tmp_path / "o2") == _rows(runs[1])


def test_cli_incremental(parts: tuple[Path, Path, Path], tmp_path: Path) -> None:
    p1, p2, _ = parts
    db, out = str(tmp_path / "cli.duckdb"), str(tmp_path / "o")
    r = CliRunner().invoke(main, ["detect", str(p1), "--db", db, "--out", out, "--incremental", "--quiet"])
    assert r.exit_code == 0, r.output
    # another flag target is still an update (the update recomputes the threshold)
    r = CliRunner().invoke(main, ["detect", str(p2), "--db", db, "--out", out, "--incremental", "--fpr-target", "0.01"])
    assert r.exit_code == 0, r.output
    assert "flagged" in r.output and "snapshot" not in r.output and (tmp_path / "o" / "report.html").is_file()
    r = CliRunner().invoke(main, ["detect", "--db", db, "--out", out, "--incremental", "--rebuild"])
    assert r.exit_code == 0 and "snapshot" in r.output, r.output
    r = CliRunner().invoke(main, ["detect", str(p1), "--out", str(tmp_path / "o3"), "--incremental"])
    assert r.exit_code == 2 and "--db" in r.output
    r = CliRunner().invoke(main, ["detect", "--db", db, "--out", out, "--rebuild"])
    assert r.exit_code == 2 and "--incremental" in r.output
