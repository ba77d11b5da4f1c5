"""The dashboard's shared state: the gateway control, the gatekeeper, the detection findings, templates.

Findings are re-read when `detect` rewrites the folder (accounts.csv or campaigns.json changes), so
the dashboard follows the same detection output the gateway enforces.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..errors import DistillGuardError
from ..report.findings import Findings, load_findings
from ..report.html import template_environment
from .auth import Analyst, Gatekeeper
from .control import Control

TEMPLATES = Path(__file__).parent / "templates"


class FindingsCache:
    """The findings of a detection folder, reloaded when its contract files change."""

    def __init__(self, detect_dir: str | Path | None) -> None:
        self.detect_dir = Path(detect_dir) if detect_dir else None
        self._stamp: tuple[int, ...] | None = None
        self._findings: Findings | None = None
        self.error: str | None = None
        self.derived: dict[str, Any] = {}  # things computed from the current findings; cleared on reload
        self._lock = threading.Lock()

    def _current_stamp(self) -> tuple[int, ...] | None:
        # time, size and inode of each file: the time alone has the kernel's tick as resolution, so an output
        # rewritten within one tick of the one read (detect run twice, a findings edit) would never be read
        assert self.detect_dir is not None
        try:
            stats = [(self.detect_dir / n).stat() for n in ("accounts.csv", "campaigns.json")]
        except OSError:
            return None
        return tuple(v for st in stats for v in (st.st_mtime_ns, st.st_size, st.st_ino))

    def get(self) -> Findings | None:
        """The current findings, or None (with `error` saying why) when there are none to show."""
        if self.detect_dir is None:
            self.error = "the gateway was started without --detect DIR: no campaigns to show"
            return None
        with self._lock:
            stamp = self._current_stamp()
            if stamp is not None and stamp != self._stamp:
                self.derived = {}
                try:
                    self._findings, self.error = load_findings(self.detect_dir), None
                except DistillGuardError as e:
                    self._findings, self.error = None, str(e)
                self._stamp = stamp
            elif stamp is None:
                self._findings, self.error = None, f"{self.detect_dir}: no detection output (accounts.csv) yet"
            return self._findings


@dataclass
class Dashboard:
    """Everything a dashboard request handler needs."""

    control: Control
    gate: Gatekeeper
    findings: FindingsCache
    env: jinja2.Environment = field(default_factory=lambda: template_environment(TEMPLATES))

    def page(self, request: Request, template: str, analyst: Analyst | None, status: int = 200,
             **context: Any) -> HTMLResponse:
        """Render a page with a fresh CSP nonce and the headers every dashboard page carries."""
        nonce = secrets.token_urlsafe(16)
        html = self.env.get_template(template).render(
            base=base_path(request), analyst=analyst, nonce=nonce, **context
        )
        return HTMLResponse(html, status, headers=page_headers(nonce))


def base_path(request: Request) -> str:
    """The URL prefix the dashboard is mounted under (e.g. '/dashboard')."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def page_headers(nonce: str | None = None) -> dict[str, str]:
    """Security headers: no caching, no framing, scripts only from us (inline ones by nonce)."""
    script = f"'self' 'nonce-{nonce}' 'unsafe-eval'" if nonce else "'self' 'unsafe-eval'"
    return {
        "Content-Security-Policy": (
            f"default-src 'self'; script-src {script}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        ),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
    }
