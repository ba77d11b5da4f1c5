"""What the dashboard needs from a running gateway: a small protocol `GatewayControl` satisfies.

The dashboard depends on this protocol, not on the gateway package, so it can be served over any
engine that offers the same surface (the gateway's in-process control today, a remote one later).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class EventLike(Protocol):
    """A recent enforcement event."""

    ts: datetime
    account_id: str
    campaign_id: str | None
    action: str
    code: str
    status: int
    reason: str


class TrafficLike(Protocol):
    """A campaign's traffic over the last minute."""

    campaign_id: str
    requests_per_minute: int
    refused_per_minute: int
    accounts: int
    blocked: bool


class StatsLike(Protocol):
    """A live snapshot of the gateway."""

    ts: datetime
    requests_per_second: float
    actions_per_minute: dict[str, int]
    top_campaigns: tuple[TrafficLike, ...]
    recent_events: tuple[EventLike, ...]
    total_requests: int
    state_backend: str


class AuditLike(Protocol):
    """One analyst action as recorded: who, when, what, on what, why."""

    ts: datetime
    actor: str
    action: str
    target: str
    reason: str


class OverridesLike(Protocol):
    """Analyst overrides in force."""

    blocked_campaigns: frozenset[str]
    allowed_accounts: frozenset[str]
    allowed_orgs: frozenset[str]
    false_positives: frozenset[str]


class Control(Protocol):
    """Live statistics and audited analyst actions (satisfied by `distillguard.gateway.control.GatewayControl`)."""

    def stats(self) -> StatsLike: ...
    def overrides(self) -> OverridesLike: ...
    def audit_log(self, limit: int = 100) -> tuple[AuditLike, ...]: ...
    def block_campaign(self, campaign_id: str, actor: str, reason: str) -> AuditLike: ...
    def unblock_campaign(self, campaign_id: str, actor: str, reason: str) -> AuditLike: ...
    def allow_account(self, account_id: str, actor: str, reason: str) -> AuditLike: ...
    def disallow_account(self, account_id: str, actor: str, reason: str) -> AuditLike: ...
    def allow_org(self, org_id: str, actor: str, reason: str) -> AuditLike: ...
    def disallow_org(self, org_id: str, actor: str, reason: str) -> AuditLike: ...
    def mark_false_positive(self, account_id: str, actor: str, reason: str) -> AuditLike: ...
    def false_positive_labels(self) -> list[tuple[str, str, str]]: ...


# action name in the dashboard's API -> the Control method that performs it
ACTIONS = {
    "block_campaign": "block_campaign",
    "unblock_campaign": "unblock_campaign",
    "allow_account": "allow_account",
    "disallow_account": "disallow_account",
    "allow_org": "allow_org",
    "disallow_org": "disallow_org",
    "false_positive": "mark_false_positive",
}
