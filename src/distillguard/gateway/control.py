"""The gateway's control surface for the dashboard: live statistics and analyst actions.

`GatewayControl` is what `distillguard.dashboard.create_app(control, detect_dir, admin_token)` builds
against. Analyst actions take effect on enforcement at once (this replica immediately, other replicas
through the shared event bus within a poll interval) and each is appended to the audit log (who, when,
why), which the gateway also writes to its store (`audit_log` table).

    >>> control = GatewayControl.in_memory()
    >>> entry = control.block_campaign("C-3", actor="ana", reason="confirmed extraction")
    >>> entry.action, "C-3" in control.overrides().blocked_campaigns
    ('block_campaign', True)
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ..policy import DEFAULT_POLICY_TOML, Action, parse_policy
from .enforce import Decision, Enforcer, Request

WINDOW_S = 60.0
MAX_EVENTS = 500


@dataclass(frozen=True)
class EnforcementEvent:
    """One request that was acted on (anything but a plain allow)."""

    ts: datetime
    account_id: str
    campaign_id: str | None
    action: str  # allow|throttle|degrade|verify|block
    code: str  # ok|throttled|degraded|rate_limited|campaign_rate_limited|verification_required|...
    status: int
    reason: str


@dataclass(frozen=True)
class CampaignTraffic:
    """A campaign's traffic over the last minute."""

    campaign_id: str
    requests_per_minute: int
    refused_per_minute: int
    accounts: int
    blocked: bool


@dataclass(frozen=True)
class LiveStats:
    """A snapshot of the gateway, over the last `WINDOW_S` seconds."""

    ts: datetime
    requests_per_second: float
    actions_per_minute: dict[str, int]  # action label -> requests in the last minute (allow included)
    top_campaigns: tuple[CampaignTraffic, ...]
    recent_events: tuple[EnforcementEvent, ...]  # newest first
    total_requests: int
    state_backend: str  # "memory" or "redis"


@dataclass(frozen=True)
class AuditEntry:
    """One analyst action."""

    ts: datetime
    actor: str
    action: str  # block_campaign|unblock_campaign|allow_account|disallow_account|allow_org|...
    target: str
    reason: str


@dataclass(frozen=True)
class OverridesView:
    """Analyst overrides currently in force (a copy)."""

    blocked_campaigns: frozenset[str]
    allowed_accounts: frozenset[str]
    allowed_orgs: frozenset[str]
    false_positives: frozenset[str]


@dataclass(frozen=True)
class AccountStatus:
    """What the gateway holds about one account now: online campaign membership and analyst marks."""

    account_id: str
    seen: bool  # this replica has served the account since it started
    requests: int  # requests this replica decided for it
    detected_campaign: str | None  # from the detection output the gateway enforces
    online_campaign: str | None  # assigned online: its prompts matched a campaign's templates
    template_matches: dict[str, int]  # campaign -> requests whose template was that campaign's
    allowed: bool  # allow-listed by an analyst
    false_positive: bool  # marked false positive by an analyst (in force: it is also allow-listed)
    campaign_blocked: bool  # its (detected or online) campaign is blocked by an analyst
    marks: tuple[AuditEntry, ...]  # the analyst actions on this account, newest first


class Telemetry:
    """Counts decisions over a sliding minute; an `Enforcer` observer. Wall clock, not request time."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._window: deque[tuple[float, str, str | None, str, bool]] = deque()
        self._events: deque[EnforcementEvent] = deque(maxlen=MAX_EVENTS)
        self._lock = threading.Lock()
        self.total = 0

    def __call__(self, req: Request, d: Decision) -> None:
        """Record one decision."""
        now = self.clock()
        with self._lock:
            self.total += 1
            w = self._window
            w.append((now, d.action.label, d.campaign_id, req.account_id, d.allowed))
            while w[0][0] < now - WINDOW_S:  # the last minute only, dashboard or not (it held every request)
                w.popleft()
            if d.action != Action.ALLOW or not d.allowed:
                self._events.append(EnforcementEvent(datetime.fromtimestamp(now, UTC), req.account_id,
                                                     d.campaign_id, d.action.label, d.code, d.status, d.reason))

    def snapshot(self, blocked: set[str], backend: str, top: int = 10) -> LiveStats:
        """Aggregate the last minute."""
        now = self.clock()
        with self._lock:
            while self._window and self._window[0][0] < now - WINDOW_S:
                self._window.popleft()
            window = list(self._window)
            events = tuple(reversed(self._events))
            total = self.total
        actions = Counter(a for _, a, _, _, _ in window)
        per: dict[str, list[int]] = {}
        accts: dict[str, set[str]] = {}
        for _, _, cid, acct, ok in window:
            if cid is not None:
                c = per.setdefault(cid, [0, 0])
                c[0] += 1
                c[1] += not ok
                accts.setdefault(cid, set()).add(acct)
        ranked = sorted(per.items(), key=lambda kv: -kv[1][0])[:top]
        span = min(WINDOW_S, max(1.0, now - window[0][0])) if window else WINDOW_S
        return LiveStats(
            ts=datetime.fromtimestamp(now, UTC),
            requests_per_second=len(window) / span,
            actions_per_minute={a.label: actions.get(a.label, 0) for a in Action},
            top_campaigns=tuple(CampaignTraffic(cid, n, r, len(accts[cid]), cid in blocked)
                                for cid, (n, r) in ranked),
            recent_events=events,
            total_requests=total,
            state_backend=backend,
        )


class GatewayControl:
    """Live statistics and analyst actions over a running gateway's enforcement engine."""

    def __init__(self, enforcer: Enforcer, telemetry: Telemetry | None = None,
                 audit_sink: Callable[[AuditEntry], None] | None = None, backend: str = "memory") -> None:
        self.enforcer = enforcer
        self.telemetry = telemetry or Telemetry()
        if enforcer.observer is None:
            enforcer.observer = self.telemetry
        self._audit_sink = audit_sink
        self._audit: deque[AuditEntry] = deque(maxlen=10_000)
        self._lock = threading.Lock()
        self.backend = backend

    @classmethod
    def in_memory(cls) -> GatewayControl:
        """A control over a fresh in-memory engine with the default policy (for tests and demos)."""
        return cls(Enforcer(parse_policy(DEFAULT_POLICY_TOML, "<default>")))

    def stats(self) -> LiveStats:
        """Requests/s, actions per minute, top campaigns by current traffic, recent enforcement events."""
        return self.telemetry.snapshot(self.enforcer.overrides.blocked_campaigns, self.backend)

    def overrides(self) -> OverridesView:
        """The analyst overrides in force."""
        o = self.enforcer.overrides
        return OverridesView(frozenset(o.blocked_campaigns), frozenset(o.allowed_accounts),
                             frozenset(o.allowed_orgs), frozenset(o.false_positives))

    def audit_log(self, limit: int = 100) -> tuple[AuditEntry, ...]:
        """The most recent analyst actions, newest first."""
        with self._lock:
            return tuple(reversed(self._audit))[:limit]

    def restore(self, entries: list[AuditEntry]) -> None:
        """Put earlier actions (from the store, at start-up) back into the audit log shown; not re-logged."""
        with self._lock:
            self._audit.extend(entries)

    def campaign_traffic(self) -> dict[str, CampaignTraffic]:
        """Every campaign's traffic over the last minute (not only the top ten)."""
        snap = self.telemetry.snapshot(self.enforcer.overrides.blocked_campaigns, self.backend, top=1_000_000)
        return {c.campaign_id: c for c in snap.top_campaigns}

    def online_campaigns(self) -> frozenset[str]:
        """Campaign ids the gateway knows beyond the detection output: assigned online, or of a learned
        template."""
        e = self.enforcer
        out = {st.campaign for st in list(e.accounts.values()) if st.campaign}
        out.update(c for c in list(e.knowledge.template_campaign.values()) if c)
        out.update(e.knowledge.campaign_confidence)
        out.update(e.knowledge.account_campaign.values())
        return frozenset(out)

    def account_status(self, account_id: str) -> AccountStatus:
        """Online campaign membership and analyst marks of one account."""
        e, o = self.enforcer, self.enforcer.overrides
        st = e.accounts.get(account_id)
        detected = e.knowledge.account_campaign.get(account_id)
        online = st.campaign if st is not None else None
        with self._lock:
            marks = tuple(a for a in reversed(self._audit) if a.target == account_id)
        return AccountStatus(
            account_id=account_id, seen=st is not None, requests=st.requests if st is not None else 0,
            detected_campaign=detected, online_campaign=online,
            template_matches=dict(st.matches) if st is not None else {},
            allowed=account_id in o.allowed_accounts, false_positive=account_id in o.false_positives,
            campaign_blocked=bool({detected, online} & o.blocked_campaigns), marks=marks)

    def block_campaign(self, campaign_id: str, actor: str, reason: str) -> AuditEntry:
        """Block every account of a campaign (detected or matched by template)."""
        return self._act("block_campaign", campaign_id, actor, reason)

    def unblock_campaign(self, campaign_id: str, actor: str, reason: str) -> AuditEntry:
        """Lift an analyst block on a campaign (policy rules still apply)."""
        return self._act("unblock_campaign", campaign_id, actor, reason)

    def allow_account(self, account_id: str, actor: str, reason: str) -> AuditEntry:
        """Allow-list an account: no campaign or score action applies (its per-account limit still does)."""
        return self._act("allow_account", account_id, actor, reason)

    def disallow_account(self, account_id: str, actor: str, reason: str) -> AuditEntry:
        """Remove an account from the allow-list."""
        return self._act("disallow_account", account_id, actor, reason)

    def allow_org(self, org_id: str, actor: str, reason: str) -> AuditEntry:
        """Allow-list every account of an organisation."""
        return self._act("allow_org", org_id, actor, reason)

    def disallow_org(self, org_id: str, actor: str, reason: str) -> AuditEntry:
        """Remove an organisation from the allow-list."""
        return self._act("disallow_org", org_id, actor, reason)

    def mark_false_positive(self, account_id: str, actor: str, reason: str) -> AuditEntry:
        """Record a false positive (a legitimate label for detection) and allow the account."""
        return self._act("false_positive", account_id, actor, reason)

    def false_positive_labels(self) -> list[tuple[str, str, str]]:
        """`(account_id, campaign_id, actor)` label rows for accounts marked false positive."""
        return [(a, "", "analyst:false-positive") for a in sorted(self.enforcer.overrides.false_positives)]

    def _act(self, op: str, target: str, actor: str, reason: str) -> AuditEntry:
        if not target or not actor:
            raise ValueError("target and actor must not be empty")
        entry = AuditEntry(datetime.now(UTC), actor, op, target, reason)
        self.enforcer.publish({"op": op, "id": target, "actor": actor, "reason": reason})
        with self._lock:
            self._audit.append(entry)
        if self._audit_sink is not None:
            self._audit_sink(entry)
        return entry
