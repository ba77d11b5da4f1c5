"""The detection core: logs or store → features → links → campaigns → scores → the output folder.

Its face is `detect_store`, `detect_logs`, `DetectConfig` and `DetectResult` (`run`), with `ingested` and
`report_memory` for the callers that compose detection with the report; everything else in the package is
internal to detection. Only `distillguard.api`, `distillguard.commands` and `bench/` import it.
"""

from __future__ import annotations

from .run import DetectConfig, DetectResult, detect_logs, detect_store, ingested, report_memory

__all__ = ["DetectConfig", "DetectResult", "detect_logs", "detect_store", "ingested", "report_memory"]
