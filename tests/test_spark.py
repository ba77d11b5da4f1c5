"""The relational stages on Apache Spark (local mode) agree with DuckDB: features, links, flags, campaigns."""

from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from distillguard import features as feat
from distillguard import links as lk
from distillguard.detect import DetectConfig, detect_logs
from distillguard.engine import relational
from distillguard.ingest import ingest_logs
from distillguard.store import Store
from handbuilt import batch_integration, campaign, legit_users, write_jsonl

pytest.importorskip("pyspark")
pytest.importorskip("sqlglot")
pytestmark = pytest.mark.slow


def test_features_and_links_equal(tmp_path: Path) -> None:
    log = write_jsonl(legit_users(40) + campaign(12) + batch_integration(), tmp_path / "mixed.jsonl")
    with Store.open(":memory:") as store:
        ingest_logs(store, [log])
        feat.prepare(store.con)
        fd = feat.account_features(store.con)
        ld = lk.build_links(store.con)
        sp = relational(store.con, "spark", "local[2]")
        try:
            fs = feat.account_features(sp)
            ls = lk.build_links(sp)
        finally:
            sp.close()
    assert fs.column_names == fd.column_names and fs.num_rows == fd.num_rows
    for name in fd.column_names:
        a, b = fd[name].to_pylist(), fs[name].to_pylist()
        if name == "account_id" or not isinstance(next((v for v in a if v is not None), 0), float):
            assert a == b, name
        else:
            assert np.allclose(np.array(a, float), np.array(b, float), rtol=1e-9, atol=1e-12, equal_nan=True), name
    # every edge of a key with few accounts is the same; keys above full_pairs_max link ring neighbours
    # ordered by the engine's own hash, so only the count of their edges is engine-independent
    kd = {(r["src"], r["dst"], r["kind"]): r["weight"] for r in ld.to_pylist()}
    ks = {(r["src"], r["dst"], r["kind"]): r["weight"] for r in ls.to_pylist()}
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for k in kd:
        per_kind[k[2]][0] += 1
    for k in ks:
        per_kind[k[2]][1] += 1
    assert all(a == b for a, b in per_kind.values()), dict(per_kind)
    common = kd.keys() & ks.keys()
    assert len(common) >= 0.7 * len(kd)
    assert all(abs(kd[k] - ks[k]) < 1e-9 for k in common)


def _accounts(out: Path) -> tuple[set[str], list[frozenset[str]]]:
    with open(out / "accounts.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    groups: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r["flagged"] == "true":
            groups[r["campaign_id"]].add(r["account_id"])
    flagged = {r["account_id"] for r in rows if r["flagged"] == "true"}
    return flagged, sorted((frozenset(g) for g in groups.values()), key=sorted)


@pytest.mark.skipif(not os.environ.get("DG_SPARK_E2E"), reason="set DG_SPARK_E2E=1: ~4 min on 2 cores; known "
                    "to differ on 2 accounts until ring neighbours use an engine-neutral hash (docs/scale.md)")
def test_same_flags_and_campaigns_on_mixed_small(tmp_path: Path, corpora: Path) -> None:
    from distillguard.simulate import get_scenario, load_corpora, simulate

    sim = tmp_path / "sim"
    simulate(get_scenario("mixed-small"), 0.1, 3, load_corpora(corpora), sim, completions="none")
    cfg = DetectConfig(rich_report=False)
    db = tmp_path / "store.duckdb"
    detect_logs([sim / "exchanges.parquet"], tmp_path / "duck", accounts=sim / "accounts.parquet", db=db,
                config=cfg)
    detect_logs([], tmp_path / "spark", db=db, config=cfg, engine="spark", master="local[2]")
    fd, cd = _accounts(tmp_path / "duck")
    fs, cs = _accounts(tmp_path / "spark")
    assert fd, "the campaign must be found at all"
    assert fs == fd
    assert cs == cd
    assert len(json.loads((tmp_path / "spark" / "campaigns.json").read_text())) == len(
        json.loads((tmp_path / "duck" / "campaigns.json").read_text()))
