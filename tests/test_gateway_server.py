"""The gateway's HTTP server: a non-streamed response leaves in one TCP segment, streams still stream.

Counted by the kernel (TCP_INFO `tcpi_data_segs_in` on the client's socket, Linux), on real uvicorn
servers on 127.0.0.1.
"""

from __future__ import annotations

import socket
import struct
import sys
from typing import Any

import pytest

from distillguard.gateway.server import CoalescingH11Protocol, http_protocol
from distillguard.gateway.stub import ThreadedServer

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="TCP_INFO segment counts are Linux's")
_DATA_SEGS_IN = 152  # offset of tcpi_data_segs_in in struct tcp_info (Linux >= 4.6)


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """JSON in two ASGI messages (start, body) like Starlette's Response; /stream sends three chunks."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/stream":
        import asyncio

        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for i in range(3):
            await send({"type": "http.response.body", "body": b"chunk%d\n" % i, "more_body": True})
            await asyncio.sleep(0.05)
        await send({"type": "http.response.body", "body": b""})
        return
    body = b'{"ok": true}'
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


def _get(port: int, path: str) -> tuple[bytes, int]:
    """GET over a fresh connection: (the raw response, data segments the client received)."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return data, struct.unpack_from("I", info, _DATA_SEGS_IN)[0]


@pytest.mark.parametrize("protocol", [http_protocol(), CoalescingH11Protocol])
def test_a_response_leaves_in_one_segment(protocol: Any) -> None:
    with ThreadedServer(_app, http=protocol) as srv:
        for _ in range(3):
            data, segs = _get(srv.port, "/")
            assert data.startswith(b"HTTP/1.1 200") and data.endswith(b'{"ok": true}')
            assert segs == 1


def test_plain_uvicorn_sends_two_segments() -> None:
    """The control: what the coalescing protocol changes (headers and body as separate segments)."""
    with ThreadedServer(_app, http="h11") as srv:
        assert _get(srv.port, "/")[1] >= 2


def test_a_stream_still_leaves_chunk_by_chunk() -> None:
    with ThreadedServer(_app, http=http_protocol()) as srv:
        data, segs = _get(srv.port, "/stream")
        assert b"chunk0" in data and b"chunk2" in data
        assert segs >= 3  # not held back until the end
