"""Incremental detection: persisted state in the store, updated from the exchanges ingested since.

`detect --db PATH --incremental` keeps what makes an update cheap as real tables of the store (prefix
`dgi_`), and on each run absorbs only the exchanges appended since the last run (a `rowid` high-water
mark of `exchanges`):

- `dgi_x`: the slim per-exchange table (features.slim_select), appended with the new rows only;
- `dgi_fp`, `dgi_wr`, `dgi_ng`, `dgi_sk`, `dgi_seg`, `dgi_phrase_n`: fingerprints of every distinct text,
  wrapper strings, their near-duplicate group, skeletons, phrase segments and per-phrase text counts —
  only texts never seen before are fingerprinted;
- `dgi_text_acc`: accounts per distinct text (the `replayed_share` feature);
- `dgi_at`: exchanges per (account, distinct text) (features, phrase sets, shared traffic);
- `dgi_u_<kind>`: per (account, key) exchange counts of every key-based link kind; `dgi_t_<kind>` and
  `dgi_sig_<kind>`: per-account tuple sets and MinHash signatures of the set-similarity link kinds;
- `dgi_features`: one feature row per account, recomputed for the *affected* accounts only (new traffic,
  a text of theirs now replayed by another account, a changed account record);
- `dgi_meta`: state version, configuration and the high-water mark.

All of it is updated inside one transaction: a crash leaves the previous state, and re-running
completes the update. Then the global steps run on the persisted tables: links from the per-key counts
(never from the exchanges), Leiden, scoring and the output folder. The first run on a store without
state (or with another configuration) builds the state from all exchanges.

Differences from a full run, by design: fingerprints of old texts are kept (a full run re-derives wrapper
ids from all texts at once, so a segment first repeated by new traffic can re-wrap old prompts), and a
wrapper first seen in an update gets a near-duplicate group among that update's new wrappers only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict

import duckdb
import numpy as np
import pyarrow as pa

from . import features as feat
from . import fpcache
from . import incremental_wrappers as iw
from . import links as lk
from .store import Store

STATE_VERSION = 2
MEMORY_LIMIT_GB = 8.0   # DuckDB's share during an update (as a full detect's)
_NOW = "1=1"

# key-based link kinds and the per-exchange key they count (over `dg_x x JOIN dg_fp f`)
_USAGE_KEYS = {
    "template": ("f.template_id", _NOW),
    "near": ("f.near_group", _NOW),
    "wrapper": ("f.wrapper_id", _NOW),
    "pre": ("f.pre_key", _NOW),
    "suf": ("f.suf_key", _NOW),
    "sys": ("x.sys_hash", "x.sys_hash <> hash('')"),
    "ip": ("x.ip_h", "x.ip_h IS NOT NULL"),
    "client": ("x.client_fp", "x.ua_h IS NOT NULL"),
}
_KIND_USAGE = {"shared-template": "template", "near-duplicate-template": "near", "shared-wrapper": "wrapper",
               "shared-system-prompt": "sys", "shared-ip": "ip", "client-fingerprint": "client"}
_SET_KINDS = {"lockstep-timing": "lock", "shared-phrases": "phr"}
_REPLAY_SUBQUERY = "(SELECT text_hash, count(*) AS n_acc FROM dg_at GROUP BY text_hash)"


def _slim_select(where: str) -> str:
    """The slim table's SELECT (features.slim_select) over the exchanges matching `where`, plus the org."""
    return feat.slim_select(f"(SELECT * FROM exchanges WHERE {where})", extra=",\n  nullif(org_id, '') AS org_id")


def state_key(config: lk.LinkConfig) -> str:
    """A digest of what the persisted tables depend on: link knobs and the SQL that derives them.

    A release that changes the slim table, the fingerprints or how link keys are computed rebuilds the
    state on its first incremental run instead of mixing old and new definitions.
    """
    from .fpcache import fingerprint_version

    sql = [_slim_select("true"), feat.TEXTS_SQL, repr(lk._set_links(config)), repr(lk._key_sources(config)),
           fingerprint_version()]
    return _digest({"v": STATE_VERSION, "cfg": asdict(config), "sql": sql})


def features_key() -> str:
    """A digest of the feature SQL: when only this changed, every account's features are recomputed."""
    return _digest({"v": STATE_VERSION, "sql": _features_sql()})


def _digest(doc: object) -> str:
    return hashlib.blake2b(json.dumps(doc, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()


def _meta(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    if not _exists(con, "dgi_meta"):
        return {}
    return dict(con.sql("SELECT key, value FROM dgi_meta").fetchall())


def drop_state(con: duckdb.DuckDBPyConnection) -> None:
    """Remove every persisted `dgi_` table (the next incremental run rebuilds them)."""
    for (name,) in con.sql("SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND "
                           "starts_with(table_name, 'dgi_')").fetchall():
        con.execute(f"DROP TABLE IF EXISTS {name}")


def update_state(store: Store, config: lk.LinkConfig | None = None, fingerprint: feat.FingerprintFn | None = None,
                 near_groups: feat.NearGroupFn | None = None,
                 on_step: Callable[[str], None] | None = None) -> dict[str, int]:
    """Absorb the exchanges appended since the last update into the persisted state (one transaction).

    Returns counts: new exchanges, new texts, affected accounts, and whether the state was rebuilt.
    """
    con = store.con
    config = config or lk.LinkConfig()
    key = state_key(config)
    meta = _meta(con)
    top = con.sql("SELECT coalesce(max(rowid) + 1, 0) FROM exchanges").fetchall()[0][0]
    mark = int(meta.get("high_water", -1)) if meta.get("key") == key else -1
    rebuild = mark < 0 or mark > top
    all_features = meta.get("features") != features_key()
    step = on_step or (lambda name: None)
    _bound_memory(con)
    con.execute("BEGIN TRANSACTION")
    try:
        if rebuild:
            drop_state(con)
            _create(con, config)
            mark = 0
        iw.migrate(con)
        if all_features and not rebuild:  # only the feature SQL changed: recompute every account's row
            _views(con, new_only=False)
            con.execute("DROP TABLE dgi_features")
            con.execute(f"CREATE TABLE dgi_features AS SELECT * FROM ({_features_sql()}) WHERE false")
        counts = _absorb(con, mark, top, config, fingerprint, near_groups, step, all_features)
        con.execute("DELETE FROM dgi_meta")
        con.executemany("INSERT INTO dgi_meta VALUES (?, ?)", [["key", key], ["high_water", str(top)],
                                                               ["features", features_key()],
                                                               ["version", str(STATE_VERSION)]]
                        + [[f"last_{k}", str(v)] for k, v in {**counts, "rebuilt": int(rebuild)}.items()])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {**counts, "rebuilt": int(rebuild)}


def _bound_memory(con: duckdb.DuckDBPyConnection, limit_gb: float = MEMORY_LIMIT_GB) -> None:
    """Lower DuckDB's memory limit to `limit_gb` when it is higher (big aggregates spill to disk instead)."""
    current = con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
    num, unit = (str(current).split() + ["GiB"])[:2]
    scale = {"KiB": 2**-20, "MiB": 2**-10, "GiB": 1.0, "TiB": 2**10, "KB": 1e-6, "MB": 1e-3, "GB": 1.0,
             "TB": 1e3}.get(unit, 1.0)
    try:
        if float(num) * scale > limit_gb:
            con.execute(f"SET memory_limit = '{limit_gb}GB'")
    except ValueError:
        pass


def _create(con: duckdb.DuckDBPyConnection, cfg: lk.LinkConfig) -> None:
    con.execute("CREATE TABLE dgi_meta (key VARCHAR, value VARCHAR)")
    con.execute(f"CREATE TABLE dgi_x AS {_slim_select('false')}")
    con.execute("CREATE TABLE dgi_fp (text_hash UBIGINT, template_id BIGINT, wrapper_id BIGINT, capability VARCHAR, "
                "cot BOOLEAN, structured BOOLEAN, pre_key UBIGINT, suf_key UBIGINT)")
    con.execute("CREATE TABLE dgi_wr (wrapper_id BIGINT, wrapper VARCHAR)")
    con.execute("CREATE TABLE dgi_ng (wrapper_id BIGINT, near_group BIGINT)")
    con.execute("CREATE TABLE dgi_sk (template_id BIGINT, skeleton VARCHAR)")
    con.execute("CREATE TABLE dgi_seg (text_hash UBIGINT, phrase UBIGINT)")
    con.execute("CREATE TABLE dgi_phrase_n (phrase UBIGINT, n BIGINT)")
    con.execute("CREATE TABLE dgi_text_acc (text_hash UBIGINT, n_acc BIGINT)")
    con.execute("CREATE TABLE dgi_at (account_id VARCHAR, text_hash UBIGINT, n BIGINT)")
    con.execute("CREATE TABLE dgi_acc AS SELECT * FROM accounts LIMIT 0")
    con.execute("CREATE TABLE dgi_org (account_id VARCHAR, org_id VARCHAR, n BIGINT)")
    iw.create(con)
    _views(con, new_only=False)
    for name, (expr, where) in _USAGE_KEYS.items():
        con.execute(f"CREATE TABLE dgi_u_{name} AS SELECT x.account_id, {expr} AS key, 0::BIGINT AS n "
                    f"FROM dg_x x JOIN dg_fp f USING (text_hash) WHERE false AND {where}")
    con.execute("CREATE TABLE dgi_u_params AS SELECT account_id, params_key AS key, 0::BIGINT AS n FROM dgi_x "
                "WHERE false")
    for kind, short in _SET_KINDS.items():
        con.execute(f"CREATE TABLE dgi_t_{short} AS SELECT account_id, t FROM ({lk._set_links(cfg)[kind][0]}) "
                    "WHERE false")
    con.execute("CREATE TABLE dgi_features AS SELECT * FROM (" + _features_sql() + ") WHERE false")


def _views(con: duckdb.DuckDBPyConnection, new_only: bool) -> None:
    """Temp views with detection's table names over the persisted state (or over the new rows only)."""
    con.execute(f"CREATE OR REPLACE TEMP VIEW dg_x AS SELECT * FROM {'dgn_x' if new_only else 'dgi_x'}")
    # per-(account, text) counts: persisted for the whole state; over the new rows, bound when read (the
    # counts of whatever `dg_x` is at that moment)
    con.execute("CREATE OR REPLACE TEMP VIEW dg_at AS " + (feat.at_sql() if new_only else "SELECT * FROM dgi_at"))
    con.execute("CREATE OR REPLACE TEMP VIEW dg_fp AS SELECT f.*, g.near_group FROM dgi_fp f "
                "JOIN dgi_ng g USING (wrapper_id)")
    con.execute("CREATE OR REPLACE TEMP VIEW dg_phrase AS SELECT s.text_hash, s.phrase FROM dgi_seg s "
                "JOIN dgi_phrase_n p USING (phrase) WHERE p.n >= 2")
    con.execute("CREATE OR REPLACE TEMP VIEW dg_skeletons AS SELECT * FROM dgi_sk")
    con.execute("CREATE OR REPLACE TEMP VIEW dg_acc AS SELECT * FROM accounts")


def _features_sql() -> str:
    config = feat.FeatureConfig()
    sql = feat.FEATURES_SQL.replace("{long_output}", str(config.long_output_tokens)).replace(
        "{capability}", feat.CAPABILITY_SQL)
    assert _REPLAY_SUBQUERY in sql, "features.FEATURES_SQL changed its replay subquery"
    return sql.replace(_REPLAY_SUBQUERY, "dgi_text_acc")


def _merge_counts(con: duckdb.DuckDBPyConnection, table: str, delta_sql: str, keys: str) -> None:
    """Add the counts `n` of `delta_sql` to `table` (rows keyed by `keys`), inserting unseen keys."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE dgn_delta AS {delta_sql}")
    on = " AND ".join(f"t.{k} = d.{k}" for k in keys.split(", "))
    con.execute(f"MERGE INTO {table} t USING dgn_delta d ON {on} "
                "WHEN MATCHED THEN UPDATE SET n = t.n + d.n WHEN NOT MATCHED THEN INSERT BY NAME")
    con.execute("DROP TABLE dgn_delta")


def _absorb(con: duckdb.DuckDBPyConnection, mark: int, top: int, links_cfg: lk.LinkConfig,
            fingerprint: feat.FingerprintFn | None, near_groups: feat.NearGroupFn | None,
            step: Callable[[str], None], all_features: bool = False) -> dict[str, int]:
    con.execute(f"CREATE OR REPLACE TEMP TABLE dgn_x AS {_slim_select(f'rowid >= {mark} AND rowid < {top}')}")
    n_new = con.sql("SELECT count(*) FROM dgn_x").fetchall()[0][0]
    n_texts = _fingerprint_new(con, mark, top, fingerprint, near_groups)
    step("fingerprints")
    # replay: texts of the new rows whose account count grows; the accounts that held them alone change
    con.execute("CREATE OR REPLACE TEMP TABLE dgn_texts AS SELECT DISTINCT text_hash FROM dgn_x")
    con.execute("INSERT INTO dgi_x SELECT * FROM dgn_x")
    _merge_counts(con, "dgi_at", feat.at_sql("dgn_x"), "account_id, text_hash")
    # accounts per text from the merged (account, text) counts, not from every exchange of the history
    con.execute("""CREATE OR REPLACE TEMP TABLE dgn_ta AS
        SELECT text_hash, count(*) AS n_acc FROM dgi_at
        WHERE text_hash IN (SELECT text_hash FROM dgn_texts) GROUP BY text_hash""")
    con.execute("""CREATE OR REPLACE TEMP TABLE dgn_aff AS
        SELECT DISTINCT account_id FROM dgn_x
        UNION SELECT DISTINCT x.account_id FROM dgi_at x WHERE x.text_hash IN (
          SELECT n.text_hash FROM dgn_ta n JOIN dgi_text_acc o USING (text_hash) WHERE o.n_acc = 1 AND n.n_acc >= 2)
        UNION SELECT account_id FROM (SELECT * FROM accounts EXCEPT SELECT * FROM dgi_acc)
        UNION SELECT account_id FROM (SELECT * FROM dgi_acc EXCEPT SELECT * FROM accounts)""")
    if all_features:
        con.execute("INSERT INTO dgn_aff SELECT DISTINCT account_id FROM dgi_x "
                    "EXCEPT SELECT account_id FROM dgn_aff")
    con.execute("DELETE FROM dgi_text_acc WHERE text_hash IN (SELECT text_hash FROM dgn_ta)")
    con.execute("INSERT INTO dgi_text_acc SELECT * FROM dgn_ta")
    con.execute("DELETE FROM dgi_acc")
    con.execute("INSERT INTO dgi_acc SELECT * FROM accounts")
    _views(con, new_only=True)
    for name, (expr, where) in _USAGE_KEYS.items():
        _merge_counts(con, f"dgi_u_{name}", f"SELECT x.account_id, {expr} AS key, count(*) AS n FROM dg_x x "
                      f"JOIN dg_fp f USING (text_hash) WHERE {where} GROUP BY ALL", "account_id, key")
    _merge_counts(con, "dgi_u_params", "SELECT account_id, params_key AS key, count(*) AS n FROM dgn_x "
                  f"WHERE params_set >= {links_cfg.params_min_keys} GROUP BY ALL", "account_id, key")
    _merge_counts(con, "dgi_org", "SELECT account_id, coalesce(org_id, '') AS org_id, count(*) AS n FROM dgn_x "
                  "GROUP BY ALL", "account_id, org_id")
    touched = _update_sets(con, links_cfg)
    _signatures(con, links_cfg)
    step("usage")
    _views(con, new_only=False)
    n_aff = _update_features(con)
    step("features")
    return {"exchanges": n_new, "texts": n_texts, "affected": n_aff, "set_accounts": touched}


def _fingerprint_new(con: duckdb.DuckDBPyConnection, mark: int, top: int, fingerprint: feat.FingerprintFn | None,
                     near_groups: feat.NearGroupFn | None) -> int:
    """Fingerprint the texts of the new rows never seen before; extend wrappers, groups and phrases."""
    from . import fingerprints as fpmod

    own_fingerprint = fingerprint is None
    if fingerprint is None:
        known = iw.known_segments(con)

        def fingerprint(texts: pa.Array) -> pa.Table:
            return fpmod.fingerprint_texts(texts, known_wrapper_segments=known)

    con.execute("CREATE OR REPLACE TEMP TABLE dg_fp_raw AS SELECT * FROM dgi_fp LIMIT 0")
    con.execute("CREATE OR REPLACE TEMP TABLE dg_sk (template_id BIGINT, skeleton VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE dg_wr (wrapper_id BIGINT, wrapper VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE dg_seg (text_hash UBIGINT, phrase UBIGINT)")
    # texts new to the state; those in the store's fingerprint cache (a full detect's, or an earlier
    # state's) are not fingerprinted again, and the others are added to it (distillguard.fpcache)
    con.execute("CREATE OR REPLACE TEMP TABLE dg_sample AS SELECT DISTINCT text_hash FROM dgn_x "
                "WHERE text_hash NOT IN (SELECT text_hash FROM dgi_fp)")
    cache = fpcache.FingerprintCache.open(con, persistent=own_fingerprint)
    con.execute("CREATE OR REPLACE TEMP TABLE dg_need AS SELECT text_hash FROM dg_sample WHERE text_hash NOT IN "
                "(SELECT text_hash FROM fingerprint_cache WHERE version = ?)", [cache.version])
    texts = feat.TEXTS_SQL.replace("FROM exchanges", f"FROM exchanges WHERE rowid >= {mark} AND rowid < {top}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE dgn_tx AS SELECT * FROM ({texts}) "
                "WHERE text_hash IN (SELECT text_hash FROM dg_need)")
    n = con.sql("SELECT count(*) FROM dgn_tx").fetchall()[0][0]
    parts = -(-n // feat.FP_BATCH)
    for p in range(parts):
        batch = con.sql(f"SELECT * FROM dgn_tx WHERE text_hash % {parts} = {p}").to_arrow_table()
        feat._fingerprint_batch(con, batch, fingerprint)
    con.execute("DROP TABLE dgn_tx")
    cache.store_new()
    cache.load_hits()   # dg_fp_raw, dg_seg, dg_sk, dg_wr: every text of dg_sample
    con.execute("DROP TABLE dg_sample")
    con.execute("INSERT INTO dgi_fp SELECT * FROM dg_fp_raw")
    con.execute("INSERT INTO dgi_sk SELECT template_id, left(any_value(skeleton), 200) FROM dg_sk "
                "WHERE template_id NOT IN (SELECT template_id FROM dgi_sk) GROUP BY template_id")
    wr = con.sql("SELECT wrapper_id, any_value(wrapper) AS wrapper FROM dg_wr WHERE wrapper_id NOT IN "
                 "(SELECT wrapper_id FROM dgi_wr) GROUP BY wrapper_id ORDER BY wrapper_id").to_arrow_table()
    if not wr.num_rows:
        groups = np.zeros(0, np.int64)
    else:
        groups = iw.group_new(con, wr) if near_groups is None else _near_groups_new(con, wr, near_groups)
    con.register("_dgi_wr", wr.append_column("near_group", pa.array(groups, pa.int64())))
    try:
        con.execute("INSERT INTO dgi_wr SELECT wrapper_id, wrapper FROM _dgi_wr")
        con.execute("INSERT INTO dgi_ng SELECT wrapper_id, near_group FROM _dgi_wr")
    finally:
        con.unregister("_dgi_wr")
    con.execute("INSERT INTO dgi_seg SELECT * FROM dg_seg")
    # phrases whose text count reaches 2 now: the old texts holding them join the phrase sets below
    con.execute("CREATE OR REPLACE TEMP TABLE dgn_pn AS SELECT phrase, count(*) AS n FROM dg_seg GROUP BY phrase")
    con.execute("""CREATE OR REPLACE TEMP TABLE dgn_rep AS SELECT d.phrase FROM dgn_pn d
        LEFT JOIN dgi_phrase_n o USING (phrase) WHERE coalesce(o.n, 0) < 2 AND coalesce(o.n, 0) + d.n >= 2
        AND coalesce(o.n, 0) > 0""")
    _merge_counts(con, "dgi_phrase_n", "SELECT * FROM dgn_pn", "phrase")
    for t in ("dg_fp_raw", "dg_sk", "dg_wr", "dg_seg", "dgn_pn"):
        con.execute(f"DROP TABLE {t}")
    return n


def _near_groups_new(con: duckdb.DuckDBPyConnection, wr: pa.Table, near_groups: feat.NearGroupFn) -> np.ndarray:
    """incremental_wrappers.group_new for a caller's own grouping function (all earlier leaders re-grouped)."""
    old = con.sql("SELECT g.near_group, w.wrapper FROM dgi_ng g JOIN dgi_wr w USING (wrapper_id) "
                  "WHERE g.near_group = g.wrapper_id AND contains(w.wrapper, '<payload>') "
                  "ORDER BY g.wrapper_id").to_arrow_table()
    k = old.num_rows
    ids = np.concatenate([old["near_group"].to_numpy(), wr["wrapper_id"].to_numpy()]).astype(np.int64)
    texts = old["wrapper"].to_pylist() + wr["wrapper"].to_pylist()
    groups = np.asarray(near_groups(texts), np.int64)
    sizes = np.bincount(groups, minlength=len(groups))
    # LSH + union-find can chain short wrappers into one giant group; such a group says nothing
    named = np.where(sizes[groups] > feat.NEAR_GROUP_MAX, ids, ids[groups])
    return named[k:]


def _update_sets(con: duckdb.DuckDBPyConnection, cfg: lk.LinkConfig) -> int:
    """Add the new rows' tuples to the per-account sets; recompute the MinHash signatures that changed."""
    sets = lk._set_links(cfg)
    changed = []
    for kind, short in _SET_KINDS.items():
        tuples = sets[kind][0]
        if short == "phr":
            # plus the old texts holding a phrase that is repeated only now (the same SQL over views of them)
            con.execute(f"CREATE OR REPLACE TEMP TABLE dgn_t AS {tuples}")
            con.execute("CREATE OR REPLACE TEMP VIEW dg_phrase AS SELECT text_hash, phrase FROM dgi_seg "
                        "WHERE phrase IN (SELECT phrase FROM dgn_rep)")
            con.execute("CREATE OR REPLACE TEMP VIEW dg_x AS SELECT * FROM dgi_x WHERE text_hash IN "
                        "(SELECT text_hash FROM dg_phrase)")
            con.execute(f"INSERT INTO dgn_t {tuples}")
            _views(con, new_only=True)
            tuples = "SELECT DISTINCT * FROM dgn_t"
        con.execute(f"CREATE OR REPLACE TEMP TABLE dgn_tn AS SELECT n.account_id, n.t FROM ({tuples}) n "
                    f"ANTI JOIN dgi_t_{short} o ON o.account_id = n.account_id AND o.t = n.t")
        con.execute("DROP TABLE IF EXISTS dgn_t")
        con.execute("ALTER TABLE dgn_tn RENAME TO dgn_t")
        con.execute(f"INSERT INTO dgi_t_{short} SELECT * FROM dgn_t")
        con.execute(f"CREATE OR REPLACE TEMP TABLE dgn_sa_{short} AS SELECT DISTINCT account_id FROM dgn_t")
        changed.append(con.sql(f"SELECT count(*) FROM dgn_sa_{short}").fetchall()[0][0])
        con.execute("DROP TABLE dgn_t")
    return int(sum(changed))


def _update_features(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute the feature rows of the affected accounts from their whole (persisted) history."""
    sql = _features_sql()
    con.execute("CREATE OR REPLACE TEMP TABLE dgn_xa AS SELECT * FROM dgi_x "
                "WHERE account_id IN (SELECT account_id FROM dgn_aff)")
    con.execute("CREATE OR REPLACE TEMP VIEW dg_x AS SELECT * FROM dgn_xa")
    con.execute("CREATE OR REPLACE TEMP VIEW dg_at AS SELECT * FROM dgi_at "
                "WHERE account_id IN (SELECT account_id FROM dgn_aff)")
    con.execute("DELETE FROM dgi_features WHERE account_id IN (SELECT account_id FROM dgn_aff)")
    con.execute(f"INSERT INTO dgi_features {sql}")
    con.execute("CREATE OR REPLACE TEMP VIEW dg_x AS SELECT * FROM dgi_x")
    con.execute("CREATE OR REPLACE TEMP VIEW dg_at AS SELECT * FROM dgi_at")
    con.execute("DROP TABLE dgn_xa")
    return int(con.sql("SELECT count(*) FROM dgn_aff").fetchall()[0][0])


def _signatures(con: duckdb.DuckDBPyConnection, cfg: lk.LinkConfig) -> None:
    """Refresh the persisted MinHash signatures of the accounts whose tuple sets changed."""
    for kind, (_, _, rows, weight, h) in lk._set_links(cfg).items():
        short = _SET_KINDS[kind]
        tuples = (f"SELECT account_id, t FROM dgi_t_{short} "
                  f"WHERE account_id IN (SELECT account_id FROM dgn_sa_{short})")
        con.execute(lk._minhash_sql(kind, tuples, 0, rows, weight, cfg, h)[0])  # temp table dg_sig
        if not _exists(con, f"dgi_sig_{short}"):
            con.execute(f"CREATE TABLE dgi_sig_{short} AS SELECT * FROM dg_sig")
        else:
            con.execute(f"DELETE FROM dgi_sig_{short} WHERE account_id IN (SELECT account_id FROM dgn_sa_{short})")
            con.execute(f"INSERT INTO dgi_sig_{short} SELECT * FROM dg_sig")
        con.execute("DROP TABLE dg_sig")


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.sql(f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '{table}' AND NOT temporary"
                        ).fetchall()[0][0])
