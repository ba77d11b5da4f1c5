"""Completion provenance: one account's completions sent back verbatim by another account.

A distillation pipeline recycles the model's answers: accounts asked to "play" a tool or an API whose
completions become the tool results of other accounts' agent trajectories, answers one account received pasted
into another's grading or critique prompt. Each such exchange leaves the same text twice in the log: as the
completion account A received, and as the last text account B sends (a tool result, a user message, a
completions prompt). Unrelated customers almost never do this across accounts, and never again and again:
the evidence grows with a campaign's size and persistence.

Keys (`schema.PROVENANCE_KEYS`, computed at ingest and kept in the parts): `comp_hash`, the trimmed
completion's hash, and `fed_hash`, the hash of the trimmed text the request sends last; both NULL for texts
shorter than `schema.PROVENANCE_MIN_CHARS`.

`prepare` (on the store's DuckDB connection, before the relational stages) finds the pairs (A, B), A ≠ B, where
B sends at least `min_pair` distinct completions that A received, each received by at most `max_recipients`
accounts (a canned answer — a refusal, a tool's stock error — many accounts receive is nobody's) and sent back
after it was received, within `window_s`; one row per pair in `dg_prov`. `link_sql` (in `links.build_links`, on
either engine: `dg_prov` is shipped to Spark) turns
them into `reused-completions` links, and `account_shares` gives each account's share of its traffic that is
recycled completions (as sender or as receiver).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from ..schema import PROVENANCE_KEYS, message_keys_sql
from . import account_ids
from .account_ids import NAMES
from .sorted_unique import positions

KIND = "reused-completions"
TABLE = "dg_prov"


@dataclass(frozen=True)
class ProvenanceConfig:
    """Knobs of the provenance evidence."""

    # a pair needs this many distinct recycled completions: one answer pasted between two unrelated users (a
    # shared link, a forwarded reply) binds nothing
    min_pair: int = 3
    full_pair: int = 6            # ... and weighs fully from this many
    max_recipients: int = 2       # a completion received by more accounts than this is canned: ignored
    # a completion counts as recycled when sent back after it was received (causality) and within this many
    # seconds: a pipeline feeds it on at once (an agent's loop, a user simulator, a critique pass), while a text
    # received by one account and sent by an unrelated one — a well-known conversation's turn, a public answer —
    # comes at any time. Round-16 tuning seeds 1601/1602 (usersim), round-15 1501 (simenv): 2,329 / 2,254 /
    # 16,655 recycled texts within 10 minutes; the coincidences with other kinds' texts: none within 10 minutes,
    # 2 / 3 / 0 within the hour, ~20 / ~40 / 18 within the day. A batch pipeline that grades yesterday's answers
    # is not counted.
    window_s: int = 3600
    # the pair weighs fully when recycled completions are at least this share of each side's traffic (the smaller
    # side's: a heavy customer whose end users paste a few answers of another account's is barely bound)
    full_share: float = 0.25


def prepare(con: duckdb.DuckDBPyConnection, keyed: str | None, config: ProvenanceConfig = ProvenanceConfig()) -> None:
    """Build `dg_prov(a, b, n)`: B (account number) sent `n` ≥ `min_pair` distinct completions that A received.

    `keyed`: the store's exchanges with their stored keys (`Store.keyed_exchanges`); None: computed from
    `exchanges` (a store without them reads every completion and message list)."""
    src = keyed if keyed is not None else \
        f"(SELECT account_id, ts, {message_keys_sql(keys=PROVENANCE_KEYS)} FROM exchanges)"
    numbered = account_ids.numbered(con)
    pairs = f"""
WITH f AS (SELECT account_id AS b, fed_hash AS h, epoch(ts) AS tf FROM {src} WHERE fed_hash IS NOT NULL),
c AS (SELECT account_id AS a, comp_hash AS h, min(epoch(ts)) AS tc FROM {src}
      WHERE comp_hash IS NOT NULL AND comp_hash IN (SELECT h FROM f) GROUP BY account_id, comp_hash),
ca AS (SELECT * FROM c WHERE h IN (SELECT h FROM c GROUP BY h HAVING count(*) <= {config.max_recipients})),
fb AS (SELECT b, h, tf FROM f WHERE h IN (SELECT h FROM ca))
SELECT ca.a, fb.b, count(DISTINCT h) AS n FROM ca JOIN fb USING (h)
WHERE ca.a <> fb.b AND fb.tf >= ca.tc AND fb.tf <= ca.tc + {config.window_s}
GROUP BY ca.a, fb.b HAVING count(DISTINCT h) >= {config.min_pair}"""
    if not con.sql(f"SELECT 1 FROM {src} WHERE comp_hash IS NOT NULL LIMIT 1").fetchall():
        pairs = f"SELECT * FROM ({pairs}) WHERE false"   # a log without completions (or none long enough)
    if numbered:
        pairs = (f"SELECT na.account_id AS a, nb.account_id AS b, p.n FROM ({pairs}) p "
                 f"JOIN {NAMES} na ON na.name = p.a JOIN {NAMES} nb ON nb.name = p.b")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {TABLE} AS {pairs}")


def present(con: Any) -> bool:
    """Whether the connection (DuckDB or the Spark engine) holds `dg_prov` (`prepare` ran)."""
    return account_ids.has_table(con, TABLE)


def _shares_sql(config: ProvenanceConfig) -> str:
    """Per pair: `n`, and each side's recycled traffic as a share of its exchanges (`dg_features`): `pa`, the
    completions A received that others sent back; `pb`, the texts B sent that were others' completions."""
    return f"""SELECT p.a, p.b, p.n,
       least(1.0, r.rec / fa.exchanges) AS pa, least(1.0, s.fed / fb.exchanges) AS pb
FROM {TABLE} p
JOIN (SELECT a, sum(n) AS rec FROM {TABLE} GROUP BY a) r ON r.a = p.a
JOIN (SELECT b, sum(n) AS fed FROM {TABLE} GROUP BY b) s ON s.b = p.b
JOIN dg_features fa ON fa.account_id = p.a JOIN dg_features fb ON fb.account_id = p.b"""


def link_sql(config: ProvenanceConfig = ProvenanceConfig(), digits: int = 9) -> str:
    """The `reused-completions` rows (src, dst, kind, weight) for `dg_links`: the weight grows with the pair's
    recycled completions (full from `full_pair`) and with how much of the smaller side's traffic is recycled
    (full from `full_share`). Both directions of a pair add up (capped at 1)."""
    w = (f"least(1.0, n / {float(config.full_pair)}) * least(1.0, least(pa, pb) / {config.full_share})")
    return f"""SELECT least(a, b) AS src, greatest(a, b) AS dst, '{KIND}' AS kind,
       round(least(1.0, sum({w})), {digits}) AS weight
FROM ({_shares_sql(config)}) GROUP BY least(a, b), greatest(a, b)"""


def account_shares(con: Any, config: ProvenanceConfig = ProvenanceConfig()) -> pa.Table:
    """(account_id, provenance_share): per account in a pair, the larger of its shares of traffic recycled as
    receiver and as sender (after `build_links`, on the connection that holds `dg_prov` and `dg_features`)."""
    if not present(con):
        return pa.table({"account_id": pa.array([], pa.string()), "provenance_share": pa.array([], pa.float64())})
    t = con.sql(f"WITH s AS ({_shares_sql(config)}) SELECT account_id, max(share) AS provenance_share FROM ("
                f"SELECT a AS account_id, pa AS share FROM s UNION ALL SELECT b, pb FROM s) "
                f"GROUP BY account_id ORDER BY account_id").to_arrow_table()
    return account_ids.to_names(con, t)


def with_shares(con: Any, features: pa.Table, config: ProvenanceConfig = ProvenanceConfig()) -> pa.Table:
    """`features` with `provenance_share` (`account_shares`; 0 for an account in no pair)."""
    shares = account_shares(con, config)
    if "provenance_share" in features.column_names:
        features = features.drop_columns(["provenance_share"])
    col = np.zeros(features.num_rows)
    if shares.num_rows:
        at = positions(shares["account_id"], features["account_id"].combine_chunks())
        ok = at >= 0
        col[at[ok]] = shares["provenance_share"].to_numpy()[ok]
    return features.append_column("provenance_share", pa.array(col))
