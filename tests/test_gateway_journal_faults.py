"""The journal and its writer under bad rows and a full disk: a row that does not fit the log contract never
takes its neighbours with it (coerced, else quarantined alone), replay never crashes on a row, `.failed`
files are never overwritten, and a request whose exchange cannot be journaled fails with 503 instead of
being acknowledged."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from asgi_upstream import read_request
from distillguard.errors import JournalError
from distillguard.gateway.app import Gateway, GatewayConfig
from distillguard.gateway.journal import Journal, set_aside
from distillguard.gateway.keys import KeyStore
from distillguard.gateway.logsink import ExchangeLog, exchange_row
from distillguard.gateway.stub import ThreadedServer
from distillguard.store import Store

TS = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def row(i: int, **kw: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"request_id": f"r{i}", "ts": TS, "account_id": "a", "ip": "127.0.0.1", "model": "m",
                              "status": 200, "messages": [{"role": "user", "content": f"q {i}"}], "completion": "ok"}
    return exchange_row(**{**fields, **kw})


def stored(db: Path, sql: str = "SELECT request_id FROM exchanges ORDER BY 1") -> list[tuple[Any, ...]]:
    with Store.open(db) as s:
        return s.con.execute(sql).fetchall()


def test_mistyped_upstream_fields_are_coerced_into_the_contract(tmp_path: Path) -> None:
    db = tmp_path / "gw.duckdb"
    sink = ExchangeLog(str(db))
    sink.exchange(row(0, completion=[{"type": "text", "text": "The answer"}, {"type": "text", "text": "is 42."}],
                      completion_tokens="12", prompt_tokens=2**63))
    sink.exchange(row(1, completion=42, completion_tokens=-3, prompt_tokens=True,
                      messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}]))
    sink.exchange(row(2))
    sink.close()
    got = stored(db, "SELECT request_id, completion, prompt_tokens, completion_tokens, messages[1].content "
                     "FROM exchanges ORDER BY 1")
    assert got == [("r0", "The answer\nis 42.", None, 12, "q 0"), ("r1", "42", None, None, "hi"),
                   ("r2", "ok", None, None, "q 2")]
    assert sink.quarantine.count == 0


def test_a_row_that_does_not_fit_is_quarantined_alone(tmp_path: Path) -> None:
    db = tmp_path / "gw.duckdb"
    sink = ExchangeLog(str(db))
    sink._stop.set()  # noqa: SLF001 - the writer thread stays idle; this test flushes by hand
    for i in range(50):
        sink.exchange(row(i))
    sink._append([("exchanges", {**row(99), "status": "two hundred"})])  # noqa: SLF001 - past the coercion
    sink.exchange(row(50))
    sink.flush()
    assert sink.quarantine.count == 1 and sink.health()["quarantined_rows"] == 1
    assert not list((tmp_path / "gw.duckdb.journal").glob("*.failed*"))
    kept = [orjson.loads(x) for x in sink.quarantine.path.read_bytes().splitlines()]  # type: ignore[union-attr]
    assert [k["r"]["request_id"] for k in kept] == ["r99"] and kept[0]["error"]
    assert oct(sink.quarantine.path.stat().st_mode & 0o777) == "0o600"  # type: ignore[union-attr]
    sink.close()
    assert stored(db) == sorted((f"r{i}",) for i in range(51))


def test_the_delta_rolls_into_a_part_past_the_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer counts the delta's rows itself (no query per flush): replayed and new rows alike, it rolls
    them into a part as soon as they reach the threshold, and not before."""
    import distillguard.gateway.logsink as logsink

    monkeypatch.setattr(logsink, "DELTA_ROLL_ROWS", 10)
    db = tmp_path / "gw.duckdb"
    ExchangeLog(str(db)).close()
    folder = tmp_path / "gw.duckdb.journal"
    (folder / "000000000001.log").write_bytes(b"".join(orjson.dumps({"t": "exchanges", "r": row(i)}) + b"\n"
                                                       for i in range(4)))
    sink = ExchangeLog(str(db))  # replays 4 rows into the delta
    sink._stop.set()  # noqa: SLF001 - the writer thread stays idle; this test flushes by hand
    parts = db.parent / f"{db.name}.parts"
    for i in range(4, 9):
        sink.exchange(row(i))
    sink.flush()  # 9 rows: not yet
    assert sink.store.count("exchanges") == 9 and not list(parts.glob("*.parquet"))
    sink.exchange(row(9))
    sink.flush()  # 10: rolled
    assert len(list(parts.glob("*.parquet"))) == 1
    assert sink.store.con.execute(f"SELECT count(*) FROM {logsink.DELTA}").fetchall() == [(0,)]
    sink.exchange(row(10))
    sink.close()
    assert stored(db) == sorted((f"r{i}",) for i in range(11))


def test_replay_never_crashes_on_a_row(tmp_path: Path) -> None:
    db = tmp_path / "gw.duckdb"
    ExchangeLog(str(db)).close()
    folder = tmp_path / "gw.duckdb.journal"
    good = [orjson.dumps({"t": "exchanges", "r": row(i)}) for i in range(5)]
    bad = [orjson.dumps({"t": "exchanges", "r": {**row(7), "completion": [{"type": "text", "text": "x"}]}}),
           orjson.dumps({"t": "exchanges", "r": {**row(8), "completion_tokens": "lots"}}),
           orjson.dumps({"t": "exchanges", "r": {**row(9), "messages": "not a list"}})]
    (folder / "000000000001.log").write_bytes(b"\n".join(good[:3] + bad + good[3:]) + b"\n")
    for _ in range(2):  # a second start finds nothing left to replay, and does not crash either
        sink = ExchangeLog(str(db))
        sink.close()
    assert stored(db) == sorted((f"r{i}",) for i in range(5))
    assert not list(folder.glob("*.log")) and not list(folder.glob("*.failed*"))
    kept = [orjson.loads(x)["r"]["request_id"] for p in (folder / "quarantine").glob("*.jsonl")
            for x in p.read_bytes().splitlines()]
    assert sorted(kept) == ["r7", "r8", "r9"]


def test_failed_segments_are_never_overwritten(tmp_path: Path) -> None:
    contents = []
    for i in range(3):
        seg = tmp_path / "000000000001.log"
        seg.write_bytes(f"segment {i}".encode())
        set_aside(seg)
        contents.append(f"segment {i}")
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["000000000001.log.failed", "000000000001.log.failed.1", "000000000001.log.failed.2"]
    assert sorted(p.read_text() for p in tmp_path.iterdir()) == contents


def test_a_full_disk_raises_instead_of_acknowledging(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j")
    good = j.encode([("exchanges", row(0))])
    j.write(good)
    real = j._fd  # noqa: SLF001
    j._fd = os.open("/dev/full", os.O_WRONLY)  # noqa: SLF001 - every write fails with ENOSPC, as on a full disk
    with pytest.raises(JournalError, match="No space left"):
        j.write(j.encode([("exchanges", row(1))]))
    assert j.failing and j.errors == 1
    os.close(j._fd)  # noqa: SLF001
    j._fd = real  # noqa: SLF001 - space again: the next line starts fresh, so replay reads it
    j.write(j.encode([("exchanges", row(2))]))
    seg = j.rotate()
    assert seg is not None
    assert [orjson.loads(x)["r"]["request_id"] for x in seg.read_bytes().splitlines() if x] == ["r0", "r2"]


async def _upstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An OpenAI-compatible upstream whose answer's content is a list of parts when the model asks for it."""
    body = await read_request(scope, receive, send)
    if body is None:
        return
    model = orjson.loads(body)["model"]
    content: Any = [{"type": "text", "text": "parts"}] if model == "content-list" else "The answer is 42."
    usage = {"prompt_tokens": 5, "completion_tokens": "4" if model == "ct-str" else 4}
    out = orjson.dumps({"id": "u", "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}], "usage": usage})
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": out})


@pytest.fixture()
def gateway(tmp_path: Path) -> Iterator[tuple[Gateway, httpx.Client, str]]:
    key = KeyStore(tmp_path / "keys.json").create("acct")
    with ThreadedServer(_upstream) as up:
        gw = Gateway(GatewayConfig(upstream=up.url + "/v1", keys=str(tmp_path / "keys.json"),
                                   db=str(tmp_path / "gw.duckdb"), fingerprint_workers=0))
        with ThreadedServer(gw.app) as srv, httpx.Client(base_url=srv.url, timeout=10) as c:
            c.headers["Authorization"] = f"Bearer {key}"
            yield gw, c, str(tmp_path / "gw.duckdb")


def _chat(c: httpx.Client, model: str, i: int = 0) -> httpx.Response:
    return c.post("/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": f"q{i}"}]})


def test_a_poisoned_answer_loses_no_neighbour(gateway: tuple[Gateway, httpx.Client, str]) -> None:
    gw, c, db = gateway
    ids = []
    for i in range(30):
        r = _chat(c, "content-list" if i == 10 else "ct-str" if i == 20 else "ok", i)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json", r.text
        ids.append(r.headers["x-request-id"])
    gw.sink.flush()
    with gw.sink.store.con.cursor() as cur:
        got = dict(cur.execute("SELECT request_id, completion FROM exchanges").fetchall())
    assert set(got) == set(ids) and got[ids[10]] == "parts"
    assert c.get("/healthz").json()["ok"] is True


def test_a_full_disk_answers_503_and_healthz_says_why(gateway: tuple[Gateway, httpx.Client, str]) -> None:
    gw, c, db = gateway
    assert _chat(c, "ok").status_code == 200
    j = gw.sink.journal
    assert j is not None
    # the segment holding that row is rotated and committed first: the writer thread rotates a segment that has
    # data (closing its descriptor, whatever the test put there), and a full disk must not be rotated away
    gw.sink.flush()
    with gw.sink._lock:  # noqa: SLF001 - the log's lock, which the writer thread takes to rotate
        real, j._fd = j._fd, os.open("/dev/full", os.O_WRONLY)  # noqa: SLF001 - the disk is full now
    try:
        r = _chat(c, "ok", 1)
        assert r.status_code == 503 and r.json()["error"]["code"] == "log_unavailable"
        r = _chat(c, "ok", 2)  # refused before the upstream is asked
        assert r.status_code == 503 and r.json()["error"]["code"] == "log_unavailable"
        h = c.get("/healthz")
        assert h.status_code == 503 and h.json()["ok"] is False
        assert "No space left" in h.json()["problems"][0]
    finally:
        with gw.sink._lock:  # noqa: SLF001
            os.close(j._fd)  # noqa: SLF001
            j._fd = real  # noqa: SLF001
    time.sleep(1.1)
    assert _chat(c, "ok", 3).status_code == 200
    assert c.get("/healthz").json()["ok"] is True
