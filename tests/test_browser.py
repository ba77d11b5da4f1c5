"""The report and the dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Screenshots land in tests/artifacts/ (ignored by git): report-top.png, report-campaign.png, report.pdf
(the report printed to A4), dashboard-live.png, dashboard-blocked.png, dashboard-campaign.png, login.png.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard_env import ADMIN_TOKEN, CAMPAIGN_ACCOUNT, LEGIT_ACCOUNT, GatewayEnv, running_gateway
from distillguard.report import write_report
from distillguard.report.sample import write_sample_detection

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).parent / "artifacts"

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} not installed")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Watch:
    """Console errors, uncaught exceptions, dialogs (a planted alert() would open one) and requests."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.urls: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", self._dialog)
        page.on("request", lambda r: self.urls.append(r.url))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


def charts_drawn(page: Any, timeout: float = 60_000) -> list[int]:
    """Wait until every chart holds an SVG; return how many marks (paths, circles, lines…) each has."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('.chart')].every(c => c.querySelector('svg'))", timeout=timeout)
    return page.eval_on_selector_all(
        ".chart", "els => els.map(e => e.querySelectorAll('svg path, svg line, svg circle, svg rect').length)")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(write_sample_detection(tmp_path_factory.mktemp("browser"), hostile=True))


def test_report_renders_offline_without_errors(browser: Any, report: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watch = Watch(page)
    page.goto(report.as_uri())
    marks = charts_drawn(page)
    assert len(marks) >= 9 and all(n > 5 for n in marks), marks
    assert watch.errors == [] and watch.dialogs == []  # the planted <script> never ran
    assert all(u.startswith("file://") for u in watch.urls), watch.urls  # nothing fetched from a network
    example = page.locator("td.example", has_text="alert(").first.inner_text()
    assert example.startswith('<script>alert("prompt")</script>')  # shown as text
    page.screenshot(path=str(ARTIFACTS / "report-top.png"))
    page.locator("#camp-C-1").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "report-campaign.png"))
    # printing: every account section opens, the navigation bar goes, the charts stay
    page.pdf(path=str(ARTIFACTS / "report.pdf"), format="A4", print_background=True)
    assert page.eval_on_selector_all("details", "els => els.every(e => e.open)")
    assert (ARTIFACTS / "report.pdf").stat().st_size > 50_000
    page.emulate_media(media="print")
    assert page.locator("nav.toc").is_hidden() and page.locator("#camp-C-1-net svg").is_visible()
    page.close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayEnv]:
    with running_gateway(tmp_path_factory.mktemp("browser-gw")) as env:
        yield env


def test_stranger_sees_only_the_login_page(browser: Any, gateway: GatewayEnv) -> None:
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(gateway.url + "/dashboard/")
    assert page.url.endswith("/dashboard/login") and page.locator("input[name=token]").is_visible()
    status = page.evaluate("""async () => (await fetch('/dashboard/api/actions', {method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({action: 'block_campaign', target: 'C-2', reason: 'x'})})).status""")
    assert status == 401 and "C-2" not in gateway.gw.control.overrides().blocked_campaigns
    page.fill("input[name=name]", "mallory")
    page.fill("input[name=token]", "guess")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "error=token" in url)  # the refused login's redirect (slow on a loaded machine)
    page.locator(".error").wait_for(state="visible")
    assert "error=token" in page.url and page.locator(".error").is_visible()
    page.screenshot(path=str(ARTIFACTS / "login.png"))
    ctx.close()


def test_dashboard_live_view_and_block_action(browser: Any, gateway: GatewayEnv) -> None:
    for _ in range(5):
        assert gateway.chat(LEGIT_ACCOUNT).status_code == 200
    assert gateway.chat(CAMPAIGN_ACCOUNT).status_code == 200
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = ctx.new_page()
    watch = Watch(page)
    page.goto(gateway.url + "/dashboard/login")
    page.fill("input[name=name]", "ana")
    page.fill("input[name=token]", ADMIN_TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard/")
    page.wait_for_function("() => document.getElementById('live-total').textContent !== '…'")
    assert int(page.locator("#live-total").inner_text().replace(",", "")) >= 6
    page.wait_for_function("() => document.querySelector('#chart-live svg path.mark-line path, "
                           "#chart-live svg .mark-line path')")
    assert all(n > 3 for n in charts_drawn(page))
    page.screenshot(path=str(ARTIFACTS / "dashboard-live.png"))

    row = page.locator("#row-camp-C-1")
    row.locator("input[name=reason]").fill("confirmed extraction, ticket 42")
    row.locator("button[data-action=block_campaign]").click()
    page.wait_for_selector("#row-camp-C-1 button[data-action=unblock_campaign]")
    assert row.locator("td.state-blocked").inner_text() == "blocked by an analyst"
    r = gateway.chat(CAMPAIGN_ACCOUNT)
    assert r.status_code == 403 and r.json()["error"]["code"] == "account_blocked"
    assert gateway.chat(LEGIT_ACCOUNT).status_code == 200
    audit = gateway.gw.control.audit_log(1)[0]
    assert (audit.actor, audit.action, audit.target) == ("ana", "block_campaign", "C-1")
    page.locator("#audit").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "dashboard-blocked.png"))

    page.goto(gateway.url + "/dashboard/campaigns/C-1")
    assert all(n > 3 for n in charts_drawn(page))
    page.screenshot(path=str(ARTIFACTS / "dashboard-campaign.png"), full_page=False)
    assert watch.errors == [] and watch.dialogs == []
    assert all(u.startswith(gateway.url) for u in watch.urls), watch.urls
    ctx.close()
