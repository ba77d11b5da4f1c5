"""Logging durability with a real `distillguard serve` process: SIGTERM flushes; after kill -9 the restart
replays the journal, so every answered request is stored (once)."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from distillguard.gateway.keys import KeyStore
from distillguard.gateway.stub import StubUpstream, ThreadedServer
from distillguard.store import Store
from gateway_proc import spawn_serve
from waiting import eventually

N = 40


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with ThreadedServer(StubUpstream("up-key")) as up:
        yield up.url + "/v1"


def start_gateway(tmp: Path, upstream: str) -> tuple[subprocess.Popen[bytes], str, str]:
    key = KeyStore(tmp / "keys.json").create("acct")
    proc, url = spawn_serve(tmp, upstream, env={"UPSTREAM_API_KEY": "up-key"})
    return proc, url, key


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


@pytest.mark.slow
def test_kill_9_loses_nothing_answered_and_never_corrupts(tmp_path: Path, upstream: str) -> None:
    proc, url, key = start_gateway(tmp_path, upstream)
    early = send(url, key, N)
    # committed to DuckDB by the writer thread (every 0.25 s; later on a loaded machine)
    assert eventually(lambda: httpx.get(url + "/healthz", timeout=30).json()["log_rows_written"] >= N, every_s=0.1)
    late = send(url, key, N)  # mostly only in the journal when the process dies
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    before = stored_ids(tmp_path / "gw.duckdb")
    assert set(early) <= before <= set(early) | set(late)
    proc, url, key = start_gateway(tmp_path, upstream)  # replays the journal on start
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
    assert stored_ids(tmp_path / "gw.duckdb") == set(early) | set(late)
    with Store.open(tmp_path / "gw.duckdb") as s:  # the store is usable: it takes new writes, no duplicates
        assert s.con.execute("SELECT count(*) - count(DISTINCT request_id) FROM exchanges").fetchone()[0] == 0
        s.con.execute("INSERT INTO exchanges_delta (request_id, ts, account_id, ip, model) "
                      "VALUES ('after-crash', now(), 'a', '', 'm')")
        assert s.count("exchanges") == 2 * N + 1


def test_journal_replay_skips_stored_rows_and_a_torn_line(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from distillguard.gateway.journal import Journal
    from distillguard.gateway.logsink import ExchangeLog, exchange_row

    db = tmp_path / "gw.duckdb"
    ts = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    rows = [exchange_row(request_id=f"r{i}", ts=ts, account_id="a", ip="127.0.0.1", model="m", status=200,
                         messages=[{"role": "user", "content": f"q {i}\x00\u200b"}], completion="ok")
            for i in range(3)]
    event = {"ts": ts, "request_id": "r2", "account_id": "a", "campaign_id": "C1", "action": "throttle",
             "code": "throttled", "status": 200, "reason": "x", "template_id": 7, "score": 0.5}
    sink = ExchangeLog(str(db))  # r0 was committed before the crash, its segment not yet deleted
    sink.exchange(dict(rows[0]))
    sink.close()
    j = Journal(f"{db}.journal")
    j.write(j.encode([("exchanges", r) for r in rows[:2]]) or b"")
    j.write(j.encode([("exchanges", rows[2]), ("enforcement_events", event)]) or b"")
    j.write(b'{"t": "exchanges", "r": {"request_id": "torn"')  # power loss mid-write
    j.close()  # (a kill leaves the descriptor open; the bytes are the same)
    sink = ExchangeLog(str(db))
    assert sink.replayed == 2
    sink.close()
    with Store.open(db) as s:
        got = s.con.execute("SELECT request_id, ts, messages[1].content FROM exchanges ORDER BY 1").fetchall()
        assert [(r[0], r[1], r[2]) for r in got] == [(f"r{i}", ts, f"q {i}\x00\u200b") for i in range(3)]
        assert s.con.execute("SELECT request_id, template_id FROM enforcement_events").fetchall() == [("r2", 7)]
    assert not list(Path(f"{db}.journal").glob("*.log"))
