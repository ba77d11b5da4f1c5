"""Per-connection bounds of a real `distillguard serve`: request head size and field count (431), head and
body read timeouts (408 / close), with the server's RSS under 40 MB headers and /healthz answering
throughout."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from distillguard.gateway.keys import KeyStore
from distillguard.gateway.stub import StubUpstream, ThreadedServer
from gateway_proc import spawn_serve


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    tmp = tmp_path_factory.mktemp("limits")
    key = KeyStore(tmp / "keys.json").create("acct")
    with ThreadedServer(StubUpstream()) as up:
        proc, url = spawn_serve(tmp, up.url + "/v1", "--header-timeout", "1", "--body-timeout", "1")
        try:
            yield proc, url, key
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _status(sock: socket.socket) -> str:
    try:
        head = sock.recv(200)
    except OSError:
        return "closed"
    return head.split(b" ")[1].decode() if head else "closed"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_1mb_header_is_refused_and_healthz_stays_fast(gw) -> None:  # type: ignore[no-untyped-def]
    _, url, _ = gw
    with socket.create_connection(("127.0.0.1", _port(url)), timeout=10) as s:
        try:
            s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n")
        except OSError:  # refused and closed before the whole header went out
            pass
        assert _status(s) in ("431", "closed")
    t0 = time.monotonic()
    assert httpx.get(url + "/healthz", timeout=5).status_code == 200
    assert time.monotonic() - t0 < 0.5


def test_a_head_that_arrives_whole_but_too_big_is_431(gw) -> None:  # type: ignore[no-untyped-def]
    _, url, _ = gw
    with socket.create_connection(("127.0.0.1", _port(url)), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
        assert _status(s) == "431"
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(101))
    with socket.create_connection(("127.0.0.1", _port(url)), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        assert _status(s) == "431"
    r = httpx.get(url + "/healthz", headers={f"X-H{i}": "v" for i in range(90)}, timeout=30)
    assert r.status_code == 200 and r.json()["connections_refused"]["too_many_headers"] >= 1


def test_40mb_headers_do_not_grow_the_server(gw) -> None:  # type: ignore[no-untyped-def]
    proc, url, _ = gw
    before = rss_kib(proc.pid)
    chunk = b"a" * (1 << 20)

    def send() -> None:
        try:
            with socket.create_connection(("127.0.0.1", _port(url)), timeout=10) as s:
                s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ")
                for _ in range(40):
                    s.sendall(chunk)
        except OSError:
            pass

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    grown = rss_kib(proc.pid) - before
    assert grown < 64 * 1024, f"RSS grew by {grown} KiB"  # 8 x 40 MB would be 320 MB buffered


def test_silent_and_slow_clients_are_cut_off(gw) -> None:  # type: ignore[no-untyped-def]
    _, url, key = gw
    idle = [socket.create_connection(("127.0.0.1", _port(url)), timeout=10) for _ in range(50)]
    drip = socket.create_connection(("127.0.0.1", _port(url)), timeout=10)
    body = socket.create_connection(("127.0.0.1", _port(url)), timeout=10)
    body.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode() +
                 b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\":")
    t0 = time.monotonic()
    for c in b"GET /v1/models HTTP/1.1\r\n":  # a byte every 0.1 s: never a whole head in 1 s
        try:
            drip.sendall(bytes([c]))
        except OSError:
            break
        time.sleep(0.1)
        if time.monotonic() - t0 > 3:
            break
    assert _status(drip) in ("408", "closed")
    assert [_status(s) for s in idle] == ["408"] * 50
    assert _status(body) in ("closed", "400")
    for s in [*idle, drip, body]:
        s.close()
    assert httpx.get(url + "/healthz", timeout=30).json()["connections_refused"]["request_timeout"] >= 51


def test_a_kept_alive_connection_is_timed_from_each_head(gw) -> None:  # type: ignore[no-untyped-def]
    """One timer per connection is moved on, not re-created per request: a second request on a kept-alive
    connection still has the whole header timeout from its own first byte, and no more."""
    _, url, _ = gw
    s = socket.create_connection(("127.0.0.1", _port(url)), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = b""
    while b"\r\n\r\n" not in first or len(first.split(b"\r\n\r\n", 1)[1]) < int(
            first.lower().split(b"content-length: ")[1].split(b"\r\n")[0]):
        first += s.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    time.sleep(0.6)  # past most of the first request's header timeout (1 s)
    t0 = time.monotonic()
    s.sendall(b"GET /healthz HTTP/1.1\r\n")  # the start of a second head: then nothing more
    head = s.recv(200)
    waited = time.monotonic() - t0
    assert head.startswith(b"HTTP/1.1 408") and 0.9 <= waited < 3, (head[:40], waited)
    s.close()
