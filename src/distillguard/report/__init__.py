"""The DistillGuard report: one self-contained HTML file per detection run.

>>> from distillguard.report import write_report  # doctest: +SKIP
>>> write_report(Path("out"))                       # doctest: +SKIP
PosixPath('out/report.html')
"""

from __future__ import annotations

from .findings import Campaign, Evidence, Findings, load_findings
from .html import render_report, write_report
from .summary import campaign_sentence

__all__ = [
    "Campaign",
    "Evidence",
    "Findings",
    "campaign_sentence",
    "load_findings",
    "render_report",
    "write_report",
]
