"""Behaviour of the traffic an account shares with its group (camouflage resistance for content).

Per-account features average over *all* of an account's traffic, so a campaign that hides its
extraction inside benign cover chat (70 % ShareGPT-style conversation, 30 % harvesting) looks benign
on average. What binds such accounts into a group is the extraction part itself: the wrappers,
templates and opening/closing phrases they have in common. So for every account in a candidate group we
recompute the behaviour features over the exchanges that carry one of the group's *own* content keys —
keys held by at least two of its accounts and far more common inside the group than among the accounts in
no group (not a greeting every user sends). The comparison is with the ungrouped population — the one
that by construction carries no coordination evidence — so a campaign's own wrapper stays its own however
large a share of all accounts the campaign grows to, and however many groups community detection splits it
into.
This is FRAUDAR's idea (camouflage cannot lower a block's density) applied to behaviour instead of the
graph.

The result is one row per grouped account with the columns `individual_parts` reads, computed on the
shared subset only (timing — hour entropy, burstiness — stays the account's own: it describes how the
account is operated), plus `shared_exchanges` and `shared_share` (shared / all of the account's traffic).
It reads the tables of the feature stage (`dg_x`, `dg_at`, `dg_fp`, `dg_phrase`, `dg_task`, `dg_features`) and
never iterates over exchanges in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from . import account_ids
from .campaigns import Grouping
from .features import CAPABILITY_SQL, FeatureConfig
from .sorted_unique import positions


@dataclass(frozen=True)
class SharedTrafficConfig:
    """Knobs of the shared-traffic features."""

    min_group_accounts: int = 2      # a key is the group's when at least this many of its accounts hold it ...
    min_group_fraction: float = 0.1  # ... and at least this fraction of the group's accounts ...
    min_lift: float = 3.0            # ... and this many times more common in the group than among ungrouped accounts
    # a shared text counts as replayed (a class's problem set, an eval suite: the same items sent by many of
    # the group) when at least this fraction of the group's accounts send it (and at least two accounts). A
    # campaign sampling a large problem pool repeats items across its accounts once it outgrows the pool,
    # but each item stays with a small fraction of them: that is not replay, however large the campaign
    replay_group_fraction: float = 0.05


# content keys of a distinct prompt text: its template, wrapper (exact and near-duplicate), prompt ends and
# repeated opening/closing phrases — the kinds the content links are built from (link kind, SQL)
TEXT_KEYS = (
    ("shared-template", "SELECT text_hash, hash('template', template_id) AS key FROM dg_fp"),
    ("shared-wrapper", "SELECT text_hash, hash('wrapper', wrapper_id) AS key FROM dg_fp"),
    ("near-duplicate-template", "SELECT text_hash, hash('near', near_group) AS key FROM dg_fp"),
    ("shared-prompt-ends", "SELECT text_hash, hash('pre', pre_key) AS key FROM dg_fp"),
    ("shared-prompt-ends", "SELECT text_hash, hash('suf', suf_key) AS key FROM dg_fp"),
    ("shared-phrases", "SELECT text_hash, hash('phrase', phrase) AS key FROM dg_phrase"),
)
_TEXT_KEYS_SQL = "\nUNION ALL ".join(sql for _, sql in TEXT_KEYS)

# one statement per step, each materialised: DuckDB plans the single-query form poorly (seconds → tens)
_STEPS = (
    f"CREATE OR REPLACE TEMP TABLE dg_gt_tk AS {_TEXT_KEYS_SQL}",
    # the (account, text) rows of grouped accounts first: the big table is joined once, by a small key
    "CREATE OR REPLACE TEMP TABLE dg_gt_grp AS SELECT * FROM _dg_grp",
    # (integer account numbers: the DISTINCTs below then hash integers only)
    """CREATE OR REPLACE TEMP TABLE dg_gt_ga AS
       SELECT g.aid, a.text_hash, g.grp FROM dg_at a JOIN dg_gt_grp g USING (account_id)""",
    # the keys each group's accounts hold, and the candidates: held by enough of the group's accounts.
    # A key on one (text, key) row only (most prompt ends, the templates of unique texts: `one`) is held in a
    # group by the group's accounts holding that text, counted per (group, text) without a DISTINCT over
    # (account, key); only the keys of several texts need the DISTINCT (an account may hold several of them)
    """CREATE OR REPLACE TEMP TABLE dg_gt_tk1 AS
       SELECT text_hash, key, n_rows = 1 AS one FROM dg_gt_tk
       JOIN (SELECT key, count(*) AS n_rows FROM dg_gt_tk GROUP BY key) USING (key)""",
    """CREATE OR REPLACE TEMP TABLE dg_gt_cand AS
       WITH sizes AS (SELECT grp, count(*) AS n_grp FROM dg_gt_grp GROUP BY grp),
       one AS (SELECT g.grp, k.key, g.n AS n_in FROM (
                 SELECT grp, text_hash, count(*) AS n FROM dg_gt_ga GROUP BY ALL HAVING count(*) >= {min_acc}) g
               JOIN dg_gt_tk1 k USING (text_hash) WHERE k.one),
       many AS (SELECT grp, key, count(*) AS n_in FROM (
                  SELECT DISTINCT a.grp, a.aid, k.key FROM dg_gt_ga a JOIN dg_gt_tk1 k USING (text_hash)
                  WHERE NOT k.one)
                GROUP BY grp, key HAVING count(*) >= {min_acc})
       SELECT grp, key, n_in, n_grp FROM (SELECT * FROM one UNION ALL SELECT * FROM many) JOIN sizes USING (grp)
       WHERE n_in >= {min_frac} * n_grp""",
    # how many accounts in no group hold each candidate key: the lift's denominator
    """CREATE OR REPLACE TEMP TABLE dg_gt_tkc AS
       SELECT * FROM dg_gt_tk WHERE key IN (SELECT key FROM dg_gt_cand)""",
    """CREATE OR REPLACE TEMP TABLE dg_gt_own AS
       WITH holders AS (SELECT k.key, count(DISTINCT a.account_id) AS n_free FROM dg_at a
                        JOIN dg_gt_tkc k USING (text_hash)
                        WHERE a.account_id NOT IN (SELECT account_id FROM dg_gt_grp) GROUP BY k.key)
       SELECT c.grp, c.key FROM dg_gt_cand c LEFT JOIN holders h USING (key)
       WHERE c.n_in::DOUBLE / c.n_grp >= {min_lift} * coalesce(h.n_free, 0) / {n_free}""",
    # (dg_gt_ga has one row per account and text: a semi join keeps each at most once, no DISTINCT needed)
    """CREATE OR REPLACE TEMP TABLE dg_gt_shared AS
       SELECT g.account_id, s.text_hash FROM (
         SELECT a.aid, a.text_hash FROM dg_gt_ga a SEMI JOIN (
           SELECT k.text_hash, o.grp FROM dg_gt_tkc k JOIN dg_gt_own o USING (key)) t
         ON t.text_hash = a.text_hash AND t.grp = a.grp) s JOIN dg_gt_grp g USING (aid)""",
)
_CLEANUP = ("dg_gt_tk", "dg_gt_tk1", "dg_gt_grp", "dg_gt_ga", "dg_gt_cand", "dg_gt_tkc", "dg_gt_own", "dg_gt_shared")

# Conversations are units: a follow-up ("now solve it another way", "write tests for it") is judged with the
# problem that opened its conversation. When that problem is an extraction target (not 'other'), the follow-up
# takes its capability and counts as one more harvest of it (a single-turn-like unit); its diversity and replay
# are the problem's. Ordinary chat keeps its own follow-ups. A
# follow-up in a conversation whose opener asked for the reasoning ("trace the logic", "keep all the working")
# goes on harvesting that reasoning ("now find the holes in it", "redo it"): it counts as elicitation too.
_FEATURES_SQL = """
WITH sx AS (
  SELECT x.* FROM dg_x x JOIN dg_gt_shared s USING (account_id, text_hash)
),
gsize AS (SELECT g.account_id, count(*) OVER (PARTITION BY g.grp) AS n_grp FROM dg_gt_grp g),
replay AS (
  SELECT text_hash, count(*) AS n_acc FROM dg_at
  WHERE text_hash IN (SELECT text_hash FROM dg_gt_shared UNION SELECT open_hash FROM sx) GROUP BY text_hash
),
x AS (
  SELECT x.*, coalesce(CASE WHEN o.extraction THEN o.template_id END, f.template_id) AS unit_template,
         CASE WHEN o.extraction THEN x.open_hash END AS conversation, {capability} AS own_capability,
         CASE WHEN o.extraction THEN o.capability END AS open_capability, f.cot OR coalesce(o.cot, false) AS cot,
         f.structured,
         coalesce(CASE WHEN o.extraction THEN ro.n_acc END, r.n_acc) >= greatest(2, {replay_frac} * gs.n_grp)
           AS replayed,
         -- the task (features.TASK_SQL) of a single-message agent's step: its steps are one sample
         CASE WHEN tk.pre_key IS NOT NULL THEN hash('task', tk.pre_key) END AS task
  FROM sx x JOIN gsize gs USING (account_id) LEFT JOIN dg_fp f USING (text_hash) LEFT JOIN replay r USING (text_hash)
  LEFT JOIN dg_task tk ON tk.account_id = x.account_id AND tk.pre_key = f.pre_key
  -- the opener, joined once: its reasoning request carries over always, its problem when it is an extraction target
  LEFT JOIN (SELECT *, capability <> 'other' AS extraction FROM dg_fp) o ON o.text_hash = x.open_hash
  LEFT JOIN replay ro ON ro.text_hash = x.open_hash
),
-- popular content: the texts that at least two accounts in no group send too (independent customers pasting a
-- well-known conversation, running a public benchmark), and each grouped account's share of exchanges on them
free AS (
  SELECT text_hash, count(*) AS n_free FROM dg_at
  WHERE account_id NOT IN (SELECT account_id FROM dg_gt_grp) AND text_hash IN (SELECT text_hash FROM dg_gt_ga)
  GROUP BY text_hash
),
popular AS (
  SELECT a.account_id, sum(CASE WHEN fr.n_free >= 2 THEN a.n ELSE 0 END)::DOUBLE / sum(a.n) AS popular_share
  FROM dg_at a SEMI JOIN dg_gt_grp g ON g.account_id = a.account_id LEFT JOIN free fr USING (text_hash)
  GROUP BY a.account_id
),
tot AS (SELECT account_id, exchanges AS n_total FROM dg_features)
SELECT
  account_id,
  count(*)::DOUBLE AS shared_exchanges,
  count(*)::DOUBLE / any_value(t.n_total) AS shared_share,
  count(*)::DOUBLE AS exchanges,
{measures},
  avg(CASE WHEN replayed THEN 1.0 ELSE 0.0 END) AS replayed_share,
  any_value(fe.hour_entropy) AS hour_entropy,
  any_value(fe.burstiness) AS burstiness,
  any_value(p.popular_share) AS popular_share,
  -- the same on the shared exchanges no other member sends verbatim: the payloads the group's wording carries
  count(*) FILTER (WHERE NOT replayed)::DOUBLE AS own_exchanges,
  -- ... and how many independent samples of the member's behaviour they are: each distinct text, a conversation
  -- over an extraction problem (its opening request included) once, a single-message agent's task once: an
  -- agent's dozen tool steps over one task are one
  count(DISTINCT coalesce(conversation, task, text_hash)) FILTER (WHERE NOT replayed)::DOUBLE AS own_units,
{own_measures}
FROM x JOIN tot t USING (account_id) LEFT JOIN dg_features fe USING (account_id)
  LEFT JOIN popular p USING (account_id)
GROUP BY account_id
ORDER BY account_id
"""

# the behaviour measures of a set of exchanges, each an aggregate over `x` (`{f}`: the rows' filter, after each
# aggregate call); measured on all the shared exchanges, and on those no other member sends verbatim (own_*)
MEASURES = (
    ("cap_other",
     "avg(CASE WHEN coalesce(open_capability, own_capability, 'other') = 'other' THEN 1.0 ELSE 0.0 END){f}"),
    ("cot_share", "avg(CASE WHEN cot THEN 1.0 ELSE 0.0 END){f}"),
    ("single_turn_share",
     "avg(CASE WHEN (user_turns <= 1 AND NOT multi_turn) OR open_capability IS NOT NULL THEN 1.0 ELSE 0.0 END){f}"),
    ("long_max_tokens_share", "avg(CASE WHEN max_tokens >= {long_output} THEN 1.0 ELSE 0.0 END){f}"),
    # units: each single exchange, and each conversation opened by an extraction problem once
    ("template_diversity", "(count(DISTINCT unit_template){f})::DOUBLE / nullif(count(*){f} - count(conversation){f} "
                           "+ count(DISTINCT conversation){f}, 0)"),
    ("output_input_ratio", "(sum(completion_tokens){f})::DOUBLE / nullif(sum(prompt_tokens){f}, 0)"),
    # the exchanges as samples of behaviour: a single-message agent's task once (its evidence, `individual_parts`)
    ("task_units", "(count(*){f} - count(task){f} + count(DISTINCT task){f})::DOUBLE"),
)


def _measures_sql(prefix: str, rows: str) -> str:
    return ",\n".join(f"  {sql.replace('{f}', rows)} AS {prefix}{name}" for name, sql in MEASURES)


_FEATURES_SQL = _FEATURES_SQL.replace("{measures}", _measures_sql("", "")).replace(
    "{own_measures}", _measures_sql("own_", " FILTER (WHERE NOT replayed)"))

SHARED_COLUMNS = ("shared_exchanges", "shared_share", "exchanges", *(name for name, _ in MEASURES), "replayed_share",
                  "hour_entropy", "burstiness", "popular_share", "own_exchanges", "own_units",
                  *(f"own_{name}" for name, _ in MEASURES))


def shared_traffic_features(con: duckdb.DuckDBPyConnection, grouping: Grouping,
                            config: SharedTrafficConfig = SharedTrafficConfig(),
                            keep_own: str | None = None) -> pa.Table:
    """Behaviour features of each grouped account restricted to its group-shared exchanges (after features).

    One row per account of `grouping` that is in a group and sends at least one exchange carrying a key
    of its group; accounts absent from the table share no content with their group. One column is about the
    whole account instead: `popular_share`, its exchanges on texts that two or more accounts in no group send
    too. `keep_own`: also save each group's own keys `(grp, key)` as that temporary table (for the incremental
    snapshot).
    """
    member = np.asarray(grouping.group, np.int64)
    keep = member >= 0
    ids = pa.array(np.asarray(grouping.accounts, dtype=object)[keep].tolist(), pa.string())
    grp = pa.table({"account_id": account_ids.to_numbers(con, ids), "grp": pa.array(member[keep]),
                    "aid": pa.array(np.arange(int(keep.sum())), pa.int32())})
    if grp.num_rows == 0:
        return empty_shared()
    n_free = con.sql("SELECT count(*) FROM dg_features").fetchall()[0][0] - grp.num_rows  # accounts in no group
    subst = {"{min_acc}": str(config.min_group_accounts), "{min_frac}": repr(float(config.min_group_fraction)),
             "{min_lift}": repr(float(config.min_lift)), "{n_free}": str(max(int(n_free), 1)),
             "{replay_frac}": repr(float(config.replay_group_fraction)),
             "{capability}": CAPABILITY_SQL, "{long_output}": str(FeatureConfig().long_output_tokens)}

    def fill(sql: str) -> str:
        for k, v in subst.items():
            sql = sql.replace(k, v)
        return sql

    con.register("_dg_grp", grp)
    try:
        for step in _STEPS:
            con.execute(fill(step))
        if keep_own:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {keep_own} AS SELECT grp::BIGINT AS grp, key FROM dg_gt_own")
        return account_ids.to_names(con, con.sql(fill(_FEATURES_SQL)).to_arrow_table())
    finally:
        con.unregister("_dg_grp")
        for t in _CLEANUP:
            con.execute(f"DROP TABLE IF EXISTS {t}")


def empty_shared() -> pa.Table:
    """A shared-traffic table with no rows (no group, or links disabled)."""
    return pa.table({"account_id": pa.array([], pa.string()),
                     **{c: pa.array([], pa.float64()) for c in SHARED_COLUMNS}})


def with_judged_share(features: pa.Table, shared: pa.Table, z: float = 1.96) -> pa.Table:
    """`features` with the share of each account's traffic its group behaviour was judged on, and its uncertainty.

    `shared_exchanges` of an account's `exchanges` carry its group's own content: the extraction part of an
    account that hides it in cover chat, on which its behaviour as a member is measured (`score_accounts`).
    The share comes with its 95 % Wilson interval (`shared_share_low`, `shared_share_high`), so an account
    judged on 3 exchanges of 10 reads differently from one judged on 300 of 1,000. Null for accounts that
    share no content with a group.
    """
    at = positions(features["account_id"], shared["account_id"])   # each account's row in `shared` (-1: none)
    k = np.full(features.num_rows, np.nan)
    k[at >= 0] = shared["shared_exchanges"].to_numpy(zero_copy_only=False)[at[at >= 0]]
    n = features["exchanges"].to_numpy(zero_copy_only=False).astype(float)
    low, high = wilson_interval(k, n, z)
    out = features
    for name, v in (("shared_exchanges", k), ("shared_share", k / np.maximum(n, 1.0)),
                    ("shared_share_low", low), ("shared_share_high", high)):
        out = out.append_column(name, pa.array(v, pa.float64(), mask=np.isnan(k)))
    return out


def wilson_interval(k: np.ndarray, n: np.ndarray, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval of the proportion k / n (z = 1.96: 95 %), elementwise; (0, 1) where n is 0."""
    n = np.maximum(np.asarray(n, float), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.asarray(k, float) / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = np.where(n > 0, np.clip(centre - half, 0, 1), 0.0)
    high = np.where(n > 0, np.clip(centre + half, 0, 1), 1.0)
    return low, high
