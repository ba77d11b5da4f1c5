"""Every gateway response carries the X-Request-Id the store has for it (refusals and streams included);
failed authentication is rate-limited per client address; the OpenAPI document is served; a hanging
upstream gets a clean 504 within `serve --upstream-timeout`."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from distillguard.gateway.app import OPENAPI, Gateway, GatewayConfig
from distillguard.gateway.keys import KeyStore
from distillguard.gateway.stub import StubUpstream, ThreadedServer, lifespan, read_body
from distillguard.store import Store
from gateway_proc import spawn_serve

POLICY = """
version = 1
[limits.account]
requests_per_minute = 60
request_burst = 3
[[campaign.rules]]
min_confidence = 0.8
action = "block"
[input]
max_body_bytes = 2000
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("refusals")
    det = tmp / "detect"
    det.mkdir()
    (det / "accounts.csv").write_text("account_id,score,flagged,campaign_id,reasons\nblk,0.9,true,CB,x\n")
    (det / "campaigns.json").write_text(json.dumps([{"campaign_id": "CB", "accounts": 1, "confidence": 0.9}]))
    (tmp / "policy.toml").write_text(POLICY)
    ks = KeyStore(tmp / "keys.json")
    keys = {a: ks.create(a) for a in ("ok", "blk", "busy", "big", "bad", "stream", "nat")}
    with ThreadedServer(StubUpstream()) as up:
        gw = Gateway(GatewayConfig(upstream=up.url, keys=str(tmp / "keys.json"), db=str(tmp / "gw.duckdb"),
                                   policy=str(tmp / "policy.toml"), detect=str(det), auth_failures=5,
                                   fingerprint_workers=0))
        with ThreadedServer(gw.app) as srv, httpx.Client(base_url=srv.url, timeout=10) as c:
            yield {"gw": gw, "c": c, "keys": keys, "url": srv.url}


def _post(env: dict[str, Any], who: str, body: Any = None, raw: bytes | None = None,
          headers: dict[str, str] | None = None) -> httpx.Response:
    h = {"Authorization": f"Bearer {env['keys'].get(who, who)}", **(headers or {})}
    if raw is not None:
        return env["c"].post("/v1/chat/completions", content=raw, headers={**h, "Content-Type": "application/json"})
    body = body or {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    return env["c"].post("/v1/chat/completions", json=body, headers=h)


def _logged(env: dict[str, Any], table: str, rid: str) -> list[tuple[Any, ...]]:
    env["gw"].sink.flush()
    with env["gw"].sink.store.con.cursor() as cur:
        return cur.execute(f"SELECT status FROM {table} WHERE request_id = ?", [rid]).fetchall()


def test_every_response_carries_the_request_id_the_store_has(env: dict[str, Any]) -> None:
    got: dict[str, httpx.Response] = {"200": _post(env, "ok"), "401": _post(env, "dg-not-a-key"),
                                      "400": _post(env, "bad", raw=b'{"model": '),
                                      "413": _post(env, "big", raw=b"x" * 5000), "403": _post(env, "blk")}
    for _ in range(4):
        got["429"] = _post(env, "busy")
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "s"}]}
    with env["c"].stream("POST", "/v1/chat/completions", json=body,
                         headers={"Authorization": f"Bearer {env['keys']['stream']}"}) as r:
        assert r.read().endswith(b"data: [DONE]\n\n")
        got["stream"] = r
    for status, r in got.items():
        assert r.status_code == (200 if status == "stream" else int(status)), (status, r.text)
        if r.status_code >= 400:
            assert set(r.json()["error"]) >= {"message", "type", "code"}
    ids = {k: r.headers["x-request-id"] for k, r in got.items()}
    assert len(set(ids.values())) == len(ids)
    for k in ("200", "403", "429", "stream"):  # exchanges, with their status
        assert _logged(env, "exchanges", ids[k]) == [(got[k].status_code,)], k
    for k in ("401", "400", "413"):  # refused before they were exchanges: enforcement events
        assert _logged(env, "enforcement_events", ids[k]) == [(int(k),)], k
    for r in (env["c"].get("/nope"), env["c"].get("/healthz"), env["c"].get("/openapi.json")):
        assert len(r.headers["x-request-id"]) == 22


def test_client_ids_are_echoed_but_never_become_the_logged_id(env: dict[str, Any]) -> None:
    r = _post(env, "ok", headers={"X-Request-Id": "client-7:abc"})
    assert r.headers["x-client-request-id"] == "client-7:abc" and r.headers["x-request-id"] != "client-7:abc"
    assert _logged(env, "exchanges", r.headers["x-request-id"]) == [(200,)]
    assert _logged(env, "exchanges", "client-7:abc") == []  # a client cannot choose (or repeat) a stored id
    r = _post(env, "ok", headers={"X-Client-Request-Id": "<script>" + "x" * 200})
    assert "x-client-request-id" not in r.headers


def test_failed_authentication_is_rate_limited_per_address(env: dict[str, Any]) -> None:
    other = httpx.Client(base_url=env["url"], timeout=10,
                         transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    with other:
        h = {"Authorization": "Bearer dg-guess-0"}
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        statuses = [other.post("/v1/chat/completions", json=body, headers=h).status_code for _ in range(7)]
        assert statuses == [401] * 5 + [429] * 2
        r = other.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {env['keys']['nat']}"})
        assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_auth_failures"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert other.get("/v1/models", headers=h).status_code == 429
    assert _post(env, "nat").status_code == 200  # another address is not affected


def test_openapi_document_is_served(env: dict[str, Any]) -> None:
    r = env["c"].get("/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc == json.loads(OPENAPI.read_text()) and doc["openapi"].startswith("3.")
    assert {"/v1/chat/completions", "/v1/completions", "/v1/models", "/healthz", "/openapi.json"} <= set(doc["paths"])


async def _hanging(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An upstream that accepts the request and never answers (within the test)."""
    if await lifespan(scope, receive, send):
        return
    await asyncio.sleep(8)


@pytest.mark.slow
def test_serve_upstream_timeout_gives_a_clean_504_and_logs_it(tmp_path: Path) -> None:
    key = KeyStore(tmp_path / "keys.json").create("acct")
    with ThreadedServer(_hanging) as up:
        proc, url = spawn_serve(tmp_path, up.url, "--upstream-timeout", "1")
        try:
            took = []
            for stream in (False, True):
                t0 = time.monotonic()
                r = httpx.post(url + "/v1/chat/completions", timeout=30, headers={"Authorization": f"Bearer {key}"},
                               json={"model": "m", "stream": stream, "messages": [{"role": "user", "content": "q"}]})
                took.append(time.monotonic() - t0)
                assert r.status_code == 504, r.text
                assert r.json()["error"]["code"] == "upstream_timeout" and "Traceback" not in r.text
            assert max(took) < 4, took  # the 1 s timeout, not the 600 s default
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    with Store.open(tmp_path / "gw.duckdb") as s:
        assert s.con.execute("SELECT status FROM exchanges").fetchall() == [(504,), (504,)]
        assert s.con.execute("SELECT count(*) FROM enforcement_events WHERE code = 'upstream_error'").fetchone()[0] == 2


async def _sly_stream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An upstream whose streamed completion itself says `data: [DONE]` before it ends."""
    if await lifespan(scope, receive, send):
        return
    await read_body(receive)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    for part in ("say data: [DONE]\n\ndata: [DONE] now", ", then the rest"):
        event = json.dumps({"choices": [{"delta": {"content": part}}]}).encode()
        await send({"type": "http.response.body", "body": b"data: " + event + b"\n\n", "more_body": True})
        await asyncio.sleep(0.05)
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})


def test_a_completion_that_says_done_is_logged_whole(tmp_path: Path) -> None:
    key = KeyStore(tmp_path / "keys.json").create("a")
    with ThreadedServer(_sly_stream) as up:
        gw = Gateway(GatewayConfig(upstream=up.url, keys=str(tmp_path / "keys.json"), db=str(tmp_path / "g.duckdb"),
                                   fingerprint_workers=0))
        with ThreadedServer(gw.app) as srv:
            body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "q"}]}
            with httpx.stream("POST", srv.url + "/v1/chat/completions", json=body, timeout=10,
                              headers={"Authorization": f"Bearer {key}"}) as r:
                assert r.read().endswith(b"data: [DONE]\n\n")
                rid = r.headers["x-request-id"]
            gw.sink.flush()
            with gw.sink.store.con.cursor() as cur:
                got = cur.execute("SELECT status, completion FROM exchanges WHERE request_id = ?", [rid]).fetchall()
    assert got == [(200, "say data: [DONE]\n\ndata: [DONE] now, then the rest")]
