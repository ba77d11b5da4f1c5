"""The store: tables, file-level atomicity, and recovery after the ingesting process is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distillguard.ingest import ingest_logs
from distillguard.schema import ACCOUNT_SCHEMA, EXCHANGE_SCHEMA
from distillguard.store import KEY_FIELDS, Store

CHILD = """
import sys, time
from distillguard.ingest import ingest_logs
from distillguard.store import Store
store = Store.open(sys.argv[1])
ingest_logs(store, [sys.argv[2]])
print("first", flush=True)
seen = 0
def progress(n):
    global seen
    seen += 1
    print("progress", flush=True)
    if seen >= int(sys.argv[4]):
        time.sleep(600)  # the parent kills it here, however long it takes to read the line
ingest_logs(store, [sys.argv[3]], on_progress=progress)
print("done", flush=True)
"""


def _jsonl(path: Path, start: int, n: int, pad: int = 0) -> Path:
    with path.open("w") as f:
        for i in range(start, start + n):
            f.write(json.dumps({"request_id": f"r{i}", "ts": "2026-05-01T10:00:00Z", "account_id": f"a{i % 50}",
                                "ip": "10.0.0.1", "model": "m", "completion": "c" * pad,
                                "messages": [{"role": "user", "content": f"hello {i}"}]}) + "\n")
    return path


def _parquet(path: Path, start: int, n: int) -> Path:
    ids = [f"r{i}" for i in range(start, start + n)]
    table = pa.table({
        "request_id": ids,
        "ts": pa.array([1777629600000000] * n, pa.timestamp("us", tz="UTC")),
        "account_id": [f"a{i % 50}" for i in range(n)],
        "ip": ["10.0.0.1"] * n,
        "model": ["m"] * n,
        "messages": pa.array([[{"role": "user", "content": f"hello {i} " * 20}] for i in range(n)],
                             EXCHANGE_SCHEMA.field("messages").type),
    })
    pq.write_table(table, path)
    return path


def test_open_creates_tables_and_counts() -> None:
    with Store.open(":memory:") as store:
        tables = {r[0] for r in store.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert {"accounts", "ingested_files", "rejects", "exchange_parts", "exchange_ids"} <= tables
        views = {r[0] for r in store.con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
        assert "exchanges" in views
        assert store.count("exchanges") == 0
        assert store.con.execute("SELECT current_setting('TimeZone')").fetchall() == [("UTC",)]


def test_an_account_listed_twice_keeps_its_last_record() -> None:
    """Within one accounts file as across files: the later record replaces the earlier, whatever the scan order."""
    n = 300_000   # enough rows for DuckDB to scan them in parallel
    ids = [f"acc-{i % 1000:04d}" for i in range(n)]
    rows = {"account_id": ids, "tier": [f"v{i // 1000}" for i in range(n)]}
    table = pa.table({f.name: rows.get(f.name, pa.nulls(n, f.type)) for f in ACCOUNT_SCHEMA}, schema=ACCOUNT_SCHEMA)
    with Store.open(":memory:") as store:
        store.append_accounts(table)
        tiers = {t for (t,) in store.con.execute("SELECT DISTINCT tier FROM accounts").fetchall()}
        store.append_accounts(table.slice(0, 1000))   # a later file with the first records again
        first = {t for (t,) in store.con.execute("SELECT DISTINCT tier FROM accounts").fetchall()}
    assert tiers == {f"v{n // 1000 - 1}"} and first == {"v0"}


def test_failed_file_leaves_nothing_behind(tmp_path: Path) -> None:
    log = _jsonl(tmp_path / "a.jsonl", 0, 10)
    with Store.open(tmp_path / "s.duckdb") as store:
        with pytest.raises(RuntimeError), store.file_transaction() as staging:
            staging.append(pa.Table.from_pylist([], schema=EXCHANGE_SCHEMA))
            raise RuntimeError("boom")
        assert store.count("exchanges") == 0
        assert ingest_logs(store, [log]).stored == 10


def test_exchanges_parquet_writes_the_store(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        ingest_logs(store, [_jsonl(tmp_path / "a.jsonl", 0, 7)])
        out = tmp_path / "it's.parquet"
        store.exchanges_parquet(out)
    table = pq.read_table(out)
    assert table.num_rows == 7 and table.column_names == list(EXCHANGE_SCHEMA.names)


def _kill_mid_ingest(db: Path, first: Path, big: Path, kill_at: int) -> str:
    """Run the child, SIGKILL it at its `kill_at`-th progress report on the big file; return its last line."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    with subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(first), str(big), str(kill_at)],
                          stdout=subprocess.PIPE, text=True, env=env) as child:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "first"
        last = "first"
        seen = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            last = child.stdout.readline().strip()
            seen += last == "progress"
            if last in ("done", "") or seen >= kill_at:
                break
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    return last


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_sigkill_mid_ingest_then_rerun_completes_without_duplicates(tmp_path: Path, kind: str) -> None:
    db = tmp_path / "s.duckdb"
    first = _jsonl(tmp_path / "first.jsonl", 0, 500)
    if kind == "jsonl":  # three 8 MB blocks: killed while the file is half staged
        big, n, kill_at = _jsonl(tmp_path / "big.jsonl", 500, 40_000, pad=500), 40_000, 2
    else:  # one SQL insert: killed after the rows were written, before the commit
        big, n, kill_at = _parquet(tmp_path / "big.parquet", 500, 50_000), 50_000, 1
    assert _kill_mid_ingest(db, first, big, kill_at) == "progress"
    with Store.open(db) as store:  # readable, and holds the first file and nothing of the second
        assert store.count("exchanges") == 500
        assert store.count("ingested_files") == 1
        s = ingest_logs(store, [first, big])
        assert (s.stored, s.duplicates) == (n, 500)
        assert store.con.execute("SELECT count(*), count(DISTINCT request_id) FROM exchanges").fetchall() == [
            (500 + n, 500 + n)]


def _ids(store: Store) -> list[tuple[str, int]]:
    return store.con.execute("SELECT request_id, rowid FROM exchanges ORDER BY rowid").fetchall()


def test_parts_row_ids_and_the_gateway_delta(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with Store.open(db) as store:
        ingest_logs(store, [_jsonl(tmp_path / "a.jsonl", 0, 5)])
        # the gateway writes single rows into the delta table; they are readable at once
        store.con.execute("INSERT INTO exchanges_delta (request_id, ts, account_id, ip, model) "
                          "VALUES ('g1', now(), 'a', '', 'm'), ('r7', now(), 'a', '', 'm')")
        assert store.count("exchanges") == 7
        before = _ids(store)
        # a file ingest first rolls the delta into a part of its own: earlier rows keep their row ids
        s = ingest_logs(store, [_jsonl(tmp_path / "b.jsonl", 5, 5)])
        assert (s.stored, s.duplicates) == (4, 1)  # r7 came through the gateway first
        after = _ids(store)
        assert after[:7] == before
        assert [r for r, _ in after[7:]] == ["r5", "r6", "r8", "r9"]
        rids = [i for _, i in after]
        assert rids == sorted(set(rids))  # unique, in ingest order
        assert store.count("exchanges_delta") == 0 and store.count("exchange_parts") == 3
        names = [p.name for p in store.part_files()]
    assert sorted(p.name for p in (tmp_path / "s.duckdb.parts").iterdir()) == sorted(names)
    keys = [f.name for f in KEY_FIELDS]
    for name in names:  # plain Parquet: the contract's columns, the row id and the message-derived keys
        assert pq.read_schema(tmp_path / "s.duckdb.parts" / name).names == [*EXCHANGE_SCHEMA.names, "_rid", *keys]


def test_a_part_without_a_commit_is_removed_and_a_moved_store_reads(tmp_path: Path) -> None:
    db = tmp_path / "a" / "s.duckdb"
    with Store.open(db) as store:
        ingest_logs(store, [_parquet(tmp_path / "a.parquet", 0, 20)])
    stray = Path(f"{db}.parts") / "part-000000000000020-deadbeef.parquet"  # as left by a kill before a commit
    stray.write_bytes(b"PAR1")
    with Store.open(db) as store:
        assert not stray.exists() and store.count("exchanges") == 20
    moved = tmp_path / "b"
    (tmp_path / "a").rename(moved)
    with Store.open(moved / "s.duckdb", read_only=True) as store:
        assert store.con.execute("SELECT count(*), count(DISTINCT request_id) FROM exchanges").fetchall() == [(20, 20)]
    with Store.open(moved / "s.duckdb") as store:
        assert ingest_logs(store, [_parquet(tmp_path / "c.parquet", 10, 20)]).stored == 10
        assert store.con.execute("SELECT count(*) FROM exchanges").fetchall() == [(30,)]


def test_a_store_with_an_exchanges_table_becomes_parts(tmp_path: Path) -> None:
    import duckdb

    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))  # the layout before parts: the exchanges in a table of the DuckDB file
    con.execute("CREATE TABLE exchanges (request_id VARCHAR NOT NULL, ts TIMESTAMPTZ NOT NULL, "
                "account_id VARCHAR NOT NULL, api_key_id VARCHAR, org_id VARCHAR, ip VARCHAR NOT NULL, "
                "user_agent VARCHAR, model VARCHAR NOT NULL, endpoint VARCHAR, "
                "messages STRUCT(role VARCHAR, content VARCHAR)[], prompt VARCHAR, tools VARCHAR[], params VARCHAR, "
                "completion VARCHAR, prompt_tokens BIGINT, completion_tokens BIGINT, status INTEGER, "
                "conversation_id VARCHAR)")
    con.execute("INSERT INTO exchanges (request_id, ts, account_id, ip, model, prompt) "
                "SELECT 'r' || i, TIMESTAMPTZ '2026-05-01 00:00:00+00', 'a', '10.0.0.1', 'm', 'p' || i "
                "FROM range(4) t(i)")
    con.close()
    with Store.open(db, read_only=True) as store:  # read as it is
        assert store.count("exchanges") == 4 and not Path(f"{db}.parts").exists()
    with Store.open(db) as store:
        assert _ids(store) == [(f"r{i}", i) for i in range(4)]
        s = ingest_logs(store, [_jsonl(tmp_path / "a.jsonl", 2, 4)])
        assert (s.stored, s.duplicates) == (2, 2)
        assert store.count("exchanges") == 6


def test_delete_exchanges_rewrites_the_parts_it_touches(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        ingest_logs(store, [_jsonl(tmp_path / "a.jsonl", 0, 6), _jsonl(tmp_path / "b.jsonl", 6, 6)])
        untouched = store.part_files()[1]
        kept = [r for r in _ids(store) if r[0] not in ("r1", "r4")]
        assert store.delete_exchanges("request_id IN ('r1', 'r4')") == 2
        assert _ids(store) == kept  # row ids kept
        assert store.part_files()[1] == untouched and len(list(store.parts.iterdir())) == 2
        assert store.delete_exchanges("request_id = 'nothing'") == 0
        s = ingest_logs(store, [_jsonl(tmp_path / "c.jsonl", 0, 6)])  # deleted ids may come back, others not
        assert (s.stored, s.duplicates) == (2, 4)


def _files(store: Store) -> list[str]:
    return sorted(p.name for p in store.parts.iterdir())


def test_small_parts_are_merged_on_ingest_and_by_compact(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from distillguard.cli import main
    from distillguard.store import COMPACT_AT

    db = tmp_path / "s.duckdb"
    logs = [_jsonl(tmp_path / f"{k}.jsonl", 10 * k, 10) for k in range(COMPACT_AT + 2)]
    with Store.open(db) as store:
        ingest_logs(store, logs[:3])
        store.con.execute("INSERT INTO exchanges_delta (request_id, ts, account_id, ip, model, tools) "
                          "VALUES ('g1', now(), 'a', '', 'm', ['t'])")  # a part written by DuckDB (the delta's)
        store.roll_delta()
        before = store.con.execute("SELECT request_id, rowid, tools, messages FROM exchanges ORDER BY rowid").fetchall()
        assert store.count("exchange_parts") == 4
        c = store.compact()
        assert (c.parts_before, c.parts_after, c.merged) == (4, 1, 4)
        assert store.con.execute("SELECT request_id, rowid, tools, messages FROM exchanges "
                                 "ORDER BY rowid").fetchall() == before
        assert _files(store) == [p.name for p in store.part_files()]
        # the id index is the same: dedupe still sees every stored row
        assert store.count("exchange_ids") == 31
        s = ingest_logs(store, logs)  # 3 known files, then 15 new small parts: with the merged one, COMPACT_AT
        assert (s.stored, s.duplicates) == (150, 30)
        assert store.count("exchange_parts") == 1 and len(_files(store)) == 1
        assert store.con.execute("SELECT count(*), count(DISTINCT request_id), count(DISTINCT rowid) "
                                 "FROM exchanges").fetchall() == [(181, 181, 181)]
    r = CliRunner().invoke(main, ["store", "compact", "--db", str(db)])
    assert r.exit_code == 0 and "parts 1 -> 1" in r.output, r.output


def test_merge_groups_are_runs_of_consecutive_small_parts() -> None:
    from distillguard.store import MERGED_PART_ROWS, SMALL_PART_ROWS, _merge_groups

    small, big = 1_000, SMALL_PART_ROWS
    parts = [("a", small, 0, 0), ("b", small, 1, 1), ("big", big, 2, 2), ("c", small, 3, 3), ("d", small, 4, 4),
             ("e", small, 5, 5), ("big2", big, 6, 6), ("alone", small, 7, 7)]
    assert [[p[0] for p in g] for g in _merge_groups(parts)] == [["a", "b"], ["c", "d", "e"]]
    many = [(str(i), SMALL_PART_ROWS - 1, i, i) for i in range(20)]  # cut where a merged part would grow too big
    assert all(sum(p[1] for p in g) <= MERGED_PART_ROWS for g in _merge_groups(many))
    assert sum(len(g) for g in _merge_groups(many)) == 20


def test_a_failed_compaction_changes_nothing(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        ingest_logs(store, [_jsonl(tmp_path / f"{k}.jsonl", 10 * k, 10) for k in range(3)])
        before, files = _ids(store), _files(store)

        def fail(step: str) -> None:
            raise OSError("disk full")

        with pytest.raises(OSError):
            store.compact(on_step=fail)
        assert _ids(store) == before and _files(store) == files and store.count("exchange_parts") == 3


COMPACT_CHILD = """
import sys, time
from distillguard.store import Store
store = Store.open(sys.argv[1])
def step(name):
    print(name, flush=True)
    if name == sys.argv[2]:   # held there until killed (the other steps go on at once)
        time.sleep(60)
store.compact(on_step=step)
"""


@pytest.mark.parametrize("kill_at", ["written", "committed"])
def test_sigkill_mid_compaction_loses_and_duplicates_nothing(tmp_path: Path, kill_at: str) -> None:
    db = tmp_path / "s.duckdb"
    logs = [_jsonl(tmp_path / f"{k}.jsonl", 10 * k, 10) for k in range(4)]
    with Store.open(db) as store:
        ingest_logs(store, logs)
        before = _ids(store)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    with subprocess.Popen([sys.executable, "-c", COMPACT_CHILD, str(db), kill_at], stdout=subprocess.PIPE,
                          text=True, env=env) as child:
        assert child.stdout is not None
        while (line := child.stdout.readline().strip()) not in (kill_at, ""):
            pass
        assert line == kill_at
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    with Store.open(db) as store:  # before the commit: the sources stand; after it: the merged part
        assert _ids(store) == before
        assert store.count("exchange_parts") == (4 if kill_at == "written" else 1)
        assert _files(store) == [p.name for p in store.part_files()]  # the unlisted files are gone
        assert store.count("exchange_ids") == 40
        s = ingest_logs(store, logs)
        assert (s.stored, s.duplicates) == (0, 40)
        assert store.compact().parts_after == 1 and _ids(store) == before


def test_dedupe_probes_the_id_hashes_then_compares_the_ids(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with Store.open(db) as store:
        ingest_logs(store, [_jsonl(tmp_path / "a.jsonl", 0, 10)])
        assert store.con.execute("SELECT count(*) FROM exchange_ids WHERE h = hash(request_id)").fetchall() == [(10,)]
        # a stored id given the hash of a new one (a collision): the ids are compared, the new row is kept
        store.con.execute("UPDATE exchange_ids SET h = hash('r12') WHERE request_id = 'r0'")
        s = ingest_logs(store, [_parquet(tmp_path / "b.parquet", 5, 10)])  # r5..r9 stored, r10..r14 new
        assert (s.stored, s.duplicates) == (5, 5)
        # hashes from another DuckDB release (here: nonsense) are computed again at the next writable open
        store.con.execute("UPDATE exchange_ids SET h = 7")
        store.con.execute("UPDATE store_meta SET value = 'h1-duckdb0.0.0' WHERE name = 'id_hash'")
    with Store.open(db) as store:
        assert store.con.execute("SELECT count(*) FROM exchange_ids WHERE h = hash(request_id)").fetchall() == [(15,)]
        s = ingest_logs(store, [_jsonl(tmp_path / "c.jsonl", 12, 6)])
        assert (s.stored, s.duplicates) == (3, 3)
        # a store written before the hashes: the column is added and filled
        store.con.execute("ALTER TABLE exchange_ids DROP COLUMN h")
        store.con.execute("DELETE FROM store_meta")
    with Store.open(db) as store:
        s = ingest_logs(store, [_jsonl(tmp_path / "d.jsonl", 0, 20)])
        assert (s.stored, s.duplicates) == (2, 18)
        assert store.con.execute("SELECT count(*), count(DISTINCT request_id) FROM exchanges").fetchall() == [(20, 20)]
        assert store.con.execute("SELECT count(*) FROM exchange_ids WHERE h = hash(request_id)").fetchall() == [(20,)]
