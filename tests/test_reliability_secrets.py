"""No API key, upstream credential or admin token ever appears in logs, the store, reports, STIX exports,
responses or error messages.

A real `distillguard serve` process (dashboard on, Redis-less) with an upstream that requires its key: the
test drives good, bad and revoked keys (until the failed-authentication limit answers 429), keys and tokens
sent in the wrong places, a failing upstream and dashboard logins, then greps every byte the gateway wrote
(stdout and stderr, the DuckDB file and WAL, its request journal, the keys file), every response it gave,
and what `detect` (accounts.csv, campaigns.json, report.html, ...) and `intel export` (STIX and MISP) make of
its store.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from distillguard.cli import main as cli
from distillguard.gateway.keys import KeyStore
from distillguard.gateway.stub import StubUpstream, ThreadedServer
from distillguard.store import Store
from gateway_proc import spawn_serve

UPSTREAM_KEY = "sk-upstream-SECRET-5f2a9c"
ADMIN_TOKEN = "admin-SECRET-token-8d1e0b77-4f2a9c61e03b"  # serve needs >= 32 characters


@pytest.mark.slow
def test_secrets_never_leak_into_logs_store_or_responses(tmp_path: Path) -> None:
    ks = KeyStore(tmp_path / "keys.json")
    key = ks.create("acct")
    revoked = ks.create("gone")
    ks.revoke(revoked.split("-")[1])
    seen: list[str] = []
    with ThreadedServer(StubUpstream(UPSTREAM_KEY)) as up:
        env = {"UPSTREAM_API_KEY": UPSTREAM_KEY, "DISTILLGUARD_ADMIN_TOKEN": ADMIN_TOKEN}
        proc, url = spawn_serve(tmp_path, up.url + "/v1", "--dashboard", "--auth-failures", "20", env=env)
        try:
            with httpx.Client(base_url=url, timeout=10) as c:
                body = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
                for k in (key, revoked, key + "x", "dg-nope-" + UPSTREAM_KEY, ADMIN_TOKEN):
                    for path in ("/v1/chat/completions", "/v1/completions"):
                        r = c.post(path, json=body if "chat" in path else {"model": "m", "prompt": "p"},
                                   headers={"Authorization": f"Bearer {k}"})
                        seen.append(f"{r.status_code} {r.headers} {r.text}")
                seen.append(c.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).text)
                for i in range(6):  # enough traffic for detect to have accounts to score
                    r = c.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}", "User-Agent": "t/1"},
                               json={"model": "m", "messages": [{"role": "user", "content": f"Solve {i} + {i}"}]})
                    seen.append(f"{r.status_code} {r.headers} {r.text}")
                for hdr in ({"X-Api-Key": key}, {"Authorization": key}, {"Authorization": f"Basic {ADMIN_TOKEN}"},
                            {"X-Request-Id": ADMIN_TOKEN}):  # credentials in the wrong place
                    r = c.post("/v1/chat/completions", json=body, headers=hdr)
                    # a client's own request id is echoed to it in X-Client-Request-Id (its own value, to itself);
                    # it never becomes the logged id, which the store grep below checks
                    echoed = {k: v for k, v in r.headers.items() if k != "x-client-request-id"}
                    seen.append(f"{r.status_code} {echoed} {r.text}")
                page = c.get("/dashboard/login")
                nonce = page.cookies.get("dg_login", "")
                for tok in ("wrong-" + ADMIN_TOKEN, ADMIN_TOKEN):  # dashboard login form, wrong then right
                    r = c.post("/dashboard/login", data={"login_nonce": nonce, "name": "ana", "token": tok})
                    seen.append(f"{r.status_code} {r.headers} {r.text}")
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
                statuses = []
                for i in range(14):  # guessing keys: 401s, then the failed-authentication limit
                    guess = {"Authorization": f"Bearer {key[:-4]}{i:04d}"}
                    r = c.post("/v1/chat/completions", json=body, headers=guess)
                    statuses.append(r.status_code)
                    seen.append(f"{r.status_code} {r.headers} {r.text}")
                assert statuses[-1] == 429 and set(statuses) == {401, 429}
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    secret_part = key.split("-", 2)[2]
    out = tmp_path / "detect"
    runner = CliRunner()
    for args in (["detect", "--db", str(tmp_path / "gw.duckdb"), "--out", str(out)],
                 ["intel", "export", str(out), "--out", str(tmp_path / "stix.json"), "--min-accounts", "1",
                  "--min-indicator-accounts", "1", "--include-identifiers", "--db", str(tmp_path / "gw.duckdb")],
                 ["intel", "export", str(out), "--format", "misp", "--out", str(tmp_path / "misp.json"),
                  "--min-accounts", "1", "--include-identifiers"]):
        res = runner.invoke(cli, args)
        assert res.exit_code == 0, res.output
        seen.append(res.output)
    written = {p.name: p.read_bytes() for p in [*tmp_path.iterdir(), *out.iterdir()] if p.is_file()}
    written.update({f"journal/{p.name}": p.read_bytes() for p in tmp_path.glob("gw.duckdb.journal/*")})
    assert {"serve.log", "gw.duckdb", "keys.json", "stix.json", "misp.json", "report.html",
            "accounts.csv"} <= set(written)
    with Store.open(tmp_path / "gw.duckdb") as s:  # the store holds what the grep is about
        assert s.count("exchanges") >= 8
        assert s.con.execute("SELECT count(*) FROM enforcement_events WHERE status = 401").fetchone()[0] >= 12
    for name, data in written.items():
        for s in (UPSTREAM_KEY, ADMIN_TOKEN, secret_part, revoked.split("-", 2)[2]):
            assert s.encode() not in data, f"{s[:12]}… found in {name}"
    for text in seen:
        for s in (UPSTREAM_KEY, ADMIN_TOKEN, secret_part):
            assert s not in text, f"{s[:12]}… in a response: {text[:200]}"
