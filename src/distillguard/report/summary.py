"""Campaigns in the words a provider would use: sizes, dates, targets and what binds the accounts.

>>> count(28_812_345), count(150_210), count(24_812)
('28.8M', '150k', '24,812')
"""

from __future__ import annotations

from .findings import Campaign

CAPABILITY_WORDS = {"reasoning": "reasoning", "coding": "coding", "tool_use": "tool use", "other": "other"}

# Reason/evidence codes as detect writes them -> the phrase an analyst reads; unknown codes are spelled
# out from their own words, so a new signal never breaks the report.
SIGNAL_WORDS = {
    "shared-template": "shared templates",
    "shared-params": "identical sampling parameters",
    "shared-templates": "shared templates",
    "template": "shared templates",
    "near-duplicate": "near-duplicate prompt sets",
    "near-duplicate-templates": "near-duplicate prompt sets",
    "lockstep": "lockstep timing",
    "lockstep-timing": "lockstep timing",
    "payment": "payment fingerprints",
    "shared-payment": "payment fingerprints",
    "payment-fingerprint": "payment fingerprints",
    "infrastructure": "shared infrastructure",
    "shared-ip": "shared IP addresses",
    "shared-infrastructure": "shared infrastructure",
    "signup-cohort": "signup cohorts",
    "cohort": "signup cohorts",
    "client-fingerprint": "identical client fingerprints",
    "params-fingerprint": "identical request parameters",
    "dense-block": "a dense account × template block",
    "cot-elicitation": "chain-of-thought elicitation",
    "chain-of-thought": "chain-of-thought elicitation",
    "narrow-targeting": "narrow capability targeting",
    "partner-indicator": "partner indicators",
    "near-duplicate-template": "near-duplicate templates",
    "shared-wrapper": "shared prompt wrappers",
    "shared-prompt-ends": "shared prompt openings and endings",
    "shared-payloads": "the same tasks in different wordings",
    "reused-completions": "one account's completions sent back by another",
    "shared-system-prompt": "a shared system prompt",
    "shared-instructions": "shared system-prompt instructions",
    "shared-prompt-sentences": "system prompts composed from one bank of sentences",
    "extraction-targets": "narrow targeting of reasoning, coding and tool use",
    "coordination": "synchronised activity",
    "single-turn": "single-turn requests",
    "long-max-tokens": "long max_tokens requests",
    "around-the-clock": "around-the-clock activity",
    "regular-timing": "machine-regular timing",
}


NOT_BINDING = frozenset({"extraction-targets", "cot-elicitation", "chain-of-thought",
                         "narrow-targeting", "single-turn", "long-max-tokens", "around-the-clock"})


def count(n: int | float) -> str:
    """A count as a provider writes it: 24,812 below 100k, 150k below 1M, 28.8M above."""
    n = float(n)
    if n >= 1e9:
        return f"{n / 1e9:.1f}B"
    if n >= 1e6:
        return f"{n / 1e6:.1f}M"
    if n >= 1e5:
        return f"{n / 1e3:.0f}k"
    return f"{int(n):,}"


def percent(share: float) -> str:
    """A share in [0, 1] as a whole percentage with a thin space: '41 %'."""
    return f"{share * 100:.0f} %"


def day(ts: str) -> str:
    """The date part (YYYY-MM-DD) of an ISO-8601 time; the text itself when it is not one."""
    return ts[:10] if len(ts) >= 10 and ts[4:5] == "-" else ts


def signal_words(code: str) -> str:
    """The analyst's phrase for a reason or evidence code."""
    code = code.strip()
    return SIGNAL_WORDS.get(code.lower(), code.replace("-", " ").replace("_", " "))


def capability_words(capabilities: tuple[tuple[str, float], ...]) -> str:
    """'reasoning 41 %, coding 35 %, tool use 24 %' from the largest share down, shares under 1 % left out."""
    items = sorted(capabilities, key=lambda kv: -kv[1])
    return ", ".join(f"{CAPABILITY_WORDS.get(k, k)} {percent(v)}" for k, v in items if v >= 0.01)


def bound_by(campaign: Campaign, limit: int = 4) -> str:
    """What ties the accounts together, in analyst words: the first `limit` linking signals detect gave.

    Signals that describe what the campaign asked for (targets, chain-of-thought) rather than what binds
    its accounts are left to the evidence list.
    """
    seen: list[str] = []
    for e in campaign.evidence:
        if e.signal.lower() in NOT_BINDING:
            continue
        words = signal_words(e.signal)
        if words and words not in seen:
            seen.append(words)
    more = len(seen) - limit
    return ", ".join(seen[:limit]) + (f" and {more} more signal{'s' * (more > 1)}" if more > 0 else "")


def campaign_sentence(campaign: Campaign) -> str:
    """One line: 'campaign C-3: 24,812 accounts, 28.8M exchanges, 2026-04-22 → 2026-06-05, targeting …'."""
    parts = [f"{count(campaign.accounts)} accounts", f"{count(campaign.exchanges)} exchanges"]
    if campaign.first_seen or campaign.last_seen:
        parts.append(f"{day(campaign.first_seen)} → {day(campaign.last_seen)}")
    targets = capability_words(campaign.capabilities)
    if targets:
        parts.append(f"targeting {targets}")
    text = f"campaign {campaign.campaign_id}: " + ", ".join(parts)
    binds = bound_by(campaign)
    return f"{text}; bound by {binds}" if binds else text
