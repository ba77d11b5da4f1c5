"""DistillGuard: detect, contain, prove and share LLM distillation campaigns.

The public Python API is re-exported here; everything else is internal.
"""

from __future__ import annotations

from .errors import ConfigError, DistillGuardError, InputError, RecordError, StoreError, UsageError
from .ingest import IngestOptions, IngestSummary, ingest_accounts, ingest_logs
from .store import Store

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DistillGuardError",
    "IngestOptions",
    "IngestSummary",
    "InputError",
    "RecordError",
    "Store",
    "StoreError",
    "UsageError",
    "ingest_accounts",
    "ingest_logs",
]
