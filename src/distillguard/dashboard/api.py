"""The dashboard's JSON endpoints: live stats, campaigns, audit log, labels, and analyst actions.

Read endpoints need an authenticated analyst; `POST /api/actions` also needs the CSRF token and a
reason, and answers with the audit entry it wrote.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..report.charts import vega_bundle
from ..report.summary import campaign_sentence
from .auth import Analyst, csrf_ok
from .control import ACTIONS, campaign_state
from .state import Dashboard, base_path, page_headers

STATIC = Path(__file__).parent / "static"
MAX_TARGET = 200
MAX_REASON = 500
MAX_BODY = 16_384


def json_response(data: Any, status: int = 200) -> Response:
    """A JSON response that is never cached."""
    return Response(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS), status, media_type="application/json",
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


def _error(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def require(request: Request) -> tuple[Dashboard, Analyst | None]:
    """The dashboard and the authenticated analyst (None when the caller is not one)."""
    dash: Dashboard = request.app.state.dashboard
    return dash, dash.gate.analyst(request)


async def stats(request: Request) -> Response:
    """Live numbers: requests/s, actions per minute, top campaigns, recent events, overrides."""
    dash, analyst = require(request)
    if analyst is None:
        return _error(401, "log in or send Authorization: Bearer <admin token>")
    s = dash.control.stats()
    o = dash.control.overrides()
    return json_response({
        "ts": s.ts,
        "requests_per_second": round(s.requests_per_second, 3),
        "total_requests": s.total_requests,
        "state_backend": s.state_backend,
        "actions_per_minute": s.actions_per_minute,
        "top_campaigns": [
            {"campaign_id": c.campaign_id, "requests_per_minute": c.requests_per_minute,
             "refused_per_minute": c.refused_per_minute, "accounts": c.accounts, "blocked": c.blocked,
             "state": campaign_state(c, c.blocked)}
            for c in s.top_campaigns
        ],
        "recent_events": [
            {"ts": e.ts, "account_id": e.account_id, "campaign_id": e.campaign_id, "action": e.action,
             "code": e.code, "status": e.status, "reason": e.reason}
            for e in s.recent_events[:50]
        ],
        "overrides": {k: sorted(getattr(o, k)) for k in
                      ("blocked_campaigns", "allowed_accounts", "allowed_orgs", "false_positives")},
    })


async def campaigns_json(request: Request) -> Response:
    """The detected campaigns with their one-line summaries."""
    dash, analyst = require(request)
    if analyst is None:
        return _error(401, "log in or send Authorization: Bearer <admin token>")
    findings = dash.findings.get()
    if findings is None:
        return json_response({"campaigns": [], "note": dash.findings.error})
    blocked = dash.control.overrides().blocked_campaigns
    traffic = dash.control.campaign_traffic()
    return json_response({"campaigns": [
        {"campaign_id": c.campaign_id, "accounts": c.accounts, "exchanges": c.exchanges,
         "first_seen": c.first_seen, "last_seen": c.last_seen, "confidence": c.confidence,
         "summary": campaign_sentence(c), "blocked": c.campaign_id in blocked,
         "state": campaign_state(traffic.get(c.campaign_id), c.campaign_id in blocked)}
        for c in findings.campaigns
    ]})


async def audit(request: Request) -> Response:
    """The most recent analyst actions, newest first."""
    dash, analyst = require(request)
    if analyst is None:
        return _error(401, "log in or send Authorization: Bearer <admin token>")
    return json_response({"audit": [
        {"ts": e.ts, "actor": e.actor, "action": e.action, "target": e.target, "reason": e.reason}
        for e in dash.control.audit_log(200)
    ]})


async def labels_csv(request: Request) -> Response:
    """Accounts marked false positive, as labels (SCHEMA.md §3) to feed back into evaluation."""
    dash, analyst = require(request)
    if analyst is None:
        return _error(401, "log in or send Authorization: Bearer <admin token>")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["account_id", "campaign_id", "actor"])
    w.writerows(dash.control.false_positive_labels())
    return Response(buf.getvalue(), media_type="text/csv", headers={
        "Content-Disposition": 'attachment; filename="false-positive-labels.csv"', "Cache-Control": "no-store"})


async def _body(request: Request) -> tuple[dict[str, str], bool] | None:
    """The action's fields and whether it came as a form (None when unreadable or too large)."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            return None
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            data = orjson.loads(raw or b"{}")
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None
        return {k: str(v) for k, v in data.items() if isinstance(v, str | int | float)}, False
    if ctype.startswith("application/x-www-form-urlencoded"):
        return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}, True
    return None


async def action(request: Request) -> Response:
    """Perform one analyst action (block/unblock campaign, allow-list, false positive), audited."""
    dash, analyst = require(request)
    if analyst is None:
        return _error(401, "log in or send Authorization: Bearer <admin token>")
    parsed = await _body(request)
    if parsed is None:
        return _error(400, "send JSON {action, target, reason} or a form, at most 16 KiB")
    fields, is_form = parsed
    token = request.headers.get("x-csrf-token") or fields.get("csrf_token")
    if not csrf_ok(analyst, request, token):
        return _error(403, "missing or wrong CSRF token; reload the dashboard page")
    name, target, reason = (fields.get(k, "").strip() for k in ("action", "target", "reason"))
    if name not in ACTIONS:
        return _error(400, f"unknown action {name!r}; one of {', '.join(ACTIONS)}")
    if not target or len(target) > MAX_TARGET:
        return _error(400, f"target must be 1-{MAX_TARGET} characters")
    if not reason or len(reason) > MAX_REASON:
        return _error(400, f"say why (reason, 1-{MAX_REASON} characters): it goes to the audit log")
    note = None
    if name in ("block_campaign", "unblock_campaign"):
        known = _known_campaign(dash, target, name)
        if known is False:
            return _error(404, f"no campaign {target!r}: it is not in the detection output nor known to the gateway "
                               "online (check the id on the campaigns list); nothing was changed")
        if known is None:
            note = (f"campaign {target!r} could not be checked: the gateway has no detection output; the block "
                    "applies to it as soon as accounts are assigned to it")
    try:
        entry = getattr(dash.control, ACTIONS[name])(target, actor=analyst.name, reason=reason)
    except ValueError as e:
        return _error(400, str(e))
    if is_form:  # a plain form post (no JavaScript): back to where it came from
        back = fields.get("back", "/")
        return RedirectResponse(base_path(request) + (back if back.startswith("/") and "//" not in back else "/"), 303)
    out: dict[str, Any] = {"ok": True, "audit": {"ts": entry.ts, "actor": entry.actor, "action": entry.action,
                                                 "target": entry.target, "reason": entry.reason}}
    if note:
        out["note"] = note
    return json_response(out)


def _known_campaign(dash: Dashboard, campaign_id: str, action: str) -> bool | None:
    """Whether an analyst may act on `campaign_id`: detected, known online, or (to unblock) blocked now;
    None when there is no detection output to check against (a campaign id from elsewhere, e.g. a partner's
    intelligence, may then be blocked ahead of its accounts)."""
    if action == "unblock_campaign" and campaign_id in dash.control.overrides().blocked_campaigns:
        return True
    if campaign_id in dash.control.online_campaigns():
        return True
    findings = dash.findings.get()
    if findings is None:
        return None
    return findings.campaign(campaign_id) is not None


async def dashboard_js(request: Request) -> Response:
    """The dashboard's own script (charts, live refresh, actions)."""
    _, analyst = require(request)
    if analyst is None:
        return Response("log in first", 401, media_type="text/plain")
    return Response(STATIC.joinpath("dashboard.js").read_text(encoding="utf-8"), media_type="text/javascript",
                    headers=page_headers())


async def vega_js(request: Request) -> Response:
    """vega + vega-lite + vega-embed, served from the package (no CDN)."""
    _, analyst = require(request)
    if analyst is None:
        return Response("log in first", 401, media_type="text/plain")
    headers = page_headers()
    headers["Cache-Control"] = "private, max-age=3600"
    return Response(vega_bundle(), media_type="text/javascript", headers=headers)
