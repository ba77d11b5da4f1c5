"""The upstream OpenAI-compatible server, behind a one-method interface.

aiohttp is the default: on loopback it added ~0.2 ms per proxied request against ~0.9 ms for httpx
(`bench/gateway.py --client httpx` re-measures it). The gateway's own upstream credential is attached
here and never copied into a response.
"""

from __future__ import annotations

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


def make_upstream(url: str, api_key: str | None, client: str = "aiohttp", timeout_s: float = 600.0) -> Upstream:
    """Build the upstream client by name (`aiohttp` or `httpx`); `timeout_s` bounds a whole request."""
    if timeout_s <= 0:
        raise UsageError(f"--upstream-timeout: expected a positive number of seconds, got {timeout_s}")
    if client == "aiohttp":
        return AiohttpUpstream(url, api_key, timeout_s)
    if client == "httpx":
        return HttpxUpstream(url, api_key, timeout_s)
    raise UsageError(f"--client: expected 'aiohttp' or 'httpx', got {client!r}")
