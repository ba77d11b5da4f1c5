"""Rate limits on failed authentication, and the request id every gateway response carries.

`AuthFailures` counts failed authentications per client address in a sliding window; once a client has
failed `limit` times, every request from it that carries credentials is refused with 429 until the window
has passed, without checking them (so guessing stops being informative). The gateway's API keys, the
dashboard and the TAXII server each use one. A client behind the same address as an attacker (a NAT) is
refused too: that is the price of the limit; raise it, or put the gateway behind a proxy that sets
`X-Forwarded-For` (uvicorn trusts it from `--forwarded-allow-ips` only).

`RequestIds` is an ASGI middleware: it gives each HTTP request an id (`scope["dg.request_id"]`, what the
gateway logs as `request_id`) and adds `X-Request-Id: <id>` to the response, whatever answers it (an
error, a stream, the dashboard, a 404). Ids are generated, never taken from the client: `request_id` is
unique per exchange in the store (a repeated id would be deduplicated as the same exchange, so a client
choosing its ids could hide its own traffic). A client's own id (`X-Client-Request-Id`, or
`X-Request-Id` when it sends one) is echoed back in `X-Client-Request-Id` when it is short and plain.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

SCOPE_KEY = "dg.request_id"
_CLIENT_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")


class AuthFailures:
    """Failed authentications per client over a sliding window.

    >>> g = AuthFailures(limit=2, window_s=60, clock=lambda: 0.0)
    >>> g.failed("1.2.3.4"); g.retry_after("1.2.3.4"), g.failed("1.2.3.4"), g.retry_after("1.2.3.4")
    (0.0, None, 60.0)
    """

    def __init__(self, limit: int = 20, window_s: float = 60.0, max_clients: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window_s, self.max_clients, self.clock = limit, window_s, max_clients, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.refused = 0

    def retry_after(self, client: str) -> float:
        """Seconds until `client` may try again (0: it may now)."""
        if self.limit <= 0:
            return 0.0
        q = self._seen.get(client)
        if q is None or len(q) < self.limit:
            return 0.0
        now = self.clock()
        with self._lock:
            while q and q[0] <= now - self.window_s:
                q.popleft()
            if len(q) < self.limit:
                return 0.0
            self.refused += 1
            return max(1.0, q[0] + self.window_s - now)

    def failed(self, client: str) -> None:
        """Count one failed authentication from `client`."""
        if self.limit <= 0:
            return
        now = self.clock()
        with self._lock:
            q = self._seen.get(client)
            if q is None:
                if len(self._seen) >= self.max_clients:
                    self._prune(now)
                q = self._seen[client] = deque(maxlen=self.limit)
            q.append(now)

    def _prune(self, now: float) -> None:
        for k in [k for k, q in self._seen.items() if not q or q[-1] <= now - self.window_s]:
            del self._seen[k]
        if len(self._seen) >= self.max_clients:  # still full of recent failures: forget the oldest half
            for k in sorted(self._seen, key=lambda k: self._seen[k][-1])[: len(self._seen) // 2]:
                del self._seen[k]


class RequestIds:
    """ASGI middleware: a generated request id per HTTP request, sent back as `X-Request-Id`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._prefix = os.urandom(6).hex()  # unique per process start, cheap per request
        self._seq = itertools.count()

    def new_id(self) -> str:
        """A fresh request id."""
        return f"{self._prefix}{next(self._seq):010x}"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = self.new_id()
        scope[SCOPE_KEY] = rid
        extra = [(b"x-request-id", rid.encode())]
        client_id = None
        for k, v in scope["headers"]:
            if k in (b"x-client-request-id", b"x-request-id") and _CLIENT_ID.fullmatch(v):
                client_id = v
                if k == b"x-client-request-id":
                    break
        if client_id is not None:
            extra.append((b"x-client-request-id", client_id))

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0].lower() != b"x-request-id"]
                message["headers"] = headers + extra
            await send(message)

        await self.app(scope, receive, send_with_id)
