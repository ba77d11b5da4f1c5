"""Analyst actions are durable state: re-applied from the store's `audit_log` when the gateway starts.

The dashboard's actions (block a campaign, allow-list an account or organisation, mark a false positive)
are journaled and stored in `audit_log` (who, when, what, why) like every other row. At start-up, after
the journal's replay, the gateway applies them again in order, so a restart (or a `kill -9`) does not lift
a block. With Redis, every replica also reads the shared event stream from its start, and an action taken
while Redis was down is queued and published when it returns (`Enforcer.flush_outbox`).
"""

from __future__ import annotations

import logging
from datetime import datetime

import duckdb

from .control import AuditEntry, GatewayControl
from .enforce import ANALYST_OPS, EVENT_VERSION, Enforcer

log = logging.getLogger("distillguard.gateway")


def stored_actions(con: duckdb.DuckDBPyConnection) -> list[AuditEntry]:
    """The analyst actions in the store's audit log, oldest first (none if there is no audit log yet)."""
    with con.cursor() as cur:
        try:
            rows = cur.execute("SELECT ts, actor, action, target, reason FROM audit_log "
                               "ORDER BY ts, rowid").fetchall()
        except duckdb.CatalogException:
            return []
    return [AuditEntry(ts if isinstance(ts, datetime) else datetime.fromisoformat(str(ts)), actor or "", action,
                       target or "", reason or "")
            for ts, actor, action, target, reason in rows if action in ANALYST_OPS and target]


def reapply(enforcer: Enforcer, entries: list[AuditEntry]) -> int:
    """Apply the actions to this replica's state, locally only (other replicas have them from the bus or
    their own store); return how many."""
    for e in entries:
        enforcer.apply({"v": EVENT_VERSION, "op": e.action, "id": e.target})
    if entries:
        log.warning("re-applied %d analyst actions from the audit log", len(entries))
    return len(entries)


def restore_actions(con: duckdb.DuckDBPyConnection, enforcer: Enforcer, control: GatewayControl) -> int:
    """At start-up: the stored analyst actions back in force and in the audit log shown; return how many."""
    entries = stored_actions(con)
    control.restore(entries)
    return reapply(enforcer, entries)
