"""Token buckets: the in-memory and the Redis backend obey the same contract."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.gateway.limits import Charge, Limiter, MemoryLimiter, RedisLimiter, ResilientLimiter, StateUnavailable
from distillguard.gateway.stub import free_port
from test_gateway_redis import redis_on_a_free_port

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    if not Path(REDIS).exists():
        pytest.skip("redis-server is not installed")
    proc, port = redis_on_a_free_port()
    yield f"redis://127.0.0.1:{port}/0"
    proc.kill()
    proc.wait()


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> Limiter:
    if request.param == "memory":
        return MemoryLimiter()
    url = request.getfixturevalue("redis_url")
    return RedisLimiter(url, prefix=f"t{time.monotonic_ns()}:")


def test_burst_then_refill(limiter: Limiter) -> None:
    c = [Charge("a", rate=2.0, burst=3, cost=1)]
    assert [limiter.take(c, 100.0).ok for _ in range(4)] == [True, True, True, False]
    r = limiter.take(c, 100.0)
    assert r.bucket == "a" and r.retry_after == pytest.approx(0.5)
    assert limiter.take(c, 100.5).ok and not limiter.take(c, 100.5).ok


def test_all_or_nothing_across_buckets(limiter: Limiter) -> None:
    acct = Charge("acct", rate=0.0, burst=10, cost=1)
    camp = Charge("camp", rate=0.0, burst=2, cost=1)
    assert limiter.take([acct, camp], 0.0).ok and limiter.take([acct, camp], 0.0).ok
    r = limiter.take([acct, camp], 0.0)
    assert not r.ok and r.bucket == "camp"
    # the refused take did not draw from the account bucket: 8 left
    assert sum(limiter.take([acct], 0.0).ok for _ in range(10)) == 8


def test_unchecked_debit_goes_negative_and_delays_the_next_request(limiter: Limiter) -> None:
    tok = Charge("tok", rate=10.0, burst=100, cost=10)
    assert limiter.take([tok], 0.0).ok  # 90 left
    limiter.take([Charge("tok", 10.0, 100, 150, check=False)], 0.0)  # billed after: -60
    assert not limiter.take([tok], 0.0).ok
    r = limiter.take([tok], 0.0)
    assert r.retry_after == pytest.approx(7.0)  # from -60 to 10 at 10/s
    assert limiter.take([tok], 7.0).ok


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 5), st.floats(0.5, 3)), min_size=1, max_size=30))
def test_memory_matches_a_reference_bucket(steps: list[tuple[float, float]]) -> None:
    lim, level, now = MemoryLimiter(), 5.0, 0.0
    for dt, cost in steps:
        now += dt
        level = min(5.0, level + dt * 1.5)
        expected = level >= cost
        if expected:
            level -= cost
        assert lim.take([Charge("k", 1.5, 5.0, cost)], now).ok == expected


def test_redis_down_open_falls_back_closed_refuses() -> None:
    dead = RedisLimiter(f"redis://127.0.0.1:{free_port()}/0", timeout=0.1)
    c = [Charge("a", 1.0, 1, 1)]
    with pytest.raises(StateUnavailable):
        dead.take(c, 0.0)
    open_ = ResilientLimiter(dead, "open")
    assert open_.take(c, 0.0).ok and not open_.take(c, 0.0).ok  # local buckets still limit
    assert open_.degraded and open_.failures == 1  # not retried on every request
    closed = ResilientLimiter(dead, "closed")
    with pytest.raises(StateUnavailable):
        closed.take(c, 0.0)
    with pytest.raises(ValueError):
        ResilientLimiter(dead, "sideways")


def test_redis_limiter_survives_a_script_flush_and_uses_the_urls_database(redis_url: str) -> None:
    import redis

    url = redis_url.rsplit("/", 1)[0] + "/3"
    lim = RedisLimiter(url, prefix="flush:")
    c = [Charge("a", rate=0.0, burst=3, cost=1)]
    assert lim.take(c, 0.0).ok
    r = redis.Redis.from_url(url)
    r.script_flush()  # e.g. a Redis restart without persistence of scripts
    assert lim.take(c, 0.0).ok and lim.take(c, 0.0).ok and not lim.take(c, 0.0).ok
    assert r.exists("flush:a") and not redis.Redis.from_url(redis_url).exists("flush:a")
    r.close()
