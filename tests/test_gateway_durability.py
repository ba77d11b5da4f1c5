"""Logging durability with a real `distillguard serve` process: SIGTERM flushes, kill -9 loses <= 1 s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from distillguard.gateway.keys import KeyStore
from distillguard.gateway.stub import StubUpstream, ThreadedServer, free_port
from distillguard.store import Store

N = 40


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with ThreadedServer(StubUpstream("up-key")) as up:
        yield up.url + "/v1"


def start_gateway(tmp: Path, upstream: str) -> tuple[subprocess.Popen[bytes], str, str]:
    key = KeyStore(tmp / "keys.json").create("acct")
    port = free_port()
    env = {**os.environ, "UPSTREAM_API_KEY": "up-key"}
    with (tmp / "serve.log").open("wb") as errlog:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from distillguard.cli import main; main()", "serve", "--upstream", upstream,
             "--db", str(tmp / "gw.duckdb"), "--keys", str(tmp / "keys.json"), "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=errlog)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url, key
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"gateway did not start: {(tmp / 'serve.log').read_text()}")
        time.sleep(0.05)


def send(url: str, key: str, n: int) -> list[str]:
    ids = []
    with httpx.Client(base_url=url, timeout=10) as c:
        for i in range(n):
            r = c.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                       json={"model": "m", "messages": [{"role": "user", "content": f"question {i}"}]})
            assert r.status_code == 200, r.text
            ids.append(r.headers["x-request-id"])
    return ids


def stored_ids(db: Path) -> set[str]:
    with Store.open(db) as s:  # replays DuckDB's WAL after a crash
        return {r[0] for r in s.con.execute("SELECT request_id FROM exchanges").fetchall()}


def test_sigterm_flushes_everything(tmp_path: Path, upstream: str) -> None:
    proc, url, key = start_gateway(tmp_path, upstream)
    ids = send(url, key, N)
    proc.send_signal(signal.SIGTERM)  # at once: most rows are still queued
    assert proc.wait(timeout=20) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after shutdown
    assert stored_ids(tmp_path / "gw.duckdb") == set(ids)


def test_kill_9_loses_at_most_the_last_second_and_never_corrupts(tmp_path: Path, upstream: str) -> None:
    proc, url, key = start_gateway(tmp_path, upstream)
    early = send(url, key, N)
    time.sleep(1.0)  # answered more than a second before the crash: must survive
    late = send(url, key, N)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    got = stored_ids(tmp_path / "gw.duckdb")
    assert set(early) <= got
    assert got <= set(early) | set(late)
    with Store.open(tmp_path / "gw.duckdb") as s:  # the store is usable: it takes new writes
        s.con.execute("INSERT INTO exchanges (request_id, ts, account_id, ip, model) "
                      "VALUES ('after-crash', now(), 'a', '', 'm')")
        assert s.count("exchanges") == len(got) + 1
