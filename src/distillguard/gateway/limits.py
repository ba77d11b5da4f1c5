"""Token buckets behind a one-method interface: in memory (default) or in Redis (shared by replicas).

A `Charge` names a bucket (key, refill rate per second, burst capacity) and what to take from it.
`Limiter.take(charges, now)` takes every checked charge only if all checked buckets have room (all or
nothing), and always debits the unchecked ones (tokens billed after a response was served, which may
push a bucket below zero so the next request waits). Time is passed in, so the backtest can replay
history with a simulated clock through the same code.

Redis: one Lua script does the whole multi-bucket take atomically; unchecked debits are queued and sent
pipelined with the next checked call, so a request costs one round trip. When Redis fails,
`ResilientLimiter` either falls back to local buckets (`open`) or refuses (`closed`).
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from ..errors import DistillGuardError


class StateUnavailable(DistillGuardError):
    """The shared state backend (Redis) cannot be reached."""


class Charge(NamedTuple):  # a NamedTuple, not a dataclass: several are built per request
    """Take `cost` from bucket `key` (refill `rate`/s up to `burst`); `check=False` debits unconditionally."""

    key: str
    rate: float
    burst: float
    cost: float
    check: bool = True


@dataclass(frozen=True)
class TakeResult:
    """0 wait means taken; otherwise seconds until the refusing bucket has room, and its key."""

    retry_after: float = 0.0
    bucket: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the charges were taken."""
        return self.bucket is None


TAKEN = TakeResult()


class Limiter(Protocol):
    """Rate-limit state: the one method every backend implements."""

    def take(self, charges: Sequence[Charge], now: float) -> TakeResult:
        """Take the charges at time `now` (seconds) if every checked bucket has room."""
        ...


class MemoryLimiter:
    """In-process token buckets (~1 µs per bucket).

    >>> lim = MemoryLimiter()
    >>> [lim.take([Charge("a", rate=1, burst=2, cost=1)], now=0.0).ok for _ in range(3)]
    [True, True, False]
    """

    def __init__(self) -> None:
        # key -> (level, last update): tuples of floats, which the cyclic GC stops tracking (a list per bucket,
        # up to a million, made every full collection ~0.5 s longer)
        self._b: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, charges: Sequence[Charge], now: float) -> TakeResult:
        """Take the charges at time `now` if every checked bucket has room."""
        with self._lock:
            levels = []
            worst: TakeResult = TAKEN
            for c in charges:
                b = self._b.get(c.key)
                level = c.burst if b is None else min(c.burst, b[0] + max(0.0, now - b[1]) * c.rate)
                levels.append(level)
                need = min(c.cost, c.burst)
                if c.check and level < need:
                    wait = (need - level) / c.rate if c.rate > 0 else math.inf
                    if wait > worst.retry_after:
                        worst = TakeResult(wait, c.key)
            if not worst.ok:
                return worst
            for c, level in zip(charges, levels, strict=True):
                self._b[c.key] = (level - c.cost, now)
            if len(self._b) > 1_000_000:
                self._evict(now)
            return TAKEN

    def _evict(self, now: float) -> None:
        # buckets idle for an hour are full again by any sane rate: forgetting them changes nothing
        for k in [k for k, (_, t) in self._b.items() if now - t > 3600]:
            del self._b[k]


_LUA = """
local now = tonumber(ARGV[1])
local n = #KEYS
local levels = {}
local wait, worst = 0, 0
for i = 1, n do
  local rate, burst, cost, check = tonumber(ARGV[4*i-2]), tonumber(ARGV[4*i-1]), tonumber(ARGV[4*i]), ARGV[4*i+1]
  local b = redis.call('HMGET', KEYS[i], 'l', 't')
  local level = burst
  if b[1] then
    level = math.min(burst, tonumber(b[1]) + math.max(0, now - tonumber(b[2])) * rate)
  end
  levels[i] = level
  local need = math.min(cost, burst)
  if check == '1' and level < need then
    local w = 1e9
    if rate > 0 then w = (need - level) / rate end
    if w > wait then wait, worst = w, i end
  end
end
if worst > 0 then return {tostring(wait), worst} end
for i = 1, n do
  local rate, burst, cost = tonumber(ARGV[4*i-2]), tonumber(ARGV[4*i-1]), tonumber(ARGV[4*i])
  redis.call('HSET', KEYS[i], 'l', tostring(levels[i] - cost), 't', tostring(now))
  local ttl = 3600
  if rate > 0 then ttl = math.min(86400, math.ceil((burst + cost) / rate) + 60) end
  redis.call('EXPIRE', KEYS[i], ttl)
end
return {'0', 0}
"""


class _Resp:
    """A minimal Redis connection for the limiter's one command (EVALSHA), for a plain `redis://` URL: the
    command encoded by hand, replies parsed by hiredis. It costs ~4x less CPU per call than redis-py's
    pipeline, which was the largest cost of a request with `--redis`. Not thread-safe: the limiter's lock
    serialises calls."""

    def __init__(self, url: str, timeout: float) -> None:
        from urllib.parse import unquote, urlsplit

        import hiredis

        u = urlsplit(url)
        self._addr = (u.hostname or "127.0.0.1", u.port or 6379)
        self._auth = ([unquote(u.username)] if u.username else []) + [unquote(u.password)] if u.password else []
        self._db = int(u.path.lstrip("/") or 0)
        self._timeout = timeout
        self._hiredis = hiredis
        self._sock: socket.socket | None = None
        self._reader: Any = None
        self.sha: bytes | None = None

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (the next call opens a new one)."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock = None

    def _connect(self) -> None:
        s = socket.create_connection(self._addr, timeout=self._timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock, self._reader = s, self._hiredis.Reader()
        setup = ([[b"AUTH", *(a.encode() for a in self._auth)]] if self._auth else []) + \
                ([[b"SELECT", str(self._db).encode()]] if self._db else []) + [[b"SCRIPT", b"LOAD", _LUA.encode()]]
        out = self._roundtrip(setup)
        for r in out:
            if isinstance(r, Exception):
                raise StateUnavailable(f"redis: {r}")
        self.sha = out[-1]

    def _roundtrip(self, commands: list[list[bytes]]) -> list[Any]:
        assert self._sock is not None
        parts = []
        for c in commands:
            parts.append(b"*%d\r\n" % len(c))
            for a in c:
                parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self._sock.sendall(b"".join(parts))
        out: list[Any] = []
        while len(out) < len(commands):
            r = self._reader.gets()
            if r is False:
                chunk = self._sock.recv(65536)
                if not chunk:
                    raise ConnectionError("redis closed the connection")
                self._reader.feed(chunk)
                continue
            out.append(r)
        return out

    def evalsha(self, calls: list[tuple[list[str], list[str]]]) -> list[Any]:
        """Run the limiter's script once per (keys, args), pipelined; raise StateUnavailable on any failure."""
        try:
            if self._sock is None:
                self._connect()
            for attempt in (0, 1):
                assert self.sha is not None
                out = self._roundtrip([[b"EVALSHA", self.sha, b"%d" % len(keys), *(k.encode() for k in keys),
                                        *(a.encode() for a in args)] for keys, args in calls])
                if attempt == 0 and any(isinstance(r, Exception) and str(r).startswith("NOSCRIPT") for r in out):
                    self.sha = self._roundtrip([[b"SCRIPT", b"LOAD", _LUA.encode()]])[0]  # the scripts were flushed
                    continue
                break
        except (OSError, self._hiredis.ProtocolError) as e:
            self.close()
            raise StateUnavailable(f"redis: {type(e).__name__}: {e}") from None
        for r in out:
            if isinstance(r, Exception):
                raise StateUnavailable(f"redis: {r}")
        return out


class RedisLimiter:
    """Token buckets in Redis, shared by every gateway replica using the same `prefix`."""

    def __init__(self, url: str, prefix: str = "dg:b:", timeout: float = 0.25) -> None:
        self._fast: _Resp | None = None
        if url.startswith("redis://"):
            with contextlib.suppress(ImportError):
                self._fast = _Resp(url, timeout)
        if self._fast is None:  # TLS, a unix socket or no hiredis: redis-py
            import redis  # imported here: the in-memory default needs no Redis client
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            # fail fast: ResilientLimiter decides what a failure means, and the event loop must not wait on
            # retries
            self._r = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                           retry=Retry(NoBackoff(), 0))
            self._script = self._r.register_script(_LUA)
            self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._prefix = prefix
        self._pending: list[tuple[Sequence[Charge], float]] = []
        self._lock = threading.Lock()

    def take(self, charges: Sequence[Charge], now: float) -> TakeResult:
        """Take the charges in one Lua call; unchecked-only calls are queued and pipelined with the next."""
        with self._lock:
            if not any(c.check for c in charges):
                self._pending.append((charges, now))
                if len(self._pending) < 64:
                    return TAKEN
                charges, now = (), now
            pending, self._pending = self._pending, []
            if self._fast is not None:
                calls = [self._args(ch, t) for ch, t in pending]
                if charges:
                    calls.append(self._args(charges, now))
                out = self._fast.evalsha(calls)
            else:
                try:
                    pipe = self._r.pipeline(transaction=False)
                    for ch, t in pending:
                        self._script(*self._args(ch, t), client=pipe)
                    if charges:
                        self._script(*self._args(charges, now), client=pipe)
                    out = pipe.execute()
                except self._errors as e:
                    raise StateUnavailable(f"redis: {e}") from None
        if not charges:
            return TAKEN
        wait, idx = out[-1]
        idx = int(idx)
        return TAKEN if idx == 0 else TakeResult(float(wait), charges[idx - 1].key)

    def _args(self, charges: Sequence[Charge], now: float) -> tuple[list[str], list[str]]:
        keys = [self._prefix + c.key for c in charges]
        args = [repr(now)]
        for c in charges:
            args += [repr(c.rate), repr(c.burst), repr(c.cost), "1" if c.check else "0"]
        return keys, args


class ResilientLimiter:
    """Wrap a shared limiter: on failure use local buckets (`open`) or refuse (`closed`).

    After a failure the shared backend is not retried for `retry_s`, so an outage costs one timeout per
    interval instead of one per request.
    """

    def __init__(self, shared: Limiter, on_error: str = "open", retry_s: float = 1.0) -> None:
        if on_error not in ("open", "closed"):
            raise ValueError(f"on_error must be 'open' or 'closed', got {on_error!r}")
        self.shared, self.local, self.on_error, self.retry_s = shared, MemoryLimiter(), on_error, retry_s
        self._down_until = 0.0
        self.failures = 0

    @property
    def degraded(self) -> bool:
        """Whether the shared backend is currently considered down."""
        return time.monotonic() < self._down_until

    def take(self, charges: Sequence[Charge], now: float) -> TakeResult:
        """Take from the shared backend, or apply the configured failure mode."""
        if not self.degraded:
            try:
                return self.shared.take(charges, now)
            except StateUnavailable:
                self.failures += 1
                self._down_until = time.monotonic() + self.retry_s
        if self.on_error == "closed":
            raise StateUnavailable("shared rate-limit state is unavailable (--on-state-error closed)")
        return self.local.take(charges, now)
