"""Schemathesis against the gateway's OpenAPI description, as the live gateway serves it (GET /openapi.json).

A real gateway on loopback in front of the stub upstream; schemathesis loads the document from the running
server, generates valid and invalid requests from it (bounded: DG_FUZZ_EXAMPLES per operation) and checks
that no request gets a 5xx, that every response matches the documented status codes, schemas and headers
(errors are OpenAI-style JSON; every response carries X-Request-Id), and that the documented content types
are what the gateway sends.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

schemathesis = pytest.importorskip("schemathesis")

from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from distillguard.gateway.app import Gateway, GatewayConfig  # noqa: E402
from distillguard.gateway.keys import KeyStore  # noqa: E402
from distillguard.gateway.stub import StubUpstream, ThreadedServer  # noqa: E402

EXAMPLES = int(os.environ.get("DG_FUZZ_EXAMPLES", "60"))
DOC = json.loads(files("distillguard.gateway").joinpath("openapi.json").read_text())
TRIED: dict[str, int] = {}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    key = KeyStore(tmp / "keys.json").create("fuzzer")
    with ThreadedServer(StubUpstream()) as up:
        gw = Gateway(GatewayConfig(upstream=up.url, keys=str(tmp / "keys.json"), db=str(tmp / "gw.duckdb")))
        with ThreadedServer(gw.app) as srv:
            yield {"url": srv.url, "key": key, "gw": gw}
    print(f"schemathesis: requests tried per operation {TRIED}; log write errors {gw.sink.errors}")
    assert gw.sink.errors == 0


def test_gateway_conforms_to_the_openapi_document_it_serves(gateway: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_url(gateway["url"] + "/openapi.json")  # what clients see, not the file
    assert schema.raw_schema == DOC
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        def check(case: Any) -> None:
            TRIED[case.operation.label] = TRIED.get(case.operation.label, 0) + 1
            headers = {"Authorization": f"Bearer {gateway['key']}"} if case.operation.path.startswith("/v1/") else {}
            # positive_data_acceptance is off: JSON Schema counts 5.0 as an "integer", the gateway (like OpenAI)
            # wants 5
            case.call_and_validate(base_url=gateway["url"], headers=headers,
                                   excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Exception as e:  # collect every operation's failure, then report them together
            failures[operation.label] = f"{type(e).__name__}: {str(e)[:2000]}"
    assert not failures, failures


def test_document_lists_every_gateway_route() -> None:
    from distillguard.gateway.app import Gateway as _G  # noqa: F401 - the routes come from one place

    routes = {"/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/embeddings", "/v1/models", "/healthz",
              "/openapi.json"}
    assert set(DOC["paths"]) == routes
