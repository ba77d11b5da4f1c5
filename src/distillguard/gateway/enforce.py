"""The enforcement engine: one request in, one `Decision` out. Pure Python, no HTTP.

The same engine runs behind `distillguard serve`, inside the LiteLLM hook and in the backtest (with a
simulated clock). Per request it:
1. updates the account's running features (volume, templates, matches to known campaign templates);
2. finds the account's campaign: from detection output, from analyst overrides, or by its templates
   (a fresh account that sends `template_matches` requests of a known campaign's templates joins it);
3. maps score and campaign confidence to an action through the policy (most severe wins);
4. draws from the account's token buckets and, when throttled, from its campaign's shared bucket.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..policy import Action, Knowledge, Limit, Policy, parse_policy
from .limits import Charge, Limiter, MemoryLimiter, StateUnavailable
from .shared import Event, EventBus, MemoryBus

log = logging.getLogger("distillguard.gateway")
EVENT_VERSION = 1  # of the shared events; an event without "v" is from before versions (read as 1)
ANALYST_OPS = frozenset({"block_campaign", "unblock_campaign", "allow_account", "disallow_account", "allow_org",
                         "disallow_org", "false_positive"})
MAX_OUTBOX = 100_000  # events kept while the bus is down, published in order when it returns
MAX_TEMPLATES_PER_ACCOUNT = 256
MAX_TRACKED_TEMPLATES = 2_000_000
SAMPLED_SENDERS = 64  # accounts remembered per template to judge whether it belongs to a campaign


@dataclass(frozen=True)
class Request:
    """What enforcement needs to know about one request."""

    account_id: str
    now: float
    template_id: int = 0
    wrapper_id: int = 0
    org_id: str | None = None
    verified: bool = False
    prompt_tokens: int = 0
    max_tokens: int | None = None
    reserve_tokens: int = 0  # output tokens reserved before forwarding (the gateway: streams too), settled after


@dataclass(frozen=True)
class Decision:
    """What to do with one request, and why."""

    action: Action
    allowed: bool
    status: int
    code: str
    reason: str
    campaign_id: str | None = None
    score: float = 0.0
    max_tokens: int | None = None
    drop_reasoning: bool = False
    watermark: bool = False
    retry_after: float = 0.0
    reserved: int = 0  # output tokens taken with the request; `settle` charges or refunds the difference


@dataclass
class Overrides:
    """Analyst decisions that beat detection."""

    blocked_campaigns: set[str] = field(default_factory=set)
    allowed_accounts: set[str] = field(default_factory=set)
    allowed_orgs: set[str] = field(default_factory=set)
    false_positives: set[str] = field(default_factory=set)


@dataclass
class AccountState:
    """Running per-account features, updated on every request."""

    requests: int = 0
    first_seen: float = 0.0
    last_seen: float = 0.0
    templates: set[int] = field(default_factory=set)
    matches: dict[str, int] = field(default_factory=dict)
    campaign: str | None = None  # assigned online by template matches

    def online_score(self, needed: int) -> float:
        """Share of requests that matched a known campaign template, ramped by the match count."""
        if not self.matches or not self.requests:
            return 0.0
        best = max(self.matches.values())
        return min(1.0, best / self.requests) * min(1.0, best / needed)


class Enforcer:
    """Decide allow / throttle / degrade / verify / block for each request.

    >>> from distillguard.policy import parse_policy, DEFAULT_POLICY_TOML, Knowledge
    >>> k = Knowledge(account_campaign={"a1": "C1"}, campaign_confidence={"C1": 0.95}, account_score={"a1": 0.9})
    >>> e = Enforcer(parse_policy(DEFAULT_POLICY_TOML, "default"), k)
    >>> e.decide(Request("a1", now=0.0)).code, e.decide(Request("a2", now=0.0)).code
    ('account_blocked', 'ok')
    """

    def __init__(self, policy: Policy, knowledge: Knowledge | None = None, limiter: Limiter | None = None,
                 bus: EventBus | None = None,
                 observer: Callable[[Request, Decision], None] | None = None) -> None:
        self.policy = policy
        self.knowledge = knowledge or Knowledge()
        self.limiter: Limiter = limiter or MemoryLimiter()
        self.bus: EventBus = bus or MemoryBus()
        self.observer = observer
        self.overrides = Overrides()
        self.accounts: dict[str, AccountState] = {}
        # template/wrapper id -> (uses, first SAMPLED_SENDERS accounts that sent it, campaign of a member sender);
        # tuples of str/int/None, which the cyclic GC stops tracking: up to MAX_TRACKED_TEMPLATES entries as
        # lists and sets were ~1 s of every full collection (event loop stopped) at 2M
        self.template_uses: dict[int, tuple[int, tuple[str, ...], str | None]] = {}
        self.learned: set[int] = set()
        self.generic_templates: set[int] = set()  # ids of generic texts: never learned (see fingerprint.py)
        self.unpublished = 0  # events in force here but not yet on the bus (it was down)
        self.outbox_dropped = 0
        self.bad_events = 0  # malformed events skipped (reported, never fatal to the ones after them)
        self.last_bad_event: str | None = None
        self._outbox: deque[Event] = deque()
        self._outbox_lock = threading.Lock()
        self._lock = threading.Lock()

    # -- state changes (local now, published for other replicas) ------------------------------------
    def publish(self, event: Event) -> None:
        """Apply an event here at once and publish it to the other replicas; while the bus is down the
        event is queued (in order) and published by a later `sync`."""
        event = {"v": EVENT_VERSION, **event}
        self.apply(event)
        with self._outbox_lock:
            if not self._outbox:
                try:
                    self.bus.publish(event)
                    return
                except StateUnavailable:
                    pass
            if len(self._outbox) >= MAX_OUTBOX:
                self._outbox.popleft()
                self.outbox_dropped += 1
            self._outbox.append(event)
            self.unpublished = len(self._outbox)

    def flush_outbox(self) -> int:
        """Publish events queued while the bus was down, oldest first; return how many went out."""
        n = 0
        with self._outbox_lock:
            while self._outbox:
                try:
                    self.bus.publish(self._outbox[0])
                except StateUnavailable:
                    break
                self._outbox.popleft()
                n += 1
            self.unpublished = len(self._outbox)
        if n:
            log.warning("published %d state events queued while the shared state was unavailable", n)
        return n

    def sync(self) -> int:
        """Publish what was queued, then apply events published by any replica since the last sync; return
        how many were applied. A malformed event is skipped and counted (`bad_events`), never fatal."""
        self.flush_outbox()
        events = self.bus.poll()
        n = 0
        for ev in events:
            try:
                if not isinstance(ev, dict) or not isinstance(ev.get("op"), str):
                    raise ValueError("not an event object with an op")
                v = ev.get("v", EVENT_VERSION)
                if not isinstance(v, int) or v > EVENT_VERSION:
                    raise ValueError(f"unknown event version {v!r}")
                self.apply(ev)
                n += 1
            except Exception as e:  # noqa: BLE001 - one bad event must not stop the ones after it
                self.bad_events += 1
                self.last_bad_event = f"{type(e).__name__}: {e}"[:300]
                if self.bad_events == 1 or self.bad_events % 1000 == 0:
                    log.error("skipped a malformed state event (%d so far): %s: %.200r", self.bad_events,
                              self.last_bad_event, ev)
        return n

    def apply(self, ev: Event) -> None:
        """Apply one state event (idempotent)."""
        op, o = ev.get("op"), self.overrides
        target = str(ev.get("id", ""))
        if op == "block_campaign":
            o.blocked_campaigns.add(target)
        elif op == "unblock_campaign":
            o.blocked_campaigns.discard(target)
        elif op == "allow_account":
            o.allowed_accounts.add(target)
        elif op == "disallow_account":
            o.allowed_accounts.discard(target)
        elif op == "allow_org":
            o.allowed_orgs.add(target)
        elif op == "disallow_org":
            o.allowed_orgs.discard(target)
        elif op == "false_positive":
            o.false_positives.add(target)
        elif op == "assign":
            self._state(target, 0.0).campaign = str(ev["campaign_id"])
        elif op == "policy":
            self.policy = parse_policy(str(ev["text"]), str(ev.get("source", "<shared>")),
                                       json_format=bool(ev.get("json")))
        elif op == "templates":
            for t, c in ev["map"].items():
                if c:
                    self.knowledge.template_campaign[int(t)] = str(c)
                    self.learned.add(int(t))
                elif int(t) in self.learned:
                    self.knowledge.template_campaign.pop(int(t), None)
                    self.learned.discard(int(t))

    def set_policy(self, policy: Policy) -> None:
        """Swap the policy (takes effect on the next request)."""
        self.policy = policy

    def set_knowledge(self, knowledge: Knowledge) -> None:
        """Swap detection knowledge (e.g. after `detect` wrote a new output folder)."""
        self.knowledge = knowledge

    # -- the hot path --------------------------------------------------------------------------------
    def decide(self, req: Request) -> Decision:
        """Decide what to do with one request and draw from its buckets."""
        p, k, o = self.policy, self.knowledge, self.overrides
        st = self._state(req.account_id, req.now)
        st.requests += 1
        st.last_seen = req.now
        if req.template_id:
            self._note_template(req.account_id, st, (req.template_id, req.wrapper_id))

        campaign = k.account_campaign.get(req.account_id) or st.campaign
        score = max(k.account_score.get(req.account_id, 0.0), st.online_score(p.template_matches))
        allowed_by_analyst = (req.account_id in o.allowed_accounts or req.account_id in o.false_positives
                              or (req.org_id is not None and req.org_id in o.allowed_orgs))
        action, reason = Action.ALLOW, "ok"
        if allowed_by_analyst:
            reason = "allow-listed by analyst"
        elif campaign is not None and campaign in o.blocked_campaigns:
            action, reason = Action.BLOCK, f"campaign {campaign} blocked by analyst"
        else:
            if campaign is not None:
                conf = k.campaign_confidence.get(campaign, 1.0)
                how = "detected member"
                if req.account_id not in k.account_campaign:
                    conf, how = min(conf, p.template_confidence), "sends its templates"
                rule = p.campaign_action(conf, score)
                if rule is not None:
                    action = rule.action
                    reason = f"campaign {campaign} ({how}, confidence {conf:.2f} >= {rule.min_confidence:g}"
                    reason += f", score {score:.2f})" if rule.min_score else ")"
            srule = p.account_action(score)
            if srule is not None and srule.action > action:
                if not (srule.action == Action.VERIFY and req.verified and p.exempt_verified):
                    action, reason = srule.action, f"score {score:.2f} >= {srule.min_score:g}"
                    why = k.account_reasons.get(req.account_id)
                    if why:
                        reason += f" ({why})"
        if action == Action.VERIFY and req.verified and p.exempt_verified:
            action, reason = Action.THROTTLE, reason + "; verified account, throttled instead"
        if action == Action.BLOCK:
            return self._observe(req, Decision(action, False, 403, "account_blocked", reason, campaign, score))
        if action == Action.VERIFY:
            return self._observe(req, Decision(action, False, 403, "verification_required", reason, campaign,
                                               score))
        try:
            res = self.limiter.take(self._charges(req, action, campaign, check=True), req.now)
        except StateUnavailable as e:
            return self._observe(req, Decision(action, False, 503, "state_unavailable", str(e), campaign, score))
        if not res.ok:
            code = "campaign_rate_limited" if (res.bucket or "").startswith("c:") else "rate_limited"
            return self._observe(req, Decision(action, False, 429, code, f"{reason}; bucket {res.bucket} empty",
                                               campaign, score, retry_after=res.retry_after))
        reserved = req.reserve_tokens if self._has_token_buckets(action, campaign) else 0
        if action == Action.DEGRADE:
            d = p.degrade
            cap = d.max_tokens if req.max_tokens is None else min(req.max_tokens, d.max_tokens)
            return self._observe(req, Decision(action, True, 200, "degraded", reason, campaign, score, cap,
                                               d.drop_reasoning, d.watermark, reserved=reserved))
        code = "ok" if action == Action.ALLOW else "throttled"
        return self._observe(req, Decision(action, True, 200, code, reason, campaign, score, reserved=reserved))

    def learn_templates(self, account_id: str, template_ids: tuple[int, ...], now: float) -> None:
        """Count one request's fingerprints (template id, wrapper id) computed after it was decided."""
        self._note_template(account_id, self._state(account_id, now), template_ids)

    def _note_template(self, account_id: str, st: AccountState, ids: tuple[int, ...]) -> None:
        if len(st.templates) < MAX_TEMPLATES_PER_ACCOUNT:
            st.templates.add(ids[0])
        k = self.knowledge
        if self.policy.learn_templates:
            self._learn(account_id, st, ids)
        for tid in ids:
            if not tid:
                continue
            matched = k.template_campaign.get(tid)
            if matched is None:
                continue
            n = st.matches[matched] = st.matches.get(matched, 0) + 1
            p = self.policy
            if (st.campaign is None and n >= p.template_matches and n >= p.template_share * st.requests
                    and account_id not in k.account_campaign):
                self.publish({"op": "assign", "id": account_id, "campaign_id": matched})
            return  # one match per request, whichever of its ids matched first

    def _learn(self, account_id: str, st: AccountState, ids: tuple[int, ...]) -> None:
        """Learn campaign templates from traffic: among the first accounts that sent a template, enough
        are detected members of one campaign, and at least `learn_min_share` are its members now."""
        p, k = self.policy, self.knowledge
        member_of = k.account_campaign.get(account_id) or st.campaign
        for tid in {i for i in ids if i and i not in self.generic_templates}:
            u = self.template_uses.get(tid)
            if u is None:
                if len(self.template_uses) >= MAX_TRACKED_TEMPLATES:
                    continue
                uses, senders, camp = 0, (), None
            else:
                uses, senders, camp = u
            uses += 1
            if len(senders) < SAMPLED_SENDERS and account_id not in senders:
                senders += (account_id,)
            if member_of is not None:
                camp = member_of
            self.template_uses[tid] = (uses, senders, camp)
            # re-evaluate when a member sends it, and now and then otherwise (membership changes over time)
            if camp is None or len(senders) < p.learn_min_accounts or (member_of is None and uses % 16):
                continue
            # members of any campaign count (detection may split one operation into several campaigns);
            # the template goes to the campaign with the most members among its senders
            per: dict[str, int] = {}
            detected = 0
            for a in senders:
                c = k.account_campaign.get(a)
                if c is not None:
                    detected += 1
                else:
                    s = self.accounts.get(a)
                    c = s.campaign if s is not None else None
                if c is not None:
                    per[c] = per.get(c, 0) + 1
            members = sum(per.values())
            ok = detected >= p.learn_min_accounts and members >= p.learn_min_share * len(senders)
            cid = max(per, key=lambda c: (per[c], c)) if per else camp  # ties: deterministic
            known = k.template_campaign.get(tid)
            if ok and known is None:
                self.publish({"op": "templates", "map": {str(tid): cid}})
            elif not ok and known is not None and tid in self.learned:
                self.publish({"op": "templates", "map": {str(tid): ""}})

    def settle(self, req: Request, decision: Decision, completion_tokens: int) -> None:
        """Bill the tokens a served response used against the same buckets (never refuses): what it used
        beyond the decision's reservation, or refund what was reserved and not used."""
        delta = completion_tokens - decision.reserved
        if not decision.allowed or delta == 0:
            return
        charges = [Charge(c.key, c.rate, c.burst, delta, check=False)
                   for c in self._charges(req, decision.action, decision.campaign_id, check=False)
                   if c.key.endswith(":t")]
        try:
            self.limiter.take(charges, req.now)
        except StateUnavailable:
            pass  # billing after the fact is best effort; the next checked take applies the error mode

    def _charges(self, req: Request, action: Action, campaign: str | None, check: bool) -> list[Charge]:
        p = self.policy
        out: list[Charge] = []
        tokens = req.prompt_tokens + req.reserve_tokens
        _add(out, "a:" + req.account_id, p.account_limit, tokens, check)
        if action >= Action.THROTTLE:
            _add(out, "ta:" + req.account_id, p.throttled_account_limit, tokens, check)
            if campaign is not None:
                _add(out, "c:" + campaign, p.campaign_limit, tokens, check)
        return out

    def _has_token_buckets(self, action: Action, campaign: str | None) -> bool:
        p = self.policy
        if p.account_limit.tokens_per_minute > 0:
            return True
        if action < Action.THROTTLE:
            return False
        return p.throttled_account_limit.tokens_per_minute > 0 or (
            campaign is not None and p.campaign_limit.tokens_per_minute > 0)

    def _state(self, account_id: str, now: float) -> AccountState:
        st = self.accounts.get(account_id)
        if st is None:
            with self._lock:
                st = self.accounts.setdefault(account_id, AccountState(first_seen=now, last_seen=now))
        return st

    def _observe(self, req: Request, d: Decision) -> Decision:
        if self.observer is not None:
            self.observer(req, d)
        return d


def _add(out: list[Charge], key: str, limit: Limit, tokens: int, check: bool) -> None:
    if limit.requests_per_minute > 0:
        out.append(Charge(key + ":r", limit.requests_per_minute / 60, limit.request_burst, 1.0, check))
    if limit.tokens_per_minute > 0:
        out.append(Charge(key + ":t", limit.tokens_per_minute / 60, limit.token_burst, float(tokens), check))
