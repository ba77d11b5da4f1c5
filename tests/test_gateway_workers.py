"""`serve --workers 2 --redis`: two server processes on one port share rate limits through a real
redis-server, each logs into its own store, and SIGTERM stops them all; without --redis it refuses."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from distillguard.gateway.keys import KeyStore
from distillguard.gateway.server import worker_db
from distillguard.gateway.stub import StubUpstream, ThreadedServer
from distillguard.store import Store
from gateway_proc import spawn_serve
from test_gateway_redis import redis_on_a_free_port
from waiting import eventually

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
POLICY = """
version = 1
[limits.account]
requests_per_minute = 10
request_burst = 10
"""


@pytest.mark.skipif(not Path(REDIS).exists(), reason="redis-server is not installed")
def test_two_workers_share_limits_and_each_logs_its_own_store(tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text(POLICY)
    key = KeyStore(tmp_path / "keys.json").create("acct-1")
    redis, port = redis_on_a_free_port()
    try:
        with ThreadedServer(StubUpstream()) as up:
            proc, url = spawn_serve(tmp_path, up.url + "/v1", "--workers", "2", "--redis",
                                    f"redis://127.0.0.1:{port}/0", "--policy", str(tmp_path / "policy.toml"),
                                    "--fingerprint-workers", "0")
            try:
                seen: set[str] = set()

                def both_up() -> bool:  # `spawn_serve` waited for one worker; the other may still be starting
                    seen.add(httpx.get(url + "/healthz", timeout=30).headers["x-request-id"][:12])
                    return len(seen) == 2

                assert eventually(both_up, every_s=0.05), f"only worker {seen} answered /healthz"

                def one(i: int) -> tuple[int, str]:  # a fresh connection each: the kernel spreads them
                    r = httpx.post(url + "/v1/chat/completions", timeout=20,
                                   json={"model": "m", "messages": [{"role": "user", "content": f"q {i}"}]},
                                   headers={"Authorization": f"Bearer {key}"})
                    return r.status_code, r.headers["x-request-id"][:12]  # the id's prefix names the process
                with ThreadPoolExecutor(8) as ex:
                    got = list(ex.map(one, range(40)))
            finally:
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(30) == 0
    finally:
        redis.terminate()
        redis.wait(10)
    statuses = [s for s, _ in got]
    assert statuses.count(200) == 10 and statuses.count(429) == 30  # one bucket for both processes
    assert len({p for _, p in got}) == 2  # both workers answered
    rows = []
    for k in (0, 1):
        with Store.open(worker_db(str(tmp_path / "gw.duckdb"), k)) as s:
            rows.append(s.count("exchanges"))
    assert sum(rows) == 40 and min(rows) > 0


def test_workers_without_redis_is_a_usage_error(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-c", "from distillguard.cli import main; main()", "serve", "--upstream",
                        "http://127.0.0.1:9/v1", "--db", str(tmp_path / "gw.duckdb"), "--workers", "2"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--workers 2 needs --redis" in r.stderr
    assert worker_db("/x/gw.duckdb", 3) == "/x/gw.w3.duckdb" and worker_db("/x/gw.duckdb", 0) == "/x/gw.duckdb"
