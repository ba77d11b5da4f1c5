"""Reading the incremental state: features, links, dense-block rows and orgs from the `dgi_` tables.

The global steps of `detect --incremental` (distillguard.incremental keeps the state): links per kind
come from the persisted per-(account, key) counts through links' own pair SQL (`links._pairs_sql`) and
from the persisted MinHash signatures (`links._minhash_sql` after its signature step), never from the
exchange log, so their cost grows with accounts × keys, not with exchanges.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from . import links as lk
from .incremental import _KIND_USAGE, _SET_KINDS


def links_from_state(con: duckdb.DuckDBPyConnection, cfg: lk.LinkConfig) -> pa.Table:
    """`dg_links` from the persisted per-key counts and signatures (links.build_links without the log)."""
    n_accounts = con.sql("SELECT count(*) FROM dgi_features").fetchall()[0][0]
    lk.create_links_table(con)
    for kind, (sql, family) in lk._key_sources(cfg).items():
        con.execute(f"INSERT INTO dg_links {lk._pairs_sql(_usage_sql(kind, sql, cfg), family, kind, n_accounts, cfg)}")
    for kind, (_, min_tuples, rows, weight, h) in lk._set_links(cfg).items():
        stmts = lk._minhash_sql(kind, "SELECT NULL AS account_id, NULL AS t", min_tuples, rows, weight, cfg, h)
        con.execute(f"CREATE OR REPLACE TEMP TABLE dg_sig AS SELECT * FROM dgi_sig_{_SET_KINDS[kind]} "
                    f"WHERE n_tuples >= {min_tuples}")
        for stmt in stmts[1:]:
            con.execute(stmt)
    con.execute("DELETE FROM dg_links WHERE weight <= 0")
    return con.sql("SELECT * FROM dg_links ORDER BY src, dst, kind").to_arrow_table().cast(lk.LINK_SCHEMA)


def _usage_sql(kind: str, original: str, cfg: lk.LinkConfig) -> str:
    """(account_id, key, share) of one key kind from the persisted counts (or the original SQL if none)."""
    def share(name: str) -> str:
        return (f"SELECT u.account_id, u.key, u.n::DOUBLE / f.exchanges AS share FROM dgi_u_{name} u "
                "JOIN dgi_features f USING (account_id)")
    if kind in _KIND_USAGE:
        return share(_KIND_USAGE[kind])
    if kind == "shared-prompt-ends":
        # (pre + suf) / 2 reaches the content floor only where one side does: sum those pairs alone
        floor = cfg.min_key_share
        cand = (f"SELECT account_id, key FROM ({share('pre')}) WHERE share >= {floor} UNION "
                f"SELECT account_id, key FROM ({share('suf')}) WHERE share >= {floor}")
        both = (f"SELECT * FROM ({share('pre')}) SEMI JOIN ({cand}) c USING (account_id, key) UNION ALL "
                f"SELECT * FROM ({share('suf')}) SEMI JOIN ({cand}) c USING (account_id, key)")
        return f"SELECT account_id, key, sum(share) / 2 AS share FROM ({both}) GROUP BY ALL"
    if kind == "shared-params":
        return f"SELECT * FROM ({share('params')}) WHERE share >= {cfg.params_min_share}"
    return original  # from dg_acc and dg_features (per account, no log)


def bipartite_from_state(con: duckdb.DuckDBPyConnection, kinds: tuple[str, ...], cfg: lk.LinkConfig) -> pa.Table:
    """The account × key rows of `kinds` (dense-block detection), as links.key_usage gives them."""
    parts = [con.sql(f"SELECT account_id, hash('{k}', key) AS key, share FROM ({_usage_sql(k, '', cfg)}) "
                     f"WHERE share >= {cfg.min_key_share}").to_arrow_table() for k in kinds]
    return pa.concat_tables(parts)


def orgs_from_state(con: duckdb.DuckDBPyConnection, account_ids: list[str]) -> list[str | None]:
    """features.account_orgs from the persisted per-account org counts."""
    orgs = dict(con.sql("""SELECT account_id, CASE WHEN count(DISTINCT nullif(org_id, '')) = 1
            AND sum(CASE WHEN org_id <> '' THEN n ELSE 0 END) = sum(n) THEN max(nullif(org_id, '')) END
        FROM dgi_org GROUP BY account_id""").fetchall())
    return [orgs.get(a) for a in account_ids]


def features_from_state(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """All feature rows (and `dg_features` for the output stage)."""
    con.execute("CREATE OR REPLACE TEMP VIEW dg_features AS SELECT * FROM dgi_features")
    return con.sql("SELECT * FROM dgi_features ORDER BY account_id").to_arrow_table()

