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
import contextlib
import gc
import logging
import os
import signal
import socket
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("distillguard.gateway")

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


# gen-0 collection threshold of a serving process (CPython's default: 700). A request keeps ~40 container
# objects alive while in flight, so with 700 a few requests in flight already trigger a collection: every
# ~17 requests at 32 in flight, 6 % of the server's CPU. 5,000 sits above the in-flight working set, so
# collections come ~50x less often, each ~1 ms of CPU (a gateway holds no large cyclic structures).
GC_GEN0_THRESHOLD = 5_000


def settle_heap() -> None:
    """Once a serving process has started: collect, then move every object alive into the permanent generation
    (`gc.freeze`), and raise the gen-0 threshold. The start-up heap (modules, DuckDB and Arrow bindings, policy,
    detection output: ~55k objects) is no longer scanned by full collections, which otherwise ran every ~2,500
    requests for ~30 ms of CPU with the event loop stopped (the gateway's tail latency)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])


def event_loop() -> str:
    """uvicorn's loop setting: uvloop when installed."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def worker_db(db: str, k: int) -> str:
    """The store of worker `k` of `serve --workers N`: worker 0 logs into `db`, worker k into `<stem>.w<k><suffix>`
    (DuckDB allows one writing process per file; analyse the union, as with replicas)."""
    if k == 0 or db == ":memory:":
        return db
    p = Path(db)
    return str(p.with_name(f"{p.stem}.w{k}{p.suffix}"))


def serve_workers(n: int, build_app: Callable[[int], Any], host: str, port: int, **uvicorn_kwargs: Any) -> None:
    """Run `n` worker processes on one listening socket (bound here, inherited by fork), each serving the app
    `build_app(k)` builds in the worker itself (its own event loop, threads, store and fingerprint worker).
    SIGTERM / SIGINT are passed on (each worker drains gracefully); a worker that dies is started again."""
    import uvicorn

    sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET,
                                backlog=2048)
    sock.set_inheritable(True)
    children: dict[int, int] = {}
    stopping = False

    def spawn(k: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                server = uvicorn.Server(uvicorn.Config(build_app(k), **uvicorn_kwargs))
                server.run(sockets=[sock])
                code = 0
            except BaseException:  # noqa: BLE001 - a worker must never return into the parent's code
                traceback.print_exc()
            finally:
                os._exit(code)
        children[pid] = k

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    started: dict[int, float] = {}
    for k in range(n):
        started[k] = time.monotonic()
        spawn(k)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failed = False
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        k = children.pop(pid, None)
        if k is None or stopping:
            continue
        if time.monotonic() - started[k] < 5:  # died while starting: a configuration problem, not a crash
            log.error("gateway worker %d (pid %d) failed to start (status %d); stopping", k, pid, status)
            failed = True
            stop(signal.SIGTERM, None)
            continue
        log.error("gateway worker %d (pid %d) exited with status %d; starting it again", k, pid, status)
        started[k] = time.monotonic()
        spawn(k)
    sock.close()
    if failed:
        raise SystemExit(1)


def preflight(config: Any) -> None:
    """Read what a gateway would read at start (keys, policy, detection output, upstream URL), without
    starting anything: a bad file is reported once by the parent of `serve --workers`."""
    from ..policy import load_detection, load_policy
    from .keys import KeyStore
    from .upstream import make_upstream

    KeyStore(config.keys)
    if config.policy:
        load_policy(config.policy)
    if config.detect:
        load_detection(config.detect)
    make_upstream(config.upstream, config.upstream_key, config.client, config.upstream_timeout_s)
