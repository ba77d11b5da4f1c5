"""The dashboard tells the truth about enforcement: an unknown campaign cannot be blocked, a campaign whose
every request is refused is not "active", and an account page shows online campaign membership and a
false-positive mark in force. A real gateway on 127.0.0.1 with the dashboard mounted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from distillguard.gateway.app import Gateway, GatewayConfig
from distillguard.gateway.fingerprint import fingerprint_ids
from distillguard.gateway.keys import KeyStore
from distillguard.gateway.stub import StubUpstream, ThreadedServer
from distillguard.report.sample import write_sample_detection
from waiting import eventually

ADMIN = "state-admin-token-0123456789abcdefghij"
H = {"Authorization": f"Bearer {ADMIN}", "X-Analyst": "ana"}
MEMBER = "acct-c1-00001"  # C-1 in the sample detection output
NEWCOMER = "acct-newcomer"  # in no detection output
TEMPLATE = "Extract step by step the reasoning for problem {a} with constant {b}; answer in JSON only."
# C-1 is refused by policy (blocked at any confidence); C-2 is only rate-limited per account
POLICY = """
version = 1
[limits.account]
requests_per_minute = 6000
[[campaign.rules]]
min_confidence = 0.0
action = "block"
[campaign]
template_matches = 2
template_share = 0.5
learn_templates = false
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp: Path = tmp_path_factory.mktemp("dstate")
    detect = write_sample_detection(tmp / "detect", sizes=(6,), legit=10)
    tid, _ = fingerprint_ids([TEMPLATE.format(a=1, b=2)])[0]
    (detect / "templates.csv").write_text(f"campaign_id,template_id,exchanges,accounts,example\nC-1,{tid},50,6,x\n")
    (tmp / "policy.toml").write_text(POLICY)
    ks = KeyStore(tmp / "keys.json")
    keys = {a: ks.create(a) for a in (MEMBER, NEWCOMER, "acct-l-00001")}
    with ThreadedServer(StubUpstream()) as up:
        gw = Gateway(GatewayConfig(upstream=up.url + "/v1", keys=str(tmp / "keys.json"), db=str(tmp / "gw.duckdb"),
                                   policy=str(tmp / "policy.toml"), detect=str(detect), dashboard=True,
                                   admin_token=ADMIN, sync_interval_s=0.05, fingerprint_interval_s=0.02))
        with ThreadedServer(gw.app) as srv:
            yield {"gw": gw, "url": srv.url, "keys": keys}


def chat(env: dict[str, Any], account: str, content: str = "hello") -> int:
    r = httpx.post(env["url"] + "/v1/chat/completions", timeout=10,
                   json={"model": "m", "messages": [{"role": "user", "content": content}]},
                   headers={"Authorization": f"Bearer {env['keys'][account]}"})
    return r.status_code


def act(env: dict[str, Any], action: str, target: str) -> httpx.Response:
    return httpx.post(env["url"] + "/dashboard/api/actions", headers=H, timeout=10,
                      json={"action": action, "target": target, "reason": "test"})


def test_blocking_an_unknown_campaign_is_a_404_and_changes_nothing(env: dict[str, Any]) -> None:
    r = act(env, "block_campaign", "dg-9999")
    assert r.status_code == 404 and "no campaign 'dg-9999'" in r.json()["error"]
    assert "dg-9999" not in env["gw"].control.overrides().blocked_campaigns
    assert not [a for a in env["gw"].control.audit_log() if a.target == "dg-9999"]
    assert act(env, "unblock_campaign", "dg-9999").status_code == 404
    assert act(env, "block_campaign", "C-1").status_code == 200  # a detected campaign: fine
    assert act(env, "unblock_campaign", "C-1").status_code == 200


def test_a_campaign_refused_by_policy_is_not_active(env: dict[str, Any]) -> None:
    assert [chat(env, MEMBER) for _ in range(4)] == [403] * 4
    stats = httpx.get(env["url"] + "/dashboard/api/stats", headers=H, timeout=10).json()
    c1 = next(c for c in stats["top_campaigns"] if c["campaign_id"] == "C-1")
    assert c1["blocked"] is False and c1["state"].startswith("refused (all")
    camps = httpx.get(env["url"] + "/dashboard/api/campaigns", headers=H, timeout=10).json()["campaigns"]
    state = {c["campaign_id"]: c["state"] for c in camps}
    assert state["C-1"].startswith("refused (all") and "active" not in state["C-1"]
    page = httpx.get(env["url"] + "/dashboard/campaigns/C-1", headers=H, timeout=10).text
    assert "State: <b class=\"state-blocked\">refused (all" in page
    home = httpx.get(env["url"] + "/dashboard/", headers=H, timeout=10).text
    assert "refused (all" in home


def test_account_page_shows_online_membership_and_false_positive_in_force(env: dict[str, Any]) -> None:
    statuses = []
    fp = env["gw"].fingerprints
    for i in range(6):  # the newcomer sends C-1's template: the gateway assigns it to C-1 online
        statuses.append(chat(env, NEWCOMER, TEMPLATE.format(a=100 + i, b=i)))
        # fingerprinted in the background (a batch every 20 ms) before the next request, however loaded the machine
        assert eventually(lambda: fp.idle), f"fingerprints: {fp.settled} of {fp.submitted} requests done"
    assert statuses[0] == 200 and statuses[-1] == 403
    page = httpx.get(env["url"] + f"/dashboard/accounts/{NEWCOMER}", headers=H, timeout=10)
    assert page.status_code == 200  # not in the detection output, but the gateway knows it
    assert "Online campaign membership: <b>C-1</b>" in page.text
    assert "not in the current detection output" in page.text
    assert "Not marked false positive" in page.text
    # the analyst marks it a false positive: the page says the mark is in force, and it is served again
    assert act(env, "false_positive", NEWCOMER).status_code == 200
    page = httpx.get(env["url"] + f"/dashboard/accounts/{NEWCOMER}", headers=H, timeout=10).text
    assert "Marked false positive — in force" in page and "false_positive" in page  # the audit row
    assert chat(env, NEWCOMER, TEMPLATE.format(a=999, b=9)) == 200
    assert httpx.get(env["url"] + "/dashboard/accounts/nobody-at-all", headers=H, timeout=10).status_code == 404


def test_a_campaign_known_only_online_can_be_blocked(env: dict[str, Any]) -> None:
    env["gw"].enforcer.publish({"op": "assign", "id": "acct-x", "campaign_id": "C-online-7"})
    assert act(env, "block_campaign", "C-online-7").status_code == 200
    assert act(env, "unblock_campaign", "C-online-7").status_code == 200


def test_without_detection_output_a_campaign_id_is_blocked_with_a_note(tmp_path: Path) -> None:
    """No detection output to check against (e.g. an id from a partner's intelligence): accepted, said so."""
    from distillguard.dashboard import create_app
    from distillguard.gateway.control import GatewayControl

    control = GatewayControl.in_memory()
    with ThreadedServer(create_app(control, None, ADMIN)) as srv:
        r = httpx.post(srv.url + "/api/actions", headers=H, timeout=10,
                       json={"action": "block_campaign", "target": "dg-partner-7", "reason": "intel"})
    assert r.status_code == 200 and "could not be checked" in r.json()["note"]
    assert "dg-partner-7" in control.overrides().blocked_campaigns
