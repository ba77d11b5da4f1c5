"""Shared enforcement state between replicas: an append-only event stream.

Analyst actions (block a campaign, allow an account), accounts assigned to a campaign by their
templates, and policy text are published as small JSON events. Every replica polls the stream in the
background and applies each event to its own in-process state, so the request path never waits on it.
In memory (one replica) the bus is a list; with Redis it is a stream (`XADD`/`XREAD`) that a new
replica reads from the start.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import orjson

from .limits import StateUnavailable

Event = dict[str, Any]


class EventBus(Protocol):
    """Where enforcement state changes are published and read back."""

    def publish(self, event: Event) -> None:
        """Append one event for every replica (including this one)."""
        ...

    def poll(self) -> list[Event]:
        """Events published since the last poll, oldest first."""
        ...


class MemoryBus:
    """A single-process bus.

    >>> bus = MemoryBus(); bus.publish({"op": "block_campaign", "campaign_id": "C1"}); bus.poll()
    [{'op': 'block_campaign', 'campaign_id': 'C1'}]
    """

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._lock = threading.Lock()

    def publish(self, event: Event) -> None:
        """Append one event."""
        with self._lock:
            self._events.append(event)

    def poll(self) -> list[Event]:
        """Events since the last poll."""
        with self._lock:
            out, self._events = self._events, []
        return out


class RedisBus:
    """A Redis stream shared by all replicas; capped at `maxlen` events."""

    def __init__(self, url: str, stream: str = "dg:events", maxlen: int = 1_000_000, timeout: float = 0.5) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._r = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                       retry=Retry(NoBackoff(), 1))
        self._stream, self._maxlen = stream, maxlen
        self._last = "0-0"
        self._errors = (redis.RedisError, OSError)

    def publish(self, event: Event) -> None:
        """XADD one event."""
        try:
            self._r.xadd(self._stream, {"e": orjson.dumps(event)}, maxlen=self._maxlen, approximate=True)
        except self._errors as e:
            raise StateUnavailable(f"redis: {e}") from None

    def poll(self) -> list[Event]:
        """XREAD everything after the last id seen."""
        out: list[Event] = []
        try:
            while True:
                resp = self._r.xread({self._stream: self._last}, count=10_000)
                if not resp:
                    return out
                for msg_id, fields in resp[0][1]:
                    self._last = msg_id.decode() if isinstance(msg_id, bytes) else msg_id
                    try:
                        out.append(orjson.loads(fields[b"e"]))
                    except (orjson.JSONDecodeError, KeyError, TypeError):  # the caller skips and reports it
                        out.append({"op": None, "malformed": self._last})
        except self._errors as e:
            raise StateUnavailable(f"redis: {e}") from None
