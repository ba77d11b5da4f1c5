"""OpenAI wire format: any client body is either accepted or a ClientError (never a crash); SSE editing."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.gateway.openai import ClientError, SSEReasoningFilter, parse_request, read_sse, strip_reasoning

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)
requests = st.fixed_dictionaries(
    {}, optional={"model": json_values, "messages": st.lists(st.fixed_dictionaries(
        {}, optional={"role": st.sampled_from(["user", "system", "assistant", "tool", "x"]) | json_values,
                      "content": json_values}), max_size=4) | json_values,
        "prompt": json_values, "stream": json_values, "max_tokens": json_values, "tools": json_values})


@settings(max_examples=120, deadline=None)
@given(requests, st.booleans())
def test_any_json_body_is_accepted_or_a_client_error(body: dict, chat: bool) -> None:  # type: ignore[type-arg]
    try:
        pr = parse_request(json.dumps(body).encode(), chat, max_messages=3)
    except ClientError as e:
        assert e.status in (400, 413) and e.code
        return
    assert isinstance(pr.model, str) and isinstance(pr.text, str)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_are_accepted_or_a_client_error(raw: bytes) -> None:
    try:
        parse_request(raw, True, 8)
    except ClientError as e:
        assert e.status == 400


def _events() -> bytes:
    ev = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel", "reasoning_content": "secret"}}]},
          {"choices": [{"index": 0, "delta": {"content": "lo", "reasoning": "more secret"}}]},
          {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}]
    return b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in ev) + b"data: [DONE]\n\n"


@pytest.mark.parametrize("size", [1, 3, 7, 50, 10_000])
def test_reasoning_filter_handles_events_split_across_chunks(size: int) -> None:
    raw = _events()
    f = SSEReasoningFilter()
    out = b"".join(f.feed(raw[i:i + size]) for i in range(0, len(raw), size)) + f.flush()
    assert b"secret" not in out and out.endswith(b"data: [DONE]\n\n")
    assert read_sse([out]) == ("Hello", 3, 2) == read_sse([raw])


def test_strip_reasoning_non_stream() -> None:
    body = json.dumps({"choices": [{"message": {"content": "x", "reasoning_content": "y"}}]}).encode()
    assert json.loads(strip_reasoning(body)) == {"choices": [{"message": {"content": "x"}}]}
    assert strip_reasoning(b"not json") == b"not json"
