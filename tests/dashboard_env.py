"""A real gateway (uvicorn on 127.0.0.1) with the dashboard mounted, over a sample detection folder.

Shared by the dashboard and browser tests. The policy is per-key limits only, so a campaign's accounts
are served until an analyst blocks the campaign: the effect of a dashboard action is plain to see.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from distillguard.gateway.app import Gateway, GatewayConfig
from distillguard.gateway.keys import KeyStore
from distillguard.gateway.stub import StubUpstream, ThreadedServer
from distillguard.policy import PER_KEY_BASELINE_TOML
from distillguard.report import write_report
from distillguard.report.sample import write_sample_detection

ADMIN_TOKEN = "test-admin-token-0123456789"
CAMPAIGN_ACCOUNT = "acct-c1-00001"  # a member of campaign C-1 in the sample folder
OTHER_ACCOUNT = "acct-c2-00001"  # a member of campaign C-2
LEGIT_ACCOUNT = "acct-l-00001"


@dataclass(frozen=True)
class GatewayEnv:
    """A running gateway with the dashboard under /dashboard."""

    gw: Gateway
    url: str
    detect: Path
    keys: dict[str, str]

    def chat(self, account: str) -> httpx.Response:
        """One chat request as `account`."""
        body = {"model": "m", "messages": [{"role": "user", "content": "hello there"}]}
        return httpx.post(f"{self.url}/v1/chat/completions", json=body, timeout=10,
                          headers={"Authorization": f"Bearer {self.keys[account]}"})


@contextmanager
def running_gateway(tmp: Path, hostile: bool = True) -> Iterator[GatewayEnv]:
    """Start the stub upstream and the gateway with the dashboard; stop both on exit."""
    detect = write_sample_detection(tmp / "detect", hostile=hostile)
    write_report(detect)
    (tmp / "policy.toml").write_text(PER_KEY_BASELINE_TOML)
    ks = KeyStore(tmp / "keys.json")
    keys = {a: ks.create(a) for a in (CAMPAIGN_ACCOUNT, OTHER_ACCOUNT, LEGIT_ACCOUNT)}
    with ThreadedServer(StubUpstream()) as up:
        cfg = GatewayConfig(upstream=up.url + "/v1", keys=str(tmp / "keys.json"), db=str(tmp / "gw.duckdb"),
                            policy=str(tmp / "policy.toml"), detect=str(detect), dashboard=True,
                            admin_token=ADMIN_TOKEN, sync_interval_s=0.05, reload_interval_s=0.2)
        gw = Gateway(cfg)
        with ThreadedServer(gw.app) as srv:
            yield GatewayEnv(gw, srv.url, detect, keys)
