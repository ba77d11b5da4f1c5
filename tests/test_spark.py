"""The relational stages on Apache Spark (local mode) agree with DuckDB on mixed-small: features, links,
flags, campaigns. One simulated log, one detection per engine, shared by the tests of this module."""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import SHARED_DATA
from distillguard.detection import DetectConfig, detect_logs
from distillguard.detection.features import account_orgs
from distillguard.detection.spark import SparkEngine, SparkSettings, read_exchanges, ship_to_spark, spark_builder
from distillguard.store import Store

pytest.importorskip("pyspark")
pytest.importorskip("sqlglot")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs a Java runtime (java on PATH)")]

# Test-only JVM/SQL settings for tiny data on a busy 2-core machine: the C1 JIT only and no code
# generation (a short-lived driver spends most of its time compiling), no adaptive re-planning, one
# shuffle partition. Production keeps Spark's defaults (distillguard.detection.spark.spark_builder).
_TEST_CONF = {
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.sql.adaptive.enabled": "false",
}


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One local Spark session for the module; `detect --engine spark` uses it and leaves it running."""
    builder = spark_builder("local[2]", "distillguard-tests", partitions=1)
    for k, v in _TEST_CONF.items():
        builder = builder.config(k, v)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def runs(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """mixed-small (scale 0.1, seed 3), with agents whose tool results are other accounts' completions beside it,
    detected on DuckDB and on Spark from one store: the two output folders. (One Spark run for the module: each
    costs minutes on two cores.)"""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"corpora not found at {SHARED_DATA}")
    from distillguard.simulate import get_scenario, load_corpora, simulate
    from handbuilt import write_jsonl
    from test_provenance import bystanders, simulated_tools

    tmp = tmp_path_factory.mktemp("spark")
    sim = tmp / "sim"
    simulate(get_scenario("mixed-small"), 0.1, 3, load_corpora(SHARED_DATA), sim, completions="none")
    recycled = write_jsonl(simulated_tools() + bystanders(), tmp / "recycled.jsonl")
    cfg = DetectConfig()
    db = tmp / "store.duckdb"
    detect_logs([sim / "exchanges.parquet", recycled], tmp / "duck", accounts=sim / "accounts.parquet", db=db,
                config=cfg)
    detect_logs([], tmp / "spark", db=db, config=cfg, engine="spark")
    assert not spark.sparkContext._jsc.sc().isStopped(), "an application's own session must be left running"
    return tmp / "duck", tmp / "spark"


def test_same_flags_and_campaigns_on_mixed_small(runs: tuple[Path, Path]) -> None:
    duck, spark = runs
    fd, cd = _accounts(duck)
    fs, cs = _accounts(spark)
    assert len(fd) >= 20, "the campaigns must be found at all"
    assert fs == fd
    assert cs == cd       # the same partition of flagged accounts into campaigns (ids aside)
    assert len(json.loads((spark / "campaigns.json").read_text())) == len(
        json.loads((duck / "campaigns.json").read_text()))


def test_features_and_links_equal(runs: tuple[Path, Path]) -> None:
    duck, spark = runs
    fd, fs = pq.read_table(duck / "features.parquet"), pq.read_table(spark / "features.parquet")
    assert fs.column_names == fd.column_names and fs.num_rows == fd.num_rows > 100
    for name in fd.column_names:
        a, b = fd[name].to_pylist(), fs[name].to_pylist()
        if name == "account_id" or not isinstance(next((v for v in a if v is not None), 0), float):
            assert a == b, name
        else:
            assert np.allclose(np.array(a, float), np.array(b, float), rtol=1e-9, atol=1e-12, equal_nan=True), name
    # the same edges, not just as many: ring neighbours of large keys and MinHash signatures use hashing
    # that both engines compute alike (distillguard.detection.links)
    ld, ls = _edges(duck), _edges(spark)
    kinds = {k[2] for k in ld}
    assert kinds >= {"shared-template", "shared-wrapper", "shared-phrases", "client-fingerprint"}, kinds
    assert ld.keys() == ls.keys()
    assert all(abs(ld[k] - ls[k]) < 1e-9 for k in ld)


def test_exchanges_read_from_the_parts(spark: Any, runs: tuple[Path, Path]) -> None:
    # Spark reads the store's parts folder itself (no export), plus the delta, and skips an uncommitted part
    with Store.open(runs[0].parent / "store.duckdb") as store:
        store.con.execute("INSERT INTO exchanges_delta BY NAME SELECT * EXCLUDE (rowid) "
                          "REPLACE ('late-' || request_id AS request_id) FROM exchanges ORDER BY rowid LIMIT 3")
        stray = store.parts / "part-999999999999999-stray000.parquet"
        shutil.copy(store.part_files()[0], stray)
        eng = SparkEngine(spark, owned=False)
        try:
            read_exchanges(eng, store)
            q = ("SELECT count(*), count(DISTINCT request_id), sum(rowid), max(rowid), sum(prompt_tokens), "
                 "sum(array_length(messages)), sum(length(messages[1].content)), min(ts), max(ts) FROM exchanges")
            got, want = eng.sql(q).fetchall()[0], store.con.sql(q).fetchall()[0]
            assert got[:-2] == want[:-2] and got[0] == store.count("exchanges") > 3
            assert [t.replace(tzinfo=UTC) for t in got[-2:]] == list(want[-2:])  # Spark's are naive, in UTC
            ids = [a for (a,) in store.con.sql("SELECT DISTINCT account_id FROM exchanges ORDER BY 1").fetchall()]
            assert account_orgs(eng, ids) == account_orgs(store.con, ids)
        finally:
            eng.close()
            stray.unlink()


def test_engine_reuses_active_session(spark: Any) -> None:
    eng = SparkEngine.start(SparkSettings(master="local[1]"))
    assert eng.spark is spark and not eng.owned
    eng.close()
    assert not spark.sparkContext._jsc.sc().isStopped()


@pytest.mark.parametrize("via", ["arrow", "parquet"])
def test_shipped_tables_keep_values_and_hash_bits(spark: Any, tmp_path: Path, via: str) -> None:
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE dg_t AS SELECT 'a' || i AS account_id, hash(i) AS key, i::BIGINT AS n, "
                "i / 3 AS x, i % 2 = 0 AS even, TIMESTAMPTZ '2026-05-01 00:00:00+00' + INTERVAL (i) HOUR AS t "
                "FROM range(50) r(i)")
    assert con.sql("SELECT count(*) FROM dg_t WHERE key >= 9223372036854775808").fetchall()[0][0] > 0
    q = "SELECT account_id, key, n, x, even, t FROM dg_t ORDER BY account_id"
    eng = SparkEngine(spark, owned=False)
    try:
        ship_to_spark(con, eng, ("dg_t",), stage=str(tmp_path / "stage") if via == "parquet" else "")
        got = eng.sql(q).to_arrow_table()
        # a hash constant is evaluated by DuckDB and matches the shipped DuckDB hashes bit for bit
        hit = eng.sql("SELECT account_id FROM dg_t WHERE key = hash(7)").fetchall()
    finally:
        eng.close()
    assert got.to_pylist() == con.sql(q).to_arrow_table().to_pylist()
    assert hit == [("a7",)]
    assert (tmp_path / "stage" / "dg_t.parquet").is_file() == (via == "parquet")


def _edges(out: Path) -> dict[tuple[str, str, str], float]:
    t = pq.read_table(out / "links.parquet")
    return {(s, d, k): w for s, d, k, w in zip(*(t[c].to_pylist() for c in ("src", "dst", "kind", "weight")),
                                               strict=True)}


def _accounts(out: Path) -> tuple[set[str], list[frozenset[str]]]:
    with open(out / "accounts.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    groups: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r["flagged"] == "true" and r["campaign_id"]:
            groups[r["campaign_id"]].add(r["account_id"])
    flagged = {r["account_id"] for r in rows if r["flagged"] == "true"}
    return flagged, sorted((frozenset(g) for g in groups.values()), key=sorted)


def test_reused_completions_equal_on_spark(runs: tuple[Path, Path]) -> None:
    """The provenance pairs are found in the store (DuckDB) and shipped (`dg_prov`): Spark weighs them alike."""
    duck, spark = runs
    ld, ls = _edges(duck), _edges(spark)
    prov = {k: w for k, w in ld.items() if k[2] == "reused-completions"}
    assert len(prov) >= 6
    assert prov == {k: w for k, w in ls.items() if k[2] == "reused-completions"}
    fd, fs = (pq.read_table(d / "features.parquet") for d in (duck, spark))
    assert fd["provenance_share"].to_pylist() == fs["provenance_share"].to_pylist()
