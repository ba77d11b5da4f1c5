"""The wrapper-end keys and phrases of a text: the byte-level path for ASCII texts gives what the SQL gives."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.fingerprints import text_keys

# the bytes the keys treat differently: case, digits, RE2's \s and \v (not \s), sentence breaks, other punctuation
ALPHABET = list("aAzZ09 \t\n\v\f\r\x00.!?;:,-'\"()") + ["word", "Word ", "  ", "...", "\n\n", "12 34", "hello world "]
Keys = tuple[list[tuple[int, int, int]], set[tuple[int, int]]]
EDGE = ["", " ", "\n", ".", "a", "abcdefghijkl", " abcdefghijkl ", "abcdefghijk", "a b c d e f g", "x" * 6001,
        "ab. " * 2000, "Ends. " + "z" * 5990 + " Tail sentence here.", "1" * 150, "A" * 99 + "  \t 7 b", "\v" * 120]


def _sql_keys(con: duckdb.DuckDBPyConnection, texts: list[str]) -> Keys:
    con.register("_dg_fpb", pa.table({"text_hash": pa.array(np.arange(len(texts), dtype=np.uint64)),
                                      "text": pa.array(texts, pa.string())}))
    ends = con.sql(f"SELECT text_hash, pre_key, suf_key FROM ({text_keys.ENDS_SQL}) ORDER BY text_hash").fetchall()
    con.execute("CREATE OR REPLACE TEMP TABLE dg_seg (text_hash UBIGINT, phrase UBIGINT)")
    con.execute(text_keys.SEGMENTS_SQL)
    con.unregister("_dg_fpb")
    return ends, set(con.sql("SELECT * FROM dg_seg").fetchall())


def _byte_keys(con: duckdb.DuckDBPyConnection, texts: list[str]) -> Keys:
    arr = pa.array(texts, pa.string())
    pre, suf = text_keys.ends_ascii(arr)
    rows, phrases = text_keys.phrases_ascii(arr)
    hashes = pa.array(np.arange(len(texts), dtype=np.uint64))
    con.register("_e", pa.table({"text_hash": hashes, "pre": pre, "suf": suf}))
    con.register("_s", pa.table({"text_hash": pa.array(rows.astype(np.uint64)), "phrase": phrases}))
    ends = con.sql("SELECT text_hash, hash(pre), hash(suf) FROM _e ORDER BY text_hash").fetchall()
    segs = set(con.sql("SELECT DISTINCT text_hash, hash(phrase) FROM _s").fetchall())
    return ends, segs


def test_byte_level_keys_equal_the_sql_on_edge_cases() -> None:
    con = duckdb.connect()
    assert _byte_keys(con, EDGE) == _sql_keys(con, EDGE)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(ALPHABET), max_size=400).map("".join), min_size=1, max_size=40))
def test_byte_level_keys_equal_the_sql(texts: list[str]) -> None:
    con = duckdb.connect()
    assert _byte_keys(con, texts) == _sql_keys(con, texts)


def test_insert_keys_takes_non_ascii_texts_through_the_sql(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = EDGE + ["Ünïcode wrapper: solve this. Then answer in JSON please!", "Kelvin \u212a sign sentence here. ok",
                    "İstanbul is a city in the country. Answer now!"]
    con = duckdb.connect()
    con.register("_src", pa.table({"text_hash": pa.array(np.arange(len(texts), dtype=np.uint64)),
                                   "text": pa.array(texts, pa.string()),
                                   "batch": pa.array(np.arange(len(texts)) % 2)}))
    con.execute("CREATE TEMP TABLE src AS SELECT * FROM _src")
    monkeypatch.setattr(text_keys, "ASCII_PIECE", 4)   # several pieces per batch, on the threads
    con.execute("CREATE OR REPLACE TEMP TABLE dg_seg (text_hash UBIGINT, phrase UBIGINT)")
    text_keys.insert_keys(con, "src", parts=2)
    ends = con.sql("SELECT * FROM dg_ends ORDER BY text_hash").fetchall()
    segs = set(con.sql("SELECT * FROM dg_seg").fetchall())
    assert (ends, segs) == _sql_keys(duckdb.connect(), texts)
    assert len(ends) == len(texts)
