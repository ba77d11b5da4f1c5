"""feature_state: create from part 1, absorb part 2 → the feature rows FEATURES_SQL computes over everything."""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from distillguard.detection import feature_state, features
from distillguard.errors import StoreError
from distillguard.fingerprints.texts import fingerprint_texts
from distillguard.ingest import ingest_accounts, ingest_logs
from distillguard.store import Store
from handbuilt import T0, _rec, batch_integration, campaign, legit_users, write_jsonl

SPLIT = T0 + timedelta(days=25)    # test_two_chunks_equal_one absorbs part 2 before and after this time
POOL = [f"Shared prompt number {i}: translate the word '{w}' into French." for i, w in enumerate(("cat", "sun", "sea"))]
MEDIAN_BOUND = math.exp(1 / (2 * feature_state.BIN_SCALE)) - 1   # relative to (1 + median)


def _fingerprint(texts: pa.Array) -> pa.Table:
    # per-text fingerprints (no batch-relative wrapper ids): part 1's fingerprints are those of a full run
    return fingerprint_texts(texts).select(["template_id", "skeleton", "capability", "cot", "structured"])


def _near_groups(skeletons: Sequence[str]) -> np.ndarray:
    return np.array([zlib.crc32(s.encode()) % 500 for s in skeletons], np.int64)  # groups of < 20


def _records() -> tuple[list[dict[str, Any]], str]:
    base = (legit_users(12) + campaign(6) + campaign(4, seed=5, prefix="ring", ip=False, start_day=8)
            + batch_integration(per_account=60))
    cut = sorted(r["ts"] for r in base)[int(len(base) * 0.7)]
    late = T0 + timedelta(days=20)
    extra = []
    # replayed texts: sent by several accounts, one of them by a single account until part 2
    for a in range(3):
        for i in range(4):
            extra.append(_rec(f"rep{a}-{i}", T0 + timedelta(days=a + i * 6, minutes=a), f"rep-{a:03d}", POOL[i % 3]))
    extra += [_rec(f"own-{i}", T0 + timedelta(hours=i), "own-000", "A prompt only I send, until later.")
              for i in range(3)]
    extra += [_rec("own-late", late, "own-000", "A prompt only I send, until later."),
              _rec("copy-late", SPLIT + timedelta(hours=1), "copy-000", "A prompt only I send, until later.")]
    # one-exchange accounts, tool use, no sampling parameters, repeated timestamps
    extra += [_rec("solo-0", T0, "solo-000", "Just once."),
              _rec("solo-1", late, "solo-001", "Only later, once."),
              _rec("solo-2a", T0 + timedelta(days=1), "solo-002", "Once before."),
              _rec("solo-2b", late, "solo-002", "And twice after."),
              _rec("solo-2c", late, "solo-002", "And twice after, again.")]
    tools = [_rec(f"tool-{i}", T0 + timedelta(days=i, seconds=3 * i), "tool-000", f"Look up the weather in city {i}",
                  params={"max_tokens": 100 * i} if i % 2 else {}) for i in range(16)]
    for i, r in enumerate(tools):
        if i % 3:
            r["tools"] = ["weather_lookup"]
    # gaps 10, 10.02 (one bin) and 100: the median is the largest gap of its bin, kept exactly
    extra += [_rec(f"med-{i}", T0 + timedelta(days=3, seconds=x), "med-000", f"Median case {i}")
              for i, x in enumerate((0, 10, 20.02, 120.02))]
    # gaps spread over far more bins than the median window, on both sides of the cut
    rng = random.Random(7)
    gaps = [math.exp(rng.uniform(0, 8)) for _ in range(204)]
    t = _ts(cut) - timedelta(seconds=sum(gaps[:200]) + 0.5)
    for i, g in enumerate(gaps):
        t += timedelta(seconds=g)
        extra.append(_rec(f"wide-{i}", t, "wide-000", f"Spread {i}"))
    # the median jumps far from its bin: 30 gaps of 2 s before the cut, 60 of 1000 s after
    jump = _ts(cut) - timedelta(seconds=61)
    extra += [_rec(f"jump-{i}", jump + timedelta(seconds=2 * min(i, 30) + 1000 * max(i - 30, 0)), "jump-000",
                   f"Jump {i}") for i in range(91)]
    # the same minute on both sides of the cut
    edge = [_rec(f"edge-{k}", _ts(cut) + timedelta(seconds=k), "edge-000", f"Edge case {k}") for k in (-2, -1, 0, 1)]
    return sorted(base + extra + tools + edge, key=lambda r: r["ts"]), cut


def _ts(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


ACCOUNTS = "account_id,created_at\ncamp-000,2026-04-01T00:00:00Z\nsolo-002,2026-04-30T12:00:00Z\nuser-001,2026-01-01\n"


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    d = tmp_path_factory.mktemp("fstate")
    recs, cut = _records()
    (d / "acc.csv").write_text(ACCOUNTS)
    return (write_jsonl([r for r in recs if r["ts"] < cut], d / "p1.jsonl"),
            write_jsonl([r for r in recs if r["ts"] >= cut], d / "p2.jsonl"), d / "acc.csv")


def _prepare(con: duckdb.DuckDBPyConnection, keep: str) -> None:
    """The full run's work tables, every text fingerprinted, then only the texts matching `keep` kept."""
    features.prepare(con, fingerprint=_fingerprint, near_groups=_near_groups, sample_per_account=None)
    con.execute(f"CREATE OR REPLACE TEMP TABLE dg_fp_keep AS SELECT * FROM dg_fp WHERE {keep}")
    con.execute("CREATE OR REPLACE TEMP TABLE dg_fp AS SELECT * FROM dg_fp_keep")
    con.execute(features.TASK_SQL)    # the tasks of the texts kept


def _run(logs: tuple[Path, Path, Path], db: Path, keep: str,
         splits: tuple[str, ...] = ()) -> tuple[pa.Table, pa.Table, int]:
    """(state features after create + absorbing part 2 split at the times `splits`, FEATURES_SQL over
    everything, accounts touched)."""
    p1, p2, acc = logs
    touched = 0
    with Store.open(db) as store:
        con = store.con
        ingest_accounts(store, acc)
        ingest_logs(store, [p1])
        _prepare(con, keep)
        feature_state.create(con)
        mark = con.sql("SELECT max(rowid) + 1 FROM exchanges").fetchall()[0][0]
        ingest_logs(store, [p2])
        top = con.sql("SELECT max(rowid) + 1 FROM exchanges").fetchall()[0][0]
        _prepare(con, keep)    # dg_fp over every text (and the reference's dg_x)
        bounds = ["-infinity", *splits, "infinity"]
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            src = (f"(SELECT * FROM exchanges WHERE rowid >= {mark} AND rowid < {top} "
                   f"AND ts >= '{lo}'::TIMESTAMPTZ AND ts < '{hi}'::TIMESTAMPTZ)")
            con.execute(f"CREATE OR REPLACE TEMP TABLE new_x AS {features.slim_select(src)}")
            if splits:    # inside a transaction, after one rolled back
                for end in ("ROLLBACK", "COMMIT"):
                    con.execute("BEGIN TRANSACTION")
                    n = feature_state.absorb(con, "new_x")
                    con.execute(end)
                touched += n
            else:
                touched += feature_state.absorb(con, "new_x")
        got = feature_state.features(con)
        ref = features.account_features(con)
        if splits:   # the append-only tables hold several rows of some keys: folding them changes nothing
            feature_state.compact(con)
            _assert_same(feature_state.features(con), got, 0.0)
        # the merged per-account state is the one a build over everything gives (the median pointer too)
        merged = con.sql("SELECT * EXCLUDE (g_mean, g_m2, t_mean, t_m2) FROM dgd_f_acc ORDER BY account_id").fetchall()
        feature_state.create(con)
        built = con.sql("SELECT * EXCLUDE (g_mean, g_m2, t_mean, t_m2) FROM dgd_f_acc ORDER BY account_id").fetchall()
        assert [_rounded(r) for r in merged] == [_rounded(r) for r in built]
        names = {t for (t,) in con.sql("SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()}
        assert set(feature_state.STATE_TABLES) <= names
        assert not [n for (n,) in con.sql("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
                    if n.startswith("dgd_")]
    return got, ref, touched


def _rounded(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(round(v, 6) if isinstance(v, float) else v for v in row)


def _assert_same(got: pa.Table, ref: pa.Table, median_bound: float) -> None:
    assert got.schema.names == ref.schema.names
    assert [f.type for f in got.schema] == [f.type for f in ref.schema]
    assert got["account_id"].to_pylist() == ref["account_id"].to_pylist()
    bad = []
    for name in ref.schema.names:
        for acc, g, r in zip(ref["account_id"].to_pylist(), got[name].to_pylist(), ref[name].to_pylist(), strict=True):
            if g is None or r is None or isinstance(r, str):
                ok = g == r
            elif name == "gap_median":
                ok = abs(g - r) <= median_bound * (1 + r) + 1e-9
            else:
                ok = math.isclose(g, r, rel_tol=1e-9, abs_tol=1e-9) or (math.isnan(g) and math.isnan(r))
            if not ok:
                bad.append((acc, name, g, r))
    assert not bad, bad[:20]


def test_absorb_equals_full_features(logs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    got, ref, touched = _run(logs, tmp_path / "a.duckdb", "true")
    _assert_same(got, ref, MEDIAN_BOUND)
    rows = {r["account_id"]: r for r in ref.to_pylist()}
    # the log exercises what is hard to merge
    assert rows["solo-000"]["gap_mean"] is None and rows["solo-001"]["exchanges"] == 1
    assert rows["solo-002"]["exchanges"] == 3 and rows["solo-002"]["account_age_days"] is not None
    assert rows["own-000"]["replayed_share"] == 1.0 and rows["copy-000"]["replayed_share"] == 1.0
    assert 0 < rows["rep-000"]["replayed_share"] <= 1 and rows["tool-000"]["cap_tool_use"] > 0.5
    assert 0 < rows["tool-000"]["no_max_tokens_share"] < 1 and rows["tool-000"]["temperature_std"] is None
    assert rows["batch-000"]["gap_std"] == pytest.approx(0) and touched > 10
    # medians: within the bound, exact when the middle gap is the first or last of its bin
    medians = dict(zip(got["account_id"].to_pylist(), got["gap_median"].to_pylist(), strict=True))
    assert medians["batch-000"] == 420.0
    assert rows["med-000"]["gap_median"] == pytest.approx(10.02)
    assert medians["med-000"] == pytest.approx(rows["med-000"]["gap_median"], rel=1e-12)


def test_texts_not_fingerprinted(logs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """A text absent from dg_fp counts in the volume features but not in the content shares."""
    got, ref, _ = _run(logs, tmp_path / "b.duckdb", "text_hash % 3 <> 0")
    _assert_same(got, ref, MEDIAN_BOUND)
    # FEATURES_SQL leaves out an account none of whose texts is fingerprinted (so does the state)
    assert set(ref["account_id"].to_pylist()) < {r["account_id"] for r in _records()[0]}


def test_two_chunks_equal_one(logs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    one, _, _ = _run(logs, tmp_path / "c1.duckdb", "true")
    # own-000's text grows in the first chunk and is replayed by copy-000 in the last one
    two, ref, _ = _run(logs, tmp_path / "c2.duckdb", "true", ((T0 + timedelta(days=12)).isoformat(), SPLIT.isoformat()))
    _assert_same(two, one, 0.0)
    _assert_same(two, ref, MEDIAN_BOUND)


def test_no_state(tmp_path: Path) -> None:
    with Store.open(tmp_path / "e.duckdb") as store, pytest.raises(StoreError, match="full `distillguard detect`"):
        feature_state.features(store.con)


def test_features_of_some_accounts(logs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    p1, _, acc = logs
    with Store.open(tmp_path / "d.duckdb") as store:
        ingest_accounts(store, acc)
        ingest_logs(store, [p1])
        _prepare(store.con, "true")
        feature_state.create(store.con)
        ref = features.account_features(store.con)
        store.con.execute("CREATE TEMP TABLE want AS SELECT * FROM (VALUES ('user-001'), ('camp-000'), ('nobody')) "
                          "t(account_id)")
        some = feature_state.features(store.con, "want")
        _assert_same(feature_state.features(store.con), ref, MEDIAN_BOUND)
    assert some["account_id"].to_pylist() == ["camp-000", "user-001"]


def test_default_prepare(tmp_path: Path) -> None:
    """After a full run's default prepare (sampled fingerprints, the cache), the state gives its features."""
    from handbuilt import prepared_store

    recs, _ = _records()
    with prepared_store(recs, tmp_path, ACCOUNTS) as store:
        feature_state.create(store.con)
        _assert_same(feature_state.features(store.con), features.account_features(store.con), MEDIAN_BOUND)
