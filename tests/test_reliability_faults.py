"""Faults under load: kill -9 of the gateway, Redis going away and coming back, a broken upstream, a crashed detect.

test_gateway_durability.py covers SIGTERM and kill -9 after sequential requests; test_gateway_redis.py covers
Redis going down. Here: the same faults with concurrent clients, recovery without a restart, upstream
failures (status codes, timeouts, cut streams) and leaks, and detect killed half-way.
"""

from __future__ import annotations

import asyncio
import collections
import csv
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from distillguard.gateway.app import Gateway, GatewayConfig
from distillguard.gateway.keys import KeyStore
from distillguard.gateway.stub import StubUpstream, ThreadedServer, lifespan, read_body
from distillguard.gateway.upstream import AiohttpUpstream
from distillguard.store import Store
from handbuilt import campaign, legit_users, write_jsonl
from test_gateway_durability import start_gateway
from test_gateway_redis import REDIS, redis_on_a_free_port, start_redis
from waiting import eventually


def _load(url: str, key: str, stop: threading.Event, out: list[tuple[float, float, int, str]],
          tag: str = "", stream: bool = False) -> None:
    """Send chat requests until `stop`; append (sent, answered, status, request id); 0 = transport error.
    A stream counts as answered 2xx only once its `data: [DONE]` arrived."""
    with httpx.Client(base_url=url, timeout=5) as c:
        i = 0
        while not stop.is_set():
            i += 1
            t0 = time.monotonic()
            body = {"model": "m", "stream": stream, "messages": [{"role": "user", "content": f"{tag} q {i}"}]}
            try:
                with c.stream("POST", "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                              json=body) as r:
                    status, rid = r.status_code, r.headers.get("x-request-id", "")
                    seen = b""
                    for part in r.iter_raw():
                        seen += part
                        if stream and b"[DONE]" in seen:
                            break  # what an SDK does: the answer is complete, whatever follows
                if stream and status == 200 and b"[DONE]" not in seen:
                    status = 0
                out.append((t0, time.monotonic(), status, rid))
            except httpx.TransportError:
                out.append((t0, time.monotonic(), 0, ""))
                time.sleep(0.01)


def _run_load(url: str, key: str, threads: int, stop: threading.Event,
              out: list[tuple[float, float, int, str]], streams: int = 0) -> list[threading.Thread]:
    ts = [threading.Thread(target=_load, args=(url, key, stop, out, f"t{n}", n < streams), daemon=True)
          for n in range(threads)]
    for t in ts:
        t.start()
    return ts


def _warm(url: str, key: str) -> None:
    """One request first: the first one pays for imports and the fingerprint worker's start (~2 s)."""
    r = httpx.post(url + "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                   json={"model": "m", "messages": [{"role": "user", "content": "warm-up"}]})
    assert r.status_code == 200, r.text


# -- kill -9 under load ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_kill_9_under_load_then_restart(tmp_path: Path) -> None:
    with ThreadedServer(StubUpstream("up-key")) as up:
        proc, url, key = start_gateway(tmp_path, up.url + "/v1")
        _warm(url, key)
        stop, got = threading.Event(), []
        threads = _run_load(url, key, 4, stop, got, streams=2)
        assert eventually(lambda: sum(200 <= s < 300 for _, _, s, _ in got) > 50), "the gateway answered too few"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=10)
        ok = {rid for _, _, status, rid in got if 200 <= status < 300}
        assert len(ok) > 50 and "" not in ok
        assert list((tmp_path / "gw.duckdb.journal").glob("*.log")), "the killed gateway left no journal"
        # the restart replays the journal: every 2xx the clients got is stored, each once
        proc2, url2, key2 = start_gateway(tmp_path, up.url + "/v1")
        try:
            health = httpx.get(url2 + "/healthz", timeout=10).json()
            with httpx.Client(base_url=url2, timeout=10) as c:
                for i in range(10):
                    r = c.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key2}"},
                               json={"model": "m", "messages": [{"role": "user", "content": f"after {i}"}]})
                    assert r.status_code == 200
        finally:
            proc2.send_signal(signal.SIGTERM)
            proc2.wait(timeout=20)
        with Store.open(tmp_path / "gw.duckdb") as s:
            stored = {r[0] for r in s.con.execute("SELECT request_id FROM exchanges WHERE status = 200").fetchall()}
            n, distinct = s.con.execute("SELECT count(*), count(DISTINCT request_id) FROM exchanges").fetchone()
        lost = ok - stored
        print(f"kill -9 under load: {len(ok)} answered 2xx, {len(lost)} of them missing after restart "
              f"({health['journal_replayed']} exchanges replayed from the journal)")
        assert not lost, f"{len(lost)} of {len(ok)} answered 2xx are not in the store"
        assert n == distinct  # no duplicates from the replay
        # a request in flight at the kill may be stored without its answer reaching the client: <= 1 per client
        assert len(stored - ok) <= 4 + 10
        assert not list((tmp_path / "gw.duckdb.journal").glob("*.log"))  # replayed and removed


# -- upstream faults -------------------------------------------------------------------------------------
class FaultyUpstream:
    """An upstream that fails as the request's model says: `500`, `503-html`, `hang`, `cut`, `cut-stream`."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        body = await read_body(receive)
        model = orjson.loads(body or b"{}").get("model", "")
        if model == "500":
            await _send(send, 500, b'{"error": {"message": "boom", "type": "server_error", "code": null}}',
                        b"application/json")
        elif model == "503-html":
            await _send(send, 503, b"<html><body><h1>503 Service Unavailable</h1></body></html>", b"text/html")
        elif model == "hang":
            await asyncio.sleep(3)  # longer than the gateway waits (1 s)
        elif model in ("cut", "cut-stream"):
            ctype = b"text/event-stream" if model == "cut-stream" else b"application/json"
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", ctype), (b"content-length", b"1000")]})
            await send({"type": "http.response.body", "body": b'data: {"choices": [{"delta": {"content": "pa',
                        "more_body": True})
            raise RuntimeError("upstream dies mid-response")  # uvicorn drops the connection
        else:
            await _send(send, 200, b'{"choices": [{"message": {"role": "assistant", "content": "ok"}}], '
                                   b'"usage": {"prompt_tokens": 1, "completion_tokens": 1}}', b"application/json")


async def _send(send: Any, status: int, body: bytes, ctype: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("faulty")
    key = KeyStore(tmp / "keys.json").create("acct")
    with ThreadedServer(FaultyUpstream()) as up:
        gw = Gateway(GatewayConfig(upstream=up.url, keys=str(tmp / "keys.json"), db=str(tmp / "gw.duckdb")))
        gw.upstream = AiohttpUpstream(up.url, None, timeout_s=1.0)  # what an operator's timeout does
        with ThreadedServer(gw.app) as srv, httpx.Client(base_url=srv.url, timeout=20) as c:
            yield {"gw": gw, "client": c, "key": key}


def _ask(f: dict[str, Any], model: str, stream: bool = False) -> httpx.Response:
    return f["client"].post("/v1/chat/completions", headers={"Authorization": f"Bearer {f['key']}"},
                            json={"model": model, "stream": stream, "messages": [{"role": "user", "content": "q"}]})


def _logged(f: dict[str, Any], rid: str) -> list[tuple[Any, ...]]:
    f["gw"].sink.flush()
    with f["gw"].sink.store.con.cursor() as cur:
        return cur.execute("SELECT status FROM exchanges WHERE request_id = ?", [rid]).fetchall()


@pytest.mark.parametrize(("model", "status"), [("500", 500), ("503-html", 503), ("hang", 504), ("cut", 502)])
def test_upstream_failure_is_a_clean_openai_error_and_logged(faulty: dict[str, Any], model: str, status: int) -> None:
    t0 = time.monotonic()
    r = _ask(faulty, model)
    assert time.monotonic() - t0 < 5  # the upstream timeout holds: no request waits on a hung upstream
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) >= {"message", "type", "code"} and "Traceback" not in r.text
    rid = r.headers.get("x-request-id")
    if rid is None:  # errors raised before the upstream answered carry no request id: find the row by status
        faulty["gw"].sink.flush()
        with faulty["gw"].sink.store.con.cursor() as cur:
            assert cur.execute("SELECT count(*) FROM exchanges WHERE status = ?", [status]).fetchone()[0] >= 1
    else:
        assert _logged(faulty, rid) == [(status,)]


def test_stream_cut_by_upstream_ends_the_stream_and_is_logged(faulty: dict[str, Any]) -> None:
    r = _ask(faulty, "cut-stream", stream=True)
    assert r.status_code == 200  # headers were already sent: the client sees the stream end early
    rid = r.headers["x-request-id"]
    assert eventually(lambda: _logged(faulty, rid), every_s=0.05) == [(502,)]


def test_no_leak_after_many_failures(faulty: dict[str, Any]) -> None:
    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    for m in ("ok", "500", "cut", "503-html"):  # warm every path
        _ask(faulty, m)
    fds0, threads0 = fds(), threading.active_count()
    for _ in range(15):
        for m in ("500", "cut", "503-html", "ok"):
            _ask(faulty, m)
    for _ in range(2):
        _ask(faulty, "hang")
    # the connections of the failed requests are closed by the servers' threads, soon (later on a loaded machine)
    eventually(lambda: fds() <= fds0 + 4 and threading.active_count() <= threads0 + 1)
    assert fds() <= fds0 + 4, (fds0, fds())
    assert threading.active_count() <= threads0 + 1
    assert _ask(faulty, "ok").status_code == 200


# -- Redis stopped and restarted under load --------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(not Path(REDIS).exists(), reason="redis-server is not installed")
def test_redis_restart_under_load_open_serves_closed_refuses_both_recover(tmp_path: Path) -> None:
    redis_proc, port = redis_on_a_free_port()
    ks = KeyStore(tmp_path / "keys.json")
    key = ks.create("acct")
    (tmp_path / "policy.toml").write_text("version = 1\n[limits.account]\nrequests_per_minute = 1000000\n"
                                          "request_burst = 1000000\n")  # only the state backend can refuse
    try:
        with ThreadedServer(StubUpstream()) as up:
            gws = [Gateway(GatewayConfig(upstream=up.url, keys=str(tmp_path / "keys.json"),
                                         db=str(tmp_path / f"{mode}.duckdb"), redis=f"redis://127.0.0.1:{port}/0",
                                         policy=str(tmp_path / "policy.toml"),
                                         on_state_error=mode, sync_interval_s=0.05)) for mode in ("open", "closed")]
            with ThreadedServer(gws[0].app) as a, ThreadedServer(gws[1].app) as b:
                for srv in (a, b):
                    _warm(srv.url, key)
                stop = threading.Event()
                got: dict[str, list[tuple[float, float, int, str]]] = {"open": [], "closed": []}
                threads = [threading.Thread(target=_load, args=(srv.url, key, stop, got[m]), daemon=True)
                           for srv, m in ((a, "open"), (b, "closed"))]
                for t in threads:
                    t.start()

                def answered(mode: str, after: float, status: int | None = None) -> int:
                    return sum(sent > after and (status is None or s == status) for sent, _, s, _ in got[mode])

                # each phase lasts until both gateways have answered enough requests in it, however slow the machine
                assert eventually(lambda: answered("open", 0) >= 5 and answered("closed", 0) >= 5)
                redis_proc.kill()
                redis_proc.wait()
                down_at = time.monotonic()  # Redis is gone: every request sent from now on meets the outage
                # an outage of 1.5 s at least: longer than the closed gateway's retry interval (1 s)
                assert eventually(lambda: answered("open", down_at + 1.5) >= 3 and
                                  answered("closed", down_at + 1.5) >= 3), "too few requests during the outage"
                redis_proc = start_redis(port)
                up_at = time.monotonic()  # Redis answers again
                assert eventually(lambda: answered("closed", up_at + 2.5, 200) >= 5), \
                    "closed gateway never recovered after Redis came back"
                stop.set()
                for t in threads:
                    t.join(timeout=10)
    finally:
        redis_proc.kill()
        redis_proc.wait()
    opened, closed = got["open"], got["closed"]
    assert opened and closed
    statuses = collections.Counter(s for *_, s, _ in opened)
    assert set(statuses) == {200}, statuses  # open: served throughout, from local buckets while Redis is down
    outage = [s for sent, _, s, _ in closed if down_at + 0.1 < sent < up_at]
    assert outage and set(outage) == {503}  # closed: refused, never served unchecked
    recovered = [answered for sent, answered, s, _ in closed if sent > up_at and s == 200]
    assert recovered, "closed gateway never recovered after Redis came back"
    recovery_s = recovered[0] - up_at
    assert recovery_s < 2.5  # retry interval (1 s) + reconnect
    tail = [s for sent, _, s, _ in closed if sent > up_at + 2.5]
    assert tail and set(tail) == {200}
    print(f"redis outage {up_at - down_at:.1f} s: open {len(opened)} requests all 200; closed {len(outage)} x 503 "
          f"during the outage, recovered {recovery_s:.2f} s after Redis restarted")


# -- detect killed half-way ------------------------------------------------------------------------------
@pytest.mark.slow
def test_detect_killed_midway_leaves_store_readable_and_rerun_completes(tmp_path: Path) -> None:
    log = write_jsonl(legit_users(30) + campaign(10), tmp_path / "log.jsonl")
    db, out = tmp_path / "s.duckdb", tmp_path / "out"
    with Store.open(db) as s:
        from distillguard.ingest import ingest_logs

        ingest_logs(s, [log])
        before = s.count("exchanges")
    cmd = [sys.executable, "-c", "from distillguard.cli import main; main()", "detect", "--db", str(db),
           "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.0)  # imports and the fingerprint stage
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    with Store.open(db) as s:  # readable, nothing lost, nothing added
        assert s.count("exchanges") == before
        assert s.con.execute("SELECT count(DISTINCT request_id) FROM exchanges").fetchone()[0] == before
    done = subprocess.run(cmd, capture_output=True, timeout=240)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    with (out / "accounts.csv").open(newline="") as f:
        ids = [r["account_id"] for r in csv.DictReader(f)]
    assert len(ids) == len(set(ids)) == 40
    assert json_ok(out / "campaigns.json")
    with Store.open(db) as s:
        assert s.count("exchanges") == before


def json_ok(path: Path) -> bool:
    """Whether a file holds valid JSON."""
    try:
        orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return False
    return True
