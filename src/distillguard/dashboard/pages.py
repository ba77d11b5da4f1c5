"""The dashboard's HTML pages: home (live + campaigns + actions + audit), a campaign, an account, the report."""

from __future__ import annotations

import pyarrow.compute as pc
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..errors import DistillGuardError
from ..report import charts
from ..report.drilldown import account_detail
from ..report.enforcement import load_enforcement
from ..report.html import render_report
from ..report.sections import campaign_section, store_timeline
from ..report.summary import campaign_sentence
from .control import campaign_state
from .state import Dashboard, base_path, page_headers

LIVE_POINTS = 90  # samples kept in the live requests/s chart
TOP_MEMBERS = 25  # accounts listed on a campaign page (highest scores first)
NEAR_THRESHOLD = 15  # unflagged accounts listed on the home page


def _login_redirect(request: Request) -> Response:
    return RedirectResponse(f"{base_path(request)}/login", 303)


async def home(request: Request) -> Response:
    """Live traffic, campaigns with block/unblock, allow-list and false-positive forms, audit log."""
    dash: Dashboard = request.app.state.dashboard
    analyst = dash.gate.analyst(request)
    if analyst is None:
        return _login_redirect(request)
    findings = dash.findings.get()
    overrides = dash.control.overrides()
    traffic = dash.control.campaign_traffic()
    rows = [(c, campaign_sentence(c), c.campaign_id in overrides.blocked_campaigns,
             campaign_state(traffic.get(c.campaign_id), c.campaign_id in overrides.blocked_campaigns))
            for c in (findings.campaigns if findings else ())]
    near = []
    if findings is not None:
        acc = findings.accounts  # sorted by score: the first unflagged ones are nearest the threshold
        near = acc.filter(pc.invert(acc["flagged"])).slice(0, NEAR_THRESHOLD).to_pylist()
    return dash.page(request, "home.html", analyst, campaigns=rows, note=dash.findings.error, near=near,
                     overrides=overrides, audit=dash.control.audit_log(20), live_spec=charts.live_rate(),
                     live_points=LIVE_POINTS)


async def campaign_page(request: Request) -> Response:
    """One campaign as in the report, with its block/unblock control."""
    dash: Dashboard = request.app.state.dashboard
    analyst = dash.gate.analyst(request)
    if analyst is None:
        return _login_redirect(request)
    findings = dash.findings.get()
    cid = request.path_params["campaign_id"]
    campaign = findings.campaign(cid) if findings else None
    if findings is None or campaign is None:
        return dash.page(request, "missing.html", analyst, status=404, what=f"campaign {cid}")
    key = f"section:{cid}"
    section = dash.findings.derived.get(key)
    if section is None:  # sampling a big campaign's network takes a moment: once per detection output
        timeline = findings.timeline if findings.timeline is not None else store_timeline(findings, None)
        section = campaign_section(findings, campaign, timeline, load_enforcement(findings))
        dash.findings.derived[key] = section
    blocked = cid in dash.control.overrides().blocked_campaigns
    acc = findings.accounts
    members = acc.filter(pc.equal(acc["campaign_id"], cid)).slice(0, TOP_MEMBERS).to_pylist()
    state = campaign_state(dash.control.campaign_traffic().get(cid), blocked)
    return dash.page(request, "campaign_page.html", analyst, s=section, blocked=blocked, members=members,
                     state=state)


async def account_page(request: Request) -> Response:
    """One account's drill-down (the `explain` view), with allow-list and false-positive controls."""
    dash: Dashboard = request.app.state.dashboard
    analyst = dash.gate.analyst(request)
    if analyst is None:
        return _login_redirect(request)
    findings = dash.findings.get()
    aid = request.path_params["account_id"]
    detail = account_detail(findings, aid) if findings else None
    status = dash.control.account_status(aid)
    known = status.seen or status.allowed or status.false_positive or status.marks
    if detail is None and not known:
        return dash.page(request, "missing.html", analyst, status=404, what=f"account {aid}")
    return dash.page(request, "account_page.html", analyst, d=detail, idx=1, aid=aid, st=status,
                     allowed=status.allowed, false_positive=status.false_positive)


async def report_page(request: Request) -> Response:
    """The full self-contained report of the detection folder (as written by detect, else rendered now)."""
    dash: Dashboard = request.app.state.dashboard
    if dash.gate.analyst(request) is None:
        return _login_redirect(request)
    findings = dash.findings.get()
    if findings is None:
        return HTMLResponse("no detection output to report on", 404, headers=page_headers())
    path = findings.detect_dir / "report.html"
    try:
        html = path.read_text(encoding="utf-8") if path.is_file() else render_report(findings)
    except (OSError, DistillGuardError) as e:
        return HTMLResponse(f"cannot show the report: {type(e).__name__}", 500, headers=page_headers())
    headers = page_headers()
    # The report is self-contained: its own inline scripts run, nothing else is allowed.
    headers["Content-Security-Policy"] = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
                                          "style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'")
    return HTMLResponse(html, headers=headers)
