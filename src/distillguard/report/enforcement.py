"""What enforcement did about each campaign, and when: gateway events, analyst actions, backtests.

Sources, each optional:
- the gateway's store (`--db`): tables `enforcement_events` (one row per request acted on) and
  `audit_log` (analyst actions), as the gateway writes them;
- `DIR/enforcement.csv`: `ts,campaign_id,account_id,action,reason`, the same events from elsewhere;
- `DIR/backtest.json`: `distillguard backtest --json` output (one object per policy, with `campaigns`).
Events are aggregated in SQL (per campaign and action: first, last, requests, accounts; per day for the
timeline), so millions of throttled requests make a handful of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import orjson

from ..store import sql_literal
from .findings import Findings
from .summary import count


@dataclass(frozen=True)
class ActionSummary:
    """One kind of action taken on a campaign's requests."""

    action: str
    first: str
    last: str
    requests: int
    accounts: int


@dataclass(frozen=True)
class AnalystAction:
    """An analyst's action on a campaign, from the audit log."""

    ts: str
    actor: str
    action: str
    reason: str


@dataclass(frozen=True)
class BacktestRow:
    """One policy's outcome for a campaign in a backtest, in words."""

    policy: str
    cells: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PolicyOutcome:
    """One backtested policy over the whole log: what campaigns got, what legitimate users suffered."""

    policy: str
    campaign_exchanges: str
    served_after_24h: str  # share of campaign exchanges served after each campaign's first 24 h
    legit_requests: str
    legit_affected: str  # share of legitimate requests refused or degraded


@dataclass(frozen=True)
class Enforcement:
    """Everything known about enforcement, per campaign id."""

    actions: dict[str, tuple[ActionSummary, ...]]
    daily: dict[str, tuple[dict[str, Any], ...]]  # campaign -> rows {day, action, count} for timelines
    analyst: dict[str, tuple[AnalystAction, ...]]
    backtest: dict[str, tuple[BacktestRow, ...]]
    policies: tuple[PolicyOutcome, ...] = ()

    @classmethod
    def empty(cls) -> Enforcement:
        """No enforcement information at all."""
        return cls({}, {}, {}, {})


def _events_sql(detect_dir: Path, has_store_table: bool) -> str | None:
    parts = []
    csv_path = detect_dir / "enforcement.csv"
    if csv_path.is_file() and csv_path.stat().st_size:
        parts.append(
            "SELECT try_cast(ts AS TIMESTAMPTZ) AS ts, coalesce(campaign_id, '') AS campaign_id, "
            "coalesce(account_id, '') AS account_id, coalesce(action, '') AS action "
            f"FROM read_csv({sql_literal(csv_path)}, header=true, all_varchar=true)"
        )
    if has_store_table:
        parts.append("SELECT ts, coalesce(campaign_id, '') AS campaign_id, coalesce(account_id, '') AS account_id, "
                     "coalesce(action, '') AS action FROM gw.enforcement_events")
    return " UNION ALL ".join(parts) if parts else None


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_catalog = 'gw'").fetchall()
    return {r[0] for r in rows}


def load_enforcement(findings: Findings, store: Path | None = None) -> Enforcement:
    """Enforcement per campaign from the store, enforcement.csv and backtest.json (whichever exist)."""
    con = duckdb.connect(":memory:")
    try:
        tables: set[str] = set()
        if store is not None and Path(store).is_file():
            try:
                con.execute(f"ATTACH {sql_literal(store)} AS gw (READ_ONLY)")
                tables = _tables(con)
            except duckdb.Error:
                tables = set()  # locked by a running gateway, or not a store: go on without it
        actions: dict[str, list[ActionSummary]] = {}
        daily: dict[str, list[dict[str, Any]]] = {}
        sql = _events_sql(findings.detect_dir, "enforcement_events" in tables)
        if sql:
            try:
                con.execute(f"CREATE TEMP VIEW ev AS SELECT * FROM ({sql}) WHERE campaign_id <> '' AND ts IS NOT NULL")
                for cid, act, first, last, n, accts in con.execute(
                    "SELECT campaign_id, action, min(ts)::VARCHAR, max(ts)::VARCHAR, count(*), "
                    "count(DISTINCT nullif(account_id, '')) FROM ev GROUP BY ALL ORDER BY campaign_id, min(ts)"
                ).fetchall():
                    actions.setdefault(cid, []).append(ActionSummary(act, first[:19], last[:19], n, accts))
                for cid, day, act, n in con.execute(
                    "SELECT campaign_id, strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d'), action, count(*) FROM ev "
                    "GROUP BY ALL ORDER BY 1, 2, 3"
                ).fetchall():
                    daily.setdefault(cid, []).append({"day": day, "action": act, "count": n})
            except duckdb.Error:
                actions, daily = {}, {}
        analyst: dict[str, list[AnalystAction]] = {}
        if "audit_log" in tables:
            ids = [c.campaign_id for c in findings.campaigns]
            for ts, actor, act, target, reason in con.execute(
                "SELECT ts::VARCHAR, actor, action, target, coalesce(reason, '') FROM gw.audit_log "
                "WHERE target IN (SELECT unnest(?::VARCHAR[])) ORDER BY ts", [ids]
            ).fetchall():
                analyst.setdefault(target, []).append(AnalystAction(ts[:19], actor, act, reason))
    finally:
        con.close()
    return Enforcement(
        {k: tuple(v) for k, v in actions.items()},
        {k: tuple(v) for k, v in daily.items()},
        {k: tuple(v) for k, v in analyst.items()},
        *_backtest(findings.detect_dir / "backtest.json"),
    )


_BACKTEST_CELLS = (
    ("served", "served"),
    ("served_before_first_action", "served before the first action"),
    ("first_action_h", "first action after (h)"),
    ("served_before_containment", "served before containment"),
    ("containment_h", "contained after (h)"),
    ("served_after_24h", "served after the first 24 h"),
)


def _share(v: Any) -> str:
    return f"{100 * v:.3f} %" if isinstance(v, int | float) else "—"


def _backtest(path: Path) -> tuple[dict[str, tuple[BacktestRow, ...]], tuple[PolicyOutcome, ...]]:
    """Per campaign, one row per policy of `distillguard backtest --json` output; and per policy, totals."""
    if not path.is_file():
        return {}, ()
    try:
        raw = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError:
        return {}, ()
    policies = raw if isinstance(raw, list) else [raw]
    out: dict[str, list[BacktestRow]] = {}
    outcomes = []
    for p in policies:
        if not isinstance(p, dict):
            continue
        raw_legit = p.get("legit")
        legit: dict[str, Any] = raw_legit if isinstance(raw_legit, dict) else {}
        if "campaign_exchanges" in p or legit:
            outcomes.append(PolicyOutcome(
                str(p.get("name", "policy")), count(int(p.get("campaign_exchanges") or 0)),
                _share(p.get("served_after_24h_share")), count(int(legit.get("requests") or 0)),
                _share(p.get("legit_affected_share"))))
        for c in p.get("campaigns") or ():
            if not isinstance(c, dict) or "campaign_id" not in c:
                continue
            cells = []
            for key, words in _BACKTEST_CELLS:
                v = c.get(key)
                cells.append((words, "—" if v is None else f"{v:.1f}" if isinstance(v, float) else count(v)
                              if isinstance(v, int) else str(v)))
            out.setdefault(str(c["campaign_id"]), []).append(BacktestRow(str(p.get("name", "policy")), tuple(cells)))
    return {k: tuple(v) for k, v in out.items()}, tuple(outcomes)
