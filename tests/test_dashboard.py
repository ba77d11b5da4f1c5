"""The dashboard over a real gateway on loopback: authentication, CSRF, actions that change enforcement."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from dashboard_env import (
    ADMIN_TOKEN,
    CAMPAIGN_ACCOUNT,
    LEGIT_ACCOUNT,
    OTHER_ACCOUNT,
    GatewayEnv,
    running_gateway,
)
from distillguard.dashboard import Control, create_app
from distillguard.gateway.control import GatewayControl
from distillguard.report.sample import HOSTILE_AGENT, HOSTILE_PROMPT, write_sample_detection


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayEnv]:
    with running_gateway(tmp_path_factory.mktemp("dash")) as e:
        yield e


@contextmanager
def login(env: GatewayEnv, name: str = "ana", token: str = ADMIN_TOKEN) -> Iterator[tuple[httpx.Client, str]]:
    """A browser-like client logged in through the form, and the page's CSRF token ('' if refused)."""
    with httpx.Client(base_url=env.url, timeout=10, follow_redirects=False) as c:
        yield c, _login(c, name, token)


def _login(c: httpx.Client, name: str, token: str) -> str:
    page = c.get("/dashboard/login")
    nonce = re.search(r'name="login_nonce" value="([^"]+)"', page.text)
    assert page.status_code == 200 and nonce
    r = c.post("/dashboard/login", data={"login_nonce": nonce.group(1), "name": name, "token": token})
    assert r.status_code == 303
    home = c.get("/dashboard/")
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', home.text)
    return csrf.group(1) if csrf else ""


def test_gateway_control_satisfies_the_protocol() -> None:
    control: Control = GatewayControl.in_memory()  # checked by mypy; at runtime: the methods exist
    for name in ("stats", "overrides", "audit_log", "block_campaign", "unblock_campaign", "allow_account",
                 "allow_org", "mark_false_positive", "false_positive_labels"):
        assert callable(getattr(control, name))


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/campaigns/C-1", "/dashboard/accounts/acct-loner",
                                  "/dashboard/report"])
def test_pages_redirect_strangers_to_login(env: GatewayEnv, path: str) -> None:
    r = httpx.get(env.url + path, timeout=10)
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/login"


@pytest.mark.parametrize("path", ["/dashboard/api/stats", "/dashboard/api/campaigns", "/dashboard/api/audit",
                                  "/dashboard/api/labels.csv", "/dashboard/static/vega.js"])
def test_api_refuses_strangers(env: GatewayEnv, path: str) -> None:
    assert httpx.get(env.url + path, timeout=10).status_code == 401
    bad = httpx.get(env.url + path, headers={"Authorization": "Bearer wrong"}, timeout=10)
    assert bad.status_code == 401


def test_unauthenticated_action_is_refused_and_changes_nothing(env: GatewayEnv) -> None:
    body = {"action": "block_campaign", "target": "C-2", "reason": "x"}
    assert httpx.post(f"{env.url}/dashboard/api/actions", json=body, timeout=10).status_code == 401
    r = httpx.post(f"{env.url}/dashboard/api/actions", json=body, timeout=10,
                   headers={"Authorization": "Bearer not-the-token"})
    assert r.status_code == 401
    assert "C-2" not in env.gw.control.overrides().blocked_campaigns


def test_wrong_token_at_login_and_throttling(env: GatewayEnv) -> None:
    with login(env, token="wrong") as (c, csrf):
        assert csrf == ""  # no session
        assert c.get("/dashboard/").status_code == 303


def test_login_needs_the_form_nonce(env: GatewayEnv) -> None:
    r = httpx.post(f"{env.url}/dashboard/login", data={"name": "x", "token": ADMIN_TOKEN}, timeout=10)
    assert r.status_code == 303 and "error=expired" in r.headers["location"]
    assert "set-cookie" not in r.headers or "dg_session" not in r.headers["set-cookie"]


def test_session_cookie_is_hardened(env: GatewayEnv) -> None:
    with httpx.Client(base_url=env.url, timeout=10) as c:
        _session_cookie_checks(c)


def _session_cookie_checks(c: httpx.Client) -> None:
    page = c.get("/dashboard/login")
    nonce = re.search(r'name="login_nonce" value="([^"]+)"', page.text)
    assert nonce
    r = c.post("/dashboard/login", data={"login_nonce": nonce.group(1), "name": "ana", "token": ADMIN_TOKEN})
    cookie = r.headers["set-cookie"].lower()
    assert "dg_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "path=/dashboard" in cookie
    home = c.get("/dashboard/", follow_redirects=False)
    assert home.status_code == 200
    csp = home.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "cdn" not in csp
    assert home.headers["cache-control"] == "no-store"


def test_block_needs_csrf_then_changes_enforcement(env: GatewayEnv) -> None:
    assert env.chat(CAMPAIGN_ACCOUNT).status_code == 200
    with login(env, "ana") as (c, csrf):
        body = {"action": "block_campaign", "target": "C-1", "reason": "confirmed extraction"}
        assert c.post("/dashboard/api/actions", json=body).status_code == 403  # session but no CSRF token
        assert c.post("/dashboard/api/actions", json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
        foreign = {"X-CSRF-Token": csrf, "Origin": "http://evil.example"}
        assert c.post("/dashboard/api/actions", json=body, headers=foreign).status_code == 403
        assert env.chat(CAMPAIGN_ACCOUNT).status_code == 200  # nothing changed yet
        r = c.post("/dashboard/api/actions", json=body, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200 and r.json()["audit"]["actor"] == "ana"
        blocked = env.chat(CAMPAIGN_ACCOUNT)
        assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "account_blocked"
        assert env.chat(OTHER_ACCOUNT).status_code == 200 and env.chat(LEGIT_ACCOUNT).status_code == 200
        unblock = {"action": "unblock_campaign", "target": "C-1", "reason": "test over"}
        assert c.post("/dashboard/api/actions", json=unblock, headers={"X-CSRF-Token": csrf}).status_code == 200
        assert env.chat(CAMPAIGN_ACCOUNT).status_code == 200
        audit = c.get("/dashboard/api/audit").json()["audit"]
        assert [(a["actor"], a["action"], a["target"], a["reason"]) for a in audit[:2]] == [
            ("ana", "unblock_campaign", "C-1", "test over"), ("ana", "block_campaign", "C-1", "confirmed extraction")]


def test_form_post_without_javascript(env: GatewayEnv) -> None:
    with login(env, "bo") as (c, csrf):
        r = c.post("/dashboard/api/actions", data={"action": "allow_org", "target": "org-7", "reason": "partner",
                                                     "csrf_token": csrf, "back": "/"})
        assert r.status_code == 303 and r.headers["location"] == "/dashboard/"
        assert "org-7" in env.gw.control.overrides().allowed_orgs


def test_bearer_token_for_scripts_and_false_positive_labels(env: GatewayEnv) -> None:
    h = {"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Analyst": "script"}
    r = httpx.post(f"{env.url}/dashboard/api/actions", headers=h, timeout=10,
                   json={"action": "false_positive", "target": "acct-l-00002", "reason": "customer ticket 12"})
    assert r.status_code == 200 and r.json()["audit"]["actor"] == "script"
    labels = httpx.get(f"{env.url}/dashboard/api/labels.csv", headers=h, timeout=10).text
    assert labels.splitlines() == ["account_id,campaign_id,actor", "acct-l-00002,,analyst:false-positive"]


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"action": "rm -rf", "target": "C-1", "reason": "x"}, 400, "unknown action"),
    ({"action": "block_campaign", "target": "", "reason": "x"}, 400, "target"),
    ({"action": "block_campaign", "target": "C-1", "reason": ""}, 400, "say why"),
    ({"action": "block_campaign", "target": "C-1", "reason": "x" * 501}, 400, "say why"),
])
def test_bad_actions_are_4xx(env: GatewayEnv, body: dict[str, str], status: int, message: str) -> None:
    r = httpx.post(f"{env.url}/dashboard/api/actions", json=body, timeout=10,
                   headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status_code == status and message in r.json()["error"]


def test_stats_and_campaigns_json(env: GatewayEnv) -> None:
    env.chat(LEGIT_ACCOUNT)
    h = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    s = httpx.get(f"{env.url}/dashboard/api/stats", headers=h, timeout=10).json()
    assert s["total_requests"] >= 1 and s["requests_per_second"] > 0 and "allow" in s["actions_per_minute"]
    camps = httpx.get(f"{env.url}/dashboard/api/campaigns", headers=h, timeout=10).json()["campaigns"]
    assert [c["campaign_id"] for c in camps] == ["C-1", "C-2"]
    assert camps[0]["summary"].startswith("campaign C-1: 60 accounts")


def test_pages_show_campaigns_accounts_and_escape(env: GatewayEnv) -> None:
    with login(env) as (c, _):
        home = c.get("/dashboard/").text
        assert "campaign C-1: 60 accounts" in home and 'data-action="block_campaign"' in home
        assert 'href="/dashboard/accounts/acct-l-' in home  # legitimate accounts nearest the threshold
        camp = c.get("/dashboard/campaigns/C-1")
        assert camp.status_code == 200 and 'id="camp-C-1-net"' in camp.text
        assert camp.text.count('href="/dashboard/accounts/acct-c1-') == 25
        assert HOSTILE_PROMPT not in camp.text and HOSTILE_AGENT not in camp.text and "&lt;script&gt;" in camp.text
        acct = c.get("/dashboard/accounts/acct-loner")
        assert acct.status_code == 200 and "Mark false positive" in acct.text
        assert c.get("/dashboard/accounts/nobody").status_code == 404
        assert c.get("/dashboard/campaigns/C-404").status_code == 404
        report = c.get("/dashboard/report")
        assert report.status_code == 200 and "campaign C-1: 60 accounts" in report.text


def test_no_admin_token_means_nobody_gets_in(tmp_path: Path) -> None:
    from distillguard.gateway.stub import ThreadedServer

    app = create_app(GatewayControl.in_memory(), None, None)
    with ThreadedServer(app) as srv:
        assert httpx.get(srv.url + "/api/stats", headers={"Authorization": "Bearer x"}, timeout=10).status_code == 401
        assert httpx.get(srv.url + "/api/stats", headers={"Authorization": "Bearer None"},
                         timeout=10).status_code == 401
        home = httpx.get(srv.url + "/", timeout=10)
        assert home.status_code == 303


def test_follows_a_new_detection_output(tmp_path: Path) -> None:
    from distillguard.gateway.stub import ThreadedServer

    detect = write_sample_detection(tmp_path / "d", sizes=(5,), legit=10)
    h = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with ThreadedServer(create_app(GatewayControl.in_memory(), detect, ADMIN_TOKEN)) as srv:
        first = httpx.get(srv.url + "/api/campaigns", headers=h, timeout=10).json()["campaigns"]
        assert [c["campaign_id"] for c in first] == ["C-1"]
        write_sample_detection(detect, sizes=(5, 4), legit=10)  # detect ran again
        second = httpx.get(srv.url + "/api/campaigns", headers=h, timeout=10).json()["campaigns"]
        assert [c["campaign_id"] for c in second] == ["C-1", "C-2"]
        (detect / "accounts.csv").unlink()
        gone = httpx.get(srv.url + "/api/campaigns", headers=h, timeout=10).json()
        assert gone["campaigns"] == [] and "no detection output" in gone["note"]
