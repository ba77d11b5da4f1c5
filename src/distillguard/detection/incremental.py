"""Incremental detection: an hourly update of the last full run's verdict, in time proportional to the hour.

`detect --db PATH --incremental` on a store without a snapshot runs a full `detect` and leaves a snapshot of
it in the store (tables prefixed `dgd_`). Every later `--incremental` run absorbs only the exchanges
ingested since (a `rowid` high-water mark of `exchanges`) and never reads the history again:

1. fingerprints: the new rows' texts, sampled as the full run sampled them (a text below its account's
   bottom-k hash threshold `tau`: the same uniform hash sample, grown by the new texts that fall in it);
2. features: the new rows are merged into mergeable per-account aggregates (`distillguard.detection.feature_state`)
   and the feature rows of the accounts they touch are recomputed from those aggregates;
3. links: an account outside any group whose new traffic carries the content keys a group owns (the
   keys `group_traffic` found held by several of the group's accounts and mostly by them: templates,
   wrappers, prompt ends, phrases) joins that group, with the group's median binding;
4. scores: every account is scored again (`scoring.score_accounts`, numpy over one row per account) with
   the snapshot's grouping, dense blocks and shared-traffic features, and the flag threshold is recomputed;
5. output: `accounts.csv`, `campaigns.json`, `features.parquet` and a plain `report.html`. A flagged
   account keeps its campaign; a newly flagged one takes its group's campaign, or a new one.

What it does not redo: Leiden, dense blocks, link weights between known accounts and shared-traffic
features are the full run's. A daily full `detect --incremental --rebuild` (or any run after the
configuration or code changed) re-derives everything and takes a new snapshot. The snapshot and the update
are written in one transaction: a crash leaves the previous snapshot, and re-running completes the update.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa

from .. import findings
from ..errors import StoreError
from ..fingerprints import cache as fpcache
from ..store import Store
from . import feature_state as fs
from . import features as feat
from . import tables
from .campaigns import Grouping
from .output import (
    OPERATING_POINT,
    iso_time,
    staged,
    write_accounts_csv,
    write_operating_point,
    write_plain_report,
)
from .scoring import OperatingPoint, Scores, individual_reasons, operating_point, score_accounts
from .shared_traffic import TEXT_KEYS, with_judged_share
from .sorted_unique import positions

STATE_VERSION = 4
UBIGINT_MAX = 2**64 - 1
ASSIGN_MIN_EXCHANGES = 2      # an account joins a group when at least this many of its new exchanges ...
ASSIGN_MIN_SHARE = 0.5        # ... and this share of its new fingerprinted ones carry keys the group owns


@dataclass(frozen=True)
class Snapshot:
    """What a full run hands to the snapshot (the tables of its feature stage are still in the store)."""

    high_water: int
    features: pa.Table
    threshold: float
    grouping: Grouping
    shared: pa.Table
    orgs: list[str | None] | None   # the one organisation each account declares (features' order)
    out: Path                 # its output folder: campaign ids, reasons and records are read back from it
    link_kinds: frozenset[str]      # the reason codes that are link kinds


def state_key(detect_config: Any) -> str:
    """A digest of what the snapshot depends on: the run's configuration, feature and fingerprint code."""
    sql = [feat.slim_select(), feat.FEATURES_SQL, fpcache.fingerprint_version(), inspect.getsource(fs)]
    # the flag target does not change what is kept (the update recomputes the threshold), nor does DuckDB's
    # memory limit
    cfg = {k: v for k, v in asdict(detect_config).items() if k not in ("fpr_target", "memory_gb")}
    doc = {"v": STATE_VERSION, "cfg": cfg, "sql": sql}
    return hashlib.blake2b(json.dumps(doc, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()


def high_water(con: duckdb.DuckDBPyConnection) -> int:
    """The rowid after the last exchange of the store."""
    return int(con.sql("SELECT coalesce(max(rowid) + 1, 0) FROM exchanges").fetchall()[0][0])


def snapshot_mark(con: duckdb.DuckDBPyConnection, key: str) -> int | None:
    """The snapshot's high-water mark, or None when there is none (or one of another configuration/code)."""
    if not _exists(con, "dgd_meta"):
        return None
    meta = dict(con.sql("SELECT key, value FROM dgd_meta").fetchall())
    if meta.get("key") != key or int(meta.get("high_water", -1)) > high_water(con):
        return None
    return int(meta["high_water"])


def drop_state(con: duckdb.DuckDBPyConnection) -> None:
    """Remove the snapshot (and the state tables of earlier releases: `dgi_`)."""
    for (name,) in con.sql("SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND "
                           "(starts_with(table_name, 'dgd_') OR starts_with(table_name, 'dgi_'))").fetchall():
        con.execute(f"DROP TABLE IF EXISTS {name}")


# ---------------------------------------------------------------------------------------------- snapshot


def save_snapshot(con: duckdb.DuckDBPyConnection, snap: Snapshot, key: str) -> None:
    """Persist a full run's verdict and mergeable state (one transaction; replaces an earlier snapshot)."""
    written = {v.account_id: v for v in findings.read_verdicts(snap.out)}
    g = snap.grouping
    ids = snap.features["account_id"]
    at = positions(ids, g.accounts, last=True)
    pick = np.maximum(at, 0)

    def take(values: np.ndarray, default: object) -> np.ndarray:
        return np.where(at >= 0, np.asarray(values)[pick], default) if len(g.accounts) else \
            np.full(len(at), default)

    names = ids.to_pylist()
    acc = pa.table({
        "account_id": ids,
        "grp": pa.array(take(g.group, -1).astype(np.int64)),
        "strength": pa.array(take(g.strength, 0.0).astype(float)),
        "degree": pa.array(take(g.degree, 0.0).astype(float)),
        "in_block": pa.array(take(g.in_block, False).astype(bool)),
        # (its community inside the group: an account joining a group later has none, and inherits as before)
        "community": pa.array(take(g.community if g.community is not None else np.full(len(g.accounts), -1), -1)
                              .astype(np.int64)),
        "campaign_id": [(written[a].campaign_id or "") if a in written else "" for a in names],
        "link_reasons": [";".join(k for k in written[a].reasons if k in snap.link_kinds) if a in written else ""
                         for a in names],
        "org": snap.orgs if snap.orgs is not None else pa.nulls(len(names), pa.string()),
    })
    campaigns = findings.read_campaign_records(snap.out)
    con.execute("BEGIN TRANSACTION")
    try:
        drop_state(con)
        fs.create(con)
        _persist(con, "dgd_features", snap.features)
        # each account's sample threshold: its k-th smallest text hash (features.sample_sql), for accounts
        # with more than k distinct texts (grouped by the hash of the number, as sample_sql does)
        k = feat.FP_SAMPLE_PER_ACCOUNT
        con.register("_dgd_acc", acc)
        try:
            con.execute(f"""CREATE TABLE dgd_acc AS SELECT a.* EXCLUDE (org),
                  coalesce(t.tau, {UBIGINT_MAX}::UBIGINT) AS tau, a.org FROM _dgd_acc a LEFT JOIN (
                    SELECT n.name AS account_id, t.tau FROM (
                      SELECT any_value(account_id) AS account_id, list_max(min(text_hash, {k})) AS tau FROM dg_at
                      GROUP BY hash(account_id) HAVING count(*) > {k}) t JOIN dg_names n USING (account_id)
                  ) t USING (account_id)""")
        finally:
            con.unregister("_dgd_acc")
        _persist(con, "dgd_group", pa.table({"grp": np.arange(len(g.families), dtype=np.int64),
                                             "families": np.asarray(g.families, np.int64)}))
        _persist(con, "dgd_shared", snap.shared)
        # each group's own content keys (group_traffic, kept by the full run as `dg_own`)
        con.execute("CREATE TABLE dgd_own AS SELECT * FROM dg_own" if _exists(con, "dg_own", temporary=True)
                    else "CREATE TABLE dgd_own (grp BIGINT, key UBIGINT)")
        con.execute("DROP TABLE IF EXISTS dg_own")
        con.execute("CREATE TABLE dgd_near AS SELECT DISTINCT wrapper_id, near_group FROM dg_fp")
        _persist(con, "dgd_campaign", pa.table({"campaign_id": [c["campaign_id"] for c in campaigns],
                                                "record": [orjson.dumps(c).decode() for c in campaigns]}))
        _write_meta(con, key, snap.high_water, {"threshold": snap.threshold})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _persist(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    con.register("_dgd_in", table)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _dgd_in")
    finally:
        con.unregister("_dgd_in")


def _write_meta(con: duckdb.DuckDBPyConnection, key: str, mark: int, extra: dict[str, object]) -> None:
    con.execute("CREATE OR REPLACE TABLE dgd_meta (key VARCHAR, value VARCHAR)")
    con.executemany("INSERT INTO dgd_meta VALUES (?, ?)",
                    [["key", key], ["high_water", str(mark)], ["version", str(STATE_VERSION)]]
                    + [[k, str(v)] for k, v in extra.items()])


# ------------------------------------------------------------------------------------------------ update


@dataclass(frozen=True)
class Update:
    """What one update did."""

    exchanges: int
    texts: int
    accounts: int          # accounts whose features were recomputed
    scored: int            # accounts scored (all of the store's)
    joined: int            # accounts that joined a group
    flagged: int
    campaigns: int
    threshold: float


def update(store: Store, out: Path, key: str, config: Any, fingerprint: feat.FingerprintFn | None = None,
           step: Callable[[str], None] = lambda name: None) -> Update:
    """Absorb the exchanges ingested since the snapshot; write the output folder; advance the snapshot."""
    con = store.con
    mark = snapshot_mark(con, key)
    if mark is None:
        raise StoreError(f"{store.path}: no incremental snapshot for this configuration; run a full "
                         "`distillguard detect --incremental` on it first")
    top = high_water(con)
    con.execute("BEGIN TRANSACTION")
    try:
        new_rows = f"(SELECT *, rowid AS rid FROM exchanges WHERE rowid >= {mark} AND rowid < {top})"
        con.execute("CREATE OR REPLACE TEMP TABLE dgn_x AS "
                    + feat.slim_select(new_rows, extra=", rid, nullif(org_id, '') AS org_id"))
        n_new = con.sql("SELECT count(*) FROM dgn_x").fetchall()[0][0]
        n_texts = _fingerprint_new(con, fingerprint)
        step("fingerprints")
        fs.absorb(con, "dgn_x", touched_table="dgn_aff")   # new traffic, or a text of theirs now replayed
        rows = fs.features(con, "dgn_aff")
        # an account's provenance share (detection.provenance) is the snapshot's until the next full run: the
        # update sees only the new rows, not the pairs of accounts recycling each other's completions
        prov = ("provenance_share" in con.sql("SELECT * FROM dgd_features LIMIT 0").columns
                and "provenance_share" not in rows.column_names)
        if prov:
            old = con.sql("SELECT account_id, provenance_share FROM dgd_features").to_arrow_table()
            at = positions(rows["account_id"], old["account_id"])
            share = np.where(at >= 0, np.nan_to_num(old["provenance_share"].to_numpy(zero_copy_only=False)
                                                    .astype(float))[np.maximum(at, 0)], 0.0) \
                if old.num_rows else np.zeros(rows.num_rows)
            rows = rows.append_column("provenance_share", pa.array(share))
        con.register("_dgn_feat", rows)
        try:
            con.execute("DELETE FROM dgd_features WHERE account_id IN (SELECT account_id FROM dgn_aff)")
            con.execute("INSERT INTO dgd_features BY NAME SELECT * FROM _dgn_feat")
        finally:
            con.unregister("_dgn_feat")
        _new_accounts(con)
        step("features")
        joined = _join_groups(con)
        step("links")
        features = con.sql("SELECT * FROM dgd_features ORDER BY account_id").to_arrow_table()
        acc = con.sql("SELECT * FROM dgd_acc ORDER BY account_id").to_arrow_table()
        scores, point, campaign = _score(con, features, acc, config)
        step("scoring")
        link_reasons = {a: r.split(";") for a, r in zip(acc["account_id"].to_pylist(),
                                                        acc["link_reasons"].to_pylist(), strict=True) if r}
        n_flagged, n_campaigns = _write(con, out, features, scores, point, campaign, link_reasons,
                                       individual_reasons(features, config.scores))
        _write_meta(con, key, top, {"threshold": point.enforce, "last_exchanges": n_new, "last_texts": n_texts,
                                    "last_accounts": rows.num_rows, "last_joined": joined})
        for t in ("dgn_x", "dgn_aff", "dg_fp", "dg_seg", "dgn_keys"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    step("output")
    return Update(n_new, n_texts, rows.num_rows, features.num_rows, joined, n_flagged, n_campaigns, point.enforce)


def _fingerprint_new(con: duckdb.DuckDBPyConnection, fingerprint: feat.FingerprintFn | None) -> int:
    """`dg_fp` and `dg_seg` for the new rows' sampled texts (cached ones loaded, the others fingerprinted)."""
    from ..fingerprints import texts as fpmod

    own = fingerprint is None
    fingerprint = fingerprint or fpmod.fingerprint_texts
    con.execute(f"""CREATE OR REPLACE TEMP TABLE dg_sample AS SELECT DISTINCT x.text_hash FROM dgn_x x
        LEFT JOIN dgd_acc a USING (account_id) WHERE x.text_hash <= coalesce(a.tau, {UBIGINT_MAX}::UBIGINT)""")
    cache = fpcache.FingerprintCache.open(con, persistent=own)
    con.execute("DROP TABLE IF EXISTS temp.dg_x")
    con.execute("CREATE OR REPLACE TEMP VIEW dg_x AS SELECT * FROM dgn_x")   # each text's row (rid)
    n = feat.fingerprint_sample(con, cache, fingerprint)
    # a wrapper the full run grouped keeps its near-duplicate group; a new one is its own group
    con.execute("""CREATE OR REPLACE TEMP TABLE dg_fp AS SELECT f.*, coalesce(g.near_group, f.wrapper_id) AS near_group
        FROM dg_fp_raw f LEFT JOIN dgd_near g USING (wrapper_id)""")
    con.execute("INSERT INTO dgd_near SELECT DISTINCT wrapper_id, wrapper_id FROM dg_fp "
                "WHERE wrapper_id NOT IN (SELECT wrapper_id FROM dgd_near)")
    for t in ("dg_fp_raw", "dg_sk", "dg_wr", "dg_sample", "dg_miss"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    con.execute("DROP VIEW dg_x")
    return n


def _new_accounts(con: duckdb.DuckDBPyConnection) -> None:
    """Rows for accounts first seen now; the declared organisation of every account with new traffic."""
    con.execute(f"""INSERT INTO dgd_acc BY NAME SELECT account_id, -1 AS grp, 0.0 AS strength, 0.0 AS degree,
        false AS in_block, -1 AS community, '' AS campaign_id, '' AS link_reasons, {UBIGINT_MAX}::UBIGINT AS tau,
        CASE WHEN count(DISTINCT org_id) = 1 AND count(org_id) = count(*) THEN any_value(org_id) END AS org
        FROM dgn_x WHERE account_id NOT IN (SELECT account_id FROM dgd_acc) GROUP BY account_id""")
    # one organisation declared on every exchange, old and new (features.ORGS_SQL's rule)
    con.execute("""UPDATE dgd_acc SET org = NULL FROM (
            SELECT account_id, count(DISTINCT org_id) AS n_org, count(org_id) AS n_set, count(*) AS n,
                   any_value(org_id) AS org_id FROM dgn_x GROUP BY account_id) n
        WHERE dgd_acc.account_id = n.account_id AND dgd_acc.org IS NOT NULL
          AND (n.n_org <> 1 OR n.n_set <> n.n OR n.org_id <> dgd_acc.org)""")


def _join_groups(con: duckdb.DuckDBPyConnection) -> int:
    """Ungrouped accounts whose new traffic carries a group's own content keys join that group."""
    # the new texts' phrases are matched against the group keys as they are (a key a group owns is repeated):
    # shared_traffic's key SQL reads the kept phrases (dg_phrase); here it reads all the new ones (dg_seg)
    keys = "\nUNION ALL ".join(
        f"SELECT text_hash, key, '{kind}' AS kind FROM ({sql.replace(tables.PHRASE.name, tables.SEG.name)})"
        for kind, sql in TEXT_KEYS)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE dgn_keys AS
        SELECT x.account_id, x.rid, k.key, k.kind FROM dgn_x x JOIN ({keys}) k USING (text_hash)
        WHERE x.account_id IN (SELECT account_id FROM dgd_acc WHERE grp < 0)""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE dgn_join AS
        WITH fp AS (SELECT account_id, count(*) AS n_fp FROM dgn_x WHERE text_hash IN (SELECT text_hash FROM dg_fp)
                    GROUP BY account_id),
        votes AS (SELECT k.account_id, o.grp, count(DISTINCT k.rid) AS n,
                         string_agg(DISTINCT k.kind, ';' ORDER BY k.kind) AS kinds
                  FROM dgn_keys k JOIN dgd_own o USING (key) GROUP BY ALL),
        best AS (SELECT *, row_number() OVER (PARTITION BY account_id ORDER BY n DESC, grp) AS r FROM votes),
        bind AS (SELECT grp, median(strength) AS strength, median(degree) AS degree FROM dgd_acc
                 WHERE grp >= 0 GROUP BY grp)
        SELECT b.account_id, b.grp, d.strength, d.degree, b.kinds FROM best b JOIN fp USING (account_id)
        JOIN bind d USING (grp)
        WHERE b.r = 1 AND b.n >= {ASSIGN_MIN_EXCHANGES} AND b.n >= {ASSIGN_MIN_SHARE} * fp.n_fp""")
    con.execute("""UPDATE dgd_acc SET grp = j.grp, strength = j.strength, degree = j.degree, link_reasons = j.kinds
        FROM dgn_join j WHERE dgd_acc.account_id = j.account_id""")
    n = con.sql("SELECT count(*) FROM dgn_join").fetchall()[0][0]
    con.execute("DROP TABLE dgn_join")
    return int(n)


def _score(con: duckdb.DuckDBPyConnection, features: pa.Table, acc: pa.Table, config: Any
           ) -> tuple[Scores, OperatingPoint, list[str]]:
    """Scores of every account with the snapshot's grouping (`acc`: `dgd_acc`); the threshold; each flagged
    account's campaign."""
    families = con.sql("SELECT families FROM dgd_group ORDER BY grp").to_arrow_table()["families"].to_numpy()
    grouping = Grouping(accounts=acc["account_id"].to_pylist(), group=acc["grp"].to_numpy(),
                        strength=acc["strength"].to_numpy(), degree=acc["degree"].to_numpy(),
                        in_block=np.asarray(acc["in_block"].to_numpy(), bool),
                        edges=pa.table({"src": [], "dst": [], "weight": []}), families=families,
                        community=acc["community"].to_numpy())
    shared = con.sql("SELECT * FROM dgd_shared").to_arrow_table()
    at = positions(features["account_id"], acc["account_id"])
    orgs = acc["org"].take(pa.array(at)).to_pylist()
    cards = feat.payment_cards(con, features["account_id"].to_pylist())
    scores = score_accounts(features, grouping, config.scores, orgs=orgs, shared=shared, cards=cards)
    point = operating_point(scores, config.fpr_target, config.scores)
    flagged = scores.accounts["score"].to_numpy() >= point.enforce
    old = np.asarray(acc["campaign_id"].take(pa.array(at)).to_pylist(), dtype=object)
    group = scores.accounts["group"].to_numpy()
    return scores, point, _campaigns_of(flagged, old, group)


def _campaigns_of(flagged: np.ndarray, old: np.ndarray, group: np.ndarray) -> list[str]:
    """A flagged account keeps its campaign; a newly flagged one takes its group's most common campaign."""
    cid = np.where(flagged, old, "")
    numbers = [int(c[3:]) for c in set(old.tolist()) if c.startswith("dg-") and c[3:].isdigit()]
    next_id = max(numbers, default=0) + 1
    for g in np.unique(group[flagged & (cid == "") & (group >= 0)]):
        peers = cid[(group == g) & (cid != "")]
        if len(peers):
            values, counts = np.unique(peers, return_counts=True)
            name = str(values[np.argmax(counts)])
        else:
            name, next_id = f"dg-{next_id:04d}", next_id + 1
        cid[flagged & (cid == "") & (group == g)] = name
    return cid.tolist()


def _write(con: duckdb.DuckDBPyConnection, out: Path, features: pa.Table, scores: Scores, point: OperatingPoint,
           cid: list[str], link_reasons: dict[str, list[str]], reasons: list[list[str]]) -> tuple[int, int]:
    """accounts.csv, campaigns.json, features.parquet and a plain report.html, written atomically (`reasons`: each
    account's individual reason codes)."""
    import pyarrow.parquet as pq

    t = scores.accounts
    ids = t["account_id"].to_pylist()
    score = t["score"].to_numpy()
    flagged = score >= point.enforce
    con.register("_dgn_cid", pa.table({"account_id": ids, "campaign_id": cid}))
    try:
        con.execute("UPDATE dgd_acc SET campaign_id = c.campaign_id FROM _dgn_cid c "
                    "WHERE dgd_acc.account_id = c.account_id AND dgd_acc.campaign_id <> c.campaign_id")
    finally:
        con.unregister("_dgn_cid")
    records = dict(con.sql("SELECT campaign_id, record FROM dgd_campaign").fetchall())
    campaigns = _campaign_records(features, score, np.asarray(cid, dtype=object), link_reasons, records)
    con.execute("DELETE FROM dgd_campaign")
    con.executemany("INSERT INTO dgd_campaign VALUES (?, ?)",
                    [[c["campaign_id"], orjson.dumps(c).decode()] for c in campaigns])
    out.mkdir(parents=True, exist_ok=True)
    with staged(out) as stage:
        write_accounts_csv(stage.path("accounts.csv"), ids, score, point, cid, t["in_block"].to_numpy(),
                           reasons, link_reasons)
        write_operating_point(stage.path(OPERATING_POINT), point, score)
        # the part of each account's traffic it was judged on as a member: the snapshot's, until the next full run
        shared = con.sql("SELECT account_id, shared_exchanges FROM dgd_shared").to_arrow_table()
        pq.write_table(with_judged_share(features, shared), stage.path("features.parquet"))
        stage.path("campaigns.json").write_bytes(orjson.dumps(campaigns, option=orjson.OPT_INDENT_2))
    write_plain_report(out)
    return int(flagged.sum()), len(campaigns)


def _campaign_records(features: pa.Table, score: np.ndarray, cid: np.ndarray, link_reasons: dict[str, list[str]],
                      old: dict[str, str]) -> list[dict[str, object]]:
    """campaigns.json: each campaign's size, span and confidence from its members now; the snapshot's
    capabilities and content evidence where the campaign existed, else the members' feature averages."""
    ids = np.asarray(features["account_id"].to_pylist(), dtype=object)
    exch = features["exchanges"].to_numpy()
    first, last = features["first_ts"].to_numpy(), features["last_ts"].to_numpy()
    out = []
    for name in sorted(set(cid.tolist()) - {""}):
        m = cid == name
        n_acc, n_ex = int(m.sum()), int(exch[m].sum())
        kinds: dict[str, int] = {}
        for a in ids[m]:
            for k in link_reasons.get(a, []):
                kinds[k] = kinds.get(k, 0) + 1
        evidence = [{"signal": k, "detail": f"{v} of {n_acc} accounts bound by {k} links"}
                    for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])]
        if name in old:
            rec = orjson.loads(old[name])
            capabilities = rec["capabilities"]
            evidence += [e for e in rec["evidence"] if e["signal"] in ("cot-elicitation", "extraction-targets")]
        else:
            w = exch[m] / max(n_ex, 1)
            capabilities = {c: round(float((_values(features, f"cap_{c}")[m] * w).sum()), 4)
                            for c in ("coding", "other", "reasoning", "tool_use")}
            ext = 1.0 - capabilities["other"]
            evidence.append({"signal": "extraction-targets",
                             "detail": f"{ext:.0%} of exchanges target reasoning, coding or tool use"})
        evidence.append({"signal": "coordination", "detail": f"{n_acc} accounts sent {n_ex} exchanges"})
        out.append({"campaign_id": name, "accounts": n_acc, "exchanges": n_ex,
                    "first_seen": iso_time(float(first[m].min())), "last_seen": iso_time(float(last[m].max())),
                    "capabilities": capabilities, "evidence": evidence,
                    "confidence": round(float(np.median(score[m])), 4)})
    return out


def _values(t: pa.Table, column: str) -> np.ndarray:
    return np.nan_to_num(np.asarray(t[column].to_numpy(), float))


def _exists(con: duckdb.DuckDBPyConnection, table: str, temporary: bool = False) -> bool:
    return bool(con.sql("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND temporary = ?",
                        params=[table, temporary]).fetchall()[0][0])
