"""One client cannot take the gateway down: a per-account in-flight cap (429, slots released when responses
end, streams included), refused requests stored with their prompt's size and digest instead of the prompt,
and the server's RSS under a flood of refused 1 MB prompts. Real uvicorn servers on loopback."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from asgi_upstream import read_request
from distillguard.gateway.app import Gateway, GatewayConfig
from distillguard.gateway.keys import KeyStore
from distillguard.gateway.stub import ThreadedServer
from distillguard.store import Store
from gateway_proc import spawn_serve
from test_gateway_http_limits import rss_kib
from waiting import DEADLINE_S, eventually

POLICY = """
version = 1
[limits.account]
requests_per_minute = 0.001
request_burst = 2
[input]
max_body_bytes = 2000000
"""


RELEASE = threading.Event()  # set: the upstream answers the requests it holds (model "held")


async def _slow_upstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers once `RELEASE` is set (model "held") or at once; streams when asked."""
    body = await read_request(scope, receive, send)
    if body is None:
        return
    req = orjson.loads(body)
    if req["model"] == "held":
        deadline = time.monotonic() + DEADLINE_S
        while not RELEASE.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    if req.get("stream"):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        ev = {"choices": [{"index": 0, "delta": {"content": "hi"}}]}
        await send({"type": "http.response.body", "body": b"data: " + orjson.dumps(ev) + b"\n\n", "more_body": True})
        await asyncio.sleep(0.3)
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
        return
    out = orjson.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": out})


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with ThreadedServer(_slow_upstream) as up:
        yield up.url + "/v1"


def test_one_account_cannot_hold_more_than_its_in_flight_cap(tmp_path: Path, upstream: str) -> None:
    ks = KeyStore(tmp_path / "keys.json")
    a, b = ks.create("a"), ks.create("b")
    gw = Gateway(GatewayConfig(upstream=upstream, keys=str(tmp_path / "keys.json"), db=str(tmp_path / "gw.duckdb"),
                               fingerprint_workers=0, max_in_flight_per_account=4))

    def chat(key: str, model: str = "held", stream: bool = False) -> int:
        with httpx.Client(base_url=srv.url, timeout=DEADLINE_S + 10) as c:
            r = c.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                       json={"model": model, "stream": stream, "messages": [{"role": "user", "content": "x"}]})
            return r.status_code

    with ThreadedServer(gw.app) as srv, ThreadPoolExecutor(12) as pool:
        RELEASE.clear()  # the upstream holds every request of "a" until the cap has refused the rest
        try:
            held = [pool.submit(chat, a) for _ in range(10)]
            assert eventually(lambda: sum(f.done() for f in held) == 6 and gw.inflight.held("a") == 4), \
                f"expected 4 requests held and 6 refused: {sum(f.done() for f in held)} answered, " \
                f"{gw.inflight.held('a')} in flight"
            other = pool.submit(chat, b, "fast")
            assert other.result() == 200  # another account is not held up by the cap of the first
        finally:
            RELEASE.set()
        codes = sorted(f.result() for f in held)
        assert codes == [200] * 4 + [429] * 6
        # every slot comes back (just after the response's last byte left: the client may see it first)
        assert eventually(lambda: gw.inflight.held("a") == 0), gw.inflight.held("a")
        streams = [pool.submit(chat, a, "fast", True) for _ in range(4)]
        assert [f.result() for f in streams] == [200] * 4
        assert eventually(lambda: gw.inflight.held("a") == 0), gw.inflight.held("a")
        assert chat(a, "fast") == 200
        assert httpx.get(srv.url + "/healthz", timeout=30).json()["in_flight_refused"] == 6


def test_refused_prompts_are_kept_as_size_and_digest(tmp_path: Path, upstream: str) -> None:
    key = KeyStore(tmp_path / "keys.json").create("flood")
    (tmp_path / "policy.toml").write_text(POLICY)
    proc, url = spawn_serve(tmp_path, upstream, "--policy", str(tmp_path / "policy.toml"))
    big = "z" * 1_000_000
    try:
        with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as c:
            for _ in range(10):  # warm up: two allowed, then refused
                c.post("/v1/chat/completions", json={"model": "fast", "messages": [{"role": "user", "content": big}]})
            before = rss_kib(proc.pid)
            codes = [c.post("/v1/chat/completions",
                            json={"model": "fast", "messages": [{"role": "user", "content": big + str(i)}]}).status_code
                     for i in range(150)]
            grown = rss_kib(proc.pid) - before
        assert codes == [429] * 150
        assert grown < 64 * 1024, f"RSS grew by {grown} KiB over 150 refused 1 MB prompts"  # +36 MB here
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    with Store.open(tmp_path / "gw.duckdb") as s:
        rows = s.con.execute("SELECT status, messages IS NULL, prompt IS NULL FROM exchanges").fetchall()
        assert sorted(set(rows)) == [(200, False, True), (429, True, True)]
        reasons = [r[0] for r in s.con.execute("SELECT reason FROM enforcement_events WHERE status = 429").fetchall()]
        assert len(reasons) == 158 and all("prompt not kept: 100000" in r and "sha256 " in r for r in reasons)
        assert s.con.execute("SELECT max(length(coalesce(messages[1].content, ''))) FROM exchanges "
                             "WHERE status = 429").fetchone()[0] == 0
