"""End to end: a real uvicorn gateway on loopback in front of a real stub upstream on loopback."""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from asgi_upstream import read_request
from distillguard.gateway.app import Gateway, GatewayConfig
from distillguard.gateway.fingerprint import fingerprint_ids
from distillguard.gateway.keys import KeyStore
from distillguard.gateway.stub import StubUpstream, ThreadedServer
from waiting import DEADLINE_S, eventually

UPSTREAM_KEY = "upstream-secret-never-leaks"
KNOWN_PROMPT = "You are an expert solver. Solve step by step and show your work: what is {a} + {b}? Answer in JSON."

POLICY = """
version = 1
[limits.account]
requests_per_minute = 6000
[limits.throttled_account]
requests_per_minute = 6000
[limits.campaign]
requests_per_minute = 0.001
request_burst = 5
[[account.rules]]
min_score = 0.8
action = "degrade"
[[account.rules]]
min_score = 0.95
action = "verify"
[[campaign.rules]]
min_confidence = 0.8
action = "block"
[[campaign.rules]]
min_confidence = 0.5
action = "throttle"
[campaign]
template_matches = 2
[degrade]
max_tokens = 64
[input]
max_body_bytes = 20000
max_messages = 8
"""


def _write_detect(d: Path) -> None:
    d.mkdir()
    rows = [(f"t{i}", 0.6, "true", "CT", "shared-template") for i in range(10)]
    rows += [("b0", 0.9, "true", "CB", "lockstep-timing"), ("v1", 0.97, "true", "", "burst"),
             ("v2", 0.97, "true", "", "burst"), ("d1", 0.85, "true", "", "cot"), ("legit", 0.01, "false", "", "")]
    with (d / "accounts.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["account_id", "score", "flagged", "campaign_id", "reasons"])
        w.writerows(rows)
    (d / "campaigns.json").write_text(json.dumps([
        {"campaign_id": "CT", "accounts": 10, "confidence": 0.6},
        {"campaign_id": "CB", "accounts": 1, "confidence": 0.9}]))
    tid, _ = fingerprint_ids([KNOWN_PROMPT.format(a=12, b=7)])[0]
    (d / "templates.csv").write_text(f"campaign_id,template_id,exchanges,accounts,example\nCB,{tid},100,1,x\n")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("gw")
    _write_detect(tmp / "detect")
    (tmp / "policy.toml").write_text(POLICY)
    ks = KeyStore(tmp / "keys.json")
    accounts = ["legit", "b0", "v1", "d1", "fresh1", "fresh2", "revoked", "ctl"] + [f"t{i}" for i in range(10)]
    keys = {a: ks.create(a) for a in accounts}
    keys["v2"] = ks.create("v2", verified=True)
    stub = StubUpstream(UPSTREAM_KEY, chunk_delay_s=0.0)
    with ThreadedServer(stub) as up:
        cfg = GatewayConfig(upstream=up.url + "/v1", keys=str(tmp / "keys.json"), upstream_key=UPSTREAM_KEY,
                            db=str(tmp / "gw.duckdb"), policy=str(tmp / "policy.toml"), detect=str(tmp / "detect"),
                            sync_interval_s=0.05, reload_interval_s=0.2, fingerprint_interval_s=0.02)
        gw = Gateway(cfg)
        with ThreadedServer(gw.app) as srv, httpx.Client(base_url=srv.url, timeout=10) as client:
            yield {"gw": gw, "client": client, "keys": keys, "ks": ks, "tmp": tmp, "stub": stub}


def chat(env, account: str, content: str = "hello", **extra) -> httpx.Response:  # type: ignore[no-untyped-def]
    body = {"model": "m", "messages": [{"role": "user", "content": content}], **extra}
    return env["client"].post("/v1/chat/completions", json=body,
                              headers={"Authorization": f"Bearer {env['keys'][account]}"})


def rows(env, sql: str) -> list[tuple]:  # type: ignore[no-untyped-def, type-arg]
    env["gw"].sink.flush()
    with env["gw"].sink.store.con.cursor() as cur:
        return cur.execute(sql).fetchall()


def test_chat_is_proxied_logged_and_upstream_key_never_leaks(env) -> None:  # type: ignore[no-untyped-def]
    r = chat(env, "legit", "what is the capital of France?")
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "The answer is 42."
    assert UPSTREAM_KEY not in r.text and UPSTREAM_KEY not in str(r.headers)
    rid = r.headers["x-request-id"]
    time.sleep(0.5)  # the writer thread commits every 0.2 s
    got = rows(env, f"SELECT account_id, endpoint, status, completion, prompt_tokens, messages[1].content "
                    f"FROM exchanges WHERE request_id = '{rid}'")
    assert got == [("legit", "/v1/chat/completions", 200, "The answer is 42.", 5, "what is the capital of France?")]


def test_completions_and_models(env) -> None:  # type: ignore[no-untyped-def]
    h = {"Authorization": f"Bearer {env['keys']['legit']}"}
    r = env["client"].post("/v1/completions", json={"model": "m", "prompt": "Once upon"}, headers=h)
    assert r.status_code == 200 and r.json()["choices"][0]["text"] == "The answer is 42."
    r = env["client"].get("/v1/models", headers=h)
    assert r.status_code == 200 and r.json()["data"][0]["id"] == "stub-model"
    assert env["client"].get("/v1/models").status_code == 401


def test_streaming_passes_sse_through(env) -> None:  # type: ignore[no-untyped-def]
    h = {"Authorization": f"Bearer {env['keys']['legit']}"}
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "stream please"}]}
    with env["client"].stream("POST", "/v1/chat/completions", json=body, headers=h) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line.startswith("data:")]
    assert events[-1] == "data: [DONE]"
    text = "".join(json.loads(e[5:])["choices"][0]["delta"]["content"] for e in events[:-2])
    assert text == "The answer is 42."
    assert '"reasoning_content"' in events[0]  # untouched for an allowed account


class _HeldStream:
    """An upstream that streams one event, then holds the rest until the test has seen that first event."""

    def __init__(self) -> None:
        self.seen_first = threading.Event()
        self.held = False  # whether the rest waited for `seen_first` (False: it gave up after the deadline)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await read_request(scope, receive, send) is None:
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        ev = b'data: {"choices": [{"index": 0, "delta": {"content": "first"}}]}\n\n'
        await send({"type": "http.response.body", "body": ev, "more_body": True})
        deadline = time.monotonic() + DEADLINE_S
        while not self.seen_first.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self.held = self.seen_first.is_set()
        ev = b'data: {"choices": [{"index": 0, "delta": {"content": " rest"}}]}\n\n'
        await send({"type": "http.response.body", "body": ev + b"data: [DONE]\n\n"})


def test_streaming_is_not_buffered(tmp_path: Path) -> None:
    ks = KeyStore(tmp_path / "k.json")
    key = ks.create("a")
    upstream = _HeldStream()
    with ThreadedServer(upstream) as up:
        gw = Gateway(GatewayConfig(upstream=up.url, keys=str(tmp_path / "k.json"), db=str(tmp_path / "g.duckdb"),
                                   fingerprint_workers=0))
        with ThreadedServer(gw.app) as srv, httpx.Client(base_url=srv.url, timeout=DEADLINE_S + 10) as c:
            body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
            with c.stream("POST", "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}) as r:
                it = r.iter_raw()
                first = next(it)
                upstream.seen_first.set()
                rest = b"".join(it)
    assert first.startswith(b"data:") and b"first" in first and rest.endswith(b"[DONE]\n\n")
    # the first event reached the client while the upstream still held the rest of the stream
    assert upstream.held and b"rest" not in first


def test_unknown_and_revoked_keys_get_openai_401(env) -> None:  # type: ignore[no-untyped-def]
    r = env["client"].post("/v1/chat/completions", json={}, headers={"Authorization": "Bearer dg-nope-nope"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert env["client"].post("/v1/chat/completions", json={}).status_code == 401
    assert chat(env, "revoked").status_code == 200
    env["ks"].revoke(env["keys"]["revoked"])
    # the gateway re-reads the keys file every 0.2 s (later on a loaded machine)
    assert eventually(lambda: env["gw"].keys.authenticate(env["keys"]["revoked"]) is None), "revocation not seen"
    r = chat(env, "revoked")
    assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("body, status, code", [
    (b"{not json", 400, "invalid_json"),
    (b"[1, 2]", 400, "invalid_request"),
    (b'{"model": "m"}', 400, "invalid_request"),
    (b'{"model": "m", "messages": "hi"}', 400, "invalid_request"),
    (b'{"model": "m", "messages": [{"role": "wizard", "content": "x"}]}', 400, "invalid_request"),
    (b'{"model": "m", "messages": [{"role": "user", "content": 5}]}', 400, "invalid_request"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}', 400, "invalid_request"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": -3}', 400, "invalid_request"),
    (json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}] * 9}).encode(), 400,
     "too_many_messages"),
    (json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * 30000}]}).encode(), 413,
     "request_too_large"),
    (b"\xff\xfe\x00garbage", 400, "invalid_json"),
])
def test_bad_input_is_a_4xx_never_a_500(env, body: bytes, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    r = env["client"].post("/v1/chat/completions", content=body,
                           headers={"Authorization": f"Bearer {env['keys']['legit']}"})
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


def test_campaign_accounts_share_one_bucket(env) -> None:  # type: ignore[no-untyped-def]
    codes = [chat(env, f"t{i}", f"question {i}") for i in range(10)]
    statuses = [r.status_code for r in codes]
    assert statuses.count(200) == 5 and statuses.count(429) == 5  # burst 5 for the whole campaign CT
    refused = next(r for r in codes if r.status_code == 429)
    assert refused.json()["error"]["code"] == "campaign_rate_limited" and "retry-after" in refused.headers
    assert chat(env, "legit").status_code == 200  # legitimate traffic is not in that bucket
    time.sleep(0.4)
    got = rows(env, "SELECT action, code, count(*) FROM enforcement_events WHERE campaign_id = 'CT' "
                    "GROUP BY ALL ORDER BY code")
    assert got == [("throttle", "campaign_rate_limited", 5), ("throttle", "throttled", 5)]
    reasons = rows(env, "SELECT DISTINCT reason FROM enforcement_events WHERE campaign_id = 'CT' AND status = 429")
    assert "campaign CT" in reasons[0][0]


def test_block_and_verification(env) -> None:  # type: ignore[no-untyped-def]
    r = chat(env, "b0")
    assert r.status_code == 403 and r.json()["error"]["code"] == "account_blocked"
    assert "CB" not in r.text  # detection details stay in the log
    r = chat(env, "v1")
    assert r.status_code == 403 and r.json()["error"]["code"] == "verification_required"
    assert chat(env, "v2").status_code == 200  # same score, verified key


def test_degrade_caps_tokens_drops_reasoning_forces_watermark(env) -> None:  # type: ignore[no-untyped-def]
    r = chat(env, "d1", "think about it", max_tokens=4000)
    assert r.status_code == 200
    j = r.json()
    assert j["stub"] == {"max_tokens": 64, "watermark": "force"}
    assert "reasoning_content" not in j["choices"][0]["message"]
    h = {"Authorization": f"Bearer {env['keys']['d1']}"}
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    with env["client"].stream("POST", "/v1/chat/completions", json=body, headers=h) as s:
        text = "".join(s.iter_text())
    assert "reasoning_content" not in text and text.endswith("data: [DONE]\n\n") and '" answer"' in text


def test_fresh_account_with_known_templates_is_blocked_early(env) -> None:  # type: ignore[no-untyped-def]
    statuses = []
    fp = env["gw"].fingerprints
    for i in range(6):
        statuses.append(chat(env, "fresh1", KNOWN_PROMPT.format(a=100 + i, b=i)).status_code)
        # fingerprinted in the background (a batch every 20 ms) before the next request, however loaded the machine
        assert eventually(lambda: fp.idle), f"fingerprints: {fp.settled} of {fp.submitted} requests done"
    assert statuses[:2] == [200, 200] and statuses[-1] == 403
    assert statuses.count(200) <= 3
    assert chat(env, "fresh2", "an unrelated question about cooking pasta").status_code == 200


def test_analyst_block_takes_effect_at_once_and_is_audited(env) -> None:  # type: ignore[no-untyped-def]
    control = env["gw"].control
    assert chat(env, "t0").status_code in (200, 429)
    control.block_campaign("CT", actor="ana", reason="confirmed")
    r = chat(env, "t3")
    assert r.status_code == 403 and r.json()["error"]["code"] == "account_blocked"
    control.allow_account("t3", actor="ana", reason="customer")
    assert chat(env, "t3").status_code in (200, 429)  # allow-listed: back to buckets only
    control.unblock_campaign("CT", actor="ana", reason="undo")
    stats = control.stats()
    assert stats.total_requests > 0 and stats.actions_per_minute["block"] >= 1
    assert any(e.code == "account_blocked" for e in stats.recent_events)
    time.sleep(0.4)
    audit = rows(env, "SELECT actor, action, target FROM audit_log ORDER BY ts")
    assert audit == [("ana", "block_campaign", "CT"), ("ana", "allow_account", "t3"), ("ana", "unblock_campaign", "CT")]


def test_policy_file_reloads_without_restart(env, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    assert chat(env, "ctl").status_code == 200
    enforcer = env["gw"].enforcer
    path = env["tmp"] / "policy.toml"
    old = path.read_text()
    first = enforcer.policy
    try:
        path.write_text(old.replace("requests_per_minute = 6000\n[limits.throttled", "requests_per_minute = 0.01\n"
                                    "request_burst = 1\n[limits.throttled", 1))
        # re-read every 0.2 s (later on a loaded machine)
        assert eventually(lambda: enforcer.policy != first), "the new policy file was never loaded"
        assert [chat(env, "ctl").status_code for _ in range(2)] == [200, 429]  # burst 1
        changed = enforcer.policy
        with caplog.at_level(logging.ERROR, logger="distillguard.gateway"):
            path.write_text("not = [valid")  # a broken file keeps the last good policy
            assert eventually(lambda: "reload failed" in caplog.text), "the broken policy file was never read"
        assert enforcer.policy == changed
        assert chat(env, "ctl").status_code == 429
    finally:
        path.write_text(old)
        assert eventually(lambda: enforcer.policy == first), "the first policy file was never loaded again"


def test_dashboard_is_mounted_behind_the_admin_token(tmp_path: Path) -> None:
    pytest.importorskip("distillguard.dashboard")
    KeyStore(tmp_path / "k.json").create("a")
    with ThreadedServer(StubUpstream()) as up:
        gw = Gateway(GatewayConfig(upstream=up.url, keys=str(tmp_path / "k.json"), db=str(tmp_path / "g.duckdb"),
                                   fingerprint_workers=0, dashboard=True, admin_token="s3cret-admin"))
        with ThreadedServer(gw.app) as srv, httpx.Client(base_url=srv.url, timeout=10) as c:
            assert c.get("/dashboard/login").status_code == 200
            r = c.get("/dashboard/api/stats")
            assert r.status_code in (401, 403) or (r.status_code in (302, 303) and "login" in r.headers["location"])
            assert c.post("/dashboard/api/actions", data={"action": "block_campaign", "target": "C1"}).status_code \
                in (401, 403)
    assert not gw.control.overrides().blocked_campaigns
