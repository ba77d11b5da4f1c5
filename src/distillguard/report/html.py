"""Render `Findings` as one self-contained HTML file (styles, scripts and chart data inlined).

Every value from the detection output is escaped by Jinja2's autoescaping; chart specs travel as JSON
in `<script type="application/json">` elements with `<`, `>` and `&` escaped, so a prompt or a user
agent that holds `<script>` is shown as text and never run.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from .._version import __version__
from ..errors import DistillGuardError
from . import charts
from .drilldown import account_details, operating_point
from .enforcement import load_enforcement
from .findings import Findings, load_findings
from .network import campaign_edges
from .sections import anchor, campaign_section, score_rows, store_timeline, timeline_chart
from .summary import count, day, percent

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Totals:
    """Headline numbers of a detection run."""

    accounts: int
    flagged: int
    campaigns: int
    campaign_accounts: int
    campaign_exchanges: int
    threshold: float | None


def template_environment(*extra: Path) -> jinja2.Environment:
    """The Jinja2 environment of the report (autoescaping on), looking in `extra` folders first."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([*extra, TEMPLATES]),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(count=count, day=day, percent=percent, spec=charts.spec_json, anchor=anchor)
    env.filters["num"] = lambda v: f"{v:,}" if isinstance(v, int) else (f"{v:,.3g}" if isinstance(v, float) else v)
    return env


def totals(findings: Findings) -> Totals:
    """Headline numbers: accounts seen and flagged, campaigns and their size."""
    flagged = sum(1 for f in findings.accounts["flagged"].to_pylist() if f)
    return Totals(
        accounts=findings.accounts.num_rows,
        flagged=flagged,
        campaigns=len(findings.campaigns),
        campaign_accounts=sum(c.accounts for c in findings.campaigns),
        campaign_exchanges=sum(c.exchanges for c in findings.campaigns),
        threshold=operating_point(findings),
    )


def render_report(findings: Findings, store: Path | None = None, generated_at: datetime | None = None,
                  inline_js: bool = True) -> str:
    """The report for `findings` as an HTML string."""
    timeline = findings.timeline if findings.timeline is not None else store_timeline(findings, store)
    enforcement = load_enforcement(findings, store)
    edges = campaign_edges(findings) if findings.campaigns else None
    sections = [campaign_section(findings, c, timeline, enforcement, edges) for c in findings.campaigns]
    sizes = [{"campaign": c.campaign_id, "accounts": c.accounts, "exchanges": c.exchanges}
             for c in findings.campaigns[:30]]
    context: dict[str, Any] = {
        "title": f"DistillGuard report — {findings.detect_dir.resolve().name}",
        "version": __version__,
        "generated_at": (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        "detect_dir": str(findings.detect_dir),
        "totals": totals(findings),
        "sections": sections,
        "overview_timeline": timeline_chart(timeline, [c.campaign_id for c in findings.campaigns[:8]]),
        "sizes_chart": charts.campaign_sizes(sizes) if sizes else None,
        "score_chart": charts.score_histogram(score_rows(findings), operating_point(findings)),
        "details": account_details(findings, store),
        "policies": enforcement.policies,
        "has_features": findings.features is not None,
        "vega_js": _renderer() if inline_js else "",
        "css": (TEMPLATES / "report.css").read_text(encoding="utf-8"),
    }
    return template_environment().get_template("report.html").render(**context)


def _renderer() -> str:
    """The inlined chart renderer, or '' (the page then says why its charts are missing)."""
    try:
        return charts.vega_bundle()
    except DistillGuardError:
        return ""


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(detect_dir: Path, store: Path | None = None) -> Path:
    """Write `detect_dir/report.html` from the detection output there (and the store, if given)."""
    detect_dir = Path(detect_dir)
    html = render_report(load_findings(detect_dir), Path(store) if store is not None else None)
    out = detect_dir / "report.html"
    _atomic_write(out, html)
    return out
