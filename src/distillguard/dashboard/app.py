"""The analyst dashboard as a Starlette app, mounted by the gateway under /dashboard.

Pages: live traffic and enforcement (auto-refreshing), campaigns and accounts as in the report, the
overrides in force and the audit log. Every route needs the admin token (a session from the login
form, or `Authorization: Bearer`); every state-changing request also needs the session's CSRF token.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .api import action, audit, campaigns_json, dashboard_js, labels_csv, stats, vega_js
from .auth import LOGIN_COOKIE, SESSION_COOKIE, SESSION_TTL_S, FailedAuthLimit, Gatekeeper, csrf_ok, same_origin
from .control import Control
from .pages import account_page, campaign_page, home, report_page
from .state import Dashboard, FindingsCache, base_path

MAX_FORM_BYTES = 16_384


async def read_form(request: Request) -> dict[str, str] | None:
    """A small urlencoded form body as {name: first value}; None when too large or not a form."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


async def login_form(request: Request) -> Response:
    """The login page; sets a one-time cookie the form must echo (login CSRF)."""
    dash: Dashboard = request.app.state.dashboard
    nonce = Gatekeeper.new_login_nonce()
    resp = dash.page(request, "login.html", None, login_nonce=nonce, error=request.query_params.get("error"))
    resp.set_cookie(LOGIN_COOKIE, nonce, max_age=600, path=base_path(request) or "/", httponly=True,
                    samesite="strict")
    return resp


async def login(request: Request) -> Response:
    """Check the admin token; on success open a session and go to the dashboard."""
    dash: Dashboard = request.app.state.dashboard
    base = base_path(request)
    client = _client(request)
    if dash.gate.throttled(client):
        return Response("too many failed logins; wait a few minutes", 429, media_type="text/plain")
    form = await read_form(request)
    cookie = request.cookies.get(LOGIN_COOKIE)
    if form is None or not cookie or form.get("login_nonce") != cookie or not same_origin(request):
        return RedirectResponse(f"{base}/login?error=expired", 303)
    if not dash.gate.token_ok(form.get("token")):
        dash.gate.failed(client)
        return RedirectResponse(f"{base}/login?error=token", 303)
    name = (form.get("name") or "").strip()[:64] or "admin"
    sid, _ = dash.gate.open_session(name)
    resp = RedirectResponse(f"{base}/", 303)
    resp.set_cookie(SESSION_COOKIE, sid, max_age=SESSION_TTL_S, path=base or "/", httponly=True,
                    samesite="strict", secure=request.url.scheme == "https")
    resp.delete_cookie(LOGIN_COOKIE, path=base or "/")
    return resp


async def logout(request: Request) -> Response:
    """Close the session (needs its CSRF token, like every state change)."""
    dash: Dashboard = request.app.state.dashboard
    analyst = dash.gate.analyst(request)
    form = await read_form(request) or {}
    if analyst is None or not csrf_ok(analyst, request, form.get("csrf_token")):
        return Response("forbidden", 403, media_type="text/plain")
    dash.gate.close_session(request.cookies.get(SESSION_COOKIE))
    resp = RedirectResponse(f"{base_path(request)}/login", 303)
    resp.delete_cookie(SESSION_COOKIE, path=base_path(request) or "/")
    return resp


def create_app(control: Control, detect_dir: str | Path | None, admin_token: str | None) -> Starlette:
    """The dashboard over a gateway's `control`, showing the detection output in `detect_dir`.

    Without an admin token nobody can log in: the dashboard fails closed.
    """
    gate = Gatekeeper(admin_token)
    app = Starlette(middleware=[Middleware(FailedAuthLimit, gate=gate)], routes=[
        Route("/", home, methods=["GET"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/campaigns/{campaign_id:path}", campaign_page, methods=["GET"]),
        Route("/accounts/{account_id:path}", account_page, methods=["GET"]),
        Route("/report", report_page, methods=["GET"]),
        Route("/static/vega.js", vega_js, methods=["GET"]),
        Route("/static/dashboard.js", dashboard_js, methods=["GET"]),
        Route("/api/stats", stats, methods=["GET"]),
        Route("/api/campaigns", campaigns_json, methods=["GET"]),
        Route("/api/audit", audit, methods=["GET"]),
        Route("/api/labels.csv", labels_csv, methods=["GET"]),
        Route("/api/actions", action, methods=["POST"]),
    ])
    app.state.dashboard = Dashboard(control, gate, FindingsCache(detect_dir))
    return app
