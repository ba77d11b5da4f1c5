"""Mergeable per-account feature state: `features.FEATURES_SQL`'s rows kept up to date from new exchanges only.

A full run leaves its work tables (`dg_x`, `dg_fp`, `dg_names`); `create` reduces them to persisted
aggregates (prefix `dgd_f_`), `absorb` merges the slim rows of newly ingested exchanges into them, and
`features` turns the aggregates back into feature rows. `absorb` never reads the exchange history: it
groups the new rows and joins them against the state tables (hash joins built on the new side, so the
state tables are scanned, never sorted or grouped).

- `dgd_f_acc`: one row per account: counts, sums, running extremes (first/last ts, peak minute and day
  with the last minute/day and its count), gap count / mean / M2 (Chan's parallel merge), the gap median
  with a pointer to its bin, exchanges per hour of day (a list of 24), distinct-key counts, the largest
  template count and the replayed-exchange count; rewritten for the accounts an absorb touches;
- `dgd_f_gbin`: gaps per (account, log-scale bin) with the bin's smallest and largest gap; `dgd_f_tpl`:
  fingerprinted exchanges per (account, template); `dgd_f_text`: per distinct text its single sender and
  that sender's count, or a NULL sender once two accounts sent it (every exchange of it is then replayed,
  the earlier sender's included). These three are append-only (a key's rows are summed by whoever reads
  them: a commit writes the new rows only, where an UPDATE rewrites every row group it touches);
  `compact` folds them to one row per key, and `absorb` does so once one has doubled (`dgd_f_meta`);
- `dgd_f_head`: per (account, prompt opening `pre_key`) of fingerprinted texts its first and last time, its
  exchanges and distinct texts (summed over absorbs: a text sent in two absorbs counts twice), append-only too:
  the tasks of `features.TASK_SQL`, whose steps count as one unit (`task_units`);
- `dgd_f_key`: the distinct (account, kind, key) pairs behind the distinct counts (near groups, client
  fingerprints, ips, user agents, models, system prompts); new pairs are appended.

Accounts are keyed by `hash(account_id)` (UBIGINT) outside `dgd_f_acc`, near groups by `hash(near_group)`.

Exact (up to 64-bit hash collisions and float rounding) when each account's new exchanges are not older
than the ones absorbed before; `gap_median` is taken from the bins: |error| ≤ (e^(1/400) − 1)·(1 + median)
≈ 0.25 % of (1 + median), and exact when the middle gaps are the smallest or largest of their bin. A
late exchange (older than its account's last absorbed one) is measured from that last one (gap 0) and
counted as a new minute/day unless it falls in the last one: gap_std, gap_median, fast_gap_share,
peak_per_minute, peak_per_day and active_days are then approximate (gap_mean stays exact).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from ..errors import StoreError
from . import account_ids
from .features import CAPABILITY_SQL, GAP_CAP_S, TASK_SPAN_S, FeatureConfig

BIN_SCALE = 200          # gap bin = round(ln(1 + gap) * BIN_SCALE)
MEDIAN_WINDOW = 16       # bins read on each side of an account's median bin when new gaps arrive
# key kinds of `dgd_f_key` (distinct counts) and the new-row expression keyed
_KEYS = {k: (c, f"hash({c})" if k == "near" else c) for k, c in (
    ("near", "near_group"), ("client", "client_fp"), ("ip", "ip_h"), ("ua", "ua_h"), ("model", "model_h"),
    ("sys", "sys_hash"))}
_KIND = {k: i for i, k in enumerate(_KEYS)}

STATE_TABLES: tuple[str, ...] = ("dgd_f_acc", "dgd_f_gbin", "dgd_f_tpl", "dgd_f_head", "dgd_f_key", "dgd_f_text",
                                  "dgd_f_meta")
# the append-only tables (rows of one key are summed by their readers) and how `compact` folds them
_FOLD = {
    "dgd_f_gbin": "SELECT ah, bin, sum(n)::BIGINT AS n, min(lo) AS lo, max(hi) AS hi FROM dgd_f_gbin GROUP BY ALL",
    "dgd_f_tpl": "SELECT ah, template_id, sum(n)::BIGINT AS n FROM dgd_f_tpl GROUP BY ALL",
    "dgd_f_head": "SELECT ah, pre_key, min(first_ts) AS first_ts, max(last_ts) AS last_ts, sum(n)::BIGINT AS n, "
                  "sum(texts)::BIGINT AS texts FROM dgd_f_head GROUP BY ALL",
    "dgd_f_text": "SELECT text_hash, CASE WHEN {single} THEN min(owner) END AS owner, "
                  "CASE WHEN {single} THEN sum(owner_n)::BIGINT END AS owner_n FROM dgd_f_text GROUP BY text_hash",
}
# a text's rows say it has a single sender: no NULL owner (replayed) and one owner
_SINGLE = "(bool_and(owner IS NOT NULL) AND min(owner) = max(owner))"
COMPACT_GROWTH = 2.0     # `absorb` folds an append-only table once it holds this many times its folded rows
_TMP = ("dgd_t_nx", "dgd_t_nt", "dgd_t_b", "dgd_t_g", "dgd_t_gb", "dgd_t_mi", "dgd_t_dy", "dgd_t_bt", "dgd_t_dt",
        "dgd_t_tp", "dgd_t_nk", "dgd_t_k", "dgd_t_tx", "dgd_t_rp", "dgd_t_m", "dgd_t_names", "dgd_t_gaps",
        "dgd_t_at", "dgd_t_fold", "dgd_t_p0", "dgd_t_w", "dgd_t_p", "dgd_t_far", "dgd_t_med")

_ACC_COLUMNS = """account_id VARCHAR, ah UBIGINT, n BIGINT, first_ts DOUBLE, last_ts DOUBLE,
  g_n BIGINT, g_mean DOUBLE, g_m2 DOUBLE, fast_n BIGINT, gap_median DOUBLE, mb SMALLINT, mb_below BIGINT,
  last_min DOUBLE, last_min_n BIGINT, peak_min BIGINT, last_day DOUBLE, last_day_n BIGINT, peak_day BIGINT,
  active_days BIGINT, st_n BIGINT, fp_n BIGINT, cap_nn BIGINT, cap_r BIGINT, cap_c BIGINT, cap_t BIGINT,
  cap_o BIGINT, cot_nn BIGINT, cot_n BIGINT, str_nn BIGINT, str_n BIGINT, tools_n BIGINT,
  ct_sum HUGEINT, pt_sum HUGEINT, mt_n BIGINT, mt_sum DOUBLE, long_n BIGINT, t_n BIGINT, t_mean DOUBLE,
  t_m2 DOUBLE, hrs BIGINT[], n_tpl BIGINT, tpl_max BIGINT, """ + ", ".join(f"n_{k} BIGINT" for k in _KEYS) \
    + ", rp_n BIGINT"

_SCHEMAS = {
    "dgd_f_acc": _ACC_COLUMNS,
    "dgd_f_gbin": "ah UBIGINT, bin SMALLINT, n BIGINT, lo DOUBLE, hi DOUBLE",
    "dgd_f_tpl": "ah UBIGINT, template_id BIGINT, n BIGINT",
    "dgd_f_head": "ah UBIGINT, pre_key UBIGINT, first_ts DOUBLE, last_ts DOUBLE, n BIGINT, texts BIGINT",
    "dgd_f_key": "ah UBIGINT, kind UTINYINT, key UBIGINT",
    "dgd_f_text": "text_hash UBIGINT, owner UBIGINT, owner_n BIGINT",
    "dgd_f_meta": "name VARCHAR, folded BIGINT",
}

# the new rows (`dgd_t_nx`): slim columns + the account's hash + the fingerprint columns FEATURES_SQL joins;
# `dgd_t_nt`: their account hash and time only
_NX_SQL = """SELECT x.account_id, {ah} AS ah, x.ts_s, x.text_hash, x.sys_hash, x.user_turns,
  x.multi_turn, x.max_tokens, x.temperature, x.client_fp, x.ip_h, x.ua_h, x.model_h, x.prompt_tokens,
  x.completion_tokens, x.has_tools, (floor(x.ts_s / 3600)::BIGINT % 24)::TINYINT AS hod,
  f.template_id, f.near_group, {capability} AS capability, f.cot, f.structured, f.pre_key
FROM {source} x LEFT JOIN dg_fp f USING (text_hash)"""

_BATCH_SQL = """SELECT ah, any_value(account_id) AS account_id, count(*) AS n, min(ts_s) AS first_ts,
  max(ts_s) AS last_ts,
  count(*) FILTER (user_turns <= 1 AND NOT multi_turn) AS st_n, count(template_id) AS fp_n,
  count(capability) AS cap_nn, count(*) FILTER (capability = 'reasoning') AS cap_r,
  count(*) FILTER (capability = 'coding') AS cap_c, count(*) FILTER (capability = 'tool_use') AS cap_t,
  count(*) FILTER (capability = 'other') AS cap_o, count(cot) AS cot_nn, count(*) FILTER (cot) AS cot_n,
  count(structured) AS str_nn, count(*) FILTER (structured) AS str_n, count(*) FILTER (has_tools) AS tools_n,
  sum(completion_tokens)::HUGEINT AS ct_sum, sum(prompt_tokens)::HUGEINT AS pt_sum,
  count(max_tokens) AS mt_n, sum(max_tokens) AS mt_sum, count(*) FILTER (max_tokens >= {long_output}) AS long_n,
  count(temperature) AS t_n, avg(temperature) AS t_mean, var_pop(temperature) * count(temperature) AS t_m2,
  [{hours}] AS hrs
FROM dgd_t_nx GROUP BY ah"""
_HOUR = "hod"      # the hour of day (FEATURES_SQL's `floor(ts_s / 3600)::BIGINT % 24`), in dgd_t_nx

# gaps of the new rows: between consecutive new rows, and from the account's last absorbed row to its
# first new one (a late row: gap 0)
_GAPS_SQL = f"""SELECT ah, least(gap, {GAP_CAP_S}) AS gap FROM (
  SELECT y.ah, CASE WHEN y.p IS NOT NULL THEN y.ts_s - y.p
    WHEN s.last_ts IS NOT NULL THEN greatest(y.ts_s - s.last_ts, 0) END AS gap
  FROM (SELECT ah, ts_s, lag(ts_s) OVER (PARTITION BY ah ORDER BY ts_s) AS p FROM dgd_t_nt) y
  LEFT JOIN (SELECT ah, last_ts FROM dgd_f_acc WHERE ah IN (SELECT ah FROM dgd_t_b)) s USING (ah))
WHERE gap IS NOT NULL"""

# minutes (days): the batch's counts, plus the state's count when it is the state's last minute (day)
_PERIOD_SQL = """SELECT c.ah, max(c.p) AS bmax,
  arg_max(c.c + CASE WHEN c.p = s.last_{u} THEN s.last_{u}_n ELSE 0 END, c.p) AS bmax_n,
  max(c.c + CASE WHEN c.p = s.last_{u} THEN s.last_{u}_n ELSE 0 END) AS bpeak,
  count(*) FILTER (c.p IS DISTINCT FROM s.last_{u}) AS fresh
FROM (SELECT ah, floor(ts_s / {secs}) AS p, count(*) AS c FROM dgd_t_nt GROUP BY ALL) c
LEFT JOIN (SELECT ah, last_{u}, last_{u}_n FROM dgd_f_acc WHERE ah IN (SELECT ah FROM dgd_t_b)) s USING (ah)
GROUP BY c.ah"""


def _merge_mean(prefix: str, a: str, b: str) -> tuple[str, str, str]:
    """SQL of count, mean and M2 of two summaries (Chan et al.'s parallel merge; NULL summaries are empty)."""
    na, nb = f"coalesce({a}.{prefix}_n, 0)", f"coalesce({b}.{prefix}_n, 0)"
    d = f"({b}.{prefix}_mean - {a}.{prefix}_mean)"
    n = f"({na} + {nb})"
    mean = (f"CASE WHEN {nb} = 0 THEN {a}.{prefix}_mean WHEN {na} = 0 THEN {b}.{prefix}_mean "
            f"ELSE {a}.{prefix}_mean + {d} * {nb}::DOUBLE / {n} END")
    m2 = (f"CASE WHEN {nb} = 0 THEN {a}.{prefix}_m2 WHEN {na} = 0 THEN {b}.{prefix}_m2 "
          f"ELSE {a}.{prefix}_m2 + {b}.{prefix}_m2 + {d} * {d} * {na}::DOUBLE * {nb}::DOUBLE / {n} END")
    return n, mean, m2


def _merged_acc_sql() -> str:
    def add(c: str, right: str = "b") -> str:
        return f"coalesce(s.{c}, 0) + coalesce({right}.{c}, 0)"

    def add_null(c: str) -> str:   # a sum that stays NULL while every value was NULL
        return f"CASE WHEN s.{c} IS NULL THEN b.{c} WHEN b.{c} IS NULL THEN s.{c} ELSE s.{c} + b.{c} END"

    def period(u: str, p: str) -> str:
        newer = f"(s.last_{u} IS NULL OR {p}.bmax >= s.last_{u})"
        return (f"CASE WHEN {p}.ah IS NULL THEN s.last_{u} WHEN {newer} THEN {p}.bmax ELSE s.last_{u} END, "
                f"CASE WHEN {p}.ah IS NULL THEN s.last_{u}_n WHEN {newer} THEN {p}.bmax_n ELSE s.last_{u}_n END, "
                f"greatest(s.peak_{u}, {p}.bpeak)")

    gn, gmean, gm2 = _merge_mean("g", "s", "g")
    tn, tmean, tm2 = _merge_mean("t", "s", "b")
    counts = ", ".join(add(c) for c in ("st_n", "fp_n", "cap_nn", "cap_r", "cap_c", "cap_t", "cap_o", "cot_nn",
                                        "cot_n", "str_nn", "str_n", "tools_n"))
    keys = ", ".join(add(f"n_{k}", "k") for k in _KEYS)
    return f"""SELECT coalesce(s.account_id, b.account_id), t.ah, {add('n')}, least(s.first_ts, b.first_ts),
  greatest(s.last_ts, b.last_ts), {gn}, {gmean}, {gm2}, {add('fast_n', 'g')},
  s.gap_median, s.mb, s.mb_below + coalesce(gl.below, 0),
  {period('min', 'mi')}, {period('day', 'dy')}, coalesce(s.active_days, 0) + coalesce(dy.fresh, 0),
  {counts}, {add_null('ct_sum')}, {add_null('pt_sum')}, {add('mt_n')}, {add_null('mt_sum')}, {add('long_n')},
  {tn}, {tmean}, {tm2},
  CASE WHEN s.hrs IS NULL THEN b.hrs WHEN b.hrs IS NULL THEN s.hrs
       ELSE list_transform(range(1, 25), lambda i: s.hrs[i] + b.hrs[i]) END,
  coalesce(s.n_tpl, 0) + coalesce(tp.fresh, 0), greatest(s.tpl_max, tp.top),
  {keys}, coalesce(s.rp_n, 0) + coalesce(r.rp, 0)
FROM (SELECT ah FROM dgd_t_b UNION SELECT ah FROM dgd_t_rp) t
LEFT JOIN dgd_f_acc s ON s.ah = t.ah LEFT JOIN dgd_t_b b ON b.ah = t.ah LEFT JOIN dgd_t_g g ON g.ah = t.ah
LEFT JOIN dgd_t_mi mi ON mi.ah = t.ah LEFT JOIN dgd_t_dy dy ON dy.ah = t.ah
LEFT JOIN dgd_t_tp tp ON tp.ah = t.ah LEFT JOIN dgd_t_k k ON k.ah = t.ah LEFT JOIN dgd_t_rp r ON r.ah = t.ah
LEFT JOIN (SELECT gb.ah, sum(gb.n) FILTER (gb.bin < a.mb) AS below FROM dgd_t_gb gb
           JOIN dgd_f_acc a ON a.ah = gb.ah GROUP BY gb.ah) gl ON gl.ah = t.ah"""


_AT_SQL = "SELECT ah, text_hash, count(*) AS n FROM dgd_t_nx GROUP BY ALL"


def _merge(con: duckdb.DuckDBPyConnection, config: FeatureConfig, at_sql: str = _AT_SQL) -> int:
    """Merge the new rows in `dgd_t_nx` into the state tables; the number of accounts touched.

    `at_sql`: their exchanges per (account hash, text), when known already.
    """
    hours = ", ".join(f"count(*) FILTER ({_HOUR} = {h})" for h in range(24))
    con.execute("CREATE OR REPLACE TEMP TABLE dgd_t_b AS "
                + _BATCH_SQL.replace("{long_output}", str(config.long_output_tokens)).replace("{hours}", hours))
    if con.sql("SELECT count(*) FROM dgd_t_b").fetchall()[0][0] == 0:
        return 0
    con.execute(f"CREATE OR REPLACE TEMP TABLE dgd_t_gaps AS {_GAPS_SQL}")
    con.execute("CREATE OR REPLACE TEMP TABLE dgd_t_g AS SELECT ah, count(*) AS g_n, avg(gap) AS g_mean, "
                "var_pop(gap) * count(*) AS g_m2, count(*) FILTER (gap < 5) AS fast_n FROM dgd_t_gaps GROUP BY ah")
    con.execute(f"CREATE OR REPLACE TEMP TABLE dgd_t_gb AS SELECT ah, round(ln(1 + gap) * {BIN_SCALE})::SMALLINT "
                "AS bin, count(*) AS n, min(gap) AS lo, max(gap) AS hi FROM dgd_t_gaps GROUP BY ALL")
    con.execute("DROP TABLE dgd_t_gaps")
    for name, unit, secs in (("dgd_t_mi", "min", 60), ("dgd_t_dy", "day", 86400)):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS "
                    + _PERIOD_SQL.replace("{u}", unit).replace("{secs}", str(secs)))
    # templates: the merged count of each (account, template) touched (the state's rows of those keys
    # summed), and whether it is new to the account
    con.execute("CREATE OR REPLACE TEMP TABLE dgd_t_bt AS SELECT ah, template_id, count(*) AS n FROM dgd_t_nx "
                "WHERE template_id IS NOT NULL GROUP BY ALL")
    con.execute("""CREATE OR REPLACE TEMP TABLE dgd_t_dt AS
SELECT d.ah, d.n + coalesce(e.n, 0) AS n, e.n IS NULL AS fresh FROM dgd_t_bt d
LEFT JOIN (SELECT s.ah, s.template_id, sum(s.n) AS n FROM dgd_f_tpl s JOIN dgd_t_bt d USING (ah, template_id)
           GROUP BY ALL) e USING (ah, template_id)""")
    con.execute("CREATE OR REPLACE TEMP TABLE dgd_t_tp AS SELECT ah, count(*) FILTER (fresh) AS fresh, max(n) AS top "
                "FROM dgd_t_dt GROUP BY ah")
    # distinct keys new to their account: one pass over the new rows (in `create` a view over the whole
    # history), all kinds unnested at once
    keys = ", ".join(f"CASE WHEN {c} IS NOT NULL THEN {e} END" for c, e in _KEYS.values())
    keyed = (f"SELECT * FROM (SELECT ah, unnest(range({len(_KEYS)}))::UTINYINT AS kind, unnest([{keys}]) AS key "
             "FROM dgd_t_nx) WHERE key IS NOT NULL")
    # (an explicit anti join builds its hash table on the new keys; NOT EXISTS would build it on the state)
    con.execute("CREATE OR REPLACE TEMP TABLE dgd_t_nk AS SELECT * FROM "
                f"(SELECT DISTINCT ah, kind, key FROM ({keyed})) d "
                "ANTI JOIN dgd_f_key s ON s.ah = d.ah AND s.kind = d.kind AND s.key = d.key")
    con.execute("CREATE OR REPLACE TEMP TABLE dgd_t_k AS SELECT ah, "
                + ", ".join(f"count(*) FILTER (kind = {_KIND[k]}) AS n_{k}" for k in _KEYS)
                + " FROM dgd_t_nk GROUP BY ah")
    _replay(con, at_sql)
    con.execute("CREATE OR REPLACE TEMP TABLE dgd_t_m AS SELECT * FROM dgd_f_acc LIMIT 0")
    con.execute("INSERT INTO dgd_t_m " + _merged_acc_sql())
    touched = con.sql("SELECT count(*) FROM dgd_t_m").fetchall()[0][0]
    # write: per-account rows replaced, the large tables appended to (no update: a commit then writes the
    # new rows only, not every row group an update touches)
    con.execute("INSERT INTO dgd_f_gbin SELECT ah, bin, n, lo, hi FROM dgd_t_gb")
    _medians(con)
    con.execute("DELETE FROM dgd_f_acc WHERE ah IN (SELECT ah FROM dgd_t_m)")
    con.execute("INSERT INTO dgd_f_acc SELECT * FROM dgd_t_m")
    con.execute("INSERT INTO dgd_f_tpl SELECT ah, template_id, n FROM dgd_t_bt")
    con.execute("INSERT INTO dgd_f_head SELECT ah, pre_key, min(ts_s), max(ts_s), count(*), count(DISTINCT text_hash) "
                "FROM dgd_t_nx WHERE pre_key IS NOT NULL GROUP BY ALL")
    con.execute("INSERT INTO dgd_f_key SELECT ah, kind, key FROM dgd_t_nk")
    return int(touched)


def _medians(con: duckdb.DuckDBPyConnection) -> None:
    """The gap median of the accounts with new gaps in `dgd_t_m` (after their bins are in `dgd_f_gbin`).

    An account keeps a pointer to its median: the bin holding the rank-(n+1)//2 gap and the number of gaps
    below that bin. New gaps move the median by a few ranks, so only the bins within MEDIAN_WINDOW of the
    pointer are read; an account whose median left that window (or without a pointer) reads all its bins.
    """
    # only_new: all the account's gaps are new (its bins are the batch's, no state to read)
    con.execute("""CREATE OR REPLACE TEMP TABLE dgd_t_p0 AS SELECT m.ah, m.mb, m.mb_below, (m.g_n + 1) // 2 AS r1,
  m.g_n // 2 + 1 AS r2, m.g_n = g.g_n AS only_new FROM dgd_t_m m JOIN dgd_t_g g USING (ah)""")
    w = MEDIAN_WINDOW
    window = con.sql("SELECT count(*) FROM dgd_t_p0 WHERE mb IS NOT NULL").fetchall()[0][0] > 0
    con.execute(f"""CREATE OR REPLACE TEMP TABLE dgd_t_w AS SELECT g.ah, g.bin, sum(g.n) AS n, min(g.lo) AS lo,
  max(g.hi) AS hi FROM dgd_f_gbin g JOIN dgd_t_p0 p ON g.ah = p.ah AND g.bin BETWEEN p.mb - {w} AND p.mb + {w}
WHERE {window} GROUP BY ALL""")
    # b0: gaps below the window; the window answers when both middle ranks fall inside it
    con.execute("""CREATE OR REPLACE TEMP TABLE dgd_t_p AS SELECT * FROM (
  SELECT p.ah, any_value(p.r1) AS r1, any_value(p.r2) AS r2,
         any_value(p.mb_below) - coalesce(sum(w.n) FILTER (w.bin < p.mb), 0) AS b0, coalesce(sum(w.n), 0) AS tot
  FROM dgd_t_p0 p LEFT JOIN dgd_t_w w USING (ah) WHERE p.mb IS NOT NULL GROUP BY p.ah, p.mb)
WHERE r1 > b0 AND r2 <= b0 + tot""")
    con.execute("DELETE FROM dgd_t_w WHERE ah NOT IN (SELECT ah FROM dgd_t_p)")
    con.execute("CREATE OR REPLACE TEMP TABLE dgd_t_far AS SELECT ah, r1, r2, only_new FROM dgd_t_p0 "
                "WHERE ah NOT IN (SELECT ah FROM dgd_t_p)")
    con.execute("INSERT INTO dgd_t_w SELECT g.* FROM dgd_t_gb g SEMI JOIN (SELECT ah FROM dgd_t_far WHERE only_new) f "
                "ON f.ah = g.ah")
    if con.sql("SELECT count(*) FROM dgd_t_far WHERE NOT only_new").fetchall()[0][0]:
        con.execute("INSERT INTO dgd_t_w SELECT g.ah, g.bin, sum(g.n), min(g.lo), max(g.hi) FROM dgd_f_gbin g "
                    "SEMI JOIN (SELECT ah FROM dgd_t_far WHERE NOT only_new) f ON f.ah = g.ah GROUP BY ALL")
    con.execute("INSERT INTO dgd_t_p SELECT ah, r1, r2, 0, NULL FROM dgd_t_far")
    # the gap of rank r: the smallest / largest gap of its bin when it is the bin's first / last, else the
    # bin's centre clamped into the bin's range
    val = ("CASE WHEN {r} = c - n + 1 THEN lo WHEN {r} = c THEN hi "
           f"ELSE least(greatest(exp(bin / {BIN_SCALE}.0) - 1, lo), hi) END")
    at = "{r} > c - n AND {r} <= c"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE dgd_t_med AS SELECT ah,
  (max(CASE WHEN {at.format(r='r1')} THEN {val.format(r='r1')} END)
   + max(CASE WHEN {at.format(r='r2')} THEN {val.format(r='r2')} END)) / 2 AS gap_median,
  max(CASE WHEN {at.format(r='r1')} THEN bin END) AS mb, max(CASE WHEN {at.format(r='r1')} THEN c - n END) AS mb_below
FROM (SELECT w.*, p.r1, p.r2, p.b0 + sum(w.n) OVER (PARTITION BY w.ah ORDER BY w.bin) AS c
      FROM dgd_t_w w JOIN dgd_t_p p USING (ah))
WHERE {at.format(r='r1')} OR {at.format(r='r2')}
GROUP BY ah""")
    # (an UPDATE of the merged rows is slow: it rewrites them whole, hour lists included)
    con.execute("""CREATE OR REPLACE TEMP TABLE dgd_t_m AS SELECT m.* REPLACE (
  CASE WHEN d.ah IS NULL THEN m.gap_median ELSE d.gap_median END AS gap_median,
  CASE WHEN d.ah IS NULL THEN m.mb ELSE d.mb END AS mb,
  CASE WHEN d.ah IS NULL THEN m.mb_below ELSE d.mb_below END AS mb_below)
FROM dgd_t_m m LEFT JOIN dgd_t_med d ON d.ah = m.ah""")


def _replay(con: duckdb.DuckDBPyConnection, at_sql: str) -> None:
    """Append the new rows' texts to `dgd_f_text`; `dgd_t_rp(ah, rp)`: replayed exchanges gained per account."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE dgd_t_at AS {at_sql}")
    # per text of the new rows: its accounts there (the one when single), and its state before: already
    # replayed (a NULL owner) or its single sender and that sender's count
    con.execute("""CREATE OR REPLACE TEMP TABLE dgd_t_tx AS
SELECT d.*, e.text_hash IS NOT NULL AS known, coalesce(e.multi, false) AS was_multi, e.owner, e.owner_n,
  coalesce(e.multi, false) OR d.k >= 2 OR coalesce(e.owner <> d.a1, false) AS multi
FROM (SELECT text_hash, count(*) AS k, min(ah) AS a1, sum(n) AS tn FROM dgd_t_at GROUP BY text_hash) d
LEFT JOIN (SELECT s.text_hash, NOT {single} AS multi,
                  min(s.owner) AS owner, sum(s.owner_n) AS owner_n
           FROM dgd_f_text s SEMI JOIN dgd_t_at a ON a.text_hash = s.text_hash GROUP BY s.text_hash) e
USING (text_hash)""".replace("{single}", _SINGLE))
    con.execute("""CREATE OR REPLACE TEMP TABLE dgd_t_rp AS SELECT ah, sum(rp) AS rp FROM (
  SELECT a.ah, a.n AS rp FROM dgd_t_at a JOIN dgd_t_tx t USING (text_hash) WHERE t.multi
  UNION ALL SELECT owner AS ah, owner_n AS rp FROM dgd_t_tx WHERE multi AND known AND NOT was_multi
) GROUP BY ah""")
    # a single sender's new count, or a NULL owner when the text turns replayed (already replayed: nothing)
    con.execute("""INSERT INTO dgd_f_text SELECT text_hash, CASE WHEN multi THEN NULL ELSE a1 END,
  CASE WHEN multi THEN NULL ELSE tn END FROM dgd_t_tx WHERE NOT was_multi""")
    con.execute("DROP TABLE dgd_t_at")


def _drop_tmp(con: duckdb.DuckDBPyConnection) -> None:
    for kind, name in con.sql("SELECT 'TABLE', table_name FROM duckdb_tables() WHERE temporary UNION ALL "
                              "SELECT 'VIEW', view_name FROM duckdb_views() WHERE temporary").fetchall():
        if name in _TMP:
            con.execute(f"DROP {kind} temp.{name}")


def create(con: duckdb.DuckDBPyConnection) -> None:
    """Build the persisted feature state from a full run's work tables (replacing any earlier one)."""
    for t in STATE_TABLES:
        con.execute(f"CREATE OR REPLACE TABLE {t} ({_SCHEMAS[t]})")
    _drop_tmp(con)
    if account_ids.numbered(con):   # numbers → ids (hashed once per account)
        con.execute(f"CREATE OR REPLACE TEMP TABLE dgd_t_names AS SELECT account_id AS num, name, hash(name) AS ah "
                    f"FROM {account_ids.NAMES}")
        source = ("(SELECT n.name AS account_id, n.ah, x.* EXCLUDE (account_id) FROM dg_x x "
                  "JOIN dgd_t_names n ON n.num = x.account_id)")
        at = "SELECT n.ah, a.text_hash, a.n FROM dg_at a JOIN dgd_t_names n ON n.num = a.account_id"
    else:
        source = "(SELECT hash(account_id) AS ah, * FROM dg_x)"
        at = "SELECT hash(account_id) AS ah, text_hash, n FROM dg_at"
    if "dg_at" not in {t for (t,) in con.sql("SELECT table_name FROM duckdb_tables()").fetchall()}:
        at = _AT_SQL
    con.execute("CREATE TEMP VIEW dgd_t_nx AS " + _NX_SQL.format(capability=CAPABILITY_SQL, source=source,
                                                                 ah="x.ah"))
    # the timing statements read the history without the fingerprint join
    con.execute(f"CREATE TEMP VIEW dgd_t_nt AS SELECT x.ah, x.ts_s FROM {source} x")
    try:
        _merge(con, FeatureConfig(), at)
    finally:
        _drop_tmp(con)
    for t in _FOLD:   # one merge writes one row per key
        con.execute("INSERT INTO dgd_f_meta VALUES (?, ?)", [t, _rows(con, t)])


def absorb(con: duckdb.DuckDBPyConnection, new_x: str, touched_table: str | None = None) -> int:
    """Merge the slim rows of table `new_x` into the state; return the number of accounts touched.

    `touched_table`: also list those accounts (`account_id`) in that temporary table: the ones with new rows
    and the earlier sole senders of a text that is now replayed (their `replayed_share` changed).
    """
    _require_state(con)
    _drop_tmp(con)
    con.execute("CREATE TEMP TABLE dgd_t_nx AS " + _NX_SQL.format(capability=CAPABILITY_SQL, source=new_x,
                                                                  ah="hash(x.account_id)"))
    con.execute("CREATE TEMP VIEW dgd_t_nt AS SELECT ah, ts_s FROM dgd_t_nx")
    try:
        touched = _merge(con, FeatureConfig())
        if touched_table:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {touched_table} AS SELECT account_id FROM dgd_t_m" if touched
                        else f"CREATE OR REPLACE TEMP TABLE {touched_table} (account_id VARCHAR)")
    finally:
        _drop_tmp(con)
    folded = dict(con.sql("SELECT name, folded FROM dgd_f_meta").fetchall())
    grown = [t for t in _FOLD if _rows(con, t) > COMPACT_GROWTH * folded.get(t, 0) + 100_000]
    if grown:
        compact(con, grown)
    return touched


def _require_state(con: duckdb.DuckDBPyConnection) -> None:
    have = {t for (t,) in con.sql("SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()}
    missing = [t for t in STATE_TABLES if t not in have]
    if missing:
        raise StoreError(f"the store has no feature state (missing {', '.join(missing)}): run a full "
                         "`distillguard detect` on it first, which builds the state")


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def compact(con: duckdb.DuckDBPyConnection, tables: list[str] | None = None) -> None:
    """Fold the append-only state tables (one row per key); `absorb` does it when one has doubled."""
    for t in tables or list(_FOLD):
        con.execute(f"CREATE OR REPLACE TEMP TABLE dgd_t_fold AS {_FOLD[t].replace('{single}', _SINGLE)}")
        con.execute(f"DELETE FROM {t}")
        con.execute(f"INSERT INTO {t} SELECT * FROM dgd_t_fold")
        con.execute("DROP TABLE dgd_t_fold")
        con.execute("DELETE FROM dgd_f_meta WHERE name = ?", [t])
        con.execute("INSERT INTO dgd_f_meta VALUES (?, ?)", [t, _rows(con, t)])


_FEATURES_SQL = """
WITH s AS (SELECT * FROM dgd_f_acc WHERE fp_n > 0 {where}),
-- the exchanges of an account's tasks beyond each task's first (features.TASK_SQL)
steps AS (
  SELECT ah, sum(n - 1) AS merged FROM (
    SELECT ah, pre_key, sum(n) AS n FROM dgd_f_head WHERE ah IN (SELECT ah FROM s) GROUP BY ALL
    HAVING max(last_ts) - min(first_ts) <= {span} AND sum(texts) >= 2)
  GROUP BY ah
),
g AS (
  SELECT *, list_filter(hrs, lambda c: c > 0) AS hrs_on,
         CASE WHEN g_n > 0 THEN (last_ts - first_ts) / g_n END AS gap_mean,
         CASE WHEN g_n > 0 THEN sqrt(g_m2 / g_n) END AS gap_std FROM s
)
SELECT
  a.account_id, a.n::BIGINT AS exchanges, a.first_ts, a.last_ts, (a.last_ts - a.first_ts) / 86400.0 AS span_days,
  a.gap_mean, a.gap_std, a.gap_median, a.fast_n::DOUBLE / a.n AS fast_gap_share,
  a.st_n::DOUBLE / a.n AS single_turn_share, a.n_tpl::DOUBLE / a.fp_n AS template_diversity,
  a.n_near::DOUBLE / a.fp_n AS group_diversity,
  a.cap_r::DOUBLE / a.cap_nn AS cap_reasoning, a.cap_c::DOUBLE / a.cap_nn AS cap_coding,
  a.cap_t::DOUBLE / a.cap_nn AS cap_tool_use, a.cap_o::DOUBLE / a.cap_nn AS cap_other,
  a.cot_n::DOUBLE / a.cot_nn AS cot_share, a.str_n::DOUBLE / a.str_nn AS structured_share,
  a.tools_n::DOUBLE / a.n AS tools_share, a.ct_sum::DOUBLE / nullif(a.pt_sum, 0) AS output_input_ratio,
  a.mt_sum / a.mt_n AS max_tokens_mean, a.long_n::DOUBLE / a.n AS long_max_tokens_share,
  (a.n - a.mt_n)::DOUBLE / a.n AS no_max_tokens_share,
  CASE WHEN a.t_n > 0 THEN sqrt(a.t_m2 / a.t_n) END AS temperature_std,
  a.n_client::BIGINT AS client_fingerprints, a.n_ip::BIGINT AS ips, a.n_ua::BIGINT AS user_agents,
  a.n_model::BIGINT AS models, a.n_sys::BIGINT AS system_prompts,
  (a.last_ts - a.first_ts) / 3600.0 / greatest(a.n - 1, 1) AS mean_hours_between,
  a.n / greatest(a.active_days, 1)::DOUBLE AS exchanges_per_active_day,
  coalesce((a.gap_std - a.gap_mean) / nullif(a.gap_std + a.gap_mean, 0), 0.0) AS burstiness,
  coalesce(a.gap_std / nullif(a.gap_mean, 0), 0.0) AS gap_cv,
  a.peak_min::BIGINT AS peak_per_minute, a.peak_day::BIGINT AS peak_per_day, a.active_days::BIGINT AS active_days,
  -list_sum(list_transform(a.hrs_on, lambda c: c / a.n * ln(c / a.n))) / ln(24) AS hour_entropy,
  len(a.hrs_on)::BIGINT AS hours_active,
  a.tpl_max::DOUBLE / a.fp_n AS top_template_share,
  a.rp_n::DOUBLE / a.n AS replayed_share,
  (a.first_ts - epoch(c.created_at)) / 86400.0 AS account_age_days,
  (a.n - coalesce(st.merged, 0))::BIGINT AS task_units
FROM g a LEFT JOIN accounts c ON c.account_id = a.account_id LEFT JOIN steps st ON st.ah = a.ah
ORDER BY a.account_id
"""


def features(con: duckdb.DuckDBPyConnection, accounts: str | None = None) -> pa.Table:
    """Feature rows (FEATURES_SQL's columns, order and types; account_id = the id string) of the accounts
    in table `accounts` (column account_id VARCHAR), or of every account in the state; sorted by account_id."""
    _require_state(con)
    where = f"AND account_id IN (SELECT account_id FROM {accounts})" if accounts else ""
    sql = _FEATURES_SQL.replace("{where}", where).replace("{span}", str(TASK_SPAN_S))
    return con.sql(sql).to_arrow_table()
