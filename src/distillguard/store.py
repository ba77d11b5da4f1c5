"""The embedded store: exchanges as immutable Parquet parts beside one DuckDB file, the catalog.

Layout of a store `S.duckdb`:
- `S.duckdb.parts/part-*.parquet`: the exchange log in its stored form (schema.EXCHANGE_SCHEMA) plus a
  `_rid` column, zstd-compressed, written by Arrow and never changed. A part is listed in the catalog's
  `exchange_parts` table only once its rows and every other effect of its input file are committed.
- the DuckDB file (the catalog): `exchange_parts` (the part manifest), `exchange_ids` (the request_id of
  every stored exchange and its 64-bit hash `h`: the index that dedupe probes, integers first, see
  `_Staging.commit`), `store_meta` (the version of those hashes), `exchanges_delta` (a small native table that the
  gateway appends to and that is rolled into a part now and then), `accounts`, `ingested_files`, `rejects`,
  and whatever state later stages keep (fingerprint cache, snapshots, keys).
- `exchanges`: a view over the manifest's parts and the delta, with a `rowid` column (the `_rid` of the
  part rows: numbered in ingest order, unique, never reused), so SQL written against a table reads the
  same. Rows are appended, never changed in place.
- the message-derived keys (`schema.STORED_KEYS`: prompt hash, system prompt, turns, and the provenance
  keys: the completion's and the last fed text's hashes) are computed when a part is written and kept in it
  as `_k_*` columns after `_rid`; the manifest's `keys` names their version (NULL: a part without them, e.g.
  one written before keys). `Store.keyed_exchanges` reads them where their version is the current one and
  computes them for the other rows.

Each input file becomes one part, committed in one catalog transaction (manifest row, its request ids,
its rejects, its `ingested_files` row): a crash or Ctrl-C leaves the store as it was before that file
(a part file written but not committed is deleted at the next writable open), so re-running the same
command completes the work without duplicates.
"""

from __future__ import annotations

import hashlib
import os
import queue
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .errors import StoreError
from .schema import ACCOUNT_FIELDS, EXCHANGE_FIELDS, EXCHANGE_SCHEMA, STORED_KEYS, Field, message_keys_sql

INGEST_MEMORY_LIMIT = "512MB"  # DuckDB's share while a file is ingested; Arrow blocks come on top
PART_ROW_GROUP = 131_072  # rows per Parquet row group of a part (the unit of DuckDB's parallel scan)
PART_COMPRESSION = "zstd"
# dictionary pages for the low-cardinality columns only (a dictionary of unique texts is built, then thrown
# away: 20 % of the writer's CPU), min/max statistics where a filter can use them (`rowid` ranges, time)
PART_DICT = ["account_id", "api_key_id", "org_id", "ip", "user_agent", "model", "endpoint", "params",
             "tools.list.element", "status", "messages.list.element.role"]
PART_STATS = ["_rid", "ts", "account_id", "model", "status", "prompt_tokens", "completion_tokens"]
DELTA_ROLL_ROWS = 200_000  # the gateway rolls its delta table into a part past this many rows
# compaction: a part of fewer rows than one row group is small; runs of consecutive small parts are merged
# into parts of at most MERGED_PART_ROWS, by `ingest` once COMPACT_AT small parts have piled up
SMALL_PART_ROWS = PART_ROW_GROUP
MERGED_PART_ROWS = 8 * PART_ROW_GROUP
COMPACT_AT = 16
DELTA = "exchanges_delta"  # where row-at-a-time writers (the gateway) insert exchanges

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
    _ddl(DELTA, EXCHANGE_FIELDS),
    _ddl("accounts", ACCOUNT_FIELDS, key="account_id"),
    """CREATE TABLE IF NOT EXISTS ingested_files (
        path VARCHAR, size BIGINT, kind VARCHAR, rows_read BIGINT, stored BIGINT,
        duplicates BIGINT, rejected BIGINT, ingested_at TIMESTAMPTZ DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS rejects (
        path VARCHAR, line BIGINT, field VARCHAR, reason VARCHAR, recorded_at TIMESTAMPTZ DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS exchange_parts (
        name VARCHAR PRIMARY KEY, rows BIGINT, first_rid BIGINT, last_rid BIGINT, bytes BIGINT,
        created_at TIMESTAMPTZ DEFAULT now())""",
    "CREATE TABLE IF NOT EXISTS exchange_ids (request_id VARCHAR, h UBIGINT)",
    # `h`: DuckDB's hash() of the request_id (stores before it: NULL until `_id_hashes` fills it)
    "ALTER TABLE exchange_ids ADD COLUMN IF NOT EXISTS h UBIGINT",
    "CREATE TABLE IF NOT EXISTS store_meta (name VARCHAR PRIMARY KEY, value VARCHAR)",
    # the version of a part's stored keys (KEYS_VERSION); NULL: none (stores before keys too)
    "ALTER TABLE exchange_parts ADD COLUMN IF NOT EXISTS keys VARCHAR",
)

# The message-derived keys (schema.STORED_KEYS) as a part keeps them: `_k_*` columns after `_rid`. The hashes
# are DuckDB's `hash()`, not promised stable across DuckDB releases: a part records its keys' version in the
# manifest (`exchange_parts.keys`), and only parts of the current version have theirs read (keyed_exchanges).
KEY_PREFIX = "_k_"
KEY_FIELDS = tuple(pa.field(KEY_PREFIX + name, typ) for name, _, typ in STORED_KEYS)
_KEYS_DIGEST = hashlib.blake2b("\n".join(sql for _, sql, _ in STORED_KEYS).encode(), digest_size=8).hexdigest()
KEYS_VERSION = f"k2-duckdb{duckdb.__version__}-{_KEYS_DIGEST}"
# The id index's hashes (`exchange_ids.h`) are DuckDB's `hash()` too: `store_meta` names the release that computed
# them, and a writable open by another release computes them again before any probe (`Store._id_hashes`)
ID_HASH_VERSION = f"h1-duckdb{duckdb.__version__}"
_COLS = ", ".join(f.name for f in EXCHANGE_FIELDS)
# the keys as a part stores them, computed by DuckDB from the contract's columns (the delta's roll)
_KEYS_SQL = message_keys_sql(KEY_PREFIX, STORED_KEYS)
PART_SCHEMA = EXCHANGE_SCHEMA.append(pa.field("_rid", pa.int64(), nullable=False))
# a part with its message-derived keys, as ingest writes them
KEYED_PART_SCHEMA = pa.schema([*PART_SCHEMA, *KEY_FIELDS])
_REJECT_SCHEMA = pa.schema([("path", pa.string()), ("line", pa.int64()), ("field", pa.string()),
                            ("reason", pa.string())])
_IDS_SCHEMA = pa.schema([("request_id", pa.string()), ("_pos", pa.int64())])


@dataclass(frozen=True)
class Compaction:
    """What `Store.compact` did: parts before and after, and how many small parts it merged (rows unchanged)."""

    parts_before: int
    parts_after: int
    merged: int


@dataclass(frozen=True)
class FileCounts:
    """What committing one file did to the store."""

    stored: int
    duplicates: int


class Store:
    """An embedded store of exchanges (Parquet parts) and accounts (DuckDB).

    >>> with Store.open(":memory:") as store:
    ...     store.count("exchanges")
    0
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str, parts: Path, read_only: bool,
                 scratch: bool) -> None:
        self.con = con
        self.path = path
        self.parts = parts  # folder of the Parquet parts
        self.read_only = read_only
        self._scratch = scratch  # the parts folder is a temporary one (a :memory: store): removed at close

    @classmethod
    def open(cls, path: str | Path, read_only: bool = False, memory_limit: str | None = None) -> Store:
        """Open (creating if needed) the store at `path`; `:memory:` for a throwaway one."""
        path = str(path)
        scratch = path == ":memory:"
        if not scratch:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(path, read_only=read_only)
        except duckdb.Error as e:
            raise StoreError(f"{path}: cannot open the store ({e}); is another process writing it?") from e
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET TimeZone = 'UTC'")
        parts = Path(tempfile.mkdtemp(prefix="dg-parts-")) if scratch else Path(f"{path}.parts").resolve()
        store = cls(con, path, parts, read_only, scratch)
        if read_only:
            store._read_only_view()
        else:
            parts.mkdir(exist_ok=True)
            for stmt in _SETUP:
                con.execute(stmt)
            store._migrate()
            store._id_hashes()
            store._drop_orphans()
            con.execute("BEGIN TRANSACTION")
            try:
                store._refresh_view()
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return store

    def close(self) -> None:
        """Close the connection (checkpointing the file)."""
        self.con.close()
        if self._scratch:
            shutil.rmtree(self.parts, ignore_errors=True)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def count(self, table: str) -> int:
        """Number of rows in `table`."""
        if table == "exchanges":  # from the manifest and the delta, without a scan of the parts
            try:
                return int(self.con.execute(f"SELECT (SELECT coalesce(sum(rows), 0) FROM exchange_parts) + "
                                            f"(SELECT count(*) FROM {DELTA})").fetchall()[0][0])
            except duckdb.CatalogException:  # a store written before parts, opened read-only
                pass
        row = self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0]
        return int(row[0]) if row else 0

    def part_files(self) -> list[Path]:
        """The committed parts, in ingest order."""
        return [self.parts / n for (n,) in
                self.con.execute("SELECT name FROM exchange_parts ORDER BY first_rid").fetchall()]

    @contextmanager
    def file_transaction(self) -> Iterator[_Staging]:
        """Stage one file's batches as a new part; commit it whole (deduplicated) on success, or nothing."""
        if self.read_only:
            raise StoreError(f"{self.path}: the store is open read-only")
        self.roll_delta()  # rows of the delta come before the file's (row ids are in ingest order)
        con = self.con
        old_limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        if not self._scratch:
            con.execute(f"SET memory_limit = '{INGEST_MEMORY_LIMIT}'")
        staging = _Staging(self, self._next_rid())
        try:
            yield staging
        except BaseException:
            staging.abort()
            raise
        finally:
            con.execute(f"SET memory_limit = '{old_limit}'")

    def roll_delta(self, min_rows: int = 1) -> int:
        """Move the rows of the delta table into a new part (when it holds at least `min_rows`).

        Runs on a cursor of its own, so the gateway's writer thread may call it.
        """
        with self.con.cursor() as cur:
            n = cur.execute(f"SELECT count(*) FROM {DELTA}").fetchall()[0][0]
            if n < max(min_rows, 1):
                return 0
            base = self._next_rid(parts_only=True, con=cur)
            name = _part_name(base)
            tmp, final = self.parts / f"{name}.tmp", self.parts / name
            cur.execute("BEGIN TRANSACTION")
            try:
                first, last = cur.execute(f"SELECT min(rowid) + {base}, max(rowid) + {base} "
                                          f"FROM {DELTA}").fetchall()[0]
                cur.execute(f"COPY (SELECT {_COLS}, {base} + rowid AS _rid, {_KEYS_SQL} FROM {DELTA} ORDER BY rowid) "
                            f"TO {sql_literal(tmp)} (FORMAT parquet, COMPRESSION {PART_COMPRESSION}, "
                            f"ROW_GROUP_SIZE {PART_ROW_GROUP})")
                durable(tmp)
                os.replace(tmp, final)
                durable(self.parts)
                cur.execute(f"INSERT INTO exchange_ids (request_id, h) SELECT request_id, hash(request_id) "
                            f"FROM {DELTA}")
                _list_part(cur, final, n, first, last, KEYS_VERSION)
                cur.execute(f"DELETE FROM {DELTA}")
                self._refresh_view(cur)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                tmp.unlink(missing_ok=True)
                final.unlink(missing_ok=True)
                raise
        return int(n)

    def delete_exchanges(self, where: str) -> int:
        """Remove the exchanges matching the SQL predicate `where` (over the contract's columns); return how many.

        Parts are immutable: each part holding a match is rewritten without it (row ids kept) and swapped
        for the old one in one catalog transaction with the id index; the old files are deleted after the
        commit (after a crash, at the next writable open).
        """
        if self.read_only:
            raise StoreError(f"{self.path}: the store is open read-only")
        self.roll_delta()
        con = self.con
        hits = []
        for name, keys in con.execute("SELECT name, keys FROM exchange_parts ORDER BY first_rid").fetchall():
            src = sql_literal(self.parts / name)
            n = con.execute(f"SELECT count(*) FROM read_parquet({src}) WHERE {where}").fetchall()[0][0]
            if n:
                hits.append((name, int(n), keys))
        if not hits:
            return 0
        written: list[Path] = []
        try:
            con.execute("BEGIN TRANSACTION")
            for name, _, keys in hits:
                src = sql_literal(self.parts / name)
                con.execute(f"DELETE FROM exchange_ids WHERE request_id IN "
                            f"(SELECT request_id FROM read_parquet({src}) WHERE {where})")
                rows, first, last = con.execute(f"SELECT count(*), min(_rid), max(_rid) FROM read_parquet({src}) "
                                                f"WHERE NOT coalesce(({where}), false)").fetchall()[0]
                con.execute("DELETE FROM exchange_parts WHERE name = ?", [name])
                if rows:
                    final = self.parts / _part_name(int(first))
                    tmp = final.with_name(final.name + ".tmp")
                    con.execute(f"COPY (SELECT * FROM read_parquet({src}) WHERE NOT coalesce(({where}), false) "
                                f"ORDER BY _rid) TO {sql_literal(tmp)} (FORMAT parquet, "
                                f"COMPRESSION {PART_COMPRESSION}, ROW_GROUP_SIZE {PART_ROW_GROUP})")
                    durable(tmp)
                    os.replace(tmp, final)
                    written.append(final)
                    _list_part(con, final, int(rows), int(first), int(last), keys)  # the same columns
            durable(self.parts)
            self._refresh_view()
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            for p in written:
                p.unlink(missing_ok=True)
            raise
        for name, _, _ in hits:
            (self.parts / name).unlink(missing_ok=True)
        return sum(n for _, n, _ in hits)

    def compact(self, min_small: int = 2, on_step: Callable[[str], None] | None = None) -> Compaction:
        """Merge runs of consecutive small parts into larger ones, if the store holds at least `min_small`.

        Each merged part is written to `….tmp`, fsynced and renamed into place, then one catalog transaction
        swaps it for its sources in the manifest (row ids and request ids are unchanged, so the id index is
        untouched); the sources are deleted after the commit. A crash before the commit leaves a merged part
        that no manifest row lists, after it the sources: either is deleted at the next writable open, so
        nothing is lost or stored twice. `on_step` hears "written" and "committed" for each merged part.
        """
        if self.read_only:
            raise StoreError(f"{self.path}: the store is open read-only")
        parts = self.con.execute("SELECT name, rows, first_rid, last_rid FROM exchange_parts "
                                 "ORDER BY first_rid").fetchall()
        versions = dict(self.con.execute("SELECT name, keys FROM exchange_parts").fetchall())
        if sum(rows < SMALL_PART_ROWS for _, rows, _, _ in parts) < max(min_small, 2):
            return Compaction(len(parts), len(parts), 0)
        merged = 0
        for group in _merge_groups(parts):
            final = self.parts / _part_name(group[0][2])
            tmp = final.with_name(final.name + ".tmp")
            # the merged part keeps the keys when all its sources have them, of one version
            keys = {versions[name] for name, *_ in group}
            keys_version = keys.pop() if len(keys) == 1 else None
            _merge_parts([self.parts / name for name, *_ in group], tmp, keyed=keys_version is not None)
            durable(tmp)
            os.replace(tmp, final)
            durable(self.parts)
            self.con.execute("BEGIN TRANSACTION")
            try:
                if on_step:
                    on_step("written")
                self.con.execute("DELETE FROM exchange_parts WHERE name IN (SELECT unnest(?))",
                                 [[name for name, *_ in group]])
                _list_part(self.con, final, sum(g[1] for g in group), min(g[2] for g in group),
                           max(g[3] for g in group), keys_version)
                self._refresh_view()
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                final.unlink(missing_ok=True)
                raise
            if on_step:
                on_step("committed")
            for name, *_ in group:
                (self.parts / name).unlink(missing_ok=True)
            merged += len(group)
        after = self.count("exchange_parts")
        return Compaction(len(parts), after, merged)

    def append_accounts(self, table: pa.Table) -> int:
        """Insert or replace account records; return how many were written. An account listed twice keeps its
        last record, as a later file replaces an earlier one (not whichever a parallel scan meets first)."""
        self.con.register("_acc", table.append_column("_pos", pa.array(np.arange(table.num_rows, dtype=np.int64))))
        try:
            cols = ", ".join(f.name for f in ACCOUNT_FIELDS)
            self.con.execute(
                f"INSERT OR REPLACE INTO accounts ({cols}) SELECT {cols} FROM _acc "
                "QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY _pos DESC) = 1"
            )
        finally:
            self.con.unregister("_acc")
        return table.num_rows

    def exchanges_parquet(self, out: str | Path) -> None:
        """Write the stored exchanges to a Parquet file."""
        self.con.execute(f"COPY (SELECT {_COLS} FROM exchanges ORDER BY ts, request_id) TO {sql_literal(out)} "
                         "(FORMAT parquet)")

    def keyed_exchanges(self) -> str | None:
        """A relation (SQL) of the exchanges with `rowid` and the stored keys under their names in the slim
        table (`schema.STORED_KEYS`): read from the parts that store them in the current
        version, computed for the others and the delta. None when no part stores them (read `exchanges`).
        """
        try:
            parts = self.con.execute("SELECT name, keys FROM exchange_parts ORDER BY first_rid").fetchall()
        except duckdb.Error:  # a store written before parts, or before keys, opened read-only
            return None
        keyed = [n for n, k in parts if k == KEYS_VERSION]
        if not keyed:
            return None
        others = [n for n, k in parts if k != KEYS_VERSION]

        def files(names: list[str]) -> str:
            return ", ".join(sql_literal(self.parts / n) for n in names)

        computed = message_keys_sql(keys=STORED_KEYS)
        stored = ", ".join(f"{KEY_PREFIX}{name} AS {name}" for name, _, _ in STORED_KEYS)
        rel = [f"SELECT {_COLS}, _rid AS rowid, {stored} FROM read_parquet([{files(keyed)}])"]
        if others:
            rel.append(f"SELECT {_COLS}, _rid AS rowid, {computed} FROM read_parquet([{files(others)}])")
        base = self._next_rid(parts_only=True)
        rel.append(f"SELECT {_COLS}, {base} + rowid AS rowid, {computed} FROM {DELTA}")
        return "(" + "\nUNION ALL ".join(rel) + ")"

    # --- internals ------------------------------------------------------------------------------------

    def _next_rid(self, parts_only: bool = False, con: duckdb.DuckDBPyConnection | None = None) -> int:
        """The first row id after every stored row (of the parts, or of the parts and the delta)."""
        con = con or self.con
        base = con.execute("SELECT coalesce(max(last_rid) + 1, 0) FROM exchange_parts").fetchall()[0][0]
        if not parts_only:
            top = con.execute(f"SELECT max(rowid) + 1 FROM {DELTA}").fetchall()[0][0]
            base += top or 0
        return int(base)

    def _view_sql(self, con: duckdb.DuckDBPyConnection, temporary: bool = False) -> str:
        names = [n for (n,) in con.execute("SELECT name FROM exchange_parts ORDER BY first_rid").fetchall()]
        base = self._next_rid(parts_only=True, con=con)
        delta = f"SELECT {_COLS}, {base} + rowid AS rowid FROM {DELTA}"
        kind = "TEMP VIEW" if temporary else "VIEW"
        if not names:
            return f"CREATE OR REPLACE {kind} exchanges AS {delta}"
        files = ", ".join(sql_literal(self.parts / n) for n in names)
        return (f"CREATE OR REPLACE {kind} exchanges AS SELECT {_COLS}, _rid AS rowid FROM read_parquet([{files}]) "
                f"UNION ALL {delta}")

    def _refresh_view(self, cur: duckdb.DuckDBPyConnection | None = None) -> None:
        con = cur or self.con
        con.execute(self._view_sql(con))

    def _read_only_view(self) -> None:
        """A read-only open of a store that moved since it was written: a temporary view at the new place."""
        try:
            row = self.con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'exchanges' "
                                   "AND NOT temporary").fetchall()
            parts = self.con.execute("SELECT count(*) FROM exchange_parts").fetchall()[0][0]
        except duckdb.Error:
            return  # a store written before parts: `exchanges` is its table
        if not row or (parts and sql_literal(self.parts / "part-")[:-1] not in row[0][0]):
            self.con.execute(self._view_sql(self.con, temporary=True))

    def _drop_orphans(self) -> None:
        """Delete part files that no committed manifest row lists (left by a crash before a commit)."""
        listed = {n for (n,) in self.con.execute("SELECT name FROM exchange_parts").fetchall()}
        for p in self.parts.iterdir():
            if p.is_file() and p.name.startswith("part-") and p.name not in listed:
                p.unlink(missing_ok=True)

    def _id_hashes(self) -> None:
        """Make `exchange_ids.h` the hash of every stored id by this DuckDB release (`ID_HASH_VERSION`): a store
        written before the column, or by another release (whose `hash()` may differ), has them computed again,
        in one transaction with the version, before any probe reads them."""
        con = self.con
        row = con.execute("SELECT value FROM store_meta WHERE name = 'id_hash'").fetchall()
        if row and row[0][0] == ID_HASH_VERSION:
            return
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("UPDATE exchange_ids SET h = hash(request_id)")
            con.execute("INSERT OR REPLACE INTO store_meta VALUES ('id_hash', ?)", [ID_HASH_VERSION])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _migrate(self) -> None:
        """A store written before parts (`exchanges` a table): its rows become the first part."""
        row = self.con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'exchanges' "
                               "AND schema_name = 'main'").fetchall()
        if not row[0][0]:
            return
        con = self.con
        n = con.execute("SELECT count(*) FROM exchanges").fetchall()[0][0]
        con.execute("BEGIN TRANSACTION")
        try:
            if n:
                name = _part_name(0)
                tmp = self.parts / f"{name}.tmp"
                con.execute(f"COPY (SELECT {_COLS}, rowid AS _rid FROM exchanges ORDER BY rowid) TO {sql_literal(tmp)} "
                            f"(FORMAT parquet, COMPRESSION {PART_COMPRESSION}, ROW_GROUP_SIZE {PART_ROW_GROUP})")
                first, last = con.execute("SELECT min(rowid), max(rowid) FROM exchanges").fetchall()[0]
                durable(tmp)
                os.replace(tmp, self.parts / name)
                durable(self.parts)
                con.execute("INSERT INTO exchange_ids (request_id, h) SELECT request_id, hash(request_id) "
                            "FROM exchanges")
                _list_part(con, self.parts / name, n, first, last)
            con.execute("DROP TABLE exchanges")
            self._refresh_view()
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


class _Staging:
    """One file's rows, written as a new part and listed in the catalog at commit.

    Batches stream into a temporary Parquet file (Arrow's writer, zstd) with their row ids; the file's
    request ids are kept aside. At commit, one probe of the id index (the file's ids as the hash join's
    build side) and a first-occurrence pass over the file's own ids find duplicates; only when there are
    some is the part rewritten without them. The part is renamed into place and fsynced, then one catalog
    transaction lists it, adds its ids, its rejects and its `ingested_files` row.
    """

    def __init__(self, store: Store, base: int) -> None:
        self.store = store
        self.con = store.con
        self.base = base
        self.seq = 0
        self.rejects: list[tuple[str, int | None, str | None, str]] = []
        self.name = _part_name(base)
        self.tmp = store.parts / f"{self.name}.tmp"
        self._writer: _PartWriter | None = None
        self._keys_con: duckdb.DuckDBPyConnection | None = None
        self._ids: list[pa.Array] = []
        self._final: Path | None = None

    def append(self, batch: pa.Table) -> None:
        """Stage one validated batch (stored-form columns)."""
        n = batch.num_rows
        if not n:
            return
        rid = _int64_range(self.base + self.seq, n)
        self.seq += n
        if self._writer is None:
            self._writer = _PartWriter(self.tmp)
            self._keys_con = duckdb.connect()
        batch = batch.cast(EXCHANGE_SCHEMA)
        # the keys here, the Parquet encoding and zstd on the writer's thread: the two halves of a part's CPU
        # beyond the reading; both release the GIL, so they overlap (the writer alone was the slower side)
        assert self._keys_con is not None
        table = pa.Table.from_arrays([*batch.columns, rid, *_derive_keys(self._keys_con, batch)],
                                     schema=KEYED_PART_SCHEMA)
        self._writer.write(table)
        self._ids.extend(batch.column("request_id").chunks)

    def reject(self, path: str, line: int | None, field: str | None, reason: str) -> None:
        """Record one rejected record (written to `rejects` with the file's commit)."""
        self.rejects.append((path, line, field, reason))

    def commit(self, path: str, size: int, kind: str, rows_read: int, rejected: int) -> FileCounts:
        """Keep the first occurrence of each request_id not already stored; list the part in the catalog.

        The dedupe probe and the insert of the ids run while the writer's thread still encodes the last
        batches (and before the part's fsync): they need the ids only. The catalog transaction spans both;
        nothing is committed before the part is durable in its place.
        """
        con = self.con
        stored, keep = self.seq, None
        ids = mask = None
        if self.seq:
            ids = _with_hashes(con, pa.Table.from_arrays([pa.chunked_array(self._ids, pa.string()),
                                                          _int64_range(0, self.seq)], schema=_IDS_SCHEMA))
            con.register("_dg_ids", ids)
            hits = 0
            try:
                # positions to drop: ids already stored, and every occurrence in the file after its first. Stored
                # ids are found by their hashes first (a scan of 8-byte integers, not of every stored id string,
                # which grew with the store: ~4 CPU s per file at 54M stored ids), then the strings of the
                # stored ids sharing a hash with the file's are compared (equal ids hash equally: no shared
                # hash, no stored duplicate)
                hashes = con.sql("SELECT DISTINCT h FROM exchange_ids WHERE h IN (SELECT h FROM _dg_ids)")
                known = [f"SELECT request_id FROM {DELTA}"]
                hit = hashes.to_arrow_table()
                if hit.num_rows:
                    con.register("_dg_hits", hit)
                    hits = hit.num_rows
                    known.insert(0, "SELECT request_id FROM exchange_ids WHERE h IN (SELECT h FROM _dg_hits)")
                stored_sql = f"SELECT _pos FROM _dg_ids WHERE request_id IN ({' UNION ALL '.join(known)})"
                if _may_repeat(ids.column("h")):
                    stored_sql += (" UNION SELECT _pos FROM (SELECT _pos, row_number() OVER (PARTITION BY request_id "
                                   "ORDER BY _pos) AS k FROM _dg_ids WHERE request_id IN (SELECT request_id FROM "
                                   "_dg_ids GROUP BY request_id HAVING count(*) > 1)) WHERE k > 1")
                drop = con.sql(stored_sql).to_arrow_table().column(0)
            finally:
                con.unregister("_dg_ids")
                if hits:
                    con.unregister("_dg_hits")
            if len(drop):
                mask = pc.invert(pc.is_in(ids.column("_pos"), value_set=drop.combine_chunks()))
                keep = mask
                stored = self.seq - len(drop)
                ids = ids.filter(mask)
        con.execute("BEGIN TRANSACTION")
        try:
            if stored:
                assert ids is not None
                con.register("_dg_ids", ids)
                try:
                    con.execute("INSERT INTO exchange_ids (request_id, h) SELECT request_id, h FROM _dg_ids")
                finally:
                    con.unregister("_dg_ids")
            if self.seq:
                assert self._writer is not None
                self._writer.close()
                self._writer = None
                self._close_keys()
                if keep is not None and stored:
                    assert mask is not None
                    self._rewrite(mask)
            if stored:
                final = self.store.parts / self.name
                durable(self.tmp)
                os.replace(self.tmp, final)
                durable(self.store.parts)
                self._final = final
            else:
                self.tmp.unlink(missing_ok=True)
            if stored:
                first, last = self.base, self.base + self.seq - 1
                if keep is not None:
                    rids = _int64_range(self.base, self.seq).filter(keep)
                    first, last = pc.min(rids).as_py(), pc.max(rids).as_py()
                assert self._final is not None
                _list_part(con, self._final, stored, first, last, KEYS_VERSION)
                self.store._refresh_view()
            if self.rejects:
                cols = zip(*self.rejects, strict=True)
                rej = pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(cols, _REJECT_SCHEMA, strict=True)],
                                           schema=_REJECT_SCHEMA)
                con.register("_rej", rej)
                try:
                    con.execute("INSERT INTO rejects (path, line, field, reason) SELECT * FROM _rej")
                finally:
                    con.unregister("_rej")
            dups = rows_read - rejected - stored
            con.execute(
                "INSERT INTO ingested_files (path, size, kind, rows_read, stored, duplicates, rejected) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [path, size, kind, rows_read, stored, dups, rejected],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self._final = None  # committed: no longer ours to delete
        return FileCounts(stored=stored, duplicates=dups)

    def abort(self) -> None:
        """Forget the file: close and delete its part (the catalog was not touched)."""
        if self._writer is not None:
            self._writer.close(abort=True)
            self._writer = None
        self._close_keys()
        self.tmp.unlink(missing_ok=True)
        if self._final is not None:
            self._final.unlink(missing_ok=True)

    def _close_keys(self) -> None:
        if self._keys_con is not None:
            self._keys_con.close()
            self._keys_con = None

    def _rewrite(self, mask: pa.ChunkedArray | pa.Array) -> None:
        """Write the part again without the rows `mask` drops (only a file with duplicates pays this)."""
        src = pq.ParquetFile(self.tmp)
        out = self.tmp.with_suffix(".tmp2")
        pos = 0
        flat = mask.combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask
        with _parquet_writer(out) as w:
            for rb in src.iter_batches(batch_size=PART_ROW_GROUP):
                part = pa.Table.from_batches([rb], schema=KEYED_PART_SCHEMA).filter(flat.slice(pos, rb.num_rows))
                pos += rb.num_rows
                if part.num_rows:
                    w.write_table(part, row_group_size=PART_ROW_GROUP)
        src.close()
        os.replace(out, self.tmp)


class _PartWriter:
    """Arrow's Parquet writer in a thread of its own, one batch behind the reader (encoding and zstd
    release the GIL, so reading, checking and writing a file overlap on two cores). It takes batches of
    KEYED_PART_SCHEMA: the staging thread adds the message-derived keys (`_derive_keys`) before.
    """

    def __init__(self, path: Path) -> None:
        self._q: queue.Queue[pa.Table | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._writer = _parquet_writer(path)
        self._thread = threading.Thread(target=self._run, name="distillguard-part-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            table = self._q.get()
            if table is None:
                return
            if self._error is None:
                try:
                    self._writer.write_table(table, row_group_size=PART_ROW_GROUP)
                except BaseException as e:  # handed to the ingesting thread at its next call
                    self._error = e

    def write(self, table: pa.Table) -> None:
        if self._error is not None:
            raise self._error
        self._q.put(table)

    def close(self, abort: bool = False) -> None:
        self._q.put(None)
        self._thread.join()
        try:
            self._writer.close()
        except (OSError, pa.ArrowException):
            if not abort:
                raise
        if self._error is not None and not abort:
            raise self._error


def _derive_keys(con: duckdb.DuckDBPyConnection, batch: pa.Table) -> list[pa.ChunkedArray]:
    """The key columns (in KEY_FIELDS order) of a batch holding `prompt`, `messages` and `completion` in the
    stored form."""
    con.register("_dg_keys_in", batch.select(["prompt", "messages", "completion"]))
    try:
        out = con.sql(f"SELECT {message_keys_sql(keys=STORED_KEYS)} FROM _dg_keys_in").to_arrow_table()
    finally:
        con.unregister("_dg_keys_in")
    return [out.column(i).cast(f.type) for i, f in enumerate(KEY_FIELDS)]


def _parquet_writer(path: Path, keyed: bool = True) -> pq.ParquetWriter:
    return pq.ParquetWriter(path, KEYED_PART_SCHEMA if keyed else PART_SCHEMA, compression=PART_COMPRESSION,
                            use_dictionary=PART_DICT, write_statistics=PART_STATS)


def _merge_groups(parts: list[tuple[str, int, int, int]]) -> list[list[tuple[str, int, int, int]]]:
    """Runs of at least two consecutive small parts (name, rows, first, last), each of ≤ MERGED_PART_ROWS rows."""
    groups: list[list[tuple[str, int, int, int]]] = [[]]
    for part in parts:
        rows = part[1]
        if rows >= SMALL_PART_ROWS or sum(p[1] for p in groups[-1]) + rows > MERGED_PART_ROWS:
            groups.append([])
        if rows < SMALL_PART_ROWS:
            groups[-1].append(part)
    return [g for g in groups if len(g) >= 2]


def _merge_parts(sources: list[Path], out: Path, keyed: bool) -> None:
    """Write the rows of `sources` (consecutive parts: in row id order) as one part, in full row groups.

    `keyed`: every source holds the keys (of one version) and the merged part keeps them; else it has none.
    """
    schema = KEYED_PART_SCHEMA if keyed else PART_SCHEMA
    buf: pa.Table | None = None
    with _parquet_writer(out, keyed) as w:
        for src in sources:
            # parts written by DuckDB (the delta's, a migration's) name their list items differently: cast
            t = pq.read_table(src, columns=schema.names).cast(schema)
            buf = t if buf is None else pa.concat_tables([buf, t])
            full = buf.num_rows - buf.num_rows % PART_ROW_GROUP
            if full:
                w.write_table(buf.slice(0, full), row_group_size=PART_ROW_GROUP)
                buf = buf.slice(full)
        if buf is not None and buf.num_rows:
            w.write_table(buf, row_group_size=PART_ROW_GROUP)


def _int64_range(start: int, n: int) -> pa.Array:
    """start, start + 1, ..., start + n - 1 as an Arrow int64 array (numpy's arange: no Python ints)."""
    return pa.array(np.arange(start, start + n, dtype=np.int64))


def _with_hashes(con: duckdb.DuckDBPyConnection, ids: pa.Table) -> pa.Table:
    """`ids` (request_id, _pos = 0..n-1) with `h`, DuckDB's hash() of each request_id, in row order."""
    con.register("_dg_ids_h", ids)
    try:
        t = con.sql("SELECT _pos, hash(request_id) AS h FROM _dg_ids_h").to_arrow_table()
    finally:
        con.unregister("_dg_ids_h")
    h = np.empty(ids.num_rows, np.uint64)
    h[t.column("_pos").to_numpy()] = t.column("h").to_numpy()  # the scan need not keep the rows' order
    return ids.append_column("h", pa.array(h))


def _may_repeat(hashes: pa.ChunkedArray | pa.Array) -> bool:
    """Whether some request_id may occur twice among ids of these 64-bit hashes (DuckDB's `hash`): two equal
    hashes. Equal ids hash equally, so False proves every id distinct; True (a repeat, or a rare collision)
    sends the caller to the exact first-occurrence query. A sort of 8-byte integers instead of a hash
    aggregate over the id strings: a third of the CPU."""
    h = np.sort(hashes.to_numpy())
    return bool((h[1:] == h[:-1]).any())


def _list_part(con: duckdb.DuckDBPyConnection, path: Path, rows: int, first: int, last: int,
               keys: str | None = None) -> None:
    con.execute("INSERT INTO exchange_parts (name, rows, first_rid, last_rid, bytes, keys) VALUES (?, ?, ?, ?, ?, ?)",
                [path.name, rows, first, last, path.stat().st_size, keys])


def _part_name(base: int) -> str:
    return f"part-{base:015d}-{uuid.uuid4().hex[:8]}.parquet"


def durable(path: Path) -> None:
    """fsync a file, or a folder (so that a rename in it is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sql_literal(value: Path | str) -> str:
    """`value` (a path, usually) as a quoted SQL string literal: the one quoting of text spliced into SQL.

    >>> sql_literal("/tmp/o'brien/a.csv")
    "'/tmp/o''brien/a.csv'"
    """
    return "'" + str(value).replace("'", "''") + "'"
