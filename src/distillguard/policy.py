"""Policy: what the gateway does to an account, given its score and the campaign it belongs to.

A policy file (TOML or JSON, same keys) is parsed into a frozen `Policy`. Detection output
(`accounts.csv`, `campaigns.json`, optional `templates.csv`) is loaded into `Knowledge`: which account
belongs to which campaign, how sure detection is, and which prompt templates each campaign sends,
so a fresh account that sends a known campaign's templates can be acted on at its first requests.

Actions, from mildest to most severe: allow < throttle < degrade < verify < block.
- throttle: the account also draws from its campaign's shared token bucket (and a tighter account one)
- degrade: throttle, plus cap `max_tokens`, drop reasoning content, force the watermark flag
- verify: 403 `verification_required` unless the account is verified
- block: 403 `account_blocked`
"""

from __future__ import annotations

import csv
import enum
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import findings
from .errors import ConfigError, InputError

POLICY_VERSION = 1


class Action(enum.IntEnum):
    """An enforcement action; a larger value is more severe."""

    ALLOW = 0
    THROTTLE = 1
    DEGRADE = 2
    VERIFY = 3
    BLOCK = 4

    @property
    def label(self) -> str:
        """Lower-case name as written in policy files and logs."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: Any, where: str) -> Action:
        """Parse an action name, naming the file/field on error."""
        try:
            return cls[str(value).upper()]
        except KeyError:
            names = ", ".join(a.label for a in cls)
            raise ConfigError(f"{where}: unknown action {value!r}; use one of {names}") from None


@dataclass(frozen=True)
class Limit:
    """Token buckets on requests and tokens: a sustained rate per minute and a burst (0 = unlimited)."""

    requests_per_minute: float = 0.0
    request_burst: float = 0.0
    tokens_per_minute: float = 0.0
    token_burst: float = 0.0


@dataclass(frozen=True)
class ScoreRule:
    """Accounts whose score is at least `min_score` get `action`."""

    min_score: float
    action: Action


@dataclass(frozen=True)
class CampaignRule:
    """Members of a campaign with confidence >= `min_confidence` and own score >= `min_score` get `action`."""

    min_confidence: float
    action: Action
    min_score: float = 0.0


@dataclass(frozen=True)
class Degrade:
    """What `degrade` does to a request."""

    max_tokens: int = 256
    drop_reasoning: bool = True
    watermark: bool = True


@dataclass(frozen=True)
class Policy:
    """A complete enforcement policy.

    >>> p = parse_policy(DEFAULT_POLICY_TOML, "default.toml")
    >>> p.campaign_rules[0].action.label, p.account_limit.requests_per_minute
    ('block', 600.0)
    """

    account_limit: Limit = Limit()
    throttled_account_limit: Limit = Limit()
    campaign_limit: Limit = Limit()
    score_rules: tuple[ScoreRule, ...] = ()
    campaign_rules: tuple[CampaignRule, ...] = ()
    template_matches: int = 2
    template_share: float = 0.5
    template_confidence: float = 0.9
    learn_templates: bool = True
    learn_min_accounts: int = 3
    learn_min_share: float = 0.5
    degrade: Degrade = Degrade()
    exempt_verified: bool = True
    max_body_bytes: int = 1_048_576
    max_messages: int = 256
    source: str = "<default>"

    def account_action(self, score: float) -> ScoreRule | None:
        """The most severe score rule the score meets, or None."""
        hits = [r for r in self.score_rules if score >= r.min_score]
        return max(hits, key=lambda r: r.action) if hits else None

    def campaign_action(self, confidence: float, score: float = 1.0) -> CampaignRule | None:
        """The most severe campaign rule the campaign's confidence and the member's score meet, or None."""
        hits = [r for r in self.campaign_rules if confidence >= r.min_confidence and score >= r.min_score]
        return max(hits, key=lambda r: r.action) if hits else None


DEFAULT_POLICY_TOML = """\
# DistillGuard enforcement policy (version 1). Actions: allow < throttle < degrade < verify < block.
version = 1

[limits.account]            # every account: the per-key limits any gateway has
requests_per_minute = 600
request_burst = 600
tokens_per_minute = 2000000
token_burst = 2000000

[limits.throttled_account]  # accounts whose action is throttle or degrade
requests_per_minute = 6
request_burst = 20
tokens_per_minute = 20000
token_burst = 40000

[limits.campaign]           # ONE bucket shared by all accounts of a campaign (throttle/degrade)
requests_per_minute = 10
request_burst = 30
tokens_per_minute = 20000
token_burst = 50000

[[account.rules]]           # detection or online score of the account -> action (most severe wins)
min_score = 0.98
action = "verify"

[[campaign.rules]]          # members of a detected campaign, by campaign confidence and own score
min_confidence = 0.8
min_score = 0.75            # members near the flag threshold are throttled, not blocked
action = "block"

[[campaign.rules]]
min_confidence = 0.5
action = "throttle"

[campaign]
template_matches = 2        # known-campaign template requests before a fresh account joins the campaign
template_share = 0.5        # ... and at least this share of the account's requests
template_confidence = 0.9   # confidence given to campaigns matched by template (capped at the campaign's)
learn_templates = true      # learn a campaign's templates online from its members' traffic: a template or
learn_min_accounts = 3      #   wrapper sent by >= 3 detected members of one campaign, whose members make
learn_min_share = 0.5       #   >= 50 % of the (first 64) accounts that sent it

[degrade]
max_tokens = 256
drop_reasoning = true
watermark = true

[verify]
exempt_verified = true      # verified accounts pass `verify`

[input]
max_body_bytes = 1048576
max_messages = 256
"""

PER_KEY_BASELINE_TOML = """\
# Baseline: per-key rate limits only, as in every commodity gateway.
version = 1
[limits.account]
requests_per_minute = 60
request_burst = 120
tokens_per_minute = 200000
token_burst = 400000
"""


def load_policy(path: str | Path) -> Policy:
    """Read a policy file (`.toml` or `.json`)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError(f"{p}: cannot read the policy file ({e.strerror})") from None
    return parse_policy(text, str(p), json_format=p.suffix.lower() == ".json")


def parse_policy(text: str, source: str, json_format: bool = False) -> Policy:
    """Parse policy text (TOML, or JSON with the same keys)."""
    try:
        raw = json.loads(text) if json_format else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{source}: not valid {'JSON' if json_format else 'TOML'} ({e})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a table at the top level")
    version = raw.get("version", POLICY_VERSION)
    if version != POLICY_VERSION:
        raise ConfigError(f"{source}: version: unsupported policy version {version!r}; use {POLICY_VERSION}")
    r = _Reader(raw, source)
    limits = r.table("limits")
    known_limits = {"account", "throttled_account", "campaign"}
    for k in limits:
        if k not in known_limits:
            raise ConfigError(f"{source}: limits.{k}: unknown limit; use one of {sorted(known_limits)}")
    account, campaign = r.table("account"), r.table("campaign")
    degrade, verify, inp = r.table("degrade"), r.table("verify"), r.table("input")
    score_rules = tuple(
        ScoreRule(_num(x, "min_score", f"{source}: account.rules[{i}]", 0, 1),
                  Action.parse(_req(x, "action", f"{source}: account.rules[{i}]"),
                               f"{source}: account.rules[{i}].action"))
        for i, x in enumerate(_list(account.get("rules", []), f"{source}: account.rules")))
    campaign_rules = tuple(
        CampaignRule(_num(x, "min_confidence", f"{source}: campaign.rules[{i}]", 0, 1),
                     Action.parse(_req(x, "action", f"{source}: campaign.rules[{i}]"),
                                  f"{source}: campaign.rules[{i}].action"),
                     _num(x, "min_score", f"{source}: campaign.rules[{i}]", 0, 1, 0.0))
        for i, x in enumerate(_list(campaign.get("rules", []), f"{source}: campaign.rules")))
    d = Degrade()
    return Policy(
        account_limit=_limit(limits.get("account"), f"{source}: limits.account"),
        throttled_account_limit=_limit(limits.get("throttled_account"), f"{source}: limits.throttled_account"),
        campaign_limit=_limit(limits.get("campaign"), f"{source}: limits.campaign"),
        score_rules=score_rules,
        campaign_rules=campaign_rules,
        template_matches=int(_num(campaign, "template_matches", f"{source}: campaign", 1, 1e9, 2)),
        template_share=_num(campaign, "template_share", f"{source}: campaign", 0, 1, 0.5),
        template_confidence=_num(campaign, "template_confidence", f"{source}: campaign", 0, 1, 0.9),
        learn_templates=_bool(campaign, "learn_templates", f"{source}: campaign", True),
        learn_min_accounts=int(_num(campaign, "learn_min_accounts", f"{source}: campaign", 1, 1e6, 3)),
        learn_min_share=_num(campaign, "learn_min_share", f"{source}: campaign", 0, 1, 0.5),
        degrade=Degrade(
            max_tokens=int(_num(degrade, "max_tokens", f"{source}: degrade", 1, 1e9, d.max_tokens)),
            drop_reasoning=_bool(degrade, "drop_reasoning", f"{source}: degrade", d.drop_reasoning),
            watermark=_bool(degrade, "watermark", f"{source}: degrade", d.watermark),
        ),
        exempt_verified=_bool(verify, "exempt_verified", f"{source}: verify", True),
        max_body_bytes=int(_num(inp, "max_body_bytes", f"{source}: input", 1, 1e12, 1_048_576)),
        max_messages=int(_num(inp, "max_messages", f"{source}: input", 1, 1e9, 256)),
        source=source,
    )


class _Reader:
    def __init__(self, raw: dict[str, Any], source: str) -> None:
        self.raw, self.source = raw, source

    def table(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{self.source}: {name}: expected a table")
        return value


def _req(t: Any, key: str, where: str) -> Any:
    if not isinstance(t, dict) or key not in t:
        raise ConfigError(f"{where}: missing '{key}'")
    return t[key]


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of tables")
    return value


def _num(t: dict[str, Any], key: str, where: str, lo: float, hi: float, default: float | None = None) -> float:
    if key not in t:
        if default is None:
            raise ConfigError(f"{where}: missing '{key}'")
        return default
    v = t[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
        raise ConfigError(f"{where}.{key}: expected a number in [{lo:g}, {hi:g}], got {v!r}")
    return float(v)


def _bool(t: dict[str, Any], key: str, where: str, default: bool) -> bool:
    v = t.get(key, default)
    if not isinstance(v, bool):
        raise ConfigError(f"{where}.{key}: expected true or false, got {v!r}")
    return v


def _limit(value: Any, where: str) -> Limit:
    if value is None:
        return Limit()
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table")
    known = {"requests_per_minute", "request_burst", "tokens_per_minute", "token_burst"}
    for k in value:
        if k not in known:
            raise ConfigError(f"{where}.{k}: unknown key; use {sorted(known)}")
    rpm = _num(value, "requests_per_minute", where, 0, 1e12, 0)
    tpm = _num(value, "tokens_per_minute", where, 0, 1e15, 0)
    return Limit(rpm, _num(value, "request_burst", where, 0, 1e12, rpm),
                 tpm, _num(value, "token_burst", where, 0, 1e15, tpm))


@dataclass
class Knowledge:
    """What detection knows: account scores and campaigns, campaign confidence, campaign templates.

    Mutable on purpose: the gateway and the backtest add to it as new detection output arrives.
    """

    account_score: dict[str, float] = field(default_factory=dict)
    account_campaign: dict[str, str] = field(default_factory=dict)
    account_reasons: dict[str, str] = field(default_factory=dict)
    campaign_confidence: dict[str, float] = field(default_factory=dict)
    template_campaign: dict[int, str] = field(default_factory=dict)

    def add_account(self, account_id: str, score: float, campaign_id: str | None, reasons: str = "") -> None:
        """Record one account's detection result."""
        self.account_score[account_id] = score
        self.account_reasons[account_id] = reasons
        if campaign_id:
            self.account_campaign[account_id] = campaign_id


def load_detection(detect_dir: str | Path) -> Knowledge:
    """Load a `distillguard detect` output folder (accounts.csv, campaigns.json, optional templates.csv)."""
    d = Path(detect_dir)
    k = Knowledge()
    acc = d / findings.ACCOUNTS
    if not acc.is_file():
        raise InputError(f"{acc}: missing; is {d} a `distillguard detect --out` folder?")
    for v in findings.read_verdicts(d):
        # membership counts at the detection's operating point: an unflagged account near a
        # campaign is scored, not treated as a member
        k.add_account(v.account_id, v.score, v.campaign_id if v.flagged else None, ";".join(v.reasons))
    if (d / findings.CAMPAIGNS).is_file():
        for c in findings.read_campaigns(d, strict=False):
            k.campaign_confidence[c.campaign_id] = c.confidence
    for cid in set(k.account_campaign.values()) - set(k.campaign_confidence):
        k.campaign_confidence[cid] = 1.0
    tpl = d / "templates.csv"
    if tpl.is_file():
        with tpl.open(newline="") as f:
            for i, row in enumerate(csv.DictReader(f), start=2):
                try:
                    k.template_campaign[int(row["template_id"])] = row["campaign_id"]
                except (KeyError, ValueError, TypeError) as e:
                    raise InputError(f"{tpl}:{i}: bad row ({e}); expected campaign_id,template_id,...") from None
    return k


def describe_policy(p: Policy) -> str:
    """A few lines saying what a policy does (for `distillguard policy check`)."""

    def lim(x: Limit) -> str:
        if not (x.requests_per_minute or x.tokens_per_minute):
            return "unlimited"
        return (f"{x.requests_per_minute:g} req/min (burst {x.request_burst:g}), "
                f"{x.tokens_per_minute:g} tokens/min (burst {x.token_burst:g})")

    lines = [f"{p.source}: valid",
             f"  every account:       {lim(p.account_limit)}",
             f"  throttled account:   {lim(p.throttled_account_limit)}",
             f"  per campaign:        {lim(p.campaign_limit)} shared by all its accounts"]
    lines += [f"  score >= {r.min_score:g}: {r.action.label}" for r in p.score_rules]
    lines += [f"  campaign confidence >= {r.min_confidence:g}"
              + (f", member score >= {r.min_score:g}" if r.min_score else "") + f": {r.action.label}"
              for r in p.campaign_rules]
    lines.append(f"  fresh account joins a campaign after {p.template_matches} requests with its templates "
                 f"(>= {p.template_share:.0%} of its requests)")
    if p.learn_templates:
        lines.append(f"  campaign templates learned online: sent by >= {p.learn_min_accounts} detected members, "
                     f"members >= {p.learn_min_share:.0%} of its senders")
    d = p.degrade
    lines.append(f"  degrade: max_tokens {d.max_tokens}, drop reasoning {str(d.drop_reasoning).lower()}, "
                 f"watermark {str(d.watermark).lower()}")
    lines.append(f"  input: body <= {p.max_body_bytes} bytes, <= {p.max_messages} messages")
    return "\n".join(lines)
