"""Hostile content end to end: huge, nested, broken and invisible input through ingest, gateway, detect, report.

Complements test_ingest_bad_input.py, test_gateway_openai.py, test_fingerprints.py and test_report.py:
those test each part alone; here the attacker's bytes travel through the real pipeline.
"""

from __future__ import annotations

import csv
import random
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow.parquet as pq
import pytest

from distillguard.api import detect_and_report
from distillguard.gateway.app import Gateway, GatewayConfig
from distillguard.gateway.keys import KeyStore
from distillguard.gateway.stub import StubUpstream, ThreadedServer
from distillguard.ingest import ingest_logs
from distillguard.store import Store
from handbuilt import campaign, legit_users, scrub_network, write_jsonl

SCRIPT = "<script>alert('dg')</script>"
FORMULA = "=cmd|' /C calc'!A0"
ZW = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
CONFUSABLE = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "S": "\u0405"}


# -- gateway ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("hostile-gw")
    key = KeyStore(tmp / "keys.json").create("acct")
    with ThreadedServer(StubUpstream()) as up:
        g = Gateway(GatewayConfig(upstream=up.url, keys=str(tmp / "keys.json"), db=str(tmp / "gw.duckdb"),
                                  sync_interval_s=0.05, fingerprint_interval_s=0.02))
        with ThreadedServer(g.app) as srv, httpx.Client(base_url=srv.url, timeout=30) as c:
            yield {"gw": g, "client": c, "key": key, "url": srv.url, "port": srv.port}


def _post(gw: dict[str, Any], content: bytes, **headers: str) -> httpx.Response:
    return gw["client"].post("/v1/chat/completions", content=content,
                             headers={"Authorization": f"Bearer {gw['key']}", "Content-Type": "application/json",
                                      **headers})


def _chat_body(text: str) -> bytes:
    return orjson.dumps({"model": "m", "messages": [{"role": "user", "content": text}]})


def _stored(gw: dict[str, Any], rid: str) -> list[tuple[Any, ...]]:
    gw["gw"].sink.flush()
    with gw["gw"].sink.store.con.cursor() as cur:
        return cur.execute("SELECT status, messages[1].content, user_agent FROM exchanges WHERE request_id = ?",
                           [rid]).fetchall()


def test_10mb_prompt_is_a_clean_413_with_and_without_content_length(gw: dict[str, Any]) -> None:
    body = _chat_body("A" * 10_000_000)
    r = _post(gw, body)
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"

    def chunked() -> Iterator[bytes]:  # no Content-Length: the gateway must count while it reads
        for i in range(0, len(body), 65536):
            yield body[i:i + 65536]

    r = gw["client"].post("/v1/chat/completions", content=chunked(),
                          headers={"Authorization": f"Bearer {gw['key']}"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
    assert _post(gw, _chat_body("still alive")).status_code == 200


def _raw(port: int, head: bytes, body: bytes = b"") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head + b"\r\n\r\n" + body)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_lying_content_length_and_garbage_headers(gw: dict[str, Any]) -> None:
    auth = b"Authorization: Bearer " + gw["key"].encode()
    huge = _raw(gw["port"], b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + auth
                + b"\r\nContent-Length: 20000000", _chat_body("x"))
    assert huge.startswith(b"HTTP/1.1 413") and b"request_too_large" in huge
    overflow = _raw(gw["port"], b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + auth
                    + b"\r\nContent-Length: 99999999999999999999", _chat_body("x"))
    assert overflow.startswith(b"HTTP/1.1 400")  # refused by the HTTP parser itself
    neg = _raw(gw["port"], b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + auth
               + b"\r\nContent-Length: -1", _chat_body("x"))
    assert neg.startswith(b"HTTP/1.1 400")
    # a half-sent body: the peer closes early; the gateway must neither crash nor log an exchange
    short = _raw(gw["port"], b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n" + auth,
                 b'{"model"')
    assert not short.startswith(b"HTTP/1.1 5")
    assert _post(gw, _chat_body("after a half-sent request")).status_code == 200


@pytest.mark.parametrize("body", [
    b"[" * 200_000 + b"]" * 200_000,
    b'{"model": "m", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"model": "m", "messages": [{"role": "user", "content": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}]}",
    b'{"model": "m", "messages": [{"role": "user", "content": "\xff\xfe bad utf-8 \xc3"}]}',
    b'{"model": "m", "messages": [{"role": "user", "content": "lone \\ud800 surrogate"}]}',
    b'{"model": "m", "messages": [{"role": "user", "content": "\\udfff\\ud800"}]}',
    b"\x00" * 1000,
    b'{"model": "m", "messages": [{"role": {}, "content": "x"}]}',
], ids=["nested-array", "nested-messages", "nested-content", "bad-utf8", "lone-surrogate", "reversed-pair", "nul",
        "role-object"])
def test_hostile_json_is_a_4xx_or_served_never_a_500(gw: dict[str, Any], body: bytes) -> None:
    r = _post(gw, body)
    assert r.status_code in (200, 400, 413), r.text[:300]
    if r.status_code != 200:
        err = r.json()["error"]
        assert set(err) == {"message", "type", "param", "code"}
    else:  # served: then it is logged, and the log keeps working
        assert _stored(gw, r.headers["x-request-id"])
    assert gw["gw"].sink.errors == 0


def test_nul_bytes_and_invisibles_are_served_and_stored_verbatim(gw: dict[str, Any]) -> None:
    text = "before\x00after\u200b\u202e" + SCRIPT
    r = _post(gw, _chat_body(text), **{"User-Agent": SCRIPT})
    assert r.status_code == 200
    assert _stored(gw, r.headers["x-request-id"]) == [(200, text, SCRIPT)]
    assert gw["gw"].sink.errors == 0


# -- ingest ----------------------------------------------------------------------------------------------
def test_ingest_hostile_lines_named_and_the_rest_stored(tmp_path: Path) -> None:
    good = {"request_id": "ok", "ts": "2026-05-01T00:00:00Z", "account_id": "a", "ip": "", "model": "m",
            "messages": [{"role": "user", "content": "fine"}]}
    lines = [
        orjson.dumps(good),
        b"[" * 100_000 + b"]" * 100_000,
        b'{"request_id": "deep", "messages": ' + b'{"a":' * 20_000 + b"1" + b"}" * 20_000 + b"}",
        orjson.dumps({**good, "request_id": "nul", "messages": [{"role": "user", "content": "a\x00b"}]}),
        orjson.dumps({**good, "request_id": "big", "messages": [{"role": "user", "content": "B" * 10_000_000}]}),
        b'{"request_id": "surrogate", "ts": "2026-05-01T00:00:00Z", "account_id": "a", "ip": "", "model": "m",'
        b' "messages": [{"role": "user", "content": "x \\ud800 y"}]}',
        b'{"request_id": "bad-utf8\xff", "ts": "2026-05-01T00:00:00Z", "account_id": "a", "ip": "", "model": "m"}',
        orjson.dumps({**good, "request_id": "role-obj", "messages": [{"role": {}, "content": "x"}]}),
        orjson.dumps({**good, "request_id": "role-list", "messages": [{"role": ["user"], "content": "x"}]}),
        orjson.dumps({**good, "request_id": "zw", "account_id": FORMULA,
                      "messages": [{"role": "user", "content": "\u200b" * 1000 + SCRIPT}]}),
    ]
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with Store.open(tmp_path / "s.duckdb") as store:
        ingest_logs(store, [path])
        got = dict(store.con.execute("SELECT request_id, length(messages[1].content) FROM exchanges").fetchall())
        rejects = store.count("rejects")
    assert got["ok"] == 4 and got["nul"] == 3 and got["big"] == 10_000_000 and got["zw"] == 1000 + len(SCRIPT)
    assert "deep" not in got and "role-obj" not in got and "role-list" not in got
    assert rejects >= 5  # nested array, nested object, invalid UTF-8 (the surrogate line may be kept or named)


# -- detect: invisible characters and look-alikes do not dodge template matching -------------------------------
def _obfuscate(text: str, rng: random.Random) -> str:
    out = []
    for ch in text:
        out.append(CONFUSABLE.get(ch, ch) if rng.random() < 0.5 else ch)
        if rng.random() < 0.15:
            out.append(rng.choice(ZW))
    return "".join(out)


@pytest.fixture(scope="module")
def detected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("hostile-detect")
    rng = random.Random(7)
    recs = scrub_network(legit_users(30) + campaign(12))
    for r in recs:
        acct = r["account_id"]
        if acct.startswith("camp-") and int(acct[-3:]) % 2:  # every other campaign account hides its template
            r["messages"][-1]["content"] = _obfuscate(r["messages"][-1]["content"], rng)
        if acct == "camp-000":  # hostile strings in fields that reach the report, CSVs and dashboard
            r["user_agent"] = SCRIPT
            r["messages"][-1]["content"] = SCRIPT + " " + r["messages"][-1]["content"]
        if acct == "camp-002":
            r["account_id"] = FORMULA
            r["user_agent"] = SCRIPT
    out = tmp / "out"
    detect_and_report([write_jsonl(recs, tmp / "log.jsonl")], out)  # with the rich report
    return out


def _accounts(out: Path) -> dict[str, dict[str, str]]:
    with (out / "accounts.csv").open(newline="") as f:
        return {r["account_id"]: r for r in csv.DictReader(f)}


def test_obfuscated_and_clean_accounts_land_in_one_campaign(detected: Path) -> None:
    rows = _accounts(detected)
    camp = {a: r for a, r in rows.items() if a.startswith("camp-") or a == FORMULA}
    assert len(camp) == 12
    assert all(r["flagged"] == "true" for r in camp.values()), {a: r["score"] for a, r in camp.items()}
    assert len({r["campaign_id"] for r in camp.values()}) == 1
    assert not any(r["flagged"] == "true" for a, r in rows.items() if a.startswith("user-"))
    links = pq.read_table(detected / "links.parquet").to_pylist()
    shared = {(e["src"], e["dst"]) for e in links if e["kind"] in ("shared-template", "shared-wrapper")}
    hidden, clean = "camp-001", "camp-004"  # odd = obfuscated, even = clean
    assert any(hidden in pair and any(p.startswith("camp-") and int(p[-3:]) % 2 == 0 for p in pair)
               for pair in shared), sorted(shared)[:10]
    assert clean in {a for pair in shared for a in pair}


def test_hostile_strings_are_escaped_in_report_and_round_trip_in_csv(detected: Path) -> None:
    html = (detected / "report.html").read_text()
    assert "<script>alert(" not in html
    assert "alert(&#x27;dg&#x27;)" in html or "alert(&#39;dg&#39;)" in html or "&lt;script&gt;" in html
    # contract CSVs carry ids verbatim (a consumer must be able to join on them), correctly quoted
    assert FORMULA in _accounts(detected)
    for name in ("accounts.csv", "templates.csv", "infrastructure.csv", "timeline.csv"):
        with (detected / name).open(newline="") as f:
            rows = list(csv.reader(f))
        assert len({len(r) for r in rows}) == 1, name  # no row split or widened by commas/quotes/newlines


def test_dashboard_pages_escape_what_detect_found(detected: Path, tmp_path: Path) -> None:
    from distillguard.dashboard import create_app
    from distillguard.gateway.control import GatewayControl

    token = "t" * 32
    app = create_app(GatewayControl.in_memory(), str(detected), token)
    cid = _accounts(detected)["camp-000"]["campaign_id"]
    with ThreadedServer(app) as srv, httpx.Client(base_url=srv.url, timeout=10) as c:
        page = c.get("/login")
        nonce = re.search(r'name="login_nonce" value="([^"]+)"', page.text)
        assert nonce
        assert c.post("/login", data={"login_nonce": nonce.group(1), "name": "ana", "token": token}).status_code == 303
        pages = [c.get(p) for p in ("/", f"/campaigns/{cid}", "/accounts/camp-000", "/report")]
        pages.append(c.get("/accounts/" + FORMULA))  # ids with '/' (dashboard routes use :path)
    for p in pages:
        assert p.status_code == 200, (p.url, p.status_code)
        assert "<script>alert(" not in p.text, p.url
