"""Trust and hygiene of `distillguard serve`: X-Forwarded-For only from --trusted-proxies, files that hold
prompts readable by their owner only, admin tokens of at least 32 characters, no upstream password in the
banner, a killed fingerprint worker replaced (and /healthz saying so), a stream cut before its end not
stored as a clean 200."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson

from asgi_upstream import read_request
from distillguard.gateway.app import Gateway, GatewayConfig
from distillguard.gateway.keys import KeyStore
from distillguard.gateway.stub import StubUpstream, ThreadedServer
from distillguard.store import Store
from gateway_proc import spawn_serve
from waiting import eventually


def _ip_of_stored_exchange(tmp: Path, upstream: str, *extra: str) -> str:
    key = KeyStore(tmp / "keys.json").create("acct")
    proc, url = spawn_serve(tmp, upstream, *extra)
    try:
        r = httpx.post(url + "/v1/chat/completions", headers={"Authorization": f"Bearer {key}",
                                                              "X-Forwarded-For": "6.6.6.6"},
                       json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    with Store.open(tmp / "gw.duckdb") as s:
        return str(s.con.execute("SELECT ip FROM exchanges").fetchone()[0])


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(tmp_path: Path) -> None:
    with ThreadedServer(StubUpstream()) as up:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        assert _ip_of_stored_exchange(tmp_path / "a", up.url + "/v1") == "127.0.0.1"
        assert _ip_of_stored_exchange(tmp_path / "b", up.url + "/v1", "--trusted-proxies", "127.0.0.1") == "6.6.6.6"
    # every file the gateway wrote (store, its parts, journal) is readable by its owner only
    written = [p for p in (tmp_path / "a").rglob("*") if p.is_file() and p.name not in ("keys.json", "serve.log")]
    assert written and {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in written} == {
        p.name: "0o600" for p in written}


def _serve(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from distillguard.cli import main; main()", "serve", *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


def test_a_short_admin_token_is_refused(tmp_path: Path) -> None:
    r = _serve(["--upstream", "http://127.0.0.1:9/v1", "--db", str(tmp_path / "g.duckdb"), "--dashboard"],
               {"DISTILLGUARD_ADMIN_TOKEN": "x"})
    assert r.returncode == 2 and "at least 32" in r.stderr and r.stderr.count("\n") == 1


def test_the_banner_never_shows_the_upstream_password(tmp_path: Path) -> None:
    with ThreadedServer(StubUpstream()) as up:
        KeyStore(tmp_path / "keys.json").create("acct")
        proc, _ = spawn_serve(tmp_path, up.url.replace("http://", "http://ops:hunter2-secret@") + "/v1")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    log = (tmp_path / "serve.log").read_text()
    assert "ops:***@127.0.0.1" in log and "hunter2" not in log


def test_a_killed_fingerprint_worker_is_replaced(tmp_path: Path) -> None:
    key = KeyStore(tmp_path / "keys.json").create("acct")
    with ThreadedServer(StubUpstream()) as up:
        gw = Gateway(GatewayConfig(upstream=up.url + "/v1", keys=str(tmp_path / "keys.json"),
                                   db=str(tmp_path / "gw.duckdb"), fingerprint_workers=1,
                                   fingerprint_interval_s=0.05))
        with ThreadedServer(gw.app) as srv, httpx.Client(base_url=srv.url, timeout=10) as c:
            worker = gw.fingerprints.workers[0]
            os.kill(worker._proc.pid, signal.SIGKILL)  # noqa: SLF001
            worker._proc.wait()  # noqa: SLF001
            h = c.get("/healthz").json()
            # replaced within a fingerprint interval (later on a loaded machine)
            assert eventually(lambda: gw.fingerprints.worker_restarts >= 1), "the killed worker was never replaced"
            h = c.get("/healthz")
            assert h.status_code == 200 and h.json()["fingerprint_worker_restarts"] == 1
            assert h.json()["fingerprint_workers_alive"] == 1
            before = gw.fingerprints.batches
            c.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                   json={"model": "m", "messages": [{"role": "user", "content": "a fresh prompt to fingerprint"}]})
            # the new child imports the fingerprint code first: seconds on a loaded machine
            assert eventually(lambda: gw.fingerprints.batches > before), "the new worker never fingerprinted a batch"


async def _drip(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Streams one event every 0.2 s for 10 s."""
    if await read_request(scope, receive, send) is None:
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    for _ in range(50):
        ev = {"choices": [{"index": 0, "delta": {"content": "w "}}]}
        await send({"type": "http.response.body", "body": b"data: " + orjson.dumps(ev) + b"\n\n", "more_body": True})
        await asyncio.sleep(0.2)
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})


def test_a_stream_cut_before_its_end_is_not_stored_as_200(tmp_path: Path) -> None:
    key = KeyStore(tmp_path / "keys.json").create("acct")
    with ThreadedServer(_drip) as up:
        gw = Gateway(GatewayConfig(upstream=up.url + "/v1", keys=str(tmp_path / "keys.json"),
                                   db=str(tmp_path / "gw.duckdb"), fingerprint_workers=0))
        with ThreadedServer(gw.app) as srv:
            with httpx.Client(base_url=srv.url, timeout=10) as c, c.stream(
                    "POST", "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                    json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "go"}]}) as r:
                it = r.iter_bytes()
                next(it)
                next(it)  # then the client goes away mid-stream

            def stored() -> list[tuple[Any, ...]]:
                gw.sink.flush()
                with gw.sink.store.con.cursor() as cur:
                    return cur.execute("SELECT status FROM exchanges").fetchall()

            # stored once the gateway notices the client left (at its next chunk, 0.2 s; later on a loaded machine)
            assert eventually(stored, every_s=0.2) == [(499,)]
