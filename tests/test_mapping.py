from __future__ import annotations

import re
from pathlib import Path

import pytest

from distillguard.errors import ConfigError
from distillguard.mapping import load_mapping, shipped_mappings
from distillguard.schema import FieldError, validate_exchange

LITELLM_ROW = {
    "request_id": "chatcmpl-1", "call_type": "acompletion", "api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05",
    "spend": 0.0001, "total_tokens": 30, "prompt_tokens": 10, "completion_tokens": 20,
    "startTime": "2026-05-01T10:00:00.123", "endTime": "2026-05-01T10:00:01.000", "model": "gpt-4o",
    "user": "", "metadata": {"user_api_key_user_id": "user-42", "user_api_key_team_id": "team-7"},
    "messages": '[{"role": "user", "content": "hello"}]',
    "response": {"choices": [{"message": {"role": "assistant", "content": "hi there"}}]},
    "requester_ip_address": "203.0.113.9", "session_id": "sess-1",
    "model_parameters": {"temperature": 0.2, "max_tokens": 256},
}


def test_shipped_mappings_listed() -> None:
    assert {"litellm", "openai-proxy"} <= set(shipped_mappings())


def test_litellm_spend_log_row_maps_to_contract() -> None:
    rec = validate_exchange(load_mapping("litellm").apply(LITELLM_ROW))
    # `user` is empty, so the next candidate path gives the account
    assert rec["account_id"] == "user-42" and rec["org_id"] == "team-7"
    assert rec["messages"] == [{"role": "user", "content": "hello"}]
    assert rec["completion"] == "hi there"
    assert rec["ip"] == "203.0.113.9"
    assert rec["params"] == '{"max_tokens":256,"temperature":0.2}'
    assert rec["conversation_id"] == "sess-1"


def test_openai_proxy_mapping_with_epoch_ms(tmp_path: Path) -> None:
    m = tmp_path / "m.toml"
    m.write_text('[fields]\nrequest_id = "id"\nts = "t"\naccount_id = "user.id"\nmodel = "request.model"\n'
                 'messages = "request.messages"\n[ts]\nformat = "epoch_ms"\n[defaults]\nip = ""\n')
    rec = validate_exchange(load_mapping(m).apply(
        {"id": 7, "t": 1777629600000, "user": {"id": "u1"},
         "request": {"model": "x", "messages": [{"role": "user", "content": "hey"}]}}))
    assert rec["request_id"] == "7" and rec["account_id"] == "u1"
    assert rec["ts"].isoformat() == "2026-05-01T10:00:00+00:00"


def test_missing_path_is_a_field_error() -> None:
    m = load_mapping("openai-proxy")
    with pytest.raises(FieldError) as e:
        m.apply({"id": "r1", "timestamp": "2026-05-01T00:00:00Z", "request": {"model": "x"}})
    assert e.value.field == "account_id" and "missing" in e.value.reason


@pytest.mark.parametrize("text, message", [
    ("fields = 3", "needs a [fields] table"),
    ('[fields]\nbogus = "x"', "unknown contract fields"),
    ('[fields]\nrequest_id = "id"', "have neither a path nor a default"),
    ('[fields]\nrequest_id="a"\nts="b"\naccount_id="c"\nip="d"\nmodel="e"\n[ts]\nformat="weird"', "format must be"),
    ("[fields", "invalid TOML"),
])
def test_bad_mapping_files(tmp_path: Path, text: str, message: str) -> None:
    m = tmp_path / "bad.toml"
    m.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_mapping(m)


def test_unknown_mapping_name() -> None:
    with pytest.raises(ConfigError, match="not a shipped mapping"):
        load_mapping("nope")


def test_ingest_with_shipped_litellm_mapping_reports_missing_paths(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from distillguard.cli import main
    from distillguard.store import Store

    bad = {k: v for k, v in LITELLM_ROW.items() if k != "startTime"}
    log = tmp_path / "spend.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in (LITELLM_ROW, {**LITELLM_ROW, "request_id": "c2"}, bad)) + "\n")
    db = tmp_path / "s.duckdb"
    res = CliRunner().invoke(main, ["ingest", str(log), "--map", "litellm", "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert f"{log}:3: ts: mapped path 'startTime' is missing in the record" in res.output
    assert "stored 2" in res.output and "rejected 1" in res.output
    with Store.open(db) as store:
        rows = store.con.execute("SELECT account_id, ip, completion FROM exchanges ORDER BY request_id").fetchall()
    assert rows == [("user-42", "203.0.113.9", "hi there")] * 2


def test_mapping_on_parquet_is_a_usage_error(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from distillguard.cli import main

    pq.write_table(pa.table({"x": [1]}), tmp_path / "a.parquet")
    res = CliRunner().invoke(main, ["ingest", str(tmp_path / "a.parquet"), "--map", "litellm",
                                    "--db", str(tmp_path / "s.duckdb")])
    assert res.exit_code == 2 and "mapping files apply to JSONL" in res.output
