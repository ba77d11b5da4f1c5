"""Wrappers across incremental updates: known wrapper segments and near-duplicate groups of new wrappers.

A full run groups all distinct wrappers at once (MinHash + LSH + leader clustering, `neardup`). An update
only sees the wrappers first used by the new exchanges; to put one into the group of an earlier,
similar wrapper without re-hashing every earlier wrapper, the LSH band keys of every earlier group
*leader* that holds a payload (a true wrapper, not a bare prompt skeleton) are kept in `dgi_ng_band`.
A new wrapper's band keys find its candidate leaders in SQL; only those are MinHashed again, then the
candidates and the new wrappers are leader-clustered together (candidates first): a new wrapper joins
its first similar leader, or leads a new group. Groups are named by their leader's wrapper id.

The repeated segments of earlier wrappers (`dgi_wseg`) are passed to the fingerprinting of new texts
(`known_wrapper_segments`), so that a known wrapper keeps its id in a small batch.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from . import features as feat
from . import neardup

THRESHOLD = 0.7  # fingerprints.near_duplicate_groups' default
PAYLOAD = "<payload>"


def create(con: duckdb.DuckDBPyConnection) -> None:
    """Create the persisted tables (empty)."""
    con.execute("CREATE TABLE IF NOT EXISTS dgi_ng_band (key UBIGINT, wrapper_id BIGINT)")
    con.execute("CREATE TABLE IF NOT EXISTS dgi_wseg (segment VARCHAR)")


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Fill the tables from the wrappers of a state built before they existed (once)."""
    if con.sql("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'dgi_ng_band' AND NOT temporary"
               ).fetchall()[0][0]:
        return
    create(con)
    lead = con.sql("SELECT g.wrapper_id, w.wrapper FROM dgi_ng g JOIN dgi_wr w USING (wrapper_id) "
                   f"WHERE g.near_group = g.wrapper_id AND contains(w.wrapper, '{PAYLOAD}')").to_arrow_table()
    if lead.num_rows:
        keys = band_keys(neardup.minhash_signatures(pc_fill(lead["wrapper"])))
        _insert_bands(con, keys, lead["wrapper_id"].to_numpy().astype(np.int64))
    con.execute("INSERT INTO dgi_wseg SELECT DISTINCT s FROM (SELECT unnest(string_split(wrapper, chr(10))) AS s "
                f"FROM dgi_wr WHERE contains(wrapper, '{PAYLOAD}')) WHERE s <> '' AND s <> '{PAYLOAD}'")


def _insert_bands(con: duckdb.DuckDBPyConnection, keys: np.ndarray, ids: np.ndarray) -> None:
    con.register("_dgi_band", pa.table({"key": pa.array(keys.ravel(), pa.uint64()),
                                        "wrapper_id": pa.array(np.repeat(ids, keys.shape[1]), pa.int64())}))
    try:
        con.execute("INSERT INTO dgi_ng_band SELECT * FROM _dgi_band")
    finally:
        con.unregister("_dgi_band")


def known_segments(con: duckdb.DuckDBPyConnection) -> pa.Array | None:
    """The wrapper segments learnt so far (None when there are none)."""
    seg = con.sql("SELECT segment FROM dgi_wseg").to_arrow_table()["segment"].combine_chunks()
    return seg if len(seg) else None


def band_keys(sig: np.ndarray) -> np.ndarray:
    """(n, bands) LSH band keys of MinHash signatures, as `neardup.groups_from_signatures` computes them."""
    n, num_perm = sig.shape
    bands, rows = neardup._bands(num_perm, THRESHOLD)
    weights = neardup._mix(np.arange(1, rows + 1, dtype=np.uint64))
    out = np.empty((n, bands), np.uint64)
    for b in range(bands):
        block = sig[:, b * rows:(b + 1) * rows].astype(np.uint64)
        with np.errstate(over="ignore"):
            out[:, b] = neardup._mix((block * weights).sum(axis=1, dtype=np.uint64) + np.uint64(b))
    return out


def group_new(con: duckdb.DuckDBPyConnection, wr: pa.Table) -> np.ndarray:
    """Near-duplicate group id of each new wrapper (`wr`: wrapper_id, wrapper); updates the band keys."""
    ids = wr["wrapper_id"].to_numpy().astype(np.int64)
    sig_new = neardup.minhash_signatures(pc_fill(wr["wrapper"]))
    keys = band_keys(sig_new)
    con.register("_dgi_keys", pa.table({"key": pa.array(keys.ravel(), pa.uint64())}))
    try:
        cand = con.sql("SELECT w.wrapper_id, w.wrapper FROM dgi_wr w WHERE w.wrapper_id IN ("
                       "SELECT DISTINCT b.wrapper_id FROM dgi_ng_band b JOIN _dgi_keys k USING (key)) "
                       "ORDER BY w.wrapper_id").to_arrow_table()
    finally:
        con.unregister("_dgi_keys")
    k = cand.num_rows
    sig = np.concatenate([neardup.minhash_signatures(pc_fill(cand["wrapper"])), sig_new]) if k else sig_new
    leader = neardup.groups_from_signatures(sig, THRESHOLD)
    all_ids = np.concatenate([cand["wrapper_id"].to_numpy().astype(np.int64), ids])
    sizes = np.bincount(leader, minlength=len(leader))
    # a chain of more than NEAR_GROUP_MAX wrappers says nothing (as in features.prepare)
    named = np.where(sizes[leader] > feat.NEAR_GROUP_MAX, all_ids, all_ids[leader])[k:]
    # new leaders that hold a payload become candidates for later updates; their segments become known
    texts = wr["wrapper"].to_numpy(zero_copy_only=False)
    lead = (named == ids) & np.array([PAYLOAD in (t or "") for t in texts], bool)
    if lead.any():
        _insert_bands(con, keys[lead], ids[lead])
    segs = {s for t in texts if t and PAYLOAD in t for s in t.split("\n") if s and s != PAYLOAD}
    if segs:
        con.register("_dgi_seg", pa.table({"segment": pa.array(sorted(segs), pa.string())}))
        try:
            con.execute("INSERT INTO dgi_wseg SELECT segment FROM _dgi_seg WHERE segment NOT IN "
                        "(SELECT segment FROM dgi_wseg)")
        finally:
            con.unregister("_dgi_seg")
    return named


def pc_fill(arr: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A plain string array without nulls."""
    a = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return pa.compute.fill_null(a, "")
