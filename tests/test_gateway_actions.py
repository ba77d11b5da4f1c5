"""Analyst actions are durable: a block survives a restart (and a kill -9), events on the shared stream are
versioned and a malformed one is skipped and reported, and an action taken while Redis is down is published
when it returns. Real processes: `distillguard serve`, redis-server."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import orjson
import pytest

from distillguard.gateway.enforce import Enforcer, Request
from distillguard.gateway.keys import KeyStore
from distillguard.gateway.shared import RedisBus
from distillguard.gateway.stub import StubUpstream, ThreadedServer, free_port
from distillguard.policy import DEFAULT_POLICY_TOML, Knowledge, parse_policy
from gateway_proc import spawn_serve
from test_gateway_redis import REDIS, start_redis

TOKEN = "admin-token-for-the-actions-test-0123456789"


def test_an_analyst_block_survives_kill_9_and_restart(tmp_path: Path) -> None:
    key = KeyStore(tmp_path / "keys.json").create("acct-1")
    env = {"DISTILLGUARD_ADMIN_TOKEN": TOKEN}
    h = {"Authorization": f"Bearer {TOKEN}"}
    det = tmp_path / "detect"  # the campaigns acted on exist (blocking an unknown campaign is a 404)
    det.mkdir()
    (det / "accounts.csv").write_text("account_id,score,flagged,campaign_id,reasons\n"
                                      "acct-k,0.9,true,C-keep,x\nacct-l,0.9,true,C-lifted,x\n")
    (det / "campaigns.json").write_text('[{"campaign_id": "C-keep", "accounts": 1, "confidence": 0.1}, '
                                        '{"campaign_id": "C-lifted", "accounts": 1, "confidence": 0.1}]')
    with ThreadedServer(StubUpstream()) as up:
        proc, url = spawn_serve(tmp_path, up.url + "/v1", "--dashboard", "--detect", str(det), env=env)
        try:
            for op, target in (("block_campaign", "C-keep"), ("block_campaign", "C-lifted"),
                               ("unblock_campaign", "C-lifted"), ("allow_account", "acct-9")):
                r = httpx.post(url + "/dashboard/api/actions", headers=h,
                               json={"action": op, "target": target, "reason": "test"}, timeout=30)
                assert r.status_code == 200, r.text
        finally:
            proc.send_signal(signal.SIGKILL)  # the actions are only in the journal, at most
            proc.wait(timeout=10)
        for _ in range(2):  # a replayed restart, then a plain one
            proc, url = spawn_serve(tmp_path, up.url + "/v1", "--dashboard", "--detect", str(det), env=env)
            try:
                o = httpx.get(url + "/dashboard/api/stats", headers=h, timeout=30).json()["overrides"]
                assert o["blocked_campaigns"] == ["C-keep"] and o["allowed_accounts"] == ["acct-9"]
                r = httpx.post(url + "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                               json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
                assert r.status_code == 200
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=20)


def _enforcer(bus: RedisBus) -> Enforcer:
    return Enforcer(parse_policy(DEFAULT_POLICY_TOML, "<default>"),
                    Knowledge(account_campaign={"a1": "C1"}, campaign_confidence={"C1": 0.5}), bus=bus)


@pytest.mark.skipif(not Path(REDIS).exists(), reason="redis-server is not installed")
def test_malformed_events_are_skipped_and_an_outage_queues_actions() -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    a, b = _enforcer(RedisBus(url)), _enforcer(RedisBus(url))
    a.publish({"op": "block_campaign", "id": "C-during-outage"})  # Redis is not there yet
    assert a.unpublished == 1 and "C-during-outage" in a.overrides.blocked_campaigns
    proc = start_redis(port)
    try:
        import redis

        r = redis.Redis(port=port)
        r.xadd("dg:events", {"e": b"{not json"})
        r.xadd("dg:events", {"x": b"no event field"})
        r.xadd("dg:events", {"e": orjson.dumps(5)})
        r.xadd("dg:events", {"e": orjson.dumps({"v": 99, "op": "block_campaign", "id": "C-future"})})
        r.xadd("dg:events", {"e": orjson.dumps({"v": 1, "op": "assign", "id": "a2"})})  # no campaign_id
        a.sync()  # publishes the queued action after the bad events
        assert a.unpublished == 0
        b.publish({"op": "block_campaign", "id": "C-after"})
        b.sync()
        assert b.bad_events == 5 and b.last_bad_event
        assert b.overrides.blocked_campaigns == {"C-during-outage", "C-after"}
        a.sync()
        assert a.overrides.blocked_campaigns == {"C-during-outage", "C-after"}
        assert b.decide(Request("a1", 0.0)).code != "account_blocked"  # its campaign C1 is not blocked
        ours = [orjson.loads(f[b"e"]) for _, f in r.xrange("dg:events") if f.get(b"e", b"").startswith(b'{"v":1')]
        assert [e["id"] for e in ours if e["op"] == "block_campaign"] == ["C-during-outage", "C-after"]
    finally:
        proc.kill()
        proc.wait()
