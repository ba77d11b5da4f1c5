"""A real `distillguard serve` process on a free loopback port, for the tests that kill or restart it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from distillguard.gateway.stub import free_port


def spawn_serve(tmp: Path, upstream: str, *extra: str, env: dict[str, str] | None = None,
                timeout_s: float = 60) -> tuple[subprocess.Popen[bytes], str]:
    """Start `serve` on `tmp/gw.duckdb` + `tmp/keys.json`, wait until /healthz answers; return (process, url).

    Its stdout and stderr go to `tmp/serve.log`, which the start-up error quotes. The port is found free here
    and bound by the child: if another process took it in between, the child is started again on another."""
    for attempt in range(3):
        try:
            return _spawn_serve(tmp, upstream, extra, env, timeout_s)
        except _PortTaken:
            if attempt == 2:
                raise RuntimeError(f"gateway did not start: {(tmp / 'serve.log').read_text()}") from None
    raise AssertionError("unreachable")


class _PortTaken(Exception):
    pass


def _spawn_serve(tmp: Path, upstream: str, extra: tuple[str, ...], env: dict[str, str] | None,
                 timeout_s: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = tmp / "serve.log"
    with log.open("wb") as errlog:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from distillguard.cli import main; main()", "serve", "--upstream", upstream,
             "--db", str(tmp / "gw.duckdb"), "--keys", str(tmp / "keys.json"), "--port", str(port), *extra],
            env={**os.environ, **(env or {})}, stdout=errlog, stderr=errlog)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            text = log.read_text()
            if "address already in use" in text.lower():
                raise _PortTaken(text)
            raise RuntimeError(f"gateway did not start: {text}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.05)
