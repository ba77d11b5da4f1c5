"""Per-account concurrency: at most `cap` requests of one account in flight at once in this replica.

One account holding hundreds of slow requests (a slow or hanging model, a slow reader of a stream) would
otherwise take the upstream connection pool from every other account. A request over the cap is refused
at once with 429 `too_many_concurrent_requests`; its slot is released when its response has been sent
(for a stream: when the stream ends, completes or is cut).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class InFlight:
    """Counts of requests in flight per account (the event loop's thread only: no lock).

    >>> f = InFlight(1); f.acquire("a"), f.acquire("a"), f.acquire("b")
    (True, False, True)
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.refused = 0
        self._n: dict[str, int] = {}

    def acquire(self, account: str) -> bool:
        """Take a slot for `account`; False if it has `cap` requests in flight (0 = no cap)."""
        n = self._n.get(account, 0)
        if self.cap and n >= self.cap:
            self.refused += 1
            return False
        self._n[account] = n + 1
        return True

    def release(self, account: str) -> None:
        """Give a slot back."""
        n = self._n.get(account, 0) - 1
        if n > 0:
            self._n[account] = n
        else:
            self._n.pop(account, None)

    def held(self, account: str) -> int:
        """Requests of `account` in flight."""
        return self._n.get(account, 0)


class Releasing:
    """An ASGI response that calls `release` once, after it has been sent (or failed to be)."""

    def __init__(self, response: Any, release: Callable[[], None]) -> None:
        self.response = response
        self._release: Callable[[], None] | None = release

    def release(self) -> None:
        if self._release is not None:
            fn, self._release = self._release, None
            fn()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.response(scope, receive, send)
        finally:
            self.release()

    def __del__(self) -> None:  # never sent (the client went away first): the slot is not lost
        self.release()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.response, name)
