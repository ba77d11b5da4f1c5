"""Per-exchange keys derived from the messages: computed once when a file is ingested, not in every detect run.

Detection's slim per-exchange table (`detection.features.slim_select`) needs, for every exchange, the
hash of its prompt text, the hash and word count of its system prompt, its user turns, whether it is a
follow-up and the hash of the conversation's opener. Computed from the stored message lists, that is a
decode of every message list (the log's largest column) and a few list expressions in every detect run:
about two thirds of the slim table's cost. The ingest has the messages in Arrow already; it computes the
same SQL expressions there, with DuckDB, and the part keeps them as extra columns (`_k_*`, after `_rid`).

The hashes are DuckDB's `hash()`, which is not promised to be stable across DuckDB releases, so a part
records the version of its keys (:data:`KEYS_VERSION`: DuckDB release and a digest of the expressions) in
the manifest (`exchange_parts.keys`); detection reads the stored keys of parts of the current version
only and computes them for the others (parts written before keys, by another release, the delta).
"""

from __future__ import annotations

import hashlib

import duckdb
import pyarrow as pa

from .schema import prompt_sql

# the roles of an exchange's messages (the same expression twice in a SELECT is computed once)
ROLES_SQL = "list_transform(messages, lambda m: m.role)"
# the conversation's opening user message (a follow-up's problem): the first or second message nearly always
OPENER_SQL = ("CASE WHEN messages[1].role = 'user' THEN messages[1].content WHEN messages[2].role = 'user' "
              "THEN messages[2].content ELSE list_filter(messages, lambda m: m.role = 'user')[1].content END")
SYSTEM_SQL = ("CASE WHEN messages[1].role IN ('system', 'developer') THEN messages[1].content "
              "ELSE list_filter(messages, lambda m: m.role IN ('system', 'developer'))[1].content END")
# words in the system prompt (spaces + 1; 0 without one): a client's one-line default persona is short, an
# operator's or an app's instructions are not
SYSTEM_WORDS_SQL = (f"coalesce(length(trim({SYSTEM_SQL})) - length(replace(trim({SYSTEM_SQL}), ' ', '')) + 1, 0)"
                    "::INTEGER")

# (column of the slim table, SQL over the exchange's `prompt` and `messages`, Arrow type)
KEYS: tuple[tuple[str, str, pa.DataType], ...] = (
    ("text_hash", f"hash({prompt_sql()})", pa.uint64()),
    ("sys_hash", f"hash(coalesce({SYSTEM_SQL}, ''))", pa.uint64()),
    ("sys_words", SYSTEM_WORDS_SQL, pa.int32()),
    ("user_turns", f"coalesce(len(list_filter({ROLES_SQL}, lambda r: r = 'user')), 1)::INTEGER", pa.int32()),
    ("multi_turn", f"coalesce(list_contains({ROLES_SQL}, 'assistant'), false)", pa.bool_()),
    ("open_hash", f"CASE WHEN list_contains({ROLES_SQL}, 'assistant') THEN hash({OPENER_SQL}) END", pa.uint64()),
)
PREFIX = "_k_"  # a key's column name in a part
FIELDS = tuple(pa.field(PREFIX + name, typ) for name, _, typ in KEYS)
KEYS_VERSION = "k1-duckdb{}-{}".format(
    duckdb.__version__, hashlib.blake2b("\n".join(sql for _, sql, _ in KEYS).encode(), digest_size=8).hexdigest())


def select_sql() -> str:
    """The keys as a SELECT list over `prompt` and `messages`, named as in the slim table."""
    return ",\n  ".join(f"{sql} AS {name}" for name, sql, _ in KEYS)


def stored_sql() -> str:
    """The stored keys of a part (`_k_*` columns) as a SELECT list, named as in the slim table."""
    return ", ".join(f"{PREFIX}{name} AS {name}" for name, _, _ in KEYS)


def derive(con: duckdb.DuckDBPyConnection, batch: pa.Table) -> list[pa.ChunkedArray]:
    """The key columns (in `FIELDS` order) of a batch holding `prompt` and `messages` in the stored form."""
    con.register("_dg_keys_in", batch.select(["prompt", "messages"]))
    try:
        out = con.sql(f"SELECT {select_sql()} FROM _dg_keys_in").to_arrow_table()
    finally:
        con.unregister("_dg_keys_in")
    return [out.column(i).cast(f.type) for i, f in enumerate(FIELDS)]
