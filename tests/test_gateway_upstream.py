"""The httptools upstream client against real servers on 127.0.0.1: keep-alive reuse, streams (chunked),
a dropped kept-alive connection retried once, timeouts, a server that breaks off, a path prefix."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from distillguard.gateway.stub import StubUpstream, ThreadedServer
from distillguard.gateway.upstream import HttptoolsUpstream, UpstreamError, UpstreamTimeout, make_upstream

BODY = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
H = {"Content-Type": "application/json", "Accept": "*/*"}


@pytest.fixture(scope="module")
def stub() -> Iterator[ThreadedServer]:
    with ThreadedServer(StubUpstream("k")) as up:
        yield up


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_auto_picks_httptools_for_http_and_aiohttp_for_https() -> None:
    assert isinstance(make_upstream("http://127.0.0.1:1/v1", None), HttptoolsUpstream)
    assert not isinstance(make_upstream("https://example.invalid/v1", None), HttptoolsUpstream)


def test_requests_reuse_one_connection_and_carry_the_key(stub: ThreadedServer) -> None:
    async def go() -> tuple[list[int], int]:
        up = HttptoolsUpstream(stub.url + "/v1", "k")
        statuses = []
        for _ in range(5):
            r = await up.send("POST", "/v1/chat/completions", BODY, H)
            data = await r.read()
            assert orjson.loads(data)["choices"][0]["message"]["content"] == "The answer is 42."
            statuses.append(r.status)
        pooled = len(up._idle)
        await up.close()
        return statuses, pooled
    statuses, pooled = run(go())
    assert statuses == [200] * 5 and pooled == 1
    async def wrong_key() -> int:
        up = HttptoolsUpstream(stub.url, "not-k")
        r = await up.send("GET", "/v1/models", None, {})
        await r.read()
        await up.close()
        return r.status
    assert run(wrong_key()) == 401


def test_a_stream_arrives_in_pieces(stub: ThreadedServer) -> None:
    async def go() -> list[bytes]:
        up = HttptoolsUpstream(stub.url + "/v1", "k")
        body = orjson.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]})
        r = await up.send("POST", "/v1/chat/completions", body, H)
        assert r.status == 200 and r.content_type.startswith("text/event-stream")
        chunks = [c async for c in r.chunks]
        await up.close()
        return chunks
    chunks = run(go())
    assert len(chunks) >= 2 and b"".join(chunks).endswith(b"data: [DONE]\n\n")


class RawServer:
    """A TCP server on 127.0.0.1 answering each connection with `handler(conn, n)` (n: request count)."""

    def __init__(self, handler: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.handler, args=(conn, self.connections), daemon=True).start()

    def close(self) -> None:
        self.sock.close()


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    n = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(rest) < n:
        rest += conn.recv(65536)
    return head


def _ok(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")


def test_a_kept_alive_connection_dropped_by_the_server_is_retried_once() -> None:
    heads: list[bytes] = []

    def handler(conn: socket.socket, n: int) -> None:
        heads.append(_read_request(conn))
        _ok(conn)
        if n == 1:  # keep-alive in name only: drop it after the first answer, before the next request
            conn.close()
            return
        heads.append(_read_request(conn))
        _ok(conn)
        conn.close()

    srv = RawServer(handler)

    async def go() -> list[int]:
        up = HttptoolsUpstream(f"http://127.0.0.1:{srv.port}/prefix/v1", None)
        out = []
        for _ in range(2):
            r = await up.send("POST", "/v1/chat/completions", BODY, H)
            await r.read()
            out.append(r.status)
            await asyncio.sleep(0.1)  # the server's close arrives
        await up.close()
        return out
    try:
        assert run(go()) == [200, 200]
    finally:
        srv.close()
    assert heads[0].startswith(b"POST /prefix/v1/chat/completions HTTP/1.1\r\n")
    assert srv.connections == 2


def test_timeout_and_broken_stream() -> None:
    def silent(conn: socket.socket, n: int) -> None:
        _read_request(conn)
        threading.Event().wait(5)
        conn.close()

    def breaks_off(conn: socket.socket, n: int) -> None:
        _read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"7\r\ndata: x\r\n")
        conn.close()

    slow, broken = RawServer(silent), RawServer(breaks_off)

    async def go() -> tuple[type, type, bytes]:
        up = HttptoolsUpstream(f"http://127.0.0.1:{slow.port}", None, timeout_s=0.3)
        with pytest.raises(UpstreamTimeout) as t:
            await up.send("POST", "/v1/chat/completions", BODY, H)
        up2 = HttptoolsUpstream(f"http://127.0.0.1:{broken.port}", None)
        r = await up2.send("POST", "/v1/chat/completions", BODY, H)
        got = b""
        with pytest.raises(UpstreamError) as b:
            async for c in r.chunks:
                got += c
        refused = HttptoolsUpstream(f"http://127.0.0.1:{_closed_port()}", None)
        with pytest.raises(UpstreamError):
            await refused.send("GET", "/v1/models", None, {})
        return t.type, b.type, got
    try:
        tt, bt, got = run(go())
    finally:
        slow.close()
        broken.close()
    assert tt is UpstreamTimeout and bt is UpstreamError and got == b"data: x"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
