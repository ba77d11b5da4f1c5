"""Two gateway replicas sharing state through a real redis-server, and what happens when it goes down."""

from __future__ import annotations

import csv
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from distillguard.gateway.app import Gateway, GatewayConfig
from distillguard.gateway.keys import KeyStore
from distillguard.gateway.stub import StubUpstream, ThreadedServer, free_port
from waiting import DEADLINE_S, eventually

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
pytestmark = pytest.mark.skipif(not Path(REDIS).exists(), reason="redis-server is not installed")

POLICY = """
version = 1
[limits.account]
requests_per_minute = 6000
[limits.campaign]
requests_per_minute = 0.001
request_burst = 4
[[campaign.rules]]
min_confidence = 0.8
action = "block"
[[campaign.rules]]
min_confidence = 0.5
action = "throttle"
"""


def start_redis(port: int) -> subprocess.Popen[bytes]:
    """A throwaway redis-server on 127.0.0.1:port (no persistence), answering PING (within 60 s: CI is slow)."""
    proc = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    r = redis.Redis(port=port, socket_timeout=5, socket_connect_timeout=5)
    deadline = time.monotonic() + DEADLINE_S
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                r.ping()
                return proc
            except redis.ConnectionError:
                time.sleep(0.02)
    finally:
        r.close()
    proc.kill()
    proc.wait()
    raise RuntimeError(f"redis-server did not start on port {port} (exit status {proc.returncode})")


def redis_on_a_free_port() -> tuple[subprocess.Popen[bytes], int]:
    """A throwaway redis-server and its port: another port if the one found free was taken before redis bound it."""
    for attempt in range(3):
        port = free_port()
        try:
            return start_redis(port), port
        except RuntimeError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:  # type: ignore[type-arg]
    tmp = tmp_path_factory.mktemp("redis")
    proc, port = redis_on_a_free_port()
    (tmp / "detect").mkdir()
    with (tmp / "detect" / "accounts.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["account_id", "score", "flagged", "campaign_id", "reasons"])
        w.writerows([(f"c{i}", 0.6, "true", "CT", "") for i in range(8)])
    (tmp / "detect" / "campaigns.json").write_text('[{"campaign_id": "CT", "confidence": 0.6}]')
    (tmp / "policy.toml").write_text(POLICY)
    ks = KeyStore(tmp / "keys.json")
    keys = {a: ks.create(a) for a in [f"c{i}" for i in range(8)] + ["legit", "other"]}
    try:
        with ThreadedServer(StubUpstream()) as up:
            gws = [Gateway(GatewayConfig(
                upstream=up.url, keys=str(tmp / "keys.json"), db=str(tmp / f"gw{i}.duckdb"),
                policy=str(tmp / "policy.toml"), detect=str(tmp / "detect"), redis=f"redis://127.0.0.1:{port}/0",
                on_state_error=mode, sync_interval_s=0.05)) for i, mode in enumerate(("open", "closed"))]
            with ThreadedServer(gws[0].app) as a, ThreadedServer(gws[1].app) as b, \
                    httpx.Client(base_url=a.url, timeout=10) as ca, httpx.Client(base_url=b.url, timeout=10) as cb:
                yield {"gws": gws, "clients": (ca, cb), "keys": keys, "redis": proc}
    finally:
        proc.kill()
        proc.wait()


def chat(client: httpx.Client, key: str, content: str = "hi") -> httpx.Response:
    return client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                       json={"model": "m", "messages": [{"role": "user", "content": content}]})


def test_campaign_bucket_is_shared_between_replicas(replicas) -> None:  # type: ignore[no-untyped-def]
    ca, cb = replicas["clients"]
    k = replicas["keys"]
    got = [chat(ca, k["c0"]).status_code, chat(cb, k["c1"]).status_code,
           chat(ca, k["c2"]).status_code, chat(cb, k["c3"]).status_code]
    assert got == [200] * 4
    for client, acct in ((ca, "c4"), (cb, "c5")):
        r = chat(client, k[acct])
        assert r.status_code == 429 and r.json()["error"]["code"] == "campaign_rate_limited"
    assert chat(cb, k["legit"]).status_code == 200


def test_analyst_action_on_one_replica_reaches_the_other(replicas) -> None:  # type: ignore[no-untyped-def]
    ca, cb = replicas["clients"]
    a, b = replicas["gws"]
    a.control.block_campaign("CT", actor="ana", reason="confirmed")
    # b syncs every 0.05 s (later on a loaded machine)
    assert eventually(lambda: "CT" in b.control.overrides().blocked_campaigns), "the block never reached b"
    r = chat(cb, replicas["keys"]["c6"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "account_blocked"
    a.control.unblock_campaign("CT", actor="ana", reason="undo")
    assert eventually(lambda: "CT" not in b.control.overrides().blocked_campaigns), "the unblock never reached b"


def test_online_assignment_is_shared(replicas) -> None:  # type: ignore[no-untyped-def]
    a, b = replicas["gws"]
    a.enforcer.publish({"op": "assign", "id": "other", "campaign_id": "CT"})
    assert eventually(lambda: "other" in b.enforcer.accounts and b.enforcer.accounts["other"].campaign == "CT"), \
        "the assignment never reached b"


def test_redis_down_open_serves_closed_refuses(replicas) -> None:  # type: ignore[no-untyped-def]
    ca, cb = replicas["clients"]
    k = replicas["keys"]["legit"]
    assert chat(ca, k).status_code == 200 and chat(cb, k).status_code == 200
    replicas["redis"].terminate()
    replicas["redis"].wait()
    r_open, r_closed = chat(ca, k), chat(cb, k)
    assert r_open.status_code == 200  # open: local buckets
    assert r_closed.status_code == 503 and r_closed.json()["error"]["code"] == "state_unavailable"
    assert chat(cb, k).status_code == 503  # still closed while Redis is down (no retry storm either)


def test_a_stalled_redis_never_blocks_the_event_loop(tmp_path: Path) -> None:
    """Redis that accepts connections and never answers: requests wait for it (then the configured mode
    applies) in the enforcement thread, while the server keeps answering everything else."""
    import select
    import socket
    import threading

    from distillguard.gateway.limits import RedisLimiter

    lsock = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        lsock.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(lsock.accept()[0])  # never answered
            except TimeoutError:
                continue

    def asked() -> bool:
        """Whether the limiter's first command (SCRIPT LOAD, then EVALSHA) has reached the stalled Redis."""
        ready = select.select(list(held), [], [], 0)[0]
        return any(w in s.recv(65536, socket.MSG_PEEK).lower() for s in ready for w in (b"script", b"evalsha"))

    def release() -> None:
        """Redis goes away: the held connections close and new ones are refused."""
        stop.set()
        acceptor.join(timeout=10)
        for s in held:
            s.close()
        lsock.close()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    key = KeyStore(tmp_path / "keys.json").create("a")
    url = f"redis://127.0.0.1:{lsock.getsockname()[1]}/0"
    try:
        with ThreadedServer(StubUpstream()) as up:
            gw = Gateway(GatewayConfig(upstream=up.url, keys=str(tmp_path / "keys.json"), db=str(tmp_path / "g.duckdb"),
                                       redis=url, on_state_error="open", sync_interval_s=3600,
                                       fingerprint_workers=0))
            # a timeout longer than the test: the request waits on Redis until the test lets it go
            gw.enforcer.limiter.shared = RedisLimiter(url, timeout=DEADLINE_S)  # type: ignore[attr-defined]
            with ThreadedServer(gw.app) as srv, httpx.Client(base_url=srv.url, timeout=DEADLINE_S + 30) as c:
                result: list[httpx.Response] = []
                t = threading.Thread(target=lambda: result.append(chat(c, key)), daemon=True)
                t.start()
                assert eventually(asked), "the chat request never reached the stalled Redis"
                with httpx.Client(base_url=srv.url, timeout=30) as c2:
                    assert c2.get("/healthz").status_code == 200
                # healthz was answered while the chat request still waited on Redis (had the event loop waited
                # too, healthz would have come only after the limiter gave up on Redis and counted a failure)
                waited = t.is_alive() and gw.enforcer.limiter.failures == 0  # type: ignore[attr-defined]
                release()
                t.join(timeout=DEADLINE_S)
    finally:
        if not stop.is_set():
            release()
    assert waited, "the chat request did not wait on the stalled Redis, or healthz waited for it"
    assert result and result[0].status_code == 200  # open mode: served from local buckets once Redis failed
