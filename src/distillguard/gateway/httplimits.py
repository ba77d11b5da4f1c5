"""Bounds on what one client connection can make the server hold: header size and count, and time.

uvicorn (0.54) bounds neither the request head nor the time a client takes to send it: a 40 MB header is
buffered whole, a connection that sends nothing (or a byte every few seconds) is held forever, and ~1,000
such connections exhaust the process's file descriptors. `limited(protocol_class, HttpLimits(...))` adds,
per connection:

- the request head (request line + headers) at most `max_header_bytes` (431, counted as it arrives, so a
  huge header is refused after at most one read beyond the limit, never buffered whole);
- at most `max_headers` header fields (431);
- the head must arrive within `header_timeout_s` of the connection (or of the end of the previous request
  on a kept-alive connection): 408, then close;
- the body must arrive within `body_timeout_s` of the head: the connection is closed (the request then
  ends as a client disconnect, never as an answered exchange).

Answers are OpenAI-shaped JSON errors with `Connection: close`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from .openai import error_body

# connections refused by each limit, process-wide (shown by /healthz)
REFUSED = {"request_header_too_large": 0, "too_many_headers": 0, "request_timeout": 0, "body_timeout": 0}
_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


@dataclass(frozen=True)
class HttpLimits:
    """Per-connection limits (see the module doc)."""

    max_header_bytes: int = 64 * 1024
    max_headers: int = 100
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0


class _Refuse(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class LimitsMixin:
    """Mixed in before uvicorn's httptools protocol (see `limited`)."""

    limits: HttpLimits = HttpLimits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._awaiting_head = True
        self._head_bytes = 0
        self._head_fields = 0
        self._closed_by_limit = False
        self._refusal: _Refuse | None = None
        # one lazily moved timer per connection (see `_arm`): `_due` runs at `_deadline` unless disarmed
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._deadline = 0.0
        self._due: Any = None
        super().connection_made(transport)  # type: ignore[misc]
        self._arm(self.limits.header_timeout_s, self._head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._timer is not None:  # nothing of this connection waits on the loop's timers
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        if self._closed_by_limit:
            return
        if self._awaiting_head:
            self._head_bytes += len(data)
            if self._due is None:
                self._arm(self.limits.header_timeout_s, self._head_timeout)
        try:
            super().data_received(data)  # type: ignore[misc]
        except _Refuse as e:  # (httptools usually wraps it: see send_400_response)
            self._refuse(e.status, e.code, e.message)
            return
        if self._closed_by_limit:
            return
        if self._awaiting_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(431, "request_header_too_large",
                         f"The request headers exceed {self.limits.max_header_bytes} bytes.")

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error, which is what a limit raised inside a parser callback becomes."""
        r = self._refusal
        if r is not None:
            self._refuse(r.status, r.code, r.message)
        else:
            super().send_400_response(msg)  # type: ignore[misc]

    def on_message_begin(self) -> None:
        self._head_fields = self._head_size = 0
        super().on_message_begin()  # type: ignore[misc]

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)  # type: ignore[misc]

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_fields += 1
        if self._head_fields > self.limits.max_headers:
            self._refusal = _Refuse(431, "too_many_headers", f"At most {self.limits.max_headers} header fields.")
            raise self._refusal
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)  # type: ignore[misc]

    def on_headers_complete(self) -> None:
        self._awaiting_head = False
        self._disarm()
        self._arm(self.limits.body_timeout_s, self._body_timeout)
        super().on_headers_complete()  # type: ignore[misc]

    def on_message_complete(self) -> None:
        self._disarm()
        self._awaiting_head, self._head_bytes = True, 0  # the next request's head (kept-alive connection)
        super().on_message_complete()  # type: ignore[misc]

    # -- helpers -----------------------------------------------------------------------------------------
    def _count(self, n: int) -> None:
        self._head_size += n  # the head parsed so far, when it arrived in fewer reads than the limit shows
        if self._head_size > self.limits.max_header_bytes:
            self._refusal = _Refuse(431, "request_header_too_large",
                                    f"The request headers exceed {self.limits.max_header_bytes} bytes.")
            raise self._refusal

    def _arm(self, delay: float, fn: Any) -> None:
        """Run `fn` in `delay` seconds unless disarmed first. The loop timer is moved only when the new deadline
        comes before it: re-armed twice per request (head, then body), a timer cancelled and created each time
        cost ~6 us of the request; now one fires every header timeout at most and moves itself on."""
        if delay <= 0:
            self._disarm()
            return
        loop = self.loop  # type: ignore[attr-defined]
        self._deadline, self._due = loop.time() + delay, fn
        if self._timer is None or self._timer_at > self._deadline:
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._timer_at = loop.call_at(self._deadline, self._fire), self._deadline

    def _disarm(self) -> None:
        self._due = None

    def _fire(self) -> None:
        self._timer = None
        fn = self._due
        if fn is None:
            return
        loop = self.loop  # type: ignore[attr-defined]
        if loop.time() < self._deadline - 0.002:  # armed again since this timer was set: wait for the new one
            # (the loop's timers have millisecond resolution: within 2 ms the deadline counts as reached)
            self._timer, self._timer_at = loop.call_at(self._deadline, self._fire), self._deadline
            return
        self._due = None
        fn()

    def _head_timeout(self) -> None:
        if self._awaiting_head and not self._closed_by_limit:
            cycle = getattr(self, "cycle", None)
            if cycle is not None and not cycle.response_complete:  # still answering the previous request
                return
            self._refuse(408, "request_timeout",
                         f"The request headers did not arrive within {self.limits.header_timeout_s:g} s.")

    def _body_timeout(self) -> None:
        cycle = getattr(self, "cycle", None)
        if cycle is not None and cycle.more_body and not self._closed_by_limit:
            REFUSED["body_timeout"] += 1
            self._closed_by_limit = True
            self.transport.close()  # type: ignore[attr-defined]

    def _refuse(self, status: int, code: str, message: str) -> None:
        if self._closed_by_limit:
            return
        REFUSED[code] += 1
        self._closed_by_limit = True
        self._disarm()
        body = error_body(status, code, message)
        t = self.transport  # type: ignore[attr-defined]
        if not t.is_closing():
            t.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                    b"connection: close\r\n\r\n" % (status, _REASONS[status], len(body)) + body)
            t.close()


def limited(protocol: type[asyncio.Protocol], limits: HttpLimits) -> type[asyncio.Protocol]:
    """`protocol` (uvicorn's httptools protocol or a subclass) with `limits`; h11 is returned as is (give
    uvicorn `h11_max_incomplete_event_size` for it)."""
    if not hasattr(protocol, "on_header"):
        return protocol
    return type(f"Limited{protocol.__name__}", (LimitsMixin, protocol), {"limits": limits})


def raise_fd_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit (idle connections are closed by the
    timeouts above, but a burst of them must not starve the store and the upstream of descriptors)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
        except (ValueError, OSError):
            pass
    return soft
