"""Scenario presets: a legitimate background plus campaigns, at scale 1 (use `scale` to shrink).

Campaign sizes follow the public disclosures (Feb 2026: DeepSeek ~150k, Moonshot ~3.4M, MiniMax ~13M
exchanges; Apr 22 – Jun 5 2026: ~28.8M exchanges from ~25k accounts at ≈26 per account per day).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from ..errors import UsageError


@dataclass(frozen=True)
class ActorSpec:
    """One actor of a scenario: a behaviour, how many accounts, their volume, and its campaign if any."""

    kind: str  # casual | developer | power-user | batch-integration | benchmark-runner | nat-cohort |
    #            enterprise-team | naive | distributed | mimicry | hydra
    accounts: int
    rate: float  # target exchanges per account per active day
    campaign: str = ""
    groups: int = 0  # organisations / teams / cohorts (batch, enterprise, NAT)
    capabilities: dict[str, float] = field(default_factory=dict)
    options: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """A named preset: time window, actors, and the model released during it (if any)."""

    name: str
    description: str
    start: str  # YYYY-MM-DD (UTC midnight)
    days: int
    actors: tuple[ActorSpec, ...]
    release_model: str = ""
    release_at: str = ""  # ISO time

    def start_us(self) -> int:
        """Scenario start in µs since the epoch."""
        return int(datetime.fromisoformat(self.start).replace(tzinfo=UTC).timestamp()) * 1_000_000

    def rough_exchanges(self) -> float:
        """A rough size estimate from the specs (accounts × rate × days), known before generating."""
        return sum(a.accounts * (a.rate * self.days if a.rate else 1500) for a in self.actors)

    def scaled(self, scale: float) -> Scenario:
        """The same scenario with account (and group) counts multiplied by `scale`, at least one each."""
        if not 0 < scale <= 10:
            raise UsageError(f"--scale must be in (0, 10], got {scale}")
        acts = tuple(replace(a, accounts=max(1, round(a.accounts * scale)),
                             groups=max(1, round(a.groups * scale)) if a.groups else 0) for a in self.actors)
        return replace(self, actors=acts)


def _background(casual: int, dev: int, power: int, batch: int, batch_orgs: int, bench: int, nat: int,
                nat_groups: int, ent: int, ent_groups: int) -> tuple[ActorSpec, ...]:
    return (
        ActorSpec("casual", casual, 2.0),
        ActorSpec("developer", dev, 4.5),
        ActorSpec("power-user", power, 28.0),
        ActorSpec("batch-integration", batch, 1500.0, groups=batch_orgs),
        ActorSpec("benchmark-runner", bench, 0.0),
        ActorSpec("nat-cohort", nat, 2.2, groups=nat_groups),
        ActorSpec("enterprise-team", ent, 6.0, groups=ent_groups),
    )


REASON = {"reasoning": .6, "coding": .25, "tool_use": .05, "other": .1}
AGENTIC = {"reasoning": .25, "coding": .35, "tool_use": .35, "other": .05}
BROAD = {"reasoning": .3, "coding": .35, "tool_use": .2, "other": .15}

PRESETS: dict[str, Scenario] = {s.name: s for s in (
    Scenario(
        "mixed-small", "Every actor kind, a few thousand accounts over 5 days; a model release on day 3.",
        "2026-03-02", 5,
        (ActorSpec("casual", 1500, 1.6), ActorSpec("developer", 400, 3.5), ActorSpec("power-user", 60, 28.0),
         ActorSpec("batch-integration", 6, 1500.0, groups=3), ActorSpec("benchmark-runner", 4, 0.0),
         ActorSpec("nat-cohort", 150, 1.8, groups=3), ActorSpec("enterprise-team", 60, 4.0, groups=4),
         ActorSpec("naive", 3, 2000.0, "cmp-naive", capabilities=REASON),
         ActorSpec("distributed", 300, 30.0, "cmp-distributed", capabilities=BROAD),
         ActorSpec("mimicry", 80, 40.0, "cmp-mimicry", capabilities=AGENTIC),
         ActorSpec("hydra", 120, 26.0, "cmp-hydra", capabilities=BROAD, options={"lifetime_days": (1.5, 3.0)})),
        "nova-pro-2", "2026-03-04T17:00:00+00:00"),
    Scenario(
        "deepseek-2026", "DeepSeek-like: ~150k reasoning-focused exchanges (CoT elicitation, rubric grading) "
        "from a few hundred distributed accounts over 14 days, inside ~1.5M legitimate exchanges.",
        "2026-01-05", 14,
        _background(30000, 6000, 600, 14, 6, 20, 2000, 10, 1000, 40)
        + (ActorSpec("distributed", 350, 30.0, "deepseek-2026", capabilities=REASON),)),
    Scenario(
        "moonshot-2026", "Moonshot-like: ~3.4M agentic/tool-use/coding exchanges from distributed and mimicry "
        "accounts over 28 days, inside ~11M legitimate exchanges.",
        "2026-01-12", 28,
        _background(120000, 25000, 2500, 40, 18, 60, 6000, 40, 3000, 120)
        + (ActorSpec("distributed", 2400, 27.0, "moonshot-2026", capabilities=AGENTIC),
           ActorSpec("mimicry", 1200, 42.0, "moonshot-2026", capabilities=AGENTIC))),
    Scenario(
        "minimax-2026", "MiniMax-like: ~13M exchanges from ~18k distributed accounts over 30 days; half its "
        "traffic moves to the new model within 24 h of its release on day 15, inside ~17M legitimate exchanges.",
        "2026-01-19", 30,
        _background(200000, 40000, 4000, 60, 25, 80, 10000, 60, 6000, 240)
        + (ActorSpec("distributed", 18000, 22.5, "minimax-2026", capabilities=AGENTIC,
                     options={"pivot_tau_h": 10.0, "pivot_share": 0.5}),),
        "nova-pro-2", "2026-02-02T16:00:00+00:00"),
    Scenario(
        "qwen-2026", "Apr 22 – Jun 5 2026: ~28.8M exchanges from ~25k fraudulent accounts at ≈26 per account per "
        "day (hydra, mimicry and distributed), with a model release on May 14, inside a legitimate background "
        "of ≥28.8M exchanges from ≥200k accounts.",
        "2026-04-22", 45,
        _background(185000, 45000, 5000, 100, 40, 80, 10000, 60, 8000, 300)
        + (ActorSpec("hydra", 12000, 26.0, "qwen-2026", capabilities=BROAD, options={"lifetime_days": (30, 200)}),
           ActorSpec("mimicry", 6000, 27.0, "qwen-2026", capabilities=BROAD),
           ActorSpec("distributed", 5000, 27.0, "qwen-2026", capabilities=BROAD)),
        "nova-pro-2", "2026-05-14T16:00:00+00:00"),
)}


def get_scenario(name: str) -> Scenario:
    """The preset called `name`, or UsageError listing the presets."""
    try:
        return PRESETS[name]
    except KeyError:
        raise UsageError(f"unknown scenario {name!r}; presets: {', '.join(PRESETS)}") from None
