"""Message-derived keys kept in the parts at ingest (store.KEY_FIELDS): the slim table reads them and gets the
same rows as computing them from the messages, whatever mix of keyed, unkeyed and delta rows a store holds."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from distillguard.detection import features as feat
from distillguard.ingest import ingest_logs
from distillguard.store import KEY_FIELDS, KEYS_VERSION, Store

# conversations covering every branch of the key expressions: system / developer prompts (and none),
# follow-ups (an assistant turn), a system prompt that is not first, a prompt given as `prompt`, tools
CONVERSATIONS = [
    [{"role": "user", "content": "hello"}],
    [{"role": "system", "content": "You are  a   helpful assistant."}, {"role": "user", "content": "sum 2+2"}],
    [{"role": "developer", "content": "terse"}, {"role": "user", "content": "q1"},
     {"role": "assistant", "content": "a1"}, {"role": "user", "content": "q2"}],
    [{"role": "user", "content": "open"}, {"role": "assistant", "content": None},
     {"role": "tool", "content": "42"}],
    [{"role": "user", "content": "first"}, {"role": "system", "content": "late system words here"},
     {"role": "user", "content": "second"}],
    [{"role": "assistant", "content": "hi"}, {"role": "user", "content": "opener late"},
     {"role": "assistant", "content": "x"}, {"role": "user", "content": "follow"}],
]


def _jsonl(path: Path, start: int, n: int) -> Path:
    with path.open("w") as f:
        for i in range(start, start + n):
            rec = {"request_id": f"r{i}", "ts": "2026-05-01T10:00:00Z", "account_id": f"a{i % 7}", "ip": "10.0.0.1",
                   "model": "m", "params": {"temperature": 0.2 * (i % 3)},
                   "messages": CONVERSATIONS[i % len(CONVERSATIONS)]}
            if i % 5 == 0:
                rec["prompt"] = f"completion-style prompt {i}"
            f.write(json.dumps(rec) + "\n")
    return path


def _same_slim(store: Store) -> int:
    """Rows of the slim table read through the stored keys; asserts they equal the computed ones."""
    keyed = store.keyed_exchanges()
    assert keyed is not None
    con = store.con
    con.execute("CREATE OR REPLACE TEMP TABLE _x_c AS " + feat.slim_select(extra=", e.rowid AS rid"))
    con.execute("CREATE OR REPLACE TEMP TABLE _x_k AS " + feat.slim_select(keyed, extra=", e.rowid AS rid", keyed=True))
    for a, b in (("_x_c", "_x_k"), ("_x_k", "_x_c")):
        assert con.sql(f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})").fetchall() == [(0,)]
    return int(con.sql("SELECT count(*) FROM _x_k").fetchall()[0][0])


def test_ingest_keeps_the_keys_and_the_slim_table_reads_them(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with Store.open(db) as store:
        assert store.keyed_exchanges() is None          # nothing stored yet
        ingest_logs(store, [_jsonl(tmp_path / "a.jsonl", 0, 60)])
        [(name, keys)] = store.con.execute("SELECT name, keys FROM exchange_parts").fetchall()
        assert keys == KEYS_VERSION
        cols = pq.read_schema(store.parts / name).names
        assert cols[-len(KEY_FIELDS):] == [f.name for f in KEY_FIELDS]
        # gateway rows in the delta are computed, not read
        store.con.execute("INSERT INTO exchanges_delta (request_id, ts, account_id, ip, model, messages) VALUES "
                          "('g1', now(), 'a1', '', 'm', [{'role': 'system', 'content': 'be brief'}, "
                          "{'role': 'user', 'content': 'hi'}])")
        assert _same_slim(store) == 61
        # a duplicate in a file rewrites its part: the keys stay in line with their rows
        ingest_logs(store, [_jsonl(tmp_path / "b.jsonl", 55, 30)])
        assert _same_slim(store) == 61 + 25
        assert store.con.execute("SELECT count(*) FROM exchange_parts WHERE keys IS NULL").fetchall() == [(0,)]


def test_parts_without_keys_or_of_another_version_are_computed(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with Store.open(db) as store:
        for k in range(3):
            ingest_logs(store, [_jsonl(tmp_path / f"{k}.jsonl", 40 * k, 40)])
        names = [n for (n,) in store.con.execute("SELECT name FROM exchange_parts ORDER BY first_rid").fetchall()]
        # a part written before keys (NULL), one of another DuckDB release: their stored keys are not read
        store.con.execute("UPDATE exchange_parts SET keys = NULL WHERE name = ?", [names[0]])
        store.con.execute("UPDATE exchange_parts SET keys = 'k1-duckdb0.0.0-x' WHERE name = ?", [names[1]])
        # (poison the stale part's stored keys: reading them would change the slim table)
        stale = store.parts / names[1]
        t = pq.read_table(stale)
        t = t.set_column(t.column_names.index("_k_text_hash"), "_k_text_hash",
                         duckdb.sql("SELECT 7::UBIGINT AS h FROM range(40)").to_arrow_table()["h"])
        pq.write_table(t, stale)
        assert _same_slim(store) == 120
        # compaction merges keyed and unkeyed parts into one without keys: still computed, still the same
        assert store.compact().merged == 3
        assert store.con.execute("SELECT keys FROM exchange_parts").fetchall() == [(None,)]
        assert store.keyed_exchanges() is None
    with Store.open(tmp_path / "t.duckdb") as store:   # compacting parts of the current version keeps their keys
        for k in range(3):
            ingest_logs(store, [_jsonl(tmp_path / f"{k}.jsonl", 40 * k, 40)])
        assert store.compact().merged == 3
        assert store.con.execute("SELECT keys FROM exchange_parts").fetchall() == [(KEYS_VERSION,)]
        assert _same_slim(store) == 120


def test_an_old_store_opened_read_only_reads_exchanges(tmp_path: Path) -> None:
    """A store written before keys (no `keys` column) detects from `exchanges` when opened read-only."""
    db = tmp_path / "s.duckdb"
    with Store.open(db) as store:
        ingest_logs(store, [_jsonl(tmp_path / "a.jsonl", 0, 20)])
        store.con.execute("ALTER TABLE exchange_parts DROP COLUMN keys")
    with Store.open(db, read_only=True) as store:
        assert store.keyed_exchanges() is None
    with Store.open(db) as store:   # a writable open adds the column: its parts count as unkeyed
        assert store.con.execute("SELECT keys FROM exchange_parts").fetchall() == [(None,)]
        assert store.keyed_exchanges() is None
