"""The upstream OpenAI-compatible server, behind a one-method interface.

`auto` (the default) is a minimal httptools-based HTTP/1.1 client for an http:// upstream (~25 us of CPU
per request on loopback against ~80 us for aiohttp), aiohttp for https; aiohttp added ~0.2 ms per proxied
request against ~0.9 ms for httpx (`bench/gateway.py --client ...` re-measures them). The gateway's own
upstream credential is attached here and never copied into a response.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from ..errors import UsageError


class UpstreamError(Exception):
    """The upstream could not be reached or broke the connection."""


class UpstreamAuthError(UpstreamError):
    """The upstream refused the gateway's own credential (401/403): the operator's configuration, not the
    client's key; clients get 502 `upstream_auth_failed`, never the upstream's `invalid_api_key`."""


UPSTREAM_AUTH_STATUSES = frozenset({401, 403})


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer (or finish answering) within the gateway's upstream timeout."""


def _wrap(e: BaseException) -> UpstreamError:
    cls = UpstreamTimeout if isinstance(e, TimeoutError) or "Timeout" in type(e).__name__ else UpstreamError
    return cls(f"{type(e).__name__}: {e}")


@dataclass
class UpstreamResponse:
    """Status, content type and the body as an async iterator of chunks (as they arrive)."""

    status: int
    content_type: str
    chunks: AsyncIterator[bytes]

    async def read(self) -> bytes:
        """The whole body."""
        return b"".join([c async for c in self.chunks])


class Upstream(Protocol):
    """An OpenAI-compatible server."""

    async def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> UpstreamResponse:
        """Send one request; the body of the response is streamed."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def _base(url: str) -> str:
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--upstream: expected an http(s) URL, got {url!r}")
    return url[:-3] if url.endswith("/v1") else url


class AiohttpUpstream:
    """aiohttp client with a pooled connector (created lazily inside the running event loop)."""

    def __init__(self, url: str, api_key: str | None, timeout_s: float = 600.0, max_connections: int = 512) -> None:
        self.base = _base(url)
        self._auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout_s, self._max = timeout_s, max_connections
        self._session = None  # type: ignore[var-annotated]

    async def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> UpstreamResponse:
        """Send one request through the pooled session."""
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(total=self._timeout_s, sock_connect=10),
                auto_decompress=True, skip_auto_headers=("User-Agent",))
        try:
            resp = await self._session.request(method, self.base + path, data=body,
                                               headers={**headers, **self._auth})
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise _wrap(e) from None

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in resp.content.iter_any():
                    yield chunk
            except (aiohttp.ClientError, TimeoutError) as e:
                raise _wrap(e) from None
            finally:
                resp.release()

        return UpstreamResponse(resp.status, resp.headers.get("Content-Type", "application/json"), chunks())

    async def close(self) -> None:
        """Close the session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


class HttpxUpstream:
    """httpx client (kept for measurement and for environments without aiohttp)."""

    def __init__(self, url: str, api_key: str | None, timeout_s: float = 600.0, max_connections: int = 512) -> None:
        import httpx

        self.base = _base(url)
        self._auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=10),
                                         limits=httpx.Limits(max_connections=max_connections))
        self._errors = (httpx.HTTPError,)

    async def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> UpstreamResponse:
        """Send one request, streaming the response."""
        req = self._client.build_request(method, self.base + path, content=body, headers={**headers, **self._auth})
        try:
            resp = await self._client.send(req, stream=True)
        except self._errors as e:
            raise _wrap(e) from None

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in resp.aiter_bytes():
                    yield chunk
            except self._errors as e:
                raise _wrap(e) from None
            finally:
                await resp.aclose()

        return UpstreamResponse(resp.status_code, resp.headers.get("content-type", "application/json"), chunks())

    async def close(self) -> None:
        """Close the client."""
        await self._client.aclose()


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection to the upstream, its response parsed by httptools."""

    def __init__(self) -> None:
        import httptools

        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.content_type = b"application/json"
        self._field = b""
        self.head: asyncio.Future[None] | None = None
        self.body: deque[bytes] = deque()
        self.done = False
        self.got_bytes = False
        self.error: UpstreamError | None = None
        self.waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except Exception as e:  # noqa: BLE001 - httptools' parse errors
            self._fail(UpstreamError(f"bad HTTP response from the upstream: {e}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.done:
            why = f": {exc}" if exc else ""
            self._fail(UpstreamError(f"ServerDisconnectedError: the upstream closed the connection{why}"))

    # -- httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"content-type":
            self.content_type = value

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        if self.head is not None and not self.head.done():
            self.head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self._wake()

    def on_message_complete(self) -> None:
        self.done = True
        if not self.parser.should_keep_alive():
            self.close()
        self._wake()

    # -- helpers
    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _fail(self, e: UpstreamError) -> None:
        if self.error is None:  # the first cause stands (a timeout closes the connection: still a timeout)
            self.error = e
        if self.head is not None and not self.head.done():
            self.head.set_exception(e)
        self._wake()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class HttptoolsUpstream:
    """A minimal keep-alive HTTP/1.1 client for a plain-http upstream: one `write` per request, responses
    parsed by httptools (chunked or sized, streamed as they arrive). On loopback it costs ~25 us of CPU
    per request against ~80 us for aiohttp. An https upstream uses aiohttp."""

    IDLE_S = 2.0  # an idle connection older than this is closed, not reused (servers drop them after ~5 s)

    def __init__(self, url: str, api_key: str | None, timeout_s: float = 600.0) -> None:
        from urllib.parse import urlsplit

        base = _base(url)
        u = urlsplit(base)
        if u.scheme != "http" or not u.hostname:
            raise UsageError(f"--client httptools: expected an http:// upstream URL, got {url!r}")
        self.host, self.port = u.hostname, u.port or 80
        self.prefix = u.path.rstrip("/")
        netloc = f"{u.hostname}:{u.port}" if u.port else u.hostname
        self._head_fixed = f"Host: {netloc}\r\n".encode() + (f"Authorization: Bearer {api_key}\r\n".encode()
                                                              if api_key else b"")
        self._timeout_s = timeout_s
        self._idle: deque[_Conn] = deque()

    async def _connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(loop.create_connection(_Conn, self.host, self.port), 10)
        except (OSError, TimeoutError) as e:
            raise _wrap(e) from None
        return conn

    def _take_idle(self, now: float) -> _Conn | None:
        while self._idle:
            c = self._idle.pop()  # the most recently used: warmest, least likely to have been dropped
            if not c.closed and now - c.idle_since < self.IDLE_S:
                return c
            c.close()
        return None

    async def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> UpstreamResponse:
        """Send one request on a pooled connection; the response body is streamed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        head = [f"{method} {self.prefix}{path} HTTP/1.1\r\n".encode(), self._head_fixed]
        for k, v in headers.items():
            if "\r" in v or "\n" in v or k.lower() == "authorization":
                continue
            head.append(f"{k}: {v}\r\n".encode("latin-1", "replace"))
        head.append(b"Content-Length: %d\r\n\r\n" % len(body or b""))
        data = b"".join(head) + (body or b"")
        for attempt in (0, 1):
            conn = self._take_idle(loop.time())
            reused = conn is not None
            if conn is None:
                conn = await self._connect()
            conn._reset()
            conn.head = loop.create_future()
            timer = loop.call_at(deadline, self._expire, conn)
            assert conn.transport is not None
            conn.transport.write(data)
            try:
                await conn.head
            except UpstreamError:
                timer.cancel()
                conn.close()
                # a kept-alive connection the server had just dropped: nothing was answered, try once more
                if reused and not conn.got_bytes and attempt == 0 and not isinstance(conn.error, UpstreamTimeout):
                    continue
                raise
            except BaseException:  # cancelled (the client went away): the connection is spent
                timer.cancel()
                conn.close()
                raise
            break
        ctype = conn.content_type.decode("latin-1")
        return UpstreamResponse(conn.status, ctype, self._chunks(conn, timer))

    @staticmethod
    def _expire(conn: _Conn) -> None:
        if not conn.done:
            conn._fail(UpstreamTimeout("TimeoutError: the upstream did not answer within the upstream timeout"))
            conn.close()

    async def _chunks(self, conn: _Conn, timer: asyncio.TimerHandle) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        finished = False
        try:
            while True:
                while conn.body:
                    yield conn.body.popleft()
                if conn.done:
                    finished = True
                    return
                if conn.error is not None:
                    raise conn.error
                conn.waiter = loop.create_future()
                await conn.waiter
                conn.waiter = None
        finally:
            timer.cancel()
            if finished and not conn.closed:
                conn.idle_since = loop.time()
                self._idle.append(conn)
            else:  # the reader stopped early (client gone) or the upstream failed: the connection is spent
                conn.close()

    async def close(self) -> None:
        """Close the pooled connections."""
        while self._idle:
            self._idle.pop().close()


def make_upstream(url: str, api_key: str | None, client: str = "auto", timeout_s: float = 600.0) -> Upstream:
    """Build the upstream client by name (`auto`, `httptools`, `aiohttp` or `httpx`); `timeout_s` bounds a
    whole request. `auto`: httptools for an http:// upstream when httptools is installed, else aiohttp."""
    if timeout_s <= 0:
        raise UsageError(f"--upstream-timeout: expected a positive number of seconds, got {timeout_s}")
    if client == "auto":
        try:
            import httptools  # noqa: F401
        except ImportError:
            client = "aiohttp"
        else:
            client = "httptools" if _base(url).startswith("http://") else "aiohttp"
    if client == "httptools":
        return HttptoolsUpstream(url, api_key, timeout_s)
    if client == "aiohttp":
        return AiohttpUpstream(url, api_key, timeout_s)
    if client == "httpx":
        return HttpxUpstream(url, api_key, timeout_s)
    raise UsageError(f"--client: expected 'auto', 'httptools', 'aiohttp' or 'httpx', got {client!r}")
