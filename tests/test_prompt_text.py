"""One prompt-text rule (schema.prompt_text / schema.prompt_sql) and every place that picks a request's prompt.

The same edge cases go through detection's SQL over stored exchanges, intel's matching SQL, the gateway's
request parser and the LiteLLM hook; all must agree with the rule.
"""

from __future__ import annotations

from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pytest

from distillguard.gateway.openai import parse_request
from distillguard.integrations.litellm import _prompt_text
from distillguard.intel.matching import TEXT_SQL
from distillguard.schema import MESSAGE_TYPE, PROMPT_SQL, content_text, prompt_text

U, A, S, T = "user", "assistant", "system", "tool"
PARTS = [{"type": "text", "text": "part one"}, {"type": "image_url", "image_url": {"url": "x"}},
         {"type": "text", "text": "part two"}]

# (name, messages, prompt, expected text)
CASES: list[tuple[str, list[dict[str, Any]] | None, str | None, str]] = [
    ("plain last user", [{"role": S, "content": "be brief"}, {"role": U, "content": "hello"}], None, "hello"),
    ("empty last user turn", [{"role": U, "content": "first"}, {"role": A, "content": "ok"},
                              {"role": U, "content": ""}], None, ""),
    ("null last user turn", [{"role": U, "content": "first"}, {"role": U, "content": None}], None, "first"),
    ("content parts", [{"role": U, "content": PARTS}], None, "part one\npart two"),
    ("tool message last", [{"role": U, "content": "what is the weather"}, {"role": A, "content": None},
                           {"role": T, "content": "sunny"}], None, "what is the weather"),
    ("assistant last", [{"role": U, "content": "q1"}, {"role": A, "content": "a1"}], None, "q1"),
    ("no user message", [{"role": S, "content": "system only"}], None, ""),
    ("legacy prompt", None, "complete this", "complete this"),
    ("empty legacy prompt", None, "", ""),
]


@pytest.mark.parametrize(("name", "messages", "prompt", "expected"), CASES, ids=[c[0] for c in CASES])
def test_python_rule(name: str, messages: Any, prompt: str | None, expected: str) -> None:
    assert prompt_text(messages, prompt) == expected


def _stored(messages: Any) -> list[dict[str, Any]] | None:
    """Messages as ingest stores them (content parts joined)."""
    return None if messages is None else [{"role": m["role"], "content": content_text(m["content"])}
                                          for m in messages]


def test_sql_rules_agree_with_python() -> None:
    table = pa.table({
        "i": list(range(len(CASES))),
        "prompt": pa.array([c[2] for c in CASES], pa.string()),
        "messages": pa.array([_stored(c[1]) for c in CASES], pa.list_(MESSAGE_TYPE)),
    })
    con = duckdb.connect()
    con.register("exchanges", table)
    detection = [r[0] for r in con.sql(f"SELECT {PROMPT_SQL} FROM exchanges ORDER BY i").fetchall()]
    intel = [r[0] for r in con.sql(f"SELECT {TEXT_SQL} FROM exchanges x ORDER BY i").fetchall()]
    expected = [c[3] for c in CASES]
    assert detection == expected
    assert intel == expected


@pytest.mark.parametrize(("name", "messages", "prompt", "expected"), CASES, ids=[c[0] for c in CASES])
def test_gateway_and_litellm_hook_agree(name: str, messages: Any, prompt: str | None, expected: str) -> None:
    if messages is not None:
        body = orjson.dumps({"model": "m", "messages": messages})
        assert parse_request(body, chat=True, max_messages=100).text == expected
        assert _prompt_text({"model": "m", "messages": messages}) == expected
    else:
        body = orjson.dumps({"model": "m", "prompt": prompt})
        assert parse_request(body, chat=False, max_messages=100).text == expected
        assert _prompt_text({"model": "m", "prompt": prompt}) == expected
