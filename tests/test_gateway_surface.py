"""The OpenAI surface through the official `openai` SDK: /v1/responses (streamed too) and /v1/embeddings
with the same authentication, logging and enforcement as chat; errors everywhere in OpenAI's shape; the
upstream refusing the gateway's own key is the operator's 502, never the customer's 401.

A real uvicorn gateway on 127.0.0.1 in front of the real stub upstream on 127.0.0.1.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

openai = pytest.importorskip("openai")

from distillguard.gateway.app import Gateway, GatewayConfig  # noqa: E402
from distillguard.gateway.keys import KeyStore  # noqa: E402
from distillguard.gateway.stub import StubUpstream, ThreadedServer  # noqa: E402

UPSTREAM_KEY = "upstream-secret-surface"
POLICY = """
version = 1
[limits.account]
requests_per_minute = 6000
[[account.rules]]
min_score = 0.8
action = "degrade"
[[campaign.rules]]
min_confidence = 0.8
action = "block"
[degrade]
max_tokens = 64
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("surface")
    det = tmp / "detect"
    det.mkdir()
    (det / "accounts.csv").write_text("account_id,score,flagged,campaign_id,reasons\n"
                                      "legit,0.01,false,,\nd1,0.85,true,,cot\nb0,0.9,true,CB,lockstep-timing\n")
    (det / "campaigns.json").write_text(json.dumps([{"campaign_id": "CB", "accounts": 1, "confidence": 0.9}]))
    (tmp / "policy.toml").write_text(POLICY)
    ks = KeyStore(tmp / "keys.json")
    keys = {a: ks.create(a) for a in ("legit", "d1", "b0")}
    with ThreadedServer(StubUpstream(UPSTREAM_KEY)) as up:
        gws = {}
        for name, ukey in (("ok", UPSTREAM_KEY), ("nokey", None)):
            cfg = GatewayConfig(upstream=up.url + "/v1", keys=str(tmp / "keys.json"), upstream_key=ukey,
                                db=str(tmp / f"{name}.duckdb"), policy=str(tmp / "policy.toml"), detect=str(det),
                                sync_interval_s=0.05, fingerprint_interval_s=0.02)
            gws[name] = Gateway(cfg)
        with ThreadedServer(gws["ok"].app) as srv, ThreadedServer(gws["nokey"].app) as bad:
            clients: list[Any] = []
            yield {"gw": gws["ok"], "url": srv.url, "bad_url": bad.url, "keys": keys, "clients": clients}
            for c in clients:
                c.close()


def client(env: dict[str, Any], account: str = "legit", bad: bool = False) -> Any:
    c = openai.OpenAI(api_key=env["keys"].get(account, account), base_url=env["bad_url" if bad else "url"] + "/v1",
                      max_retries=0, timeout=10)
    env["clients"].append(c)
    return c


def logged(env: dict[str, Any], rid: str) -> dict[str, Any]:
    gw = env["gw"]
    deadline = time.monotonic() + 10
    while True:
        gw.sink.flush()
        with gw.sink.store.con.cursor() as cur:
            cur.execute("SELECT account_id, endpoint, status, messages, prompt, completion, prompt_tokens, "
                        "completion_tokens, params FROM exchanges WHERE request_id = ?", [rid])
            row = cur.fetchone()
            names = [d[0] for d in cur.description]
        if row is not None or time.monotonic() > deadline:
            assert row is not None, f"request {rid} was not logged"
            return dict(zip(names, row, strict=True))
        time.sleep(0.05)


def test_responses_through_the_sdk_is_proxied_and_logged(env: dict[str, Any]) -> None:
    raw = client(env).responses.with_raw_response.create(
        model="m", instructions="Be brief.", input=[{"role": "user", "content": "What is 6 x 7?"}])
    r = raw.parse()
    assert r.output_text == "The answer is 42."
    row = logged(env, raw.headers["x-request-id"])
    assert row["account_id"] == "legit" and row["endpoint"] == "/v1/responses" and row["status"] == 200
    assert [(m["role"], m["content"]) for m in row["messages"]] == [("developer", "Be brief."),
                                                                     ("user", "What is 6 x 7?")]
    assert row["completion"] == "The answer is 42." and (row["prompt_tokens"], row["completion_tokens"]) == (5, 4)
    assert "What is 6" not in (row["params"] or "") and "Be brief" not in (row["params"] or "")


def test_responses_stream_through_the_sdk(env: dict[str, Any]) -> None:
    with client(env).responses.with_streaming_response.create(model="m", input="Stream me a number.",
                                                             stream=True) as raw:
        rid = raw.headers["x-request-id"]
        events = list(raw.parse())
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "The answer is 42."
    assert events[-1].type == "response.completed" and events[-1].response.usage.output_tokens == 4
    row = logged(env, rid)
    assert row["endpoint"] == "/v1/responses" and row["completion"] == "The answer is 42."
    assert row["messages"][-1]["content"] == "Stream me a number." and row["completion_tokens"] == 4


def test_embeddings_through_the_sdk(env: dict[str, Any]) -> None:
    raw = client(env).embeddings.with_raw_response.create(model="e", input=["first text", "second text"])
    r = raw.parse()
    assert [d.index for d in r.data] == [0, 1] and len(r.data[0].embedding) == 3
    row = logged(env, raw.headers["x-request-id"])
    assert row["endpoint"] == "/v1/embeddings" and row["prompt"] == "first text\nsecond text"
    assert row["messages"] is None and row["completion"] is None and row["prompt_tokens"] == 5


def test_new_endpoints_authenticate_and_enforce(env: dict[str, Any]) -> None:
    with pytest.raises(openai.AuthenticationError):
        client(env, "not-a-key").responses.create(model="m", input="hi")
    with pytest.raises(openai.AuthenticationError):
        client(env, "not-a-key").embeddings.create(model="e", input="hi")
    with pytest.raises(openai.PermissionDeniedError) as e:
        client(env, "b0").responses.create(model="m", input="hi")
    assert e.value.code == "account_blocked"
    with pytest.raises(openai.PermissionDeniedError):
        client(env, "b0").embeddings.create(model="e", input="hi")
    # degrade: output tokens capped (the Responses API's own field), reasoning items dropped, watermark forced
    raw = client(env, "d1").responses.with_raw_response.create(model="m", input="think", max_output_tokens=4000)
    body = json.loads(raw.http_response.text)
    assert body["stub"] == {"max_tokens": 64, "watermark": "force"}
    assert [o["type"] for o in body["output"]] == ["message"]
    with client(env, "d1").responses.with_streaming_response.create(model="m", input="think", stream=True) as s:
        text = s.http_response.read().decode()
    assert "reasoning" not in text and "response.completed" in text and "42." in text


def test_bad_requests_are_openai_400s(env: dict[str, Any]) -> None:
    with pytest.raises(openai.BadRequestError):
        client(env).responses.create(model="m", input=42)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError):
        client(env).embeddings.create(model="e", input=[{"x": 1}])  # type: ignore[list-item]


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("GET", "/v1/nope", 404, "not_found"), ("POST", "/v1/assistants", 404, "not_found"),
    ("GET", "/v1/chat/completions", 405, "method_not_allowed"), ("DELETE", "/v1/models", 405, "method_not_allowed"),
])
def test_everything_else_answers_in_openai_error_shape(env: dict[str, Any], method: str, path: str, status: int,
                                                       code: str) -> None:
    r = httpx.request(method, env["url"] + path, headers={"Authorization": f"Bearer {env['keys']['legit']}"})
    assert r.status_code == status and r.headers["content-type"] == "application/json"
    err = r.json()["error"]
    assert err["code"] == code and err["type"] == "invalid_request_error" and path in err["message"]
    assert r.headers["x-request-id"]


def test_the_sdk_sees_not_found_as_such(env: dict[str, Any]) -> None:
    with pytest.raises(openai.NotFoundError) as e:
        client(env).fine_tuning.jobs.list()
    assert e.value.code == "not_found"


def test_upstream_refusing_the_gateways_key_is_a_502_not_the_customers_401(env: dict[str, Any]) -> None:
    """The gateway without UPSTREAM_API_KEY: the stub answers 401 invalid_api_key to it."""
    for call in (lambda c: c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}]),
                 lambda c: c.responses.create(model="m", input="hi"),
                 lambda c: c.embeddings.create(model="e", input="hi"),
                 lambda c: c.models.list()):
        with pytest.raises(openai.InternalServerError) as e:
            call(client(env, bad=True))
        assert e.value.status_code == 502 and e.value.code == "upstream_auth_failed"
        assert "operator" in str(e.value) and "invalid_api_key" not in str(e.value)


def test_health_and_openapi_list_the_new_endpoints(env: dict[str, Any]) -> None:
    paths = httpx.get(env["url"] + "/openapi.json", timeout=30).json()["paths"]
    assert "/v1/responses" in paths and "/v1/embeddings" in paths


def test_stub_answers_the_new_endpoints_directly() -> None:
    with ThreadedServer(StubUpstream()) as up, openai.OpenAI(api_key="x", base_url=up.url + "/v1", max_retries=0) as c:
        assert c.responses.create(model="m", input="x").output_text == "The answer is 42."
        assert len(c.embeddings.create(model="e", input="x").data) == 1


def test_serve_without_the_upstream_key_says_so_and_clients_get_the_operators_502(tmp_path: Any) -> None:
    from gateway_proc import spawn_serve

    key = KeyStore(tmp_path / "keys.json").create("legit")
    with ThreadedServer(StubUpstream(UPSTREAM_KEY)) as up:
        proc, url = spawn_serve(tmp_path, up.url + "/v1", "--upstream-key-env", "DG_TEST_UNSET_UPSTREAM_KEY")
        try:
            with openai.OpenAI(api_key=key, base_url=url + "/v1", max_retries=0) as c, \
                    pytest.raises(openai.InternalServerError) as e:
                c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
            assert e.value.status_code == 502 and e.value.code == "upstream_auth_failed"
        finally:
            proc.terminate()
            proc.wait(20)
    out = (tmp_path / "serve.log").read_text()
    assert "DG_TEST_UNSET_UPSTREAM_KEY is not set" in out
    assert "the upstream refused the gateway's credential (HTTP 401)" in out


def test_a_bug_in_the_gateway_is_an_openai_500(env: dict[str, Any]) -> None:
    """Fault injection: the enforcement engine raises; the client gets OpenAI's error shape, not text."""
    gw = env["gw"]

    def boom(req: Any) -> Any:
        raise RuntimeError("injected fault")

    real, gw.enforcer.decide = gw.enforcer.decide, boom
    try:
        with pytest.raises(openai.InternalServerError) as e:
            client(env).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    finally:
        gw.enforcer.decide = real
    assert e.value.status_code == 500 and e.value.code == "internal_error"
    assert "injected fault" not in str(e.value)  # details stay in the gateway's log
