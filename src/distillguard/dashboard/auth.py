"""Who may use the dashboard: the admin token, analyst sessions, CSRF tokens and login throttling.

Two ways in, both needing the admin token:
- a browser logs in with the token (and a name for the audit log) and gets a session cookie
  (HttpOnly, SameSite=Strict, scoped to the dashboard's path); every state-changing request from it must
  carry the session's CSRF token (`X-CSRF-Token` header or `csrf_token` form field);
- a script sends `Authorization: Bearer TOKEN` (and optionally `X-Analyst: NAME`) on each request;
  browsers never attach that header on their own, so such requests need no CSRF token.

Failed logins and wrong bearer tokens count against the client's address: after `MAX_FAILURES` in
`FAILURE_WINDOW_S`, every request from it that carries credentials gets 429 (`FailedAuthLimit`).
State-changing requests from a session must also come from the dashboard's own origin (`Origin` /
`Referer`, and `Sec-Fetch-Site` when the browser sends it).

Sessions live in memory: restarting the gateway logs everyone out, which is the safe default.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

SESSION_COOKIE = "dg_session"
LOGIN_COOKIE = "dg_login"
SESSION_TTL_S = 12 * 3600
MAX_FAILURES = 10
FAILURE_WINDOW_S = 300.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Analyst:
    """An authenticated caller: their name (for the audit log) and how they came in."""

    name: str
    via: str  # "session" | "token"
    csrf: str | None  # the session's CSRF token; None for token callers


@dataclass(frozen=True)
class _Session:
    name: str
    csrf: str
    expires: float


class Gatekeeper:
    """Checks the admin token, keeps sessions and counts failed logins.

    >>> g = Gatekeeper("s3cret")
    >>> g.token_ok("s3cret"), g.token_ok("guess")
    (True, False)
    """

    def __init__(self, admin_token: str | None) -> None:
        # No token configured means nobody gets in (fail closed), never that everybody does.
        self._token = admin_token.encode() if admin_token else None
        self._sessions: dict[str, _Session] = {}
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def token_ok(self, candidate: str | None) -> bool:
        """Whether `candidate` is the admin token (constant-time comparison)."""
        if self._token is None or not candidate:
            return False
        return hmac.compare_digest(candidate.encode(), self._token)

    def throttled(self, client: str) -> bool:
        """Whether `client` failed to log in too often lately."""
        now = time.monotonic()
        with self._lock:
            q = self._failures.get(client)
            while q and q[0] < now - FAILURE_WINDOW_S:
                q.popleft()
            return q is not None and len(q) >= MAX_FAILURES

    def failed(self, client: str) -> None:
        """Count one failed login from `client`."""
        with self._lock:
            self._failures.setdefault(client, deque()).append(time.monotonic())

    @staticmethod
    def new_login_nonce() -> str:
        """A random value the login form must echo back from its cookie (so no other site can log us in)."""
        return secrets.token_urlsafe(24)

    def open_session(self, name: str) -> tuple[str, str]:
        """A new session for analyst `name`: (session id, CSRF token)."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._lock:
            now = time.time()
            for k in [k for k, s in self._sessions.items() if s.expires < now]:
                del self._sessions[k]
            self._sessions[sid] = _Session(name, csrf, now + SESSION_TTL_S)
        return sid, csrf

    def close_session(self, sid: str | None) -> None:
        """Forget a session (logout)."""
        if sid:
            with self._lock:
                self._sessions.pop(sid, None)

    def analyst(self, request: Request) -> Analyst | None:
        """The caller of `request`, or None when they did not prove they hold the admin token."""
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            if not self.token_ok(auth[7:].strip()):
                return None
            name = request.headers.get("x-analyst", "").strip()[:64] or "api"
            return Analyst(name, "token", None)
        sid = request.cookies.get(SESSION_COOKIE)
        if not sid:
            return None
        with self._lock:
            s = self._sessions.get(sid)
        if s is None or s.expires < time.time():
            return None
        return Analyst(s.name, "session", s.csrf)


def csrf_ok(analyst: Analyst, request: Request, submitted: str | None) -> bool:
    """Whether a state-changing request from `analyst` is one the dashboard page itself made."""
    if analyst.via == "token":
        return True
    if analyst.csrf is None or not submitted or not hmac.compare_digest(submitted, analyst.csrf):
        return False
    return same_origin(request)


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site (Sec-Fetch-Site, Origin or Referer)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    rest = origin.split("://", 1)[-1]
    return rest.split("/", 1)[0] == host


class FailedAuthLimit:
    """ASGI middleware: a wrong bearer token counts as a failure of the client's address; an address over
    the limit gets 429 for every request carrying credentials (a logged-in browser's cookie still works)."""

    def __init__(self, app: Any, gate: Gatekeeper) -> None:
        self.app, self.gate = app, gate

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else "?"
        bearer = any(k == b"authorization" for k, _ in scope["headers"])
        login = scope["method"] == "POST" and scope["path"].endswith("/login")
        if (bearer or login) and self.gate.throttled(client):
            body = b'{"error": "too many failed authentications from this address; wait a few minutes"}'
            await send({"type": "http.response.start", "status": 429,
                        "headers": [(b"content-type", b"application/json"), (b"retry-after", b"%d" % FAILURE_WINDOW_S),
                                    (b"content-length", b"%d" % len(body))]})
            await send({"type": "http.response.body", "body": body})
            return

        async def watch(message: dict[str, Any]) -> None:
            if bearer and message["type"] == "http.response.start" and message["status"] == 401:
                self.gate.failed(client)
            await send(message)

        await self.app(scope, receive, watch if bearer else send)
