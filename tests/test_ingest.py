from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from distillguard.cli import main
from distillguard.ingest import ingest_logs
from distillguard.store import Store


def _rec(i: int, **kw: object) -> dict:
    r = {"request_id": f"r{i}", "ts": "2026-05-01T10:00:00Z", "account_id": "a1", "ip": "10.0.0.1",
         "model": "m", "messages": [{"role": "user", "content": f"hello {i}"}]}
    r.update(kw)
    return r


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_ingest_dedupes_on_reingest(tmp_path: Path) -> None:
    log = _write(tmp_path / "a.jsonl", [json.dumps(_rec(i)) for i in range(10)])
    with Store.open(tmp_path / "s.duckdb") as store:
        first = ingest_logs(store, [log])
        second = ingest_logs(store, [log])
        assert (first.stored, second.stored, second.duplicates) == (10, 0, 10)
        assert store.count("exchanges") == 10


def test_bad_records_are_reported_and_rest_ingested(tmp_path: Path) -> None:
    lines = [json.dumps(_rec(0)), "{not json", json.dumps(_rec(2, ts="yesterday")),
             json.dumps({k: v for k, v in _rec(3).items() if k != "account_id"}), json.dumps(_rec(4))]
    log = _write(tmp_path / "b.jsonl", lines)
    errors = []
    with Store.open(tmp_path / "s.duckdb") as store:
        s = ingest_logs(store, [log], on_error=errors.append)
        assert (s.stored, s.rejected) == (2, 3)
    msgs = [str(e) for e in errors]
    assert msgs[0].startswith(f"{log}:2: ") and "malformed JSON" in msgs[0]
    assert msgs[1].startswith(f"{log}:3: ts: not an ISO-8601 time")
    assert msgs[2] == f"{log}:4: account_id: required field is missing"


def test_cli_unreadable_file_exits_2(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["ingest", str(tmp_path / "missing.jsonl"), "--db", str(tmp_path / "s.duckdb")])
    assert res.exit_code == 2
    assert "no such file" in res.output


def test_cli_reports_bad_lines_and_summary(tmp_path: Path) -> None:
    log = _write(tmp_path / "c.jsonl", [json.dumps(_rec(1)), "{oops", json.dumps(_rec(3))])
    acc = tmp_path / "acc.csv"
    acc.write_text("account_id,created_at\na1,2026-01-01\na2,never\n")
    db = tmp_path / "s.duckdb"
    res = CliRunner().invoke(main, ["ingest", str(log), "--accounts", str(acc), "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert f"{log}:2: malformed JSON" in res.output
    assert f"{acc}:3: created_at: not an ISO-8601 time: 'never'" in res.output
    assert "accounts: 1 records" in res.output
    assert f"files 1  rows read 3  stored 2  duplicates 0  rejected 1  -> {db}" in res.output
