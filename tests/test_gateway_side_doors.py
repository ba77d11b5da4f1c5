"""Enforcement side doors: streams without usage are charged to token budgets (reserved before forwarding,
settled after), degrade rewrites every output-size and log-probability parameter, account identity in the
shipped log mappings comes from the authenticated key (never the client-chosen `user`), and generic text is
never learned online as a campaign's template."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from asgi_upstream import read_request
from distillguard.gateway.app import Gateway, GatewayConfig
from distillguard.gateway.degrade import degrade_payload
from distillguard.gateway.enforce import Enforcer, Request
from distillguard.gateway.fingerprint import Fingerprinter, fingerprint_ids, is_generic
from distillguard.gateway.keys import KeyStore
from distillguard.gateway.stub import ThreadedServer
from distillguard.mapping import load_mapping
from distillguard.policy import Knowledge, parse_policy
from distillguard.schema import validate_exchange

SEEN: list[dict[str, Any]] = []


async def _recording_upstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Records each request body; answers 400 characters (~100 tokens), streamed without usage when asked."""
    body = await read_request(scope, receive, send)
    if body is None:
        return
    req = orjson.loads(body)
    SEEN.append(req)
    text = "word " * 80
    if req.get("stream"):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for i in range(4):
            ev = {"choices": [{"index": 0, "delta": {"content": text[i * 100:(i + 1) * 100]}}]}
            chunk = b"data: " + orjson.dumps(ev) + b"\n\n"
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})  # no usage event
        return
    out = orjson.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]})
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": out})
    await asyncio.sleep(0)


POLICY = """
version = 1
[limits.account]
requests_per_minute = 6000
tokens_per_minute = 0.001
token_burst = 400
[[account.rules]]
min_score = 0.5
action = "degrade"
[degrade]
max_tokens = 64
"""


@pytest.fixture()
def gw(tmp_path: Path) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    (tmp_path / "policy.toml").write_text(POLICY)
    d = tmp_path / "detect"
    d.mkdir()
    (d / "accounts.csv").write_text("account_id,score,flagged,campaign_id,reasons\nsuspect,0.9,true,,burst\n")
    ks = KeyStore(tmp_path / "keys.json")
    keys = {a: ks.create(a) for a in ("streamer", "suspect")}
    with ThreadedServer(_recording_upstream) as up:
        g = Gateway(GatewayConfig(upstream=up.url + "/v1", keys=str(tmp_path / "keys.json"),
                                  db=str(tmp_path / "gw.duckdb"), policy=str(tmp_path / "policy.toml"),
                                  detect=str(d), fingerprint_workers=0))
        with ThreadedServer(g.app) as srv, httpx.Client(base_url=srv.url, timeout=10) as c:
            yield c, keys


def _chat(c: httpx.Client, key: str, **extra: Any) -> httpx.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": "tell me"}], **extra}
    return c.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


def test_streams_without_usage_are_charged_to_the_token_budget(gw) -> None:  # type: ignore[no-untyped-def]
    c, keys = gw
    codes = [_chat(c, keys["streamer"], stream=True).status_code for _ in range(10)]
    # 400 tokens of budget, ~100 per answer (estimated from the text: no usage in the stream)
    assert 2 <= codes.count(200) <= 4 and codes[-1] == 429, codes


def test_degrade_caps_every_output_and_logprob_parameter(gw) -> None:  # type: ignore[no-untyped-def]
    c, keys = gw
    SEEN.clear()
    r = _chat(c, keys["suspect"], n=64, logprobs=True, top_logprobs=20, max_tokens=100000,
              max_completion_tokens=50000)
    assert r.status_code == 200
    sent = SEEN[-1]
    assert sent["max_tokens"] == 64 and sent["max_completion_tokens"] == 64 and sent["n"] == 1
    assert "logprobs" not in sent and "top_logprobs" not in sent


def test_degrade_payload_for_each_endpoint() -> None:
    assert degrade_payload({"input": "x", "include": ["message.output_text.logprobs", "reasoning.encrypted_content"],
                            "top_logprobs": 5}, 64, "max_output_tokens") == {
        "input": "x", "include": ["reasoning.encrypted_content"], "max_output_tokens": 64}
    assert degrade_payload({"prompt": "x", "best_of": 20, "n": 5, "logprobs": 5, "max_tokens": 10}, 64,
                           "max_tokens") == {"prompt": "x", "best_of": 1, "n": 1, "max_tokens": 10}
    assert degrade_payload({"max_tokens": "lots"}, 64, "max_tokens") == {"max_tokens": 64}


def test_account_identity_comes_from_the_key_not_the_client() -> None:
    row = {"request_id": "r1", "startTime": "2026-05-01T10:00:00", "model": "m", "api_key": "hashed-key-1",
           "user": "someone-else", "end_user": "victim-account",
           "metadata": {"user_api_key_user_id": "owner-7"}, "model_parameters": {},
           "messages": '[{"role": "user", "content": "hello"}]'}
    rec = validate_exchange(load_mapping("litellm").apply(row))
    assert rec["account_id"] == "owner-7" and '"end_user":"victim-account"' in rec["params"]
    del row["metadata"]
    assert validate_exchange(load_mapping("litellm").apply(row))["account_id"] == "hashed-key-1"
    proxy = {"id": "r2", "timestamp": "2026-05-01T10:00:00", "user_id": "owner-8",
             "request": {"model": "m", "user": "victim", "messages": [{"role": "user", "content": "x"}]}}
    rec = validate_exchange(load_mapping("openai-proxy").apply(proxy))
    assert rec["account_id"] == "owner-8" and '"end_user":"victim"' in rec["params"]
    del proxy["user_id"]
    with pytest.raises(Exception, match="account_id"):  # no authenticated identity: not the client's `user`
        validate_exchange(load_mapping("openai-proxy").apply(proxy))


LEARN = """
version = 1
[campaign]
template_matches = 2
template_share = 0.5
learn_templates = true
learn_min_accounts = 3
learn_min_share = 0.5
"""


def test_generic_text_is_never_learned_as_a_campaign_template() -> None:
    assert is_generic("continue") and is_generic("What is the capital of France?")
    long = ("You are a meticulous grader. Rate the following answer from 1 to 10 and justify the grade "
            "in exactly three bullet points: {}")
    assert not is_generic(long.format("42"))
    members = {f"m{i}": "C1" for i in range(4)}
    e = Enforcer(parse_policy(LEARN, "<learn>"), Knowledge(account_campaign=members,
                                                           campaign_confidence={"C1": 0.9}))
    fp = Fingerprinter(e.learn_templates, interval_s=3600, generic=e.generic_templates)
    try:
        for who in members:
            for text in ("continue", long.format(who)):
                fp.submit(who, text, 0.0)
                fp.drain()
        for text in ("continue", "continue", long.format("bystander"), long.format("bystander 2")):
            fp.submit("bystander", text, 1.0)
            fp.drain()
            ids = fp.lookup(text)
            assert ids is not None
            e.decide(Request("bystander", 1.0, ids[0], ids[1]))
        learned = e.knowledge.template_campaign
        assert not set(fingerprint_ids(["continue"])[0]) & set(learned)  # "continue" was never learned
        assert learned and set(learned.values()) == {"C1"}  # the members' long template was
        assert set(learned) <= {i for ids in fingerprint_ids([long.format(m) for m in members]) for i in ids}
    finally:
        fp.close()
