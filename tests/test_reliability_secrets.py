"""No API key, upstream credential or admin token ever appears in logs, the store, responses or error messages.

A real `distillguard serve` process (dashboard on, Redis-less) with an upstream that requires its key: the
test drives good, bad and revoked keys, a failing upstream and dashboard logins, then greps every byte the
gateway wrote (stderr, the DuckDB file, the keys file) and every response it gave for the secrets.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from distillguard.gateway.keys import KeyStore
from distillguard.gateway.stub import StubUpstream, ThreadedServer, free_port

UPSTREAM_KEY = "sk-upstream-SECRET-5f2a9c"
ADMIN_TOKEN = "admin-SECRET-token-8d1e0b77"


@pytest.mark.slow
def test_secrets_never_leak_into_logs_store_or_responses(tmp_path: Path) -> None:
    ks = KeyStore(tmp_path / "keys.json")
    key = ks.create("acct")
    revoked = ks.create("gone")
    ks.revoke(revoked.split("-")[1])
    port = free_port()
    seen: list[str] = []
    with ThreadedServer(StubUpstream(UPSTREAM_KEY)) as up:
        env = {**os.environ, "UPSTREAM_API_KEY": UPSTREAM_KEY, "DISTILLGUARD_ADMIN_TOKEN": ADMIN_TOKEN}
        with (tmp_path / "serve.log").open("wb") as errlog:
            proc = subprocess.Popen(
                [sys.executable, "-c", "from distillguard.cli import main; main()", "serve", "--upstream",
                 up.url + "/v1", "--db", str(tmp_path / "gw.duckdb"), "--keys", str(tmp_path / "keys.json"),
                 "--port", str(port), "--dashboard"], env=env, stdout=errlog, stderr=errlog)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.05)
            with httpx.Client(base_url=url, timeout=10) as c:
                body = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
                for k in (key, revoked, key + "x", "dg-nope-" + UPSTREAM_KEY, ADMIN_TOKEN):
                    for path in ("/v1/chat/completions", "/v1/completions"):
                        r = c.post(path, json=body if "chat" in path else {"model": "m", "prompt": "p"},
                                   headers={"Authorization": f"Bearer {k}"})
                        seen.append(f"{r.status_code} {r.headers} {r.text}")
                seen.append(c.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).text)
                for tok in ("wrong-token", ADMIN_TOKEN):  # dashboard API: bearer, wrong and right
                    r = c.get("/dashboard/api/stats", headers={"Authorization": f"Bearer {tok}"})
                    seen.append(f"{r.status_code} {r.headers} {r.text}")
                r = c.get("/dashboard/login")
                seen.append(r.text)
            up.stop()  # the upstream goes away: upstream errors must not carry the credential either
            with httpx.Client(base_url=url, timeout=20) as c:
                r = c.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
                assert r.status_code == 502
                seen.append(f"{r.headers} {r.text}")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    secret_part = key.split("-", 2)[2]
    written = {"serve.log": (tmp_path / "serve.log").read_bytes(), "gw.duckdb": (tmp_path / "gw.duckdb").read_bytes(),
               "keys.json": (tmp_path / "keys.json").read_bytes()}
    wal = tmp_path / "gw.duckdb.wal"
    if wal.exists():
        written["wal"] = wal.read_bytes()
    for name, data in written.items():
        for s in (UPSTREAM_KEY, ADMIN_TOKEN, secret_part, revoked.split("-", 2)[2]):
            assert s.encode() not in data, f"{s[:12]}… found in {name}"
    for text in seen:
        for s in (UPSTREAM_KEY, ADMIN_TOKEN, secret_part):
            assert s not in text, f"{s[:12]}… in a response: {text[:200]}"
