"""Every bad-input case of the ingest contract: reported as FILE:LINE: field: reason, the rest ingested."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from click.testing import CliRunner

from distillguard.cli import main
from distillguard.errors import InputError, RecordError
from distillguard.ingest import IngestOptions, IngestSummary, ingest_accounts, ingest_logs
from distillguard.schema import EXCHANGE_SCHEMA
from distillguard.store import Store


def rec(i: int, **kw: object) -> dict:
    r = {"request_id": f"r{i}", "ts": "2026-05-01T10:00:00Z", "account_id": "a1", "ip": "10.0.0.1",
         "model": "m", "messages": [{"role": "user", "content": f"hello {i}"}]}
    r.update(kw)
    return r


def lines(recs: list[dict]) -> list[bytes]:
    return [json.dumps(r).encode() for r in recs]


def write(path: Path, rows: list[bytes]) -> Path:
    data = b"".join(r + b"\n" for r in rows)
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


def ingest(tmp_path: Path, *paths: Path, **opts: object) -> tuple[IngestSummary, list[str], Store]:
    errors: list[RecordError] = []
    store = Store.open(tmp_path / "s.duckdb")
    summary = ingest_logs(store, list(paths), IngestOptions(**opts), on_error=errors.append)  # type: ignore[arg-type]
    return summary, [str(e) for e in errors], store


def test_each_bad_line_is_named_and_the_rest_is_stored(tmp_path: Path) -> None:
    bad = [
        b"{not json",
        json.dumps({k: v for k, v in rec(2).items() if k != "ip"}).encode(),
        json.dumps(rec(3, ts="yesterday")).encode(),
        json.dumps(rec(4, request_id=4)).encode(),
        json.dumps(rec(5, status="200")).encode(),
        b'{"request_id": "r6", "account_id": "\xff\xfe"}',
        json.dumps(rec(7, messages=[{"role": "robot", "content": "x"}])).encode(),
        b"[1, 2, 3]",
        json.dumps(rec(9, prompt_tokens=-1)).encode(),
        b'{"request_id": "r10", "account_id": "\\ud800"}',
    ]
    good = lines([rec(i) for i in range(20, 25)])
    log = write(tmp_path / "b.jsonl", good[:2] + bad + good[2:])
    s, errors, store = ingest(tmp_path, log)
    assert (s.rows_read, s.stored, s.rejected, s.duplicates) == (15, 5, 10, 0)
    at = {int(e.split(":")[1]): e.split(":", 2)[2].strip() for e in errors}
    assert at[3].startswith("malformed JSON")
    assert at[4] == "ip: required field is missing"
    assert at[5] == "ts: not an ISO-8601 time: 'yesterday'"
    assert at[6] == "request_id: expected a string, got a number"
    assert at[7] == "status: expected an integer, got a string"
    assert at[8].startswith("invalid UTF-8")
    assert at[9].startswith("messages[0].role: expected one of")
    assert at[10] == "record: expected a JSON object, got a list"
    assert at[11] == "prompt_tokens: -1 is out of range [0, 9223372036854775807]"
    assert at[12].startswith("invalid UTF-8 or lone surrogate")
    assert store.count("rejects") == 10
    assert store.con.execute("SELECT line, field FROM rejects WHERE line = 5").fetchall() == [(5, "ts")]
    store.close()


def test_unknown_fields_ignored_and_content_parts_joined(tmp_path: Path) -> None:
    parts = [{"role": "system", "content": None},
             {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {}},
                                          {"type": "text", "text": "b"}]},
             {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]}]
    log = write(tmp_path / "p.jsonl", lines([rec(1, messages=parts, x_extra={"deep": [1, 2]}, trace=None),
                                            rec(2, prompt="complete me", messages=None, endpoint="")]))
    s, errors, store = ingest(tmp_path, log)
    assert (s.stored, errors) == (2, [])
    rows = dict(store.con.execute("SELECT request_id, messages FROM exchanges").fetchall())
    assert [m["content"] for m in rows["r1"]] == [None, "a\nb", None]
    assert store.con.execute("SELECT endpoint FROM exchanges WHERE request_id = 'r2'").fetchone() == (
        "/v1/chat/completions",)
    store.close()


def test_long_line_accepted_by_default_and_rejected_over_the_limit(tmp_path: Path) -> None:
    big = rec(2, messages=[{"role": "user", "content": "x" * (10 << 20)}])
    log = write(tmp_path / "big.jsonl", lines([rec(1), big, rec(3)]))
    s, errors, store = ingest(tmp_path, log)
    assert (s.stored, errors) == (3, [])
    assert store.con.execute("SELECT length(messages[1].content) FROM exchanges WHERE request_id = 'r2'"
                             ).fetchone() == (10 << 20,)
    store.close()
    (tmp_path / "s.duckdb").unlink()
    s, errors, store = ingest(tmp_path, log, max_line_bytes=1 << 20)
    assert (s.rows_read, s.stored, s.rejected) == (3, 2, 1)
    assert errors == [f"{log}:2: line is longer than 1048576 bytes (--max-line-bytes); skipped"]
    store.close()


def test_long_line_inside_a_block_is_rejected_too(tmp_path: Path) -> None:
    log = write(tmp_path / "mid.jsonl", lines([rec(1), rec(2, completion="y" * 5000), rec(3)]))
    s, errors, store = ingest(tmp_path, log, max_line_bytes=1000)
    assert (s.stored, s.rejected) == (2, 1)
    assert errors[0].startswith(f"{log}:2: line is ") and "over --max-line-bytes 1000" in errors[0]
    store.close()


@pytest.mark.parametrize("name,data", [("e.jsonl", b""), ("e.jsonl.gz", b""),
                                       ("e.jsonl.gz", gzip.compress(b"", mtime=0)),  # (test ids stable per process)
                                       ("e.jsonl.zst", zstandard.ZstdCompressor().compress(b"")),
                                       ("blank.jsonl", b"\n  \n\n")])
def test_empty_files_ingest_nothing_without_error(tmp_path: Path, name: str, data: bytes) -> None:
    (tmp_path / name).write_bytes(data)
    s, errors, store = ingest(tmp_path, tmp_path / name)
    assert (s.files, s.rows_read, s.stored, errors) == (1, 0, 0, [])
    store.close()


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_truncated_compressed_file_keeps_rows_before_the_cut(tmp_path: Path, suffix: str) -> None:
    full = write(tmp_path / f"full{suffix}", lines([rec(i, completion="z" * (i % 97)) for i in range(20000)]))
    data = full.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    s, errors, store = ingest(tmp_path, cut)
    assert 0 < s.stored < 20000 and s.rejected == 1
    assert errors[0].startswith(f"{cut}:{s.stored + 1}: ")
    assert "truncated" in errors[0] or "corrupt" in errors[0]
    ids = {r for (r,) in store.con.execute("SELECT request_id FROM exchanges").fetchall()}
    assert ids == {f"r{i}" for i in range(s.stored)}
    store.close()


def test_zstd_and_gzip_files_ingest_whole(tmp_path: Path) -> None:
    a = write(tmp_path / "a.jsonl.zst", lines([rec(i) for i in range(100)]))
    b = write(tmp_path / "b.jsonl.gz", lines([rec(i) for i in range(50, 150)]))
    s, errors, store = ingest(tmp_path, a, b)
    assert (s.rows_read, s.stored, s.duplicates, errors) == (200, 150, 50, [])
    store.close()


def test_duplicates_within_a_file_keep_the_first(tmp_path: Path) -> None:
    log = write(tmp_path / "d.jsonl", lines([rec(1, model="first"), rec(2), rec(1, model="second")]))
    s, _, store = ingest(tmp_path, log)
    assert (s.stored, s.duplicates) == (2, 1)
    assert store.con.execute("SELECT model FROM exchanges WHERE request_id = 'r1'").fetchall() == [("first",)]
    store.close()


def _parquet(path: Path, recs: list[dict], schema: pa.Schema | None = None) -> Path:
    pq.write_table(pa.Table.from_pylist(recs, schema=schema), path)
    return path


def _stored_form(i: int, **kw: object) -> dict:
    r = rec(i, **kw)
    r["ts"] = pa.scalar(1777629600000000, pa.timestamp("us", tz="UTC")).as_py()
    return r


def test_parquet_missing_column_rejects_every_row_in_one_line(tmp_path: Path) -> None:
    recs = [{k: v for k, v in _stored_form(i).items() if k != "ip"} for i in range(5)]
    log = _parquet(tmp_path / "noip.parquet", recs)
    s, errors, store = ingest(tmp_path, log)
    assert (s.rows_read, s.stored, s.rejected) == (5, 0, 5)
    assert errors == [f"{log}: ip: column missing from the file; all 5 rows rejected"]
    store.close()


def test_parquet_folder_and_bad_rows_named_by_row(tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    fields = [pa.field(f.name, f.type) for f in EXCHANGE_SCHEMA if f.name != "params"]
    _parquet(folder / "part-0.parquet", [_stored_form(i) | {"extra": i} for i in range(10)],
             pa.schema([*fields, pa.field("extra", pa.int64())]))
    _parquet(folder / "part-1.parquet", [_stored_form(i) for i in range(10, 13)] + [_stored_form(13, account_id="")]
             + [_stored_form(14, status=1200)], pa.schema(fields))
    (folder / "README.txt").write_text("not a log")
    s, errors, store = ingest(tmp_path, folder)
    assert (s.files, s.rows_read, s.stored, s.rejected) == (2, 15, 13, 2)
    part1 = folder / "part-1.parquet"
    assert errors == [f"{part1}:4: account_id: must not be empty", f"{part1}:5: status: 1200 is out of range [0, 999]"]
    store.close()


def test_parquet_wrong_column_type_is_checked_row_by_row(tmp_path: Path) -> None:
    recs = [_stored_form(i) | {"ts": "2026-05-01T12:00:00+02:00", "status": "ok" if i == 1 else None}
            for i in range(3)]
    log = _parquet(tmp_path / "t.parquet", recs)
    s, errors, store = ingest(tmp_path, log)
    assert (s.stored, s.rejected) == (2, 1)
    assert errors == [f"{log}:2: status: expected an integer, got a string"]
    assert {str(t) for (t,) in store.con.execute("SELECT ts FROM exchanges").fetchall()} == {
        "2026-05-01 10:00:00+00:00"}
    store.close()


def test_max_errors_stops_the_run_keeping_earlier_files(tmp_path: Path) -> None:
    good = write(tmp_path / "1-good.jsonl", lines([rec(i) for i in range(5)]))
    bad = write(tmp_path / "2-bad.jsonl", lines([rec(10)]) + [b"{", b"{", b"{"] + lines([rec(11)]))
    db = tmp_path / "s.duckdb"
    res = CliRunner().invoke(main, ["ingest", str(good), str(bad), "--db", str(db), "--max-errors", "2"])
    assert res.exit_code == 2
    assert "more than 2 records rejected" in res.output and f"nothing of {bad} was stored" in res.output
    with Store.open(db) as store:
        assert store.count("exchanges") == 5
        assert store.con.execute("SELECT count(*) FROM ingested_files").fetchone() == (1,)


@pytest.mark.parametrize("name,data,reason", [
    ("x.jsonl.gz", b"this is not gzip\n", "not a readable gzip file"),
    ("x.jsonl.zst", b"this is not zstd\n", "not a readable zstd file"),
    ("x.parquet", b"PAR1 garbage", "not a readable Parquet file"),
    ("x.csv", b"a,b\n", "unknown log format"),
])
def test_unreadable_file_exits_2_with_one_line(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    (tmp_path / name).write_bytes(data)
    res = CliRunner().invoke(main, ["ingest", str(tmp_path / name), "--db", str(tmp_path / "s.duckdb")])
    assert res.exit_code == 2
    out = res.output.strip()
    assert "\n" not in out and out.startswith("distillguard: error: ") and reason in out


@pytest.mark.slow
def test_interrupt_mid_file_leaves_store_consistent_and_rerun_completes(tmp_path: Path) -> None:
    first = write(tmp_path / "a.jsonl", lines([rec(i) for i in range(100)]))
    big = write(tmp_path / "b.jsonl", lines([rec(i, completion="w" * 500) for i in range(100, 20000)]))
    calls = []

    def interrupt(n: int) -> None:
        calls.append(n)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with Store.open(tmp_path / "s.duckdb") as store:
        ingest_logs(store, [first])
        with pytest.raises(KeyboardInterrupt):
            ingest_logs(store, [big], on_progress=interrupt)
        assert store.count("exchanges") == 100
        assert store.count("ingested_files") == 1
        s = ingest_logs(store, [first, big])
        assert (s.stored, s.duplicates) == (19900, 100)
        assert store.con.execute("SELECT count(DISTINCT request_id), count(*) FROM exchanges").fetchone() == (
            20000, 20000)


def test_accounts_csv_bad_rows_are_named(tmp_path: Path) -> None:
    csv = tmp_path / "acc.csv"
    csv.write_text("account_id,created_at,email_domain,verified,tier,extra\n"
                   "a1,2026-01-02T03:04:05Z,x.com,true,free,1\n"
                   "a2,soon,y.com,false,free,2\n"
                   "a3,2026-01-02,y.com,maybe,free,3\n"
                   "a4,,z.com,,enterprise,4,surplus\n"
                   ",2026-01-02,z.com,1,free,5\n"
                   "a5,2026-01-02 10:00:00+02:00,z.com,0,,6\n")
    errors: list[RecordError] = []
    with Store.open(tmp_path / "s.duckdb") as store:
        assert ingest_accounts(store, csv, on_error=errors.append) == 2
        rows = store.con.execute("SELECT account_id, created_at, verified FROM accounts ORDER BY 1").fetchall()
    assert sorted((str(e) for e in errors), key=lambda e: int(e.split(":")[1])) == [
        f"{csv}:3: created_at: not an ISO-8601 time: 'soon'",
        f"{csv}:4: verified: expected true or false, got 'maybe'",
        f"{csv}:5: CSV row has 7 fields, expected 6",
        f"{csv}:6: account_id: required field is missing",
    ]
    assert [(a, str(t), v) for a, t, v in rows] == [("a1", "2026-01-02 03:04:05+00:00", True),
                                                   ("a5", "2026-01-02 08:00:00+00:00", False)]


def test_accounts_jsonl_bad_lines_are_named(tmp_path: Path) -> None:
    path = write(tmp_path / "acc.jsonl", [b'{"account_id": "a1", "verified": true}', b"{oops",
                                          b'{"account_id": "a2", "country": 7}'])
    errors: list[RecordError] = []
    table = __import__("distillguard.ingest", fromlist=["read_accounts"]).read_accounts(path, errors.append)
    assert table["account_id"].to_pylist() == ["a1"]
    assert [str(e).split(": ", 1)[0] for e in errors] == [f"{path}:2", f"{path}:3"]


def test_parquet_accounts_columnar_and_record_paths_agree(tmp_path: Path) -> None:
    """A typed, valid Parquet accounts file is taken as it is (columns in the stored order, absent ones null,
    others ignored); one empty account_id sends the file to the record-by-record check, which names it."""
    from distillguard.ingest import read_accounts
    from distillguard.schema import ACCOUNT_SCHEMA, validate_account

    good = pa.table({"zzz": [1, 2, 3], "account_id": ["a1", "a2", "a3"],
                     "created_at": pa.array([0, None, 86_400_000_000], pa.timestamp("us", "UTC")),
                     "verified": [True, None, False], "tier": ["free", "pro", None]})
    pq.write_table(good, tmp_path / "good.parquet")
    errors: list[RecordError] = []
    table = read_accounts(tmp_path / "good.parquet", errors.append)
    assert not errors and table.schema == ACCOUNT_SCHEMA
    assert table.to_pylist() == [validate_account(r) for r in good.to_pylist()]
    assert table["email_domain"].null_count == 3
    bad = good.set_column(1, "account_id", pa.array(["a1", "", "a3"]))
    pq.write_table(bad, tmp_path / "bad.parquet")
    table = read_accounts(tmp_path / "bad.parquet", errors.append)
    assert table["account_id"].to_pylist() == ["a1", "a3"]
    assert [str(e) for e in errors] == [f"{tmp_path / 'bad.parquet'}:2: account_id: must not be empty"]


def test_missing_accounts_file_is_an_input_error(tmp_path: Path) -> None:
    with Store.open(":memory:") as store, pytest.raises(InputError, match="no such accounts file"):
        ingest_accounts(store, tmp_path / "nope.csv")


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_concatenated_members_and_frames_are_all_read(tmp_path: Path, suffix: str) -> None:
    parts = [write(tmp_path / f"p{k}{suffix}", lines([rec(i) for i in range(k * 100, k * 100 + 100)]))
             for k in range(3)]
    both = tmp_path / f"both{suffix}"
    both.write_bytes(b"".join(p.read_bytes() for p in parts))
    s, errors, store = ingest(tmp_path, both)
    assert (s.stored, errors) == (300, [])
    store.close()
