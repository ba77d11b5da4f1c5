"""DistillGuard: detect, contain, prove and share LLM distillation campaigns.

The public Python API: the pipeline as functions with typed results (see `distillguard.api`), the store,
and the exception hierarchy. Everything else is internal.

    >>> import distillguard as dg
    >>> sorted(dg.__all__)[:3]
    ['ConfigError', 'DetectResult', 'DistillGuardError']
"""

from __future__ import annotations

import csv as _csv

# The stage modules are imported first so that the functions below, which share their names
# (`ingest`, `simulate`, `evaluate`, `backtest`), are what `distillguard.<name>` resolves to.
from . import backtest as _backtest_module  # noqa: F401
from . import evaluate as _evaluate_module  # noqa: F401
from . import ingest as _ingest_module  # noqa: F401
from . import simulate as _simulate_module  # noqa: F401
from ._version import __version__
from .api import DetectResult, backtest, detect, evaluate, ingest, read_detection_accounts, simulate
from .backtest import PolicyResult
from .errors import ConfigError, DistillGuardError, InputError, RecordError, StoreError, UsageError
from .evaluate import Evaluation
from .ingest import IngestOptions, IngestSummary
from .simulate import SimulationResult
from .store import Store

# The detection output's CSV files carry account ids and reasons as long as the input allowed (an account id of
# 128 KiB is valid in a log); Python's csv readers stop at 128 KiB a field by default, which would make every
# reader of accounts.csv (serve --detect, explain, intel export, backtest) die on one long id.
_csv.field_size_limit(2**31 - 1)


__all__ = [
    "ConfigError",
    "DetectResult",
    "DistillGuardError",
    "Evaluation",
    "IngestOptions",
    "IngestSummary",
    "InputError",
    "PolicyResult",
    "RecordError",
    "SimulationResult",
    "Store",
    "StoreError",
    "UsageError",
    "__version__",
    "backtest",
    "detect",
    "evaluate",
    "ingest",
    "read_detection_accounts",
    "simulate",
]
