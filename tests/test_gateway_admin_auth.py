"""Admin surfaces: the dashboard (admin API) and the TAXII server refuse strangers, refuse cross-origin state
changes, and rate-limit failed authentication per client address."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from distillguard.dashboard import create_app
from distillguard.gateway.control import GatewayControl
from distillguard.gateway.stub import ThreadedServer
from distillguard.intel.taxii import TaxiiConfig
from distillguard.intel.taxii import create_app as taxii_app

TOKEN = "admin-" + "k" * 32
API = ["/api/stats", "/api/campaigns", "/api/audit", "/api/labels.csv"]


def _client(url: str, address: str = "127.0.0.1") -> httpx.Client:
    """A client whose requests come from `address` (any 127.x address reaches the loopback server)."""
    return httpx.Client(base_url=url, timeout=10, transport=httpx.HTTPTransport(local_address=address))


@pytest.fixture()
def dashboard() -> Iterator[tuple[str, GatewayControl]]:
    control = GatewayControl.in_memory()
    with ThreadedServer(create_app(control, None, TOKEN)) as srv:
        yield srv.url, control


def test_dashboard_admin_api_refuses_strangers(dashboard: tuple[str, GatewayControl]) -> None:
    url, control = dashboard
    with _client(url) as c:
        for path in API:
            assert c.get(path).status_code == 401, path
        body = {"action": "block_campaign", "target": "C-1", "reason": "x"}
        assert c.post("/api/actions", json=body).status_code == 401
        assert c.get("/api/stats", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert not control.overrides().blocked_campaigns


def test_dashboard_wrong_tokens_are_rate_limited_per_address(dashboard: tuple[str, GatewayControl]) -> None:
    url, _ = dashboard
    with _client(url, "127.0.0.3") as c:
        got = [c.get("/api/stats", headers={"Authorization": f"Bearer guess-{i}"}).status_code for i in range(12)]
        assert got == [401] * 10 + [429] * 2
        r = c.get("/api/stats", headers={"Authorization": f"Bearer {TOKEN}"})  # even the right one, for now
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    with _client(url, "127.0.0.4") as c:  # another address is not affected
        assert c.get("/api/stats", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_dashboard_refuses_cross_origin_state_changes(dashboard: tuple[str, GatewayControl]) -> None:
    url, control = dashboard
    with httpx.Client(base_url=url, timeout=10) as c:
        page = c.get("/login")
        nonce = re.search(r'name="login_nonce" value="([^"]+)"', page.text)
        assert nonce
        assert c.post("/login", data={"login_nonce": nonce.group(1), "name": "ana", "token": TOKEN}).status_code == 303
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', c.get("/").text)
        assert csrf
        body = {"action": "block_campaign", "target": "C-9", "reason": "x"}
        for foreign in ({"Origin": "http://evil.example"}, {"Referer": "http://evil.example/page"},
                        {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
            r = c.post("/api/actions", json=body, headers={"X-CSRF-Token": csrf.group(1), **foreign})
            assert r.status_code == 403, foreign
        assert c.post("/logout", data={"csrf_token": csrf.group(1)}, headers={"Origin": "http://evil.example"},
                      ).status_code == 403
        assert not control.overrides().blocked_campaigns
        same = {"X-CSRF-Token": csrf.group(1), "Origin": url, "Sec-Fetch-Site": "same-origin"}
        assert c.post("/api/actions", json=body, headers=same).status_code == 200
    assert "C-9" in control.overrides().blocked_campaigns


def test_taxii_refuses_strangers_and_rate_limits_failures() -> None:
    app = taxii_app([], TaxiiConfig(tokens=frozenset({"tok-1"}), auth_failures=3))
    with ThreadedServer(app) as srv:
        with _client(srv.url, "127.0.0.5") as c:
            assert c.get("/taxii2/").status_code == 401
            assert c.get("/api1/collections/").status_code == 401
            assert c.get("/taxii2/", headers={"Authorization": "Bearer nope"}).status_code == 401
            r = c.get("/taxii2/", headers={"Authorization": "Bearer tok-1"})
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        with _client(srv.url, "127.0.0.6") as c:
            assert c.get("/taxii2/", headers={"Authorization": "Bearer tok-1"}).status_code == 200
