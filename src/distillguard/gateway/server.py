"""The gateway's HTTP server: uvicorn, with each response leaving in as few TCP segments as possible.

uvicorn's HTTP protocols (httptools and h11 alike) call `transport.write` once for the status line and
headers (`http.response.start`) and again for each body message, so a plain JSON answer leaves as two
segments. asyncio and uvloop set `TCP_NODELAY` on accepted sockets, so on a stock Linux loopback the second
segment is not held back; but wherever Nagle's algorithm is in force on the accepted socket (another event
loop, a socket handed over by a supervisor, a kernel or sandbox that resets the option), the body waits
for the client's delayed ACK of the headers: ~40 ms per request on a fresh connection. Two guards:

- `TCP_NODELAY` is set explicitly on every accepted socket;
- writes made within one turn of the event loop are joined and written once at the end of that turn, so
  a non-streamed response (start and body sent back to back) is one `send` and one segment, while each
  chunk of a stream still leaves as soon as it is produced (chunks come from different turns).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools not installed: h11 only
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


class CoalescingTransport:
    """A transport whose writes within one event-loop turn go out as one write (see the module doc)."""

    __slots__ = ("_t", "_loop", "_buf", "_size")

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._t = transport
        self._loop = loop
        self._buf: list[bytes] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue `data`; the first write of a turn schedules the flush."""
        if not data:
            return
        if not self._buf:
            self._loop.call_soon(self._flush)
        self._buf.append(bytes(data) if not isinstance(data, bytes) else data)
        self._size += len(data)

    def writelines(self, lines: Any) -> None:
        """Queue each of `lines`."""
        for data in lines:
            self.write(data)

    def _flush(self) -> None:
        buf = self._buf
        if not buf:
            return
        data = buf[0] if len(buf) == 1 else b"".join(buf)
        self._buf, self._size = [], 0
        if not self._t.is_closing():
            self._t.write(data)

    def get_write_buffer_size(self) -> int:
        """Bytes not yet handed to the socket (queued here or in the transport)."""
        return self._size + self._t.get_write_buffer_size()

    def close(self) -> None:
        """Write what is queued, then close."""
        self._flush()
        self._t.close()

    def write_eof(self) -> None:
        """Write what is queued, then half-close."""
        self._flush()
        self._t.write_eof()

    def abort(self) -> None:
        """Drop what is queued and close at once."""
        self._buf, self._size = [], 0
        self._t.abort()

    def __getattr__(self, name: str) -> Any:  # everything else is the transport's own
        return getattr(self._t, name)


def _nodelay(transport: Any) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not a TCP socket after all
            pass


class CoalescingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with TCP_NODELAY and coalesced writes."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Set TCP_NODELAY and wrap the transport."""
        _nodelay(transport)
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]


if HttpToolsProtocol is not None:
    class CoalescingHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[valid-type,misc]
        """uvicorn's httptools protocol with TCP_NODELAY and coalesced writes."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            """Set TCP_NODELAY and wrap the transport."""
            _nodelay(transport)
            super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
else:
    CoalescingHttpToolsProtocol = None  # type: ignore[assignment,misc]


def http_protocol() -> type[asyncio.Protocol]:
    """The fastest available coalescing HTTP protocol class (httptools, else h11)."""
    return CoalescingHttpToolsProtocol or CoalescingH11Protocol  # type: ignore[return-value]


def event_loop() -> str:
    """uvicorn's loop setting: uvloop when installed."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"
