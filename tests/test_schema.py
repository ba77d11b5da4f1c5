"""The contract in code: validation of exchanges and accounts, times, params and content parts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from distillguard.schema import (
    EXCHANGE_COLUMNS,
    EXCHANGE_SCHEMA,
    FieldError,
    canonical_params,
    content_text,
    parse_ts,
    prompt_text,
    validate_account,
    validate_exchange,
)

BASE = {"request_id": "r1", "ts": "2026-05-01T12:00:00+02:00", "account_id": "a", "ip": "", "model": "m",
        "messages": [{"role": "user", "content": "hi"}]}


def test_valid_exchange_gets_defaults_and_utc_time() -> None:
    out = validate_exchange({**BASE, "unknown": {"kept": "or ignored"}})
    assert set(out) == set(EXCHANGE_COLUMNS) and EXCHANGE_COLUMNS == tuple(EXCHANGE_SCHEMA.names)
    assert out["ts"] == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert (out["endpoint"], out["status"], out["ip"]) == ("/v1/chat/completions", 200, "")


@pytest.mark.parametrize("patch,field,reason", [
    ({"request_id": ""}, "request_id", "must not be empty"),
    ({"ts": 1714557600}, "ts", "expected an ISO-8601 string, got a number"),
    ({"ts": "0001-01-01T00:00:00+01:00"}, "ts", "time out of range"),
    ({"messages": None}, "messages", "one of 'messages' or 'prompt' is required"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content", "expected text, null or a list"),
    ({"tools": "search"}, "tools", "expected a list of tool names"),
    ({"params": "[1]"}, "params", "expected an object, got a list"),
    ({"params": "{"}, "params", "a string that does not hold JSON"),
    ({"status": True}, "status", "expected an integer, got a boolean"),
    ({"status": 1000}, "status", "1000 is out of range [0, 999]"),
])
def test_contract_breaks_name_the_field(patch: dict, field: str, reason: str) -> None:
    with pytest.raises(FieldError) as e:
        validate_exchange({**BASE, **patch})
    assert e.value.field == field and reason in e.value.reason


def test_parse_ts_forms() -> None:
    assert parse_ts("2026-05-01T10:00:00Z") == parse_ts("2026-05-01 12:00:00+02:00") == parse_ts("2026-05-01T10:00:00")
    assert parse_ts(datetime(2026, 5, 1, 10)).tzinfo == UTC


def test_canonical_params_is_stable_across_spellings() -> None:
    a = canonical_params({"top_p": 1.0, "temperature": 0.7, "seed": None, "stop": ["\n"], "x": {"b": 1, "a": None}})
    b = canonical_params('{"x": {"b": 1.0}, "stop": ["\\n"], "temperature": 0.7, "top_p": 1}')
    assert a == b == '{"stop":["\\n"],"temperature":0.7,"top_p":1,"x":{"b":1}}'
    assert canonical_params(None) is None


def test_content_parts_and_prompt_text() -> None:
    assert content_text([{"type": "text", "text": "a"}, "b", {"type": "image_url"}]) == "a\nb"
    assert content_text(None) is None
    msgs = [{"role": "user", "content": "first"}, {"role": "assistant", "content": None},
            {"role": "user", "content": "last"}]
    assert prompt_text(msgs, None) == "last" and prompt_text(None, "p") == "p" and prompt_text(None, None) == ""


def test_validate_account() -> None:
    out = validate_account({"account_id": "a", "created_at": "2026-01-02", "verified": "Yes", "extra": 1})
    assert out == {"account_id": "a", "created_at": datetime(2026, 1, 2, tzinfo=UTC), "email_domain": None,
                   "payment_fingerprint": None, "signup_ip": None, "country": None, "verified": True, "tier": None}
    with pytest.raises(FieldError, match="verified: expected true or false"):
        validate_account({"account_id": "a", "verified": 2})
    with pytest.raises(FieldError, match="country: expected a string"):
        validate_account({"account_id": "a", "country": 7})
