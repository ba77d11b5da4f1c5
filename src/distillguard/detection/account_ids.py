"""Account numbers: the detect run's tables key accounts by a dense integer instead of the account id.

Account ids are long strings (`user-` and 24 random characters, say) that share their first bytes, and
the feature and link stages group, join and sort tens of millions of rows by them: on integers the same
statements run about twice as fast and spill half as much. `features.prepare` numbers the accounts of
the log in the order of their ids (`dg_names(account_id INTEGER, name VARCHAR)`, numbers 0…n-1), so that
comparing, ordering and taking the least of two numbers is the same as doing so on the ids: every result
is the one the ids would give. Results leave SQL with their ids again (`to_names`), and tables coming
from Python get their numbers back (`to_numbers`).

A connection without `dg_names` (the incremental state, which keeps ids) holds ids in `account_id`; the
functions here then pass values through unchanged.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from .sorted_unique import positions

NAMES = "dg_names"

NUMBERING_SQL = f"""CREATE OR REPLACE TEMP TABLE {NAMES} AS
SELECT (row_number() OVER (ORDER BY name) - 1)::INTEGER AS account_id, name
FROM (SELECT DISTINCT account_id AS name FROM exchanges)"""


def has_table(con: Any, name: str) -> bool:
    """Whether the connection (DuckDB, or the Spark engine) holds the work table `name`."""
    engine_has = getattr(con, "has_table", None)  # the Spark engine's
    if engine_has is not None:
        return bool(engine_has(name))
    return bool(con.sql("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", params=[name]).fetchall()[0][0])


def numbered(con: Any) -> bool:
    """Whether the connection's detect tables hold account numbers (`dg_names` exists)."""
    return has_table(con, NAMES)


def names(con: Any) -> pa.Array | None:
    """The account ids in number order, or None when the tables hold ids."""
    if not numbered(con):
        return None
    return con.sql(f"SELECT name FROM {NAMES} ORDER BY account_id").to_arrow_table()["name"].combine_chunks()


def to_names(con: Any, table: pa.Table, columns: tuple[str, ...] = ("account_id",)) -> pa.Table:
    """`table` with the account numbers in `columns` replaced by the account ids."""
    ids = names(con)
    if ids is None:
        return table
    for c in columns:
        i = table.column_names.index(c)
        col = table[c].combine_chunks().cast(pa.int64()) if table.num_rows else pa.array([], pa.int64())
        table = table.set_column(i, c, ids.take(col).cast(pa.string()))
    return table


def to_numbers(con: Any, ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The numbers of account ids (all of them in the log); the ids themselves when the tables hold ids."""
    known = names(con)
    if known is None:
        return ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    return pa.array(np.asarray(positions(ids, known), np.int32))


def drop(con: duckdb.DuckDBPyConnection) -> None:
    """Forget the numbering (when detect ends)."""
    con.execute(f"DROP TABLE IF EXISTS temp.{NAMES}")
