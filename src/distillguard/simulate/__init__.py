"""Traffic simulator: legitimate users and distillation campaigns with ground truth, at any scale.

    >>> from distillguard.simulate import get_scenario, load_corpora, simulate
    >>> result = simulate(get_scenario("mixed-small"), 0.1, 1, load_corpora("../shared/data"), "sim-out")
"""

from __future__ import annotations

from .corpora import Corpora, load_corpora
from .engine import ActorStats, SimulationResult, simulate
from .scenarios import PRESETS, ActorSpec, Scenario, get_scenario

__all__ = ["PRESETS", "ActorSpec", "ActorStats", "Corpora", "Scenario", "SimulationResult", "get_scenario",
           "load_corpora", "simulate"]
