"""SQL keys of each fingerprinted prompt text, beside the Python fingerprints: wrapper ends and phrases.

`detection.features` computes them once over the texts to fingerprint (`insert_keys`: the SQL for texts that
are not all ASCII, the same keys over the bytes of the others); `cache` digests the SQL into the cache version,
so cached keys are recomputed when this SQL changes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

WRAPPER_CHARS = 40


def norm_sql(text: str) -> str:
    return f"trim(regexp_replace(regexp_replace(lower({text}), '[0-9]+', '0', 'g'), '\\s+', ' ', 'g'))"


# A wrapper key normalises only the END_SLICE characters at its end of the prompt: the same key as
# normalising the whole text whenever that slice normalises to more than WRAPPER_CHARS + 1 characters
# (else the whole text is normalised). `ENDS_SQL` reads `_dg_fpb` and adds `pre_key`, `suf_key`.
END_SLICE = 100
ENDS_SQL = (f"SELECT *, hash(CASE WHEN length(pl) > {WRAPPER_CHARS + 1} THEN left(pl, {WRAPPER_CHARS}) "
             f"ELSE left({norm_sql('text')}, {WRAPPER_CHARS}) END) AS pre_key, "
             f"hash(CASE WHEN length(pr) > {WRAPPER_CHARS + 1} THEN right(pr, {WRAPPER_CHARS}) "
             f"ELSE right({norm_sql('text')}, {WRAPPER_CHARS}) END) AS suf_key "
             f"FROM (SELECT *, {norm_sql(f'left(text, {END_SLICE})')} AS pl, "
             f"{norm_sql(f'right(text, {END_SLICE})')} AS pr FROM _dg_fpb)")

PHRASE_ENDS = 3          # sentences kept from each end of a prompt
PHRASE_MIN_CHARS = 12
SEGMENTS_SQL = f"""
INSERT INTO dg_seg SELECT DISTINCT text_hash, hash(seg) FROM (
  SELECT text_hash, unnest(CASE WHEN len(segs) <= {2 * PHRASE_ENDS} THEN segs
                           ELSE segs[1:{PHRASE_ENDS}] || segs[-{PHRASE_ENDS}:] END) AS seg
  FROM (
    SELECT text_hash, list_filter(list_transform(string_split_regex(
             -- one pass: case-folded, everything but letters and sentence breaks becomes a space
             regexp_replace(lower(CASE WHEN length(text) > 6000 THEN left(text, 4000) || '\n' || right(text, 2000)
                                  ELSE text END), '[^a-z\\n.!?;:]+', ' ', 'g'),
             '[\\n.!?;:]+'), lambda s: trim(s)), lambda s: len(s) >= {PHRASE_MIN_CHARS}) AS segs
    FROM _dg_fpb))
"""


# --- the same keys for ASCII texts, over their bytes (numpy) ------------------------------------------------
# The SQL above is the definition; for a text that is all ASCII (one byte per character, `lower` is A-Z -> a-z)
# the functions below give the very strings it hashes, with a few vectorised passes over the batch's bytes
# instead of DuckDB's regex replacements (most of the two statements' cost). `insert_keys` runs the SQL for
# the other texts; `tests/test_text_keys.py` checks both paths give the same keys.

_WS = np.zeros(256, dtype=bool)
_WS[[9, 10, 12, 13, 32]] = True          # RE2's \s: [\t\n\f\r ]
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[ord("0"):ord("9") + 1] = True
_LETTER = np.zeros(256, dtype=bool)
_LETTER[ord("a"):ord("z") + 1] = True
_ALPHA = _LETTER.copy()
_ALPHA[ord("A"):ord("Z") + 1] = True
_BREAK = np.zeros(256, dtype=bool)
_BREAK[[ord(c) for c in "\n.!?;:"]] = True
_LOWER = np.arange(256, dtype=np.uint8)
_LOWER[ord("A"):ord("Z") + 1] += 32
# a byte of norm_sql: digits -> 0, \s -> space, A-Z -> a-z
_NORM = np.where(_DIGIT, np.uint8(ord("0")), np.where(_WS, np.uint8(32), _LOWER)).astype(np.uint8)


def _buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(bytes, int64 offsets into them) of a string array without nulls."""
    if pa.types.is_large_string(arr.type):
        width, kind = 8, np.int64
    else:
        arr = arr.cast(pa.string()) if not pa.types.is_string(arr.type) else arr
        width, kind = 4, np.int32
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=kind, count=len(arr) + 1, offset=arr.offset * width).astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    data = data[offsets[0]:offsets[-1]]
    return data, offsets - offsets[0]


def _string_array(data: np.ndarray, offsets: np.ndarray) -> pa.Array:
    return pa.LargeStringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets.astype(np.int64)),
                                            pa.py_buffer(np.ascontiguousarray(data, dtype=np.uint8)))


def _row_starts(offsets: np.ndarray, n_bytes: int) -> np.ndarray:
    """True at the first byte of each (non-empty) string."""
    first = np.zeros(n_bytes + 1, dtype=bool)
    first[offsets[:-1]] = True
    return first[:n_bytes]


def norm_ascii(arr: pa.Array) -> pa.Array:
    """`norm_sql` of ASCII texts: lower-cased, runs of digits -> '0', runs of \\s -> ' ', trimmed of spaces."""
    data, offsets = _buffers(arr)
    n = len(offsets) - 1
    digit, ws = _DIGIT[data], _WS[data]   # (case folding changes neither)
    # a digit after a digit, or a space after a space, of the same string goes
    run = (digit[1:] & digit[:-1]) | (ws[1:] & ws[:-1])
    run &= ~_row_starts(offsets, len(data))[1:]
    keep = np.ones(len(data), dtype=bool)
    keep[1:] = ~run
    kept = _NORM[data[keep]]
    # trim: a kept space that is its string's first or last kept byte goes
    counts = np.zeros(len(data) + 1, dtype=np.int32 if len(data) < 2**31 else np.int64)
    np.cumsum(keep, out=counts[1:])
    kept_offsets = counts[offsets].astype(np.int64)
    kept_per_row = np.diff(kept_offsets)
    nonempty = kept_per_row > 0
    heads, tails = kept_offsets[:-1][nonempty], kept_offsets[1:][nonempty] - 1
    head_space, tail_space = kept[heads] == 32, kept[tails] == 32
    drop = np.zeros(len(kept), dtype=bool)
    drop[heads[head_space]] = True
    drop[tails[tail_space]] = True
    dropped = np.zeros(n, dtype=np.int64)
    dropped[nonempty] = head_space.astype(np.int64) + (tail_space & (tails != heads))
    return _string_array(kept[~drop], np.concatenate([[0], np.cumsum(kept_per_row - dropped)]))


def _patch(base: pa.Array, rows: np.ndarray, values: pa.Array) -> pa.Array:
    """`base` with its `rows` replaced by `values` (in order)."""
    where = np.arange(len(base), dtype=np.int64)
    where[rows] = len(base) + np.arange(len(rows))
    return pa.concat_arrays([base.cast(pa.large_string()), values.cast(pa.large_string())]).take(pa.array(where))


def ends_ascii(texts: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The strings `ENDS_SQL` hashes into `pre_key` and `suf_key`, for ASCII texts."""
    pl = norm_ascii(pc.utf8_slice_codeunits(texts, 0, END_SLICE))
    pr = norm_ascii(pc.utf8_slice_codeunits(texts, -END_SLICE))
    pre = pc.utf8_slice_codeunits(pl, 0, WRAPPER_CHARS)
    suf = pc.utf8_slice_codeunits(pr, -WRAPPER_CHARS)
    short_l = pc.utf8_length(pl).to_numpy(zero_copy_only=False) <= WRAPPER_CHARS + 1
    short_r = pc.utf8_length(pr).to_numpy(zero_copy_only=False) <= WRAPPER_CHARS + 1
    short = np.flatnonzero(short_l | short_r)
    if len(short):   # the slice normalises to too few characters: the whole text is normalised
        whole = norm_ascii(texts.take(pa.array(short)))
        rows = np.flatnonzero(short_l)
        pre = _patch(pre, rows, pc.utf8_slice_codeunits(whole.take(pa.array(short_l[short].nonzero()[0])), 0,
                                                        WRAPPER_CHARS))
        rows = np.flatnonzero(short_r)
        suf = _patch(suf, rows, pc.utf8_slice_codeunits(whole.take(pa.array(short_r[short].nonzero()[0])),
                                                        -WRAPPER_CHARS))
    return pre, suf


def phrases_ascii(texts: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(row, phrase string) of the sentences `SEGMENTS_SQL` hashes, for ASCII texts.

    After the case folding and the replacement, a sentence is its words (runs of a-z) joined by one space:
    its length is theirs plus the spaces between them, and its text the bytes from its first word to its last
    with every run of other bytes made one space.
    """
    n = len(texts)
    long_rows = np.flatnonzero(pc.utf8_length(texts).to_numpy(zero_copy_only=False) > 6000)
    if len(long_rows):
        long = texts.take(pa.array(long_rows))
        texts = _patch(texts, long_rows, pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(long, 0, 4000), pc.utf8_slice_codeunits(long, -2000), "\n"))
    data, offsets = _buffers(texts)
    letter = _ALPHA[data]   # a letter once case-folded
    # a word starts at a letter after a non-letter or at its string's first byte, and ends likewise
    firsts = offsets[:-1][offsets[:-1] < offsets[1:]]
    lasts = offsets[1:][offsets[:-1] < offsets[1:]] - 1
    starts = letter.copy()
    starts[1:] &= ~letter[:-1]
    starts[firsts] = letter[firsts]
    ends = letter.copy()
    ends[:-1] &= ~letter[1:]
    ends[lasts] = letter[lasts]
    w_start = np.flatnonzero(starts)
    w_end = np.flatnonzero(ends) + 1
    if len(w_start) == 0:
        return np.empty(0, np.int64), pa.array([], pa.large_string())
    row = np.repeat(np.arange(n), np.diff(np.searchsorted(w_start, offsets)))   # each word's string
    breaks = np.cumsum(_BREAK[data], dtype=np.int32)[w_start]   # break bytes up to each word (it starts with a letter)
    new = np.ones(len(w_start), dtype=bool)
    new[1:] = (row[1:] != row[:-1]) | (breaks[1:] != breaks[:-1])
    first = np.flatnonzero(new)
    last = np.concatenate([first[1:], [len(w_start)]]) - 1
    chars = np.cumsum(w_end - w_start)   # a sentence's letters: those of its words (up to its last, from its first)
    length = chars[last] - chars[first] + (w_end - w_start)[first] + (last - first)
    seg_row = row[first]
    kept = np.flatnonzero(length >= PHRASE_MIN_CHARS)
    kept_row = seg_row[kept]
    count = np.bincount(kept_row, minlength=n)
    rank = np.arange(len(kept)) - np.concatenate([[0], np.cumsum(count)])[kept_row]
    pick = kept[(rank < PHRASE_ENDS) | (rank >= count[kept_row] - PHRASE_ENDS)]
    lo, hi = w_start[first[pick]], w_end[last[pick]]
    # the bytes of the picked sentences (in order; they do not overlap): a letter, or the first of a run of other
    # bytes (made one space)
    edge = np.zeros(len(data) + 1, dtype=np.int8)
    edge[lo] = 1
    edge[hi] -= 1
    keep = np.cumsum(edge[:-1], dtype=np.int8).view(bool)
    keep[1:] &= letter[1:] | letter[:-1]   # (a sentence starts with a letter)
    picked = data[keep]
    out = np.where(_ALPHA[picked], _LOWER[picked], np.uint8(32))
    return seg_row[pick], _string_array(out, np.concatenate([[0], np.cumsum(length[pick])]))


ASCII_PIECE = 16_384   # texts per piece of the byte-level path (its arrays stay in the CPU caches)


def insert_keys(con: duckdb.DuckDBPyConnection, source: str, parts: int = 1, threads: int = 2) -> None:
    """`dg_ends(text_hash, pre_key, suf_key)` (created) and `dg_seg` rows (added) for every text of `source`.

    `source` is a table with distinct `text_hash`, its `text`, and `batch` in [0, `parts`): the texts are read
    one batch at a time. Texts that are not all ASCII go through `ENDS_SQL` and `SEGMENTS_SQL`; the others
    through :func:`ends_ascii` and :func:`phrases_ascii` in pieces of `ASCII_PIECE`, `threads` at a time (numpy
    releases the GIL), and DuckDB hashes the strings they give.
    """
    ascii_sql = "strlen(text) = length(text)"   # bytes = characters
    con.execute(f"CREATE OR REPLACE TEMP VIEW _dg_fpb AS SELECT text_hash, text FROM {source} WHERE NOT ({ascii_sql})")
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE dg_ends AS SELECT text_hash, pre_key, suf_key FROM ({ENDS_SQL})")
        con.execute(SEGMENTS_SQL)
    finally:
        con.execute("DROP VIEW IF EXISTS _dg_fpb")
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for b in range(parts):
            batch = con.sql(f"SELECT text_hash, text FROM {source} WHERE batch = {b} AND {ascii_sql}").to_arrow_table()
            batch = batch.combine_chunks()
            pieces = [batch.slice(i, ASCII_PIECE) for i in range(0, batch.num_rows, ASCII_PIECE)]
            for ends, phrases in pool.map(_ascii_keys, pieces):
                _insert_ascii(con, ends, phrases)


def _ascii_keys(batch: pa.Table) -> tuple[pa.Table, pa.Table]:
    texts = batch.column("text").combine_chunks()
    pre, suf = ends_ascii(texts)
    rows, phrases = phrases_ascii(texts)
    text_hash = batch.column("text_hash").combine_chunks()
    return (pa.table({"text_hash": text_hash, "pre": pre, "suf": suf}),
            pa.table({"text_hash": text_hash.take(pa.array(rows)), "phrase": phrases}))


def _insert_ascii(con: duckdb.DuckDBPyConnection, ends: pa.Table, phrases: pa.Table) -> None:
    con.register("_dg_ends_a", ends)
    con.register("_dg_seg_a", phrases)
    try:
        con.execute("INSERT INTO dg_ends SELECT text_hash, hash(pre), hash(suf) FROM _dg_ends_a")
        con.execute("INSERT INTO dg_seg SELECT DISTINCT text_hash, hash(phrase) FROM _dg_seg_a")
    finally:
        con.unregister("_dg_ends_a")
        con.unregister("_dg_seg_a")
