"""The embedded store: one DuckDB file, the one owner of SQL connections.

Tables
- `exchanges`: the exchange log in its stored form (schema.EXCHANGE_SCHEMA), unique by request_id.
- `accounts`: optional account records (schema.ACCOUNT_SCHEMA), latest record per account wins.
- `ingested_files`: one row per committed input file, with its counts.
- `rejects`: every record that was not stored, with file, line and reason (nothing is dropped silently).

Each input file is appended inside one transaction: a crash or Ctrl-C leaves the store as it was
before that file, so re-running the same command completes the work without duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from .errors import StoreError
from .schema import ACCOUNT_FIELDS, EXCHANGE_FIELDS, Field

INGEST_MEMORY_LIMIT = "512MB"  # DuckDB's share while a file is ingested; Arrow blocks come on top

_DUCK_TYPES = {
    "string": "VARCHAR",
    "timestamp[us, tz=UTC]": "TIMESTAMPTZ",
    "int64": "BIGINT",
    "int32": "INTEGER",
    "bool": "BOOLEAN",
    "list<item: string>": "VARCHAR[]",
    "list<item: struct<role: string, content: string>>": "STRUCT(role VARCHAR, content VARCHAR)[]",
}


def _ddl(table: str, fields: tuple[Field, ...], key: str | None = None) -> str:
    cols = []
    for f in fields:
        col = f"{f.name} {_DUCK_TYPES[str(f.type)]}"
        if f.name == key:
            col += " PRIMARY KEY"
        elif f.required:
            col += " NOT NULL"
        cols.append(col)
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(cols)})"


_SETUP = (
    _ddl("exchanges", EXCHANGE_FIELDS),
    _ddl("accounts", ACCOUNT_FIELDS, key="account_id"),
    """CREATE TABLE IF NOT EXISTS ingested_files (
        path VARCHAR, size BIGINT, kind VARCHAR, rows_read BIGINT, stored BIGINT,
        duplicates BIGINT, rejected BIGINT, ingested_at TIMESTAMPTZ DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS rejects (
        path VARCHAR, line BIGINT, field VARCHAR, reason VARCHAR, recorded_at TIMESTAMPTZ DEFAULT now())""",
)


@dataclass(frozen=True)
class FileCounts:
    """What committing one file did to the store."""

    stored: int
    duplicates: int


class Store:
    """An embedded DuckDB store of exchanges and accounts.

    >>> with Store.open(":memory:") as store:
    ...     store.count("exchanges")
    0
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str) -> None:
        self.con = con
        self.path = path

    @classmethod
    def open(cls, path: str | Path, read_only: bool = False, memory_limit: str | None = None) -> Store:
        """Open (creating if needed) the store at `path`; `:memory:` for a throwaway one."""
        path = str(path)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(path, read_only=read_only)
        except duckdb.Error as e:
            raise StoreError(f"{path}: cannot open the store ({e}); is another process writing it?") from e
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET TimeZone = 'UTC'")
        if not read_only:
            for stmt in _SETUP:
                con.execute(stmt)
        return cls(con, path)

    def close(self) -> None:
        """Close the connection (checkpointing the file)."""
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def count(self, table: str) -> int:
        """Number of rows in `table`."""
        row = self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0]
        return int(row[0]) if row else 0

    @contextmanager
    def file_transaction(self) -> Iterator[_Staging]:
        """Stage one file's batches; commit them whole (deduplicated) on success, or nothing on error."""
        con = self.con
        # Bound the memory a big file can take: staged rows beyond the limit spill to DuckDB's temp folder.
        old_limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        if self.path != ":memory:":
            con.execute(f"SET memory_limit = '{INGEST_MEMORY_LIMIT}'")
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE _staging AS SELECT *, 0::BIGINT AS _seq FROM exchanges LIMIT 0")
            staging = _Staging(con)
            yield staging
            con.execute("DROP TABLE IF EXISTS _staging")
            con.execute("DROP TABLE IF EXISTS _existing")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.execute(f"SET memory_limit = '{old_limit}'")

    def append_accounts(self, table: pa.Table) -> int:
        """Insert or replace account records; return how many were written."""
        self.con.register("_acc", table)
        try:
            cols = ", ".join(f.name for f in ACCOUNT_FIELDS)
            self.con.execute(
                f"INSERT OR REPLACE INTO accounts ({cols}) SELECT {cols} FROM _acc "
                "QUALIFY row_number() OVER (PARTITION BY account_id) = 1"
            )
        finally:
            self.con.unregister("_acc")
        return table.num_rows

    def exchanges_parquet(self, out: str | Path) -> None:
        """Write the stored exchanges to a Parquet file."""
        target = str(out).replace("'", "''")
        self.con.execute(f"COPY (SELECT * FROM exchanges ORDER BY ts, request_id) TO '{target}' (FORMAT parquet)")


class _Staging:
    """One file's rows, staged inside the file's transaction and moved to `exchanges` at commit.

    Dedupe is one semi-join per file on `request_id` (the store's id column scanned against the file's ids;
    no index to keep up), plus a narrow first-occurrence pass over the file's own ids; rows are never sorted.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.seq = 0
        self.direct = 0
        self.rejects: list[tuple[str, int | None, str | None, str]] = []

    def append(self, batch: pa.Table) -> None:
        """Stage one validated batch (stored-form columns)."""
        if not batch.num_rows:
            return
        seq = pa.array(range(self.seq, self.seq + batch.num_rows), pa.int64())
        self.seq += batch.num_rows
        self.con.register("_batch", batch.append_column("_seq", seq))
        try:
            self.con.execute("INSERT INTO _staging SELECT * FROM _batch")
        finally:
            self.con.unregister("_batch")

    def insert_select(self, select_sql: str) -> None:
        """Insert the rows of `select_sql` (stored-form columns, unique request_ids) not already stored."""
        before = _count(self.con, "exchanges")
        _find_existing(self.con, f"SELECT request_id FROM ({select_sql})")
        self.con.execute(
            f"INSERT INTO exchanges ({_COLS}) SELECT {_COLS} FROM ({select_sql}) s "
            "WHERE s.request_id NOT IN (SELECT request_id FROM _existing)"
        )
        self.direct += _count(self.con, "exchanges") - before

    def reject(self, path: str, line: int | None, field: str | None, reason: str) -> None:
        """Record one rejected record (written to `rejects` with the file's commit)."""
        self.rejects.append((path, line, field, reason))

    def commit(self, path: str, size: int, kind: str, rows_read: int, rejected: int) -> FileCounts:
        """Move staged rows not already stored (first occurrence per request_id) into `exchanges`."""
        before = _count(self.con, "exchanges")
        if self.seq:
            _find_existing(self.con, "SELECT request_id FROM _staging")
            self.con.execute(
                f"INSERT INTO exchanges ({_COLS}) SELECT {_COLS} FROM _staging s "
                "WHERE s._seq IN (SELECT min(_seq) FROM _staging GROUP BY request_id) "
                "AND s.request_id NOT IN (SELECT request_id FROM _existing)"
            )
        stored = _count(self.con, "exchanges") - before + self.direct
        if self.rejects:
            cols = zip(*self.rejects, strict=True)
            rej = pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(cols, _REJECT_SCHEMA, strict=True)],
                                       schema=_REJECT_SCHEMA)
            self.con.register("_rej", rej)
            try:
                self.con.execute("INSERT INTO rejects (path, line, field, reason) SELECT * FROM _rej")
            finally:
                self.con.unregister("_rej")
        dups = rows_read - rejected - stored
        self.con.execute(
            "INSERT INTO ingested_files (path, size, kind, rows_read, stored, duplicates, rejected) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [path, size, kind, rows_read, stored, dups, rejected],
        )
        return FileCounts(stored=stored, duplicates=dups)


_COLS = ", ".join(f.name for f in EXCHANGE_FIELDS)
_REJECT_SCHEMA = pa.schema([("path", pa.string()), ("line", pa.int64()), ("field", pa.string()),
                            ("reason", pa.string())])


def _find_existing(con: duckdb.DuckDBPyConnection, ids_sql: str) -> None:
    """Fill temp table `_existing` with the ids of `ids_sql` already stored.

    The file's ids are the hash join's build side and the store is only scanned (one column), so the cost
    per file grows with the store's size at scan speed and its memory with the file's size, not the store's.
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE _existing AS SELECT DISTINCT request_id FROM exchanges "
                f"WHERE request_id IN ({ids_sql})")


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0]
    return int(row[0]) if row else 0
