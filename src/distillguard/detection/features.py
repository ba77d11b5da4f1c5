"""Per-account features (DESIGN.md steps 3–4), computed relationally inside the store.

The exchange log is reduced once to a slim per-exchange table `dg_x` (SQL), prompt texts are
fingerprinted once per DISTINCT text (Python, in bounded batches) into `dg_fp`, and every account
feature is one aggregate SQL query over `dg_x ⋈ dg_fp`. Nothing iterates over exchanges in Python.
Only a bounded sample of each account's distinct texts is fingerprinted (`FP_SAMPLE_PER_ACCOUNT`, the
smallest text hashes): content features are shares over the account's exchanges whose text is in `dg_fp`
(NULL fingerprint columns are ignored), and links join `dg_fp` the same way.

Tables created in the store's connection (prefixed `dg_`; the two large ones, `dg_x` and `dg_at`, in the
store's file while detect runs — see `work_table` — the others temporary). Those holding accounts key
them by number (`dg_names`, see :mod:`distillguard.detection.account_ids`):
- `dg_x`: account_id, ts_s (epoch seconds), text_hash, sys_hash, sys_words, user_turns, multi_turn, max_tokens,
  temperature, client_fp, ip_h / ua_h / model_h (hashes; NULL for an empty ip or user agent),
  prompt_tokens, completion_tokens, has_tools, params_key / params_set (hash and count of the non-default
  sampling parameters: links.shared-params), rid (the exchange's rowid in `exchanges`: the fingerprint
  stage reads the prompt texts of one row per needed text)
- `dg_at`: account_id, text_hash, n (exchanges of the account with that text)
- `dg_fp`: text_hash, template_id, wrapper_id, near_group (of the wrapper), capability, cot, structured,
  pre_key, suf_key
- `dg_task`: account_id, pre_key, n: the tasks of single-message agents (`TASK_SQL`): the account's exchanges
  whose prompts open with one head, all within `TASK_SPAN_S`
- `dg_acc`: optional account records (created_at, email_domain, payment_fingerprint, country, …)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa

from ..fingerprints import text_keys
from ..schema import MESSAGE_KEYS, SYSTEM_SQL, message_keys_sql
from . import account_ids
from .links import PARAMS_KEY_SQL, PARAMS_SET_SQL

if TYPE_CHECKING:
    from ..fingerprints.cache import FingerprintCache

FingerprintFn = Callable[[pa.Array], pa.Table]
NearGroupFn = Callable[[Sequence[str]], np.ndarray]

# Effective capability of an exchange (`x` = dg_x, `f` = dg_fp): a request that offers tools is tool use
# whatever its text says (the text classifier does not carry over to unseen tool-use corpora).
CAPABILITY_SQL = "CASE WHEN x.has_tools THEN 'tool_use' ELSE f.capability END"

FP_BATCH = 200_000
# Bounded sample: fingerprint at most this many distinct texts per account (its smallest text hashes). A
# campaign account sends ~1,200 distinct prompts; per-account shares of templates, wrappers, capabilities
# and markers are estimated from 128 of them (standard error ≤ 0.045), and accounts with fewer distinct
# texts (nearly all legitimate ones) are fingerprinted whole.
FP_SAMPLE_PER_ACCOUNT = 128
# Wrapper keys: the normalised first / last characters of a prompt. A campaign's (paraphrased) wrappers
# are few and each is reused by many of its accounts, while the payload in between changes every time.
NEAR_GROUP_MAX = 20     # near-duplicate groups of more distinct wrappers than this are chains: ignored

# Tasks as units. An agent that sends each step as a fresh request (the goal, the steps so far and the current
# page or tool output in one message, no chat history) makes a dozen requests per task, seconds apart, every one
# a distinct text: read as single-turn samples they look like a dataset being walked through. What marks them
# is that they open with the same head (the goal) within minutes and never again, while a harvester's wrapper
# (the same head on every payload) recurs day after day. So the fingerprinted texts of an account that share
# their opening (`pre_key`) and all fall within TASK_SPAN_S are one task, counted as one sample of how the
# account behaves (`task_units`; shared_traffic counts them so too). A head reused across hours is a wrapper,
# and each of its texts stays a unit of its own.
TASK_SPAN_S = 3600
# (The heads of two texts or more first, from the account × text rows; the exchanges are then read for theirs
# only: no DISTINCT per group over the slim table)
TASK_SQL = f"""CREATE OR REPLACE TEMP TABLE dg_task AS
WITH af AS MATERIALIZED (SELECT a.account_id, a.text_hash, f.pre_key FROM dg_at a JOIN dg_fp f USING (text_hash)),
cand AS (SELECT * FROM af SEMI JOIN (SELECT account_id, pre_key FROM af GROUP BY ALL HAVING count(*) >= 2) h
         USING (account_id, pre_key))
SELECT x.account_id, c.pre_key, count(*) AS n FROM dg_x x JOIN cand c USING (account_id, text_hash) GROUP BY ALL
HAVING max(x.ts_s) - min(x.ts_s) <= {TASK_SPAN_S}"""

# JSON parameters are parsed once per DISTINCT `params` string (a few thousand client configurations),
# never per exchange; strings that only ever get compared (ip, user agent, model) are kept as hashes
# (NULL for an empty one), so the slim table stays narrow: it is the largest table of a detect run.
_PARAMS_SQL = f"""SELECT params AS p_params,
    TRY_CAST(json_extract_string(params, '$.max_tokens') AS DOUBLE) AS max_tokens,
    TRY_CAST(json_extract_string(params, '$.temperature') AS DOUBLE) AS temperature,
    coalesce(array_to_string(json_keys(params), ','), '') AS p_keys,
    {PARAMS_KEY_SQL} AS params_key,
    {PARAMS_SET_SQL} AS params_set"""


def slim_select(source: str = "exchanges", extra: str = "", numbered: bool = False, keyed: bool = False) -> str:
    """The SELECT building the slim per-exchange table `dg_x` from the exchange relation `source`.

    `extra`: more output columns (SQL over the exchange's columns), e.g. the org for the incremental state.
    `numbered`: `account_id` is the account's number in `dg_names` (:mod:`distillguard.detection.account_ids`).
    `keyed`: `source` holds the message-derived keys already, under their names in `dg_x` (the store's
    `Store.keyed_exchanges`), instead of `messages` and `prompt`.
    """
    keys = (", ".join(f"e.{name} AS {name}" for name, _, _ in MESSAGE_KEYS) if keyed
            else message_keys_sql())
    return f"""SELECT
  {'n.account_id' if numbered else 'account_id'} AS account_id,
  epoch(ts)::DOUBLE AS ts_s,
  {keys},
  p.max_tokens, p.temperature,
  hash(coalesce(user_agent, '') || '|' || p.p_keys || '|' || coalesce(endpoint, '')) AS client_fp,
  CASE WHEN ip <> '' THEN hash(ip) END AS ip_h,
  CASE WHEN user_agent <> '' THEN hash(user_agent) END AS ua_h,
  prompt_tokens, completion_tokens,
  hash(model) AS model_h,
  coalesce(len(tools), 0) > 0 AS has_tools,
  p.params_key, p.params_set{extra}
FROM {source} e
LEFT JOIN ({_PARAMS_SQL} FROM (SELECT DISTINCT params FROM {source} d)) p ON e.params IS NOT DISTINCT FROM p.p_params
{f'JOIN {account_ids.NAMES} n ON n.name = e.account_id' if numbered else ''}"""


# a gap between two exchanges of one account counts up to this: a few records with absurd timestamps (year 1,
# year 9999) must not turn an account's timing into one gap of millennia
GAP_CAP_S = 30 * 86400


@dataclass(frozen=True)
class FeatureConfig:
    """Knobs of the feature stage."""

    lockstep_bucket_s: int = 3600
    long_output_tokens: int = 2048


def prepare(con: duckdb.DuckDBPyConnection, fingerprint: FingerprintFn | None = None,
            near_groups: NearGroupFn | None = None, sample_per_account: int | None = FP_SAMPLE_PER_ACCOUNT,
            cache: bool = True, keyed: str | None = None) -> None:
    """Build `dg_x`, `dg_fp`, `dg_phrase`, `dg_task` and `dg_acc` in the connection.

    `keyed`: the store's exchanges with their message-derived keys (`Store.keyed_exchanges`): the slim table
    reads the keys kept at ingest instead of decoding every message list (None: from `exchanges`).

    Texts are fingerprinted once per distinct text, and only the `sample_per_account` distinct texts of
    each account with the smallest text hashes (None: all); fingerprints already in the store's
    cache (`fingerprint_cache`, see :mod:`distillguard.fingerprints.cache`) are reused, new ones are
    added to it.
    """
    from ..fingerprints import cache as fpcache
    persistent = cache and fingerprint is None   # a caller's own fingerprint function is not cached
    default_near = near_groups is None
    if fingerprint is None or near_groups is None:
        from ..fingerprints import texts as fpmod
        fingerprint = fingerprint or partial(fpmod.fingerprint_texts, threads=2)
        near_groups = near_groups or fpmod.near_duplicate_groups
    drop_work_tables(con)
    con.execute(account_ids.NUMBERING_SQL)  # the tables below key accounts by number (account_ids)
    # `rid`: the exchange's row in `exchanges`, so the texts to fingerprint are read from those rows only
    work_table(con, "dg_x", slim_select(keyed or "exchanges", extra=",\n  e.rowid AS rid", numbered=True,
                                        keyed=keyed is not None))
    # one row per (account, distinct text): sampling, replay, content links and shared traffic read this
    work_table(con, "dg_at", at_sql())
    if sample_per_account is not None:
        sample_thresholds(con, sample_per_account)
    con.execute(sample_sql(sample_per_account))
    fc = fpcache.FingerprintCache.open(con, persistent=persistent)
    with fpcache.duckdb_memory(con), ThreadPoolExecutor(max_workers=1) as ahead:
        # Python holds the working set now: DuckDB's tables may spill. With the packaged near-duplicate grouping,
        # the MinHash signatures of the new wrappers are computed on a thread while DuckDB stores the new
        # fingerprints and reads the cached ones back (single-threaded work both, side by side on two cores)
        signed: list[tuple[pa.Array, Future[np.ndarray]]] = []

        def sign_ahead(new_wrappers: pa.Array) -> None:
            from ..fingerprints.neardup import minhash_signatures
            signed.append((new_wrappers, ahead.submit(minhash_signatures, new_wrappers)))

        fingerprint_sample(con, fc, fingerprint, sign_ahead if default_near else None)
        con.execute("CREATE OR REPLACE TEMP TABLE dg_skeletons AS SELECT template_id, "
                    "left(any_value(skeleton), 200) AS skeleton FROM dg_sk GROUP BY template_id")
        # near-duplicate groups over distinct wrappers: paraphrased or lightly edited wrappers share a group
        wr = con.sql("SELECT wrapper_id, any_value(wrapper) AS wrapper FROM dg_wr GROUP BY wrapper_id "
                     "ORDER BY wrapper_id").to_arrow_table()
        if default_near:  # the packaged function takes the Arrow array as it is (no Python string per wrapper)
            from ..fingerprints.neardup import near_duplicate_groups
            known = (signed[0][0], signed[0][1].result()) if signed else None
            groups = near_duplicate_groups(wr["wrapper"].combine_chunks(), known=known) if wr.num_rows else []
            del known, signed[:]
        else:
            groups = near_groups(wr["wrapper"].to_pylist()) if wr.num_rows else []
        groups = np.asarray(groups, np.int64)
    if len(groups):
        # LSH + union-find can chain short wrappers into one giant group; such a group says nothing
        sizes = np.bincount(groups - groups.min())
        groups = np.where(sizes[groups - groups.min()] > NEAR_GROUP_MAX, wr["wrapper_id"].to_numpy(), groups)
    tg = pa.table({"wrapper_id": wr["wrapper_id"], "near_group": pa.array(groups)})
    del wr
    con.register("_dg_tg", tg)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE dg_fp AS SELECT f.*, g.near_group "
                    "FROM dg_fp_raw f JOIN _dg_tg g USING (wrapper_id)")
    finally:
        con.unregister("_dg_tg")
    con.execute(TASK_SQL)
    # phrases: opening/closing sentences repeated in at least two distinct prompts (wrapper material;
    # a payload sentence occurs once). A campaign composing prompts from a phrase bank reuses them.
    con.execute("CREATE OR REPLACE TEMP TABLE dg_phrase AS SELECT text_hash, phrase FROM dg_seg WHERE phrase IN ("
                "SELECT phrase FROM dg_seg GROUP BY phrase HAVING count(*) >= 2)")
    for t in ("dg_fp_raw", "dg_sk", "dg_wr", "dg_seg", "dg_sample", "dg_tau", "dg_todo", "dg_miss"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    con.execute(system_sentences_sql())
    con.execute(f"CREATE OR REPLACE TEMP TABLE dg_acc AS SELECT n.account_id, a.* EXCLUDE (account_id) "
                f"FROM accounts a JOIN {account_ids.NAMES} n ON n.name = a.account_id")


SYSTEM_SENTENCE_MIN_CHARS = 12   # shorter pieces of a system prompt ("Q:", "Rules:") are not sentences


def system_sentences_sql() -> str:
    """`dg_sysseg(sys_hash, phrase, pw)`: the sentences of each distinct system prompt of two sentences or more
    that recur in other distinct system prompts, with `pw` the share of the prompt's sentences that do.

    An operator composing each account's system prompt from a bank of sentences (a role, a demand, a closing
    line, in a few languages) sends prompts no two accounts share whole, built from sentences many share; a
    developer's prompt has its own sentences (its product, its rules) beside a generic one or two ("be
    concise"), so its `pw` is small, and one app's prompt sent whole by its users recurs in no other prompt.
    One exchange per distinct prompt is read (`dg_x.rid`), as for the texts to fingerprint.
    """
    rows = "SELECT min(rid) FROM dg_x WHERE sys_words >= 4 GROUP BY sys_hash"
    return f"""CREATE OR REPLACE TEMP TABLE dg_sysseg AS
WITH p AS (
  SELECT hash(sys) AS sys_hash, list_distinct(list_filter(list_transform(string_split_regex(
           regexp_replace(lower(sys), '[^\\p{{L}}\\n.!?;:]+', ' ', 'g'), '[\\n.!?;:]+'), lambda s: trim(s)),
           lambda s: length(s) >= {SYSTEM_SENTENCE_MIN_CHARS})) AS segs
  FROM (SELECT {SYSTEM_SQL} AS sys FROM exchanges WHERE rowid IN ({rows}))
),
s AS (SELECT sys_hash, hash(unnest(segs)) AS phrase FROM p WHERE len(segs) >= 2),
r AS (SELECT *, count(*) OVER (PARTITION BY phrase) >= 2 AS recurs FROM s)
SELECT sys_hash, phrase, pw FROM (
  SELECT *, avg(recurs::DOUBLE) OVER (PARTITION BY sys_hash) AS pw FROM r)
WHERE recurs"""


def fingerprint_sample(con: duckdb.DuckDBPyConnection, cache: FingerprintCache, fingerprint: FingerprintFn,
                       new_wrappers: Callable[[pa.Array], None] | None = None) -> int:
    """`dg_fp_raw`, `dg_sk`, `dg_wr`, `dg_seg` for every text of `dg_sample` (the slim table `dg_x` gives
    each text's row): cached fingerprints are loaded, the others computed and cached. Returns how many
    texts were fingerprinted. `new_wrappers` hears the distinct wrappers of the texts fingerprinted here, before
    they are cached."""
    con.execute("CREATE OR REPLACE TEMP TABLE dg_fp_raw (text_hash UBIGINT, template_id BIGINT, wrapper_id BIGINT, "
                "capability VARCHAR, cot BOOLEAN, structured BOOLEAN, pre_key UBIGINT, suf_key UBIGINT)")
    con.execute("CREATE OR REPLACE TEMP TABLE dg_sk (template_id BIGINT, skeleton VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE dg_wr (wrapper_id BIGINT, wrapper VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE dg_seg (text_hash UBIGINT, phrase UBIGINT)")
    n_batches = cache.stage_texts(FP_BATCH)   # dg_need (sampled texts not in the cache), dg_miss (their texts)
    n = con.sql("SELECT count(*) FROM dg_need").fetchall()[0][0]
    # the wrapper-end keys (case-folded, digits and whitespace normalised, first/last WRAPPER_CHARS characters)
    # and the phrases of a text depend on it alone: computed once over every text to fingerprint, on two threads
    text_keys.insert_keys(con, "dg_miss", n_batches)
    # two batches in flight: one batch's wrapper search (one thread) runs beside the next one's per-text work,
    # and DuckDB reads and stores batches meanwhile; they are stored in batch order
    flight: deque[tuple[pa.Table, Future[pa.Table]]] = deque()
    with ThreadPoolExecutor(max_workers=2) as pool:
        for b in range(n_batches):
            # in dg_miss's order: the order of the cache's rows, which later stages read back
            batch = con.sql("SELECT m.text_hash, m.text, e.pre_key, e.suf_key FROM dg_miss m JOIN dg_ends e "
                            f"USING (text_hash) WHERE m.batch = {b} ORDER BY m.rowid").to_arrow_table()
            if batch.num_rows == 0:
                continue
            flight.append((batch, pool.submit(fingerprint, batch["text"].combine_chunks())))
            if len(flight) == 2:
                _store_batch(con, *flight.popleft())
        while flight:
            _store_batch(con, *flight.popleft())
    con.execute("DROP TABLE dg_ends")
    if new_wrappers is not None and n:
        new_wrappers(con.sql("SELECT DISTINCT wrapper FROM dg_wr").to_arrow_table()["wrapper"].combine_chunks())
    cache.store_new()      # the new fingerprints go into the cache ...
    cache.load_hits()      # ... and the cached ones of all sampled texts into dg_fp_raw, dg_sk, dg_wr, dg_seg
    return int(n)


def sample_sql(k: int | None) -> str:
    """`dg_sample(text_hash)`: each account's `k` distinct texts of smallest hash (all texts when k is None).

    Bottom-k by the text's hash is a coordinated sample: a text two accounts share is kept for both or
    for neither, so shared templates, wrappers and phrases stay visible between accounts. With k, it reads
    `dg_tau` (:func:`sample_thresholds`: run that first).
    """
    if k is None:
        return "CREATE OR REPLACE TEMP TABLE dg_sample AS SELECT DISTINCT text_hash FROM dg_at"
    return """CREATE OR REPLACE TEMP TABLE dg_sample AS SELECT DISTINCT a.text_hash
  FROM dg_at a LEFT JOIN dg_tau t USING (account_id)
  WHERE a.text_hash IS NOT NULL AND (t.tau IS NULL OR a.text_hash <= t.tau)"""


# candidate (account, text) rows fetched into numpy at a time by sample_thresholds (~16 bytes each)
TAU_PART_ROWS = 4_000_000


def sample_thresholds(con: duckdb.DuckDBPyConnection, k: int, over: float = 2.0) -> None:
    """`dg_tau(account_id, tau)`: the `k`-th smallest text hash of each account with more than `k` texts in `dg_at`.

    An account's bottom-k sample is its texts of hash ≤ tau. DuckDB's top-k aggregate (`min(text_hash, k)`)
    keeps its lists outside the buffer pool: it cannot spill, and held ~1.6 GB at scale 0.3 and ~5 GB at
    scale 1, which set detect's DuckDB memory. Here DuckDB only filters and counts (both spill): hashes are
    uniform, so an account's texts of hash below `over`·k/n of the range (n: its texts) number ~`over`·k,
    and the k smallest of those, found in numpy a few million rows at a time, are its k smallest. An account
    with fewer than k below the cut (rare) is read whole. Exact: the same sample as a top-k aggregate.
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE dg_tau_n AS SELECT account_id, count(*) AS n FROM dg_at "
                f"WHERE text_hash IS NOT NULL GROUP BY account_id HAVING count(*) > {int(k)}")
    n_acc, rows = con.execute("SELECT count(*), coalesce(sum(least(n, ceil(? * ?))), 0) FROM dg_tau_n",
                              [over, k]).fetchall()[0]
    parts = max(1, -(-int(rows) // TAU_PART_ROWS))
    select = "SELECT a.account_id, a.text_hash FROM dg_at a JOIN dg_tau_n t USING (account_id) " \
             "WHERE a.text_hash IS NOT NULL AND "
    cut = f"a.text_hash::DOUBLE < 18446744073709551616.0 * ({float(over)} * {int(k)} / t.n)"
    acc_out: list[np.ndarray] = []
    tau_out: list[np.ndarray] = []
    for part in range(parts if n_acc else 0):
        acc, tau, short = _kth_smallest(con.sql(f"{select}t.account_id % {parts} = {part} AND {cut}"
                                                ).to_arrow_table(), k)
        acc_out.append(acc)
        tau_out.append(tau)
        if short.size:  # fewer than k texts below the cut: all their texts
            acc, tau, _ = _kth_smallest(con.sql(f"{select}t.account_id IN (SELECT unnest(?::INTEGER[]))",
                                                params=[short.tolist()]).to_arrow_table(), k)
            acc_out.append(acc)
            tau_out.append(tau)
    tau = pa.table({"account_id": pa.array(np.concatenate(acc_out) if acc_out else np.zeros(0, np.int32),
                                           pa.int32()),
                    "tau": pa.array(np.concatenate(tau_out) if tau_out else np.zeros(0, np.uint64), pa.uint64())})
    con.register("_dg_tau", tau)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE dg_tau AS SELECT account_id, tau FROM _dg_tau")
    finally:
        con.unregister("_dg_tau")
        con.execute("DROP TABLE IF EXISTS dg_tau_n")


def _kth_smallest(tab: pa.Table, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of (account_id, text_hash) rows: the accounts with at least k rows and their k-th smallest hash, and
    the accounts with fewer."""
    acc = tab["account_id"].to_numpy()
    h = tab["text_hash"].to_numpy()
    order = np.lexsort((h, acc))
    acc, h = acc[order], h[order]
    starts = np.flatnonzero(np.r_[True, acc[1:] != acc[:-1]]) if acc.size else np.zeros(0, np.int64)
    full = np.diff(np.r_[starts, acc.size]) >= k
    return acc[starts[full]], h[starts[full] + k - 1], acc[starts[~full]]


def at_sql(source: str = "dg_x") -> str:
    """`dg_at`'s SELECT: exchanges per (account, distinct text) of the slim table `source`."""
    return f"SELECT account_id, text_hash, count(*) AS n FROM {source} GROUP BY ALL"


# the large per-exchange and per-(account, text) tables: kept in the store's file while detect runs
WORK_TABLES = ("dg_x", "dg_at")
_READ_ONLY = (duckdb.InvalidInputException, duckdb.PermissionException, duckdb.CatalogException,
              duckdb.TransactionException)


def work_table(con: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
    """Create the large intermediate table `name` as `sql`: in the store's file when it is writable, else temporary.

    A table in the file is stored compressed (the slim table: about a quarter of its in-memory size) and
    read back block by block, so a 60M-exchange run does not spill an uncompressed copy to disk under
    DuckDB's memory limit. `drop_work_tables` removes them (detect does so when it ends).
    """
    _drop_temp(con, name)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}")
    except _READ_ONLY:  # a read-only (or in-transaction) store: a temporary table instead
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")


def drop_work_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Remove the work tables `work_table` created (in the store or temporary), and the account numbering."""
    account_ids.drop(con)
    for name in WORK_TABLES:
        _drop_temp(con, name)
        try:
            con.execute(f"DROP TABLE IF EXISTS main.{name}")
        except _READ_ONLY:
            pass


def _drop_temp(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop a temporary table or view `name`: it would hide the store's table of that name."""
    for (kind,) in con.sql("SELECT 'TABLE' FROM duckdb_tables() WHERE temporary AND table_name = ? UNION ALL "
                           "SELECT 'VIEW' FROM duckdb_views() WHERE temporary AND view_name = ?",
                           params=[name, name]).fetchall():
        con.execute(f"DROP {kind} temp.{name}")


def _store_batch(con: duckdb.DuckDBPyConnection, batch: pa.Table, fingerprinted: Future[pa.Table]) -> None:
    """Add a batch's fingerprints (once computed) to `dg_fp_raw`, `dg_sk` and `dg_wr`."""
    fp = fingerprinted.result()
    t = pa.table({
        "text_hash": batch["text_hash"], "pre_key": batch["pre_key"], "suf_key": batch["suf_key"],
        "template_id": fp["template_id"], "skeleton": fp["skeleton"], "capability": fp["capability"],
        "cot": fp["cot"], "structured": fp["structured"],
        "wrapper_id": fp["wrapper_id"] if "wrapper_id" in fp.column_names else fp["template_id"],
        "wrapper": fp["wrapper"] if "wrapper" in fp.column_names else fp["skeleton"],
    })
    con.register("_dg_fpb", t)
    try:
        con.execute("INSERT INTO dg_fp_raw SELECT text_hash, template_id, wrapper_id, capability, cot, structured, "
                    "pre_key, suf_key FROM _dg_fpb")
        con.execute("INSERT INTO dg_sk SELECT template_id, left(any_value(skeleton), 200) FROM _dg_fpb GROUP BY 1")
        con.execute("INSERT INTO dg_wr SELECT wrapper_id, any_value(wrapper) FROM _dg_fpb GROUP BY 1")
    finally:
        con.unregister("_dg_fpb")


FEATURES_SQL = """
WITH x AS (
  SELECT x.*, f.template_id, f.near_group, {capability} AS capability, f.cot, f.structured
  FROM dg_x x LEFT JOIN dg_fp f USING (text_hash)
),
gaps AS (
  -- the window sorts two columns only (not the whole slim table)
  SELECT account_id, avg(gap) AS gap_mean, stddev_pop(gap) AS gap_std, median(gap) AS gap_median,
         avg(CASE WHEN gap < 5 THEN 1.0 ELSE 0.0 END) AS fast_gap_share FROM (
    -- (least() skips a NULL: the first row's NULL gap is kept as NULL)
    SELECT account_id, CASE WHEN gap IS NOT NULL THEN least(gap, {gap_cap}) END AS gap FROM (
      SELECT account_id, ts_s - lag(ts_s) OVER (PARTITION BY account_id ORDER BY ts_s) AS gap FROM dg_x))
  GROUP BY account_id
),
per_min AS (
  SELECT account_id, max(n) AS peak_per_minute FROM (
    SELECT account_id, floor(ts_s / 60) AS m, count(*) AS n FROM dg_x GROUP BY ALL) GROUP BY account_id
),
per_day AS (
  SELECT account_id, max(n) AS peak_per_day, count(*) AS active_days FROM (
    SELECT account_id, floor(ts_s / 86400) AS d, count(*) AS n FROM dg_x GROUP BY ALL) GROUP BY account_id
),
hours AS (
  SELECT account_id, -sum(p * ln(p)) / ln(24) AS hour_entropy, count(*) AS hours_active FROM (
    SELECT account_id, h, n / sum(n) OVER (PARTITION BY account_id) AS p FROM (
      SELECT account_id, floor(ts_s / 3600)::BIGINT % 24 AS h, count(*)::DOUBLE AS n FROM dg_x GROUP BY ALL))
  GROUP BY account_id
),
replay AS (
  -- (a membership test against the texts of two or more accounts: a far smaller hash table than all texts')
  SELECT account_id, sum(CASE WHEN text_hash IN (SELECT text_hash FROM dg_at GROUP BY text_hash HAVING count(*) >= 2)
                              THEN n ELSE 0 END)::DOUBLE / sum(n) AS replayed_share
  FROM dg_at GROUP BY account_id
),
-- the distinct templates and near-duplicate groups of an account are those of its distinct texts (`dg_at`, one
-- row per account and text, with its exchanges `n`): counted there, not over every exchange. `n_fp`: the
-- account's exchanges with a fingerprinted text (`count(template_id)` over its exchanges)
tpl AS (
  SELECT account_id, max(n)::DOUBLE / sum(n) AS top_template_share, count(template_id) AS n_templates,
         coalesce(sum(n) FILTER (WHERE template_id IS NOT NULL), 0)::BIGINT AS n_fp FROM (
    SELECT a.account_id, f.template_id, sum(a.n) AS n FROM dg_at a JOIN dg_fp f USING (text_hash) GROUP BY ALL)
  GROUP BY account_id
),
near AS (
  SELECT account_id, count(near_group) AS n_groups FROM (
    SELECT DISTINCT a.account_id, f.near_group FROM dg_at a JOIN dg_fp f USING (text_hash))
  GROUP BY account_id
),
-- the exchanges of an account's tasks beyond each task's first: they are steps of one sample (TASK_SQL)
steps AS (SELECT account_id, sum(n - 1) AS merged FROM dg_task GROUP BY account_id),
-- the distinct infrastructure values of an account, from its distinct combinations of them (a few per account)
-- rather than one DISTINCT aggregate per column over every exchange
infra AS (
  SELECT account_id, count(DISTINCT client_fp)::BIGINT AS client_fingerprints, count(DISTINCT ip_h)::BIGINT AS ips,
         count(DISTINCT ua_h)::BIGINT AS user_agents, count(DISTINCT model_h)::BIGINT AS models,
         count(DISTINCT sys_hash)::BIGINT AS system_prompts
  FROM (SELECT DISTINCT account_id, client_fp, ip_h, ua_h, model_h, sys_hash FROM dg_x)
  GROUP BY account_id
),
agg AS (
  SELECT
    account_id,
    count(*)::BIGINT AS exchanges,
    min(ts_s) AS first_ts,
    max(ts_s) AS last_ts,
    (max(ts_s) - min(ts_s)) / 86400.0 AS span_days,
    avg(CASE WHEN user_turns <= 1 AND NOT multi_turn THEN 1.0 ELSE 0.0 END) AS single_turn_share,
    avg(CASE WHEN capability = 'reasoning' THEN 1.0 WHEN capability IS NOT NULL THEN 0.0 END) AS cap_reasoning,
    avg(CASE WHEN capability = 'coding' THEN 1.0 WHEN capability IS NOT NULL THEN 0.0 END) AS cap_coding,
    avg(CASE WHEN capability = 'tool_use' THEN 1.0 WHEN capability IS NOT NULL THEN 0.0 END) AS cap_tool_use,
    avg(CASE WHEN capability = 'other' THEN 1.0 WHEN capability IS NOT NULL THEN 0.0 END) AS cap_other,
    avg(CASE WHEN cot THEN 1.0 WHEN cot IS NOT NULL THEN 0.0 END) AS cot_share,
    avg(CASE WHEN structured THEN 1.0 WHEN structured IS NOT NULL THEN 0.0 END) AS structured_share,
    avg(CASE WHEN has_tools THEN 1.0 ELSE 0.0 END) AS tools_share,
    sum(completion_tokens)::DOUBLE / nullif(sum(prompt_tokens), 0) AS output_input_ratio,
    avg(max_tokens) AS max_tokens_mean,
    avg(CASE WHEN max_tokens >= {long_output} THEN 1.0 ELSE 0.0 END) AS long_max_tokens_share,
    avg(CASE WHEN max_tokens IS NULL THEN 1.0 ELSE 0.0 END) AS no_max_tokens_share,
    stddev_pop(temperature) AS temperature_std
  FROM x GROUP BY account_id
)
SELECT
  a.account_id, a.exchanges, a.first_ts, a.last_ts, a.span_days,
  g.gap_mean, g.gap_std, g.gap_median, g.fast_gap_share,
  a.single_turn_share, t.n_templates::DOUBLE / t.n_fp AS template_diversity,
  nr.n_groups::DOUBLE / t.n_fp AS group_diversity, a.cap_reasoning, a.cap_coding,
  a.cap_tool_use, a.cap_other, a.cot_share, a.structured_share, a.tools_share, a.output_input_ratio,
  a.max_tokens_mean, a.long_max_tokens_share, a.no_max_tokens_share, a.temperature_std,
  i.client_fingerprints, i.ips, i.user_agents, i.models, i.system_prompts,
  (a.last_ts - a.first_ts) / 3600.0 / greatest(a.exchanges - 1, 1) AS mean_hours_between,
  a.exchanges / greatest(d.active_days, 1)::DOUBLE AS exchanges_per_active_day,
  coalesce((g.gap_std - g.gap_mean) / nullif(g.gap_std + g.gap_mean, 0), 0.0) AS burstiness,
  coalesce(g.gap_std / nullif(g.gap_mean, 0), 0.0) AS gap_cv,
  m.peak_per_minute, d.peak_per_day, d.active_days,
  h.hour_entropy, h.hours_active,
  t.top_template_share,
  r.replayed_share,
  (a.first_ts - epoch(c.created_at)) / 86400.0 AS account_age_days,
  (a.exchanges - coalesce(st.merged, 0))::BIGINT AS task_units
FROM agg a
JOIN gaps g USING (account_id)
JOIN per_min m USING (account_id)
JOIN per_day d USING (account_id)
JOIN hours h USING (account_id)
JOIN tpl t USING (account_id)
JOIN near nr USING (account_id)
JOIN infra i USING (account_id)
JOIN replay r USING (account_id)
LEFT JOIN steps st USING (account_id)
LEFT JOIN dg_acc c USING (account_id)
ORDER BY account_id
"""


def account_features(con: duckdb.DuckDBPyConnection, config: FeatureConfig = FeatureConfig()) -> pa.Table:
    """One row per account: `account_id` plus numeric behaviour features (after `prepare`)."""
    sql = (FEATURES_SQL.replace("{long_output}", str(config.long_output_tokens))
           .replace("{capability}", CAPABILITY_SQL).replace("{gap_cap}", str(GAP_CAP_S)))
    con.execute(f"CREATE OR REPLACE TEMP TABLE dg_features AS {sql}")
    return account_ids.to_names(con, con.sql("SELECT * FROM dg_features ORDER BY account_id").to_arrow_table())


ORGS_SQL = """
SELECT account_id, CASE WHEN count(DISTINCT nullif(org_id, '')) = 1 AND count(nullif(org_id, '')) = count(*)
                        THEN any_value(org_id) END AS org
FROM exchanges GROUP BY account_id
"""


CARDS_SQL = """
SELECT account_id, dense_rank() OVER (ORDER BY payment_fingerprint) AS card FROM accounts
WHERE coalesce(payment_fingerprint, '') <> ''
"""


def payment_cards(con: duckdb.DuckDBPyConnection, account_ids: Sequence[str]) -> np.ndarray:
    """Each account's payment instrument as a number (-1: none on record)."""
    cards = dict(con.sql(CARDS_SQL).fetchall())
    return np.array([cards.get(a, -1) for a in account_ids], np.int64)


def account_orgs(con: duckdb.DuckDBPyConnection, account_ids: Sequence[str]) -> list[str | None]:
    """The one organisation each account declares on all its exchanges (None: none, or several)."""
    orgs = dict(con.sql(ORGS_SQL).fetchall())
    return [orgs.get(a) for a in account_ids]
