"""DistillGuard: detect, contain, prove and share LLM distillation campaigns.

The public Python API: the pipeline as functions with typed results (see `distillguard.api`), the store,
and the exception hierarchy. Everything else is internal.

    >>> import distillguard as dg
    >>> sorted(dg.__all__)[:3]
    ['ConfigError', 'DetectResult', 'DistillGuardError']

The names are imported on first use (PEP 562), so `import distillguard` and `distillguard --help` do not
load numpy, scipy, DuckDB or Arrow; `from distillguard import ingest` works as it always did.
"""

from __future__ import annotations

import csv as _csv
import importlib as _importlib
import sys as _sys
import types as _types
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import ConfigError, DistillGuardError, InputError, RecordError, StoreError, UsageError

if TYPE_CHECKING:
    from .api import DetectResult, backtest, detect, evaluate, ingest, read_detection_accounts, simulate
    from .backtest import PolicyResult
    from .evaluate import Evaluation
    from .ingest import IngestOptions, IngestSummary
    from .simulate import SimulationResult
    from .store import Store

# The detection output's CSV files carry account ids and reasons as long as the input allowed (an account id of
# 128 KiB is valid in a log); Python's csv readers stop at 128 KiB a field by default, which would make every
# reader of accounts.csv (serve --detect, explain, intel export, backtest) die on one long id.
_csv.field_size_limit(2**31 - 1)

# public name -> the module that defines it, imported when the name is first read
_LAZY: dict[str, str] = {
    "DetectResult": ".api", "backtest": ".api", "detect": ".api", "evaluate": ".api", "ingest": ".api",
    "read_detection_accounts": ".api", "simulate": ".api",
    "PolicyResult": ".backtest", "Evaluation": ".evaluate", "IngestOptions": ".ingest", "IngestSummary": ".ingest",
    "SimulationResult": ".simulate", "Store": ".store",
}


def _stage_function(name: str) -> property:
    def get(_package: _types.ModuleType) -> Any:
        return getattr(_importlib.import_module(".api", __name__), name)

    def ignore(_package: _types.ModuleType, _module: Any) -> None:
        """The import system setting a just-imported stage module as the package's attribute."""

    return property(get, ignore)


class _Package(_types.ModuleType):
    """The package's module type: public names load on first use, stage names stay the functions.

    `backtest`, `evaluate`, `ingest` and `simulate` are also stage modules: importing `distillguard.ingest`
    sets the package's attribute `ingest` to the module, which these properties ignore.
    """

    backtest = _stage_function("backtest")
    evaluate = _stage_function("evaluate")
    ingest = _stage_function("ingest")
    simulate = _stage_function("simulate")

    def __getattr__(self, name: str) -> Any:
        if name not in _LAZY:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(_importlib.import_module(_LAZY[name], __name__), name)
        setattr(self, name, value)
        return value

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(__all__))


_sys.modules[__name__].__class__ = _Package


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
