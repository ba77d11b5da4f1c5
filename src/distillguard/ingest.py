"""Ingest: read exchange logs (JSONL, JSONL.gz, JSONL.zst, Parquet files or folders) and account files,
validate them against the contract, and append them to the store.

Streaming in blocks and Arrow batches; a whole log is never held in Python objects. Clean data takes a
columnar path (pyarrow's JSON reader per block, Arrow's Parquet reader per batch, checked with vectorised
kernels and written straight into the store's new Parquet part, see `store.py`); a block or batch with any
bad record is re-checked record by record (`conform.py`), so each
bad record is reported as `FILE:LINE: field: what is wrong` (also kept in the store's `rejects` table) and
the rest goes on. Each file is committed whole or not at all, so an interrupted run can simply be re-run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from . import jsonl
from .conform import conform_fast, conform_records
from .errors import InputError, RecordError, UsageError
from .schema import ACCOUNT_FIELDS, ACCOUNT_SCHEMA, REQUIRED_EXCHANGE, FieldError, validate_account
from .store import COMPACT_AT, Store, _Staging

BATCH_ROWS = 100_000
# Far above any real request (a 1M-token context is about 4 MB of text), low enough that one hostile line
# cannot exhaust memory. A longer line is reported and skipped; --max-line-bytes raises the limit.
MAX_LINE_BYTES = 32 << 20
JSONL_SUFFIXES = jsonl.SUFFIXES

OnError = Callable[[RecordError], None]
OnProgress = Callable[[int], None]


class TooManyErrors(InputError):
    """More records were rejected than --max-errors allows."""


@dataclass
class IngestSummary:
    """Counts over one ingest run."""

    files: int = 0
    rows_read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped_files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IngestOptions:
    """How strict and how chunky an ingest run is.

    >>> IngestOptions(max_errors=10).max_line_bytes == MAX_LINE_BYTES
    True
    """

    max_errors: int | None = None
    max_line_bytes: int = MAX_LINE_BYTES
    batch_rows: int = BATCH_ROWS
    # maps each parsed JSONL record to the contract's shape first (see distillguard.mapping); raises FieldError
    transform: Callable[[Any], Any] | None = None


def log_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand the given paths (files or folders of Parquet/JSONL) into the list of files to read."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and _kind(q) is not None)
            if not found:
                raise InputError(f"{p}: folder holds no .parquet or .jsonl files")
            out.extend(found)
        elif p.is_file():
            if _kind(p) is None:
                raise InputError(f"{p}: unknown log format; expected .jsonl[.gz|.zst] or .parquet")
            out.append(p)
        else:
            raise InputError(f"{p}: no such file or folder")
    return out


def ingest_logs(
    store: Store,
    paths: Iterable[str | Path],
    options: IngestOptions = IngestOptions(),
    on_error: OnError | None = None,
    on_progress: OnProgress | None = None,
) -> IngestSummary:
    """Validate and append every file in `paths` to `store`; return the counts."""
    summary = IngestSummary()
    for path in log_files(paths):
        _FileRun(store, path, options, summary, on_error, on_progress).run()
    store.compact(min_small=COMPACT_AT)  # many small files (or delta rolls) leave many small parts: merge them
    return summary


def read_accounts(path: str | Path, on_error: OnError | None = None) -> pa.Table:
    """Read an accounts file (CSV, JSONL or Parquet) into ACCOUNT_SCHEMA; bad rows go to `on_error`."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such accounts file")
    src, name = str(p), p.name.lower()
    if name.endswith(".parquet"):
        try:
            fast = _accounts_fast(pq.read_table(p))
        except (pa.ArrowInvalid, OSError):
            fast = None  # the record path below reports what is wrong with the file
        if fast is not None:
            return fast
    rows: list[dict[str, Any]] = []
    for line, rec in _account_records(p, name, on_error):
        try:
            rows.append(validate_account(rec))
        except FieldError as e:
            if on_error:
                on_error(RecordError(src, line, e.field, e.reason))
    return pa.Table.from_pylist(rows, schema=ACCOUNT_SCHEMA)


def ingest_accounts(store: Store, path: str | Path, on_error: OnError | None = None) -> int:
    """Read and store an accounts file; return how many account records were written."""
    return store.append_accounts(read_accounts(path, on_error))


# --- files -------------------------------------------------------------------------------------------


def _kind(p: Path) -> str | None:
    name = p.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    return None


class _FileRun:
    """Ingest one file inside one store transaction, counting and reporting what it rejects."""

    def __init__(self, store: Store, path: Path, options: IngestOptions, summary: IngestSummary,
                 on_error: OnError | None, on_progress: OnProgress | None) -> None:
        self.store, self.path, self.src, self.options = store, path, str(path), options
        self.summary, self.on_error, self.on_progress = summary, on_error, on_progress
        self.read = self.rejected = 0
        self.staging: _Staging | None = None

    def run(self) -> None:
        kind = _kind(self.path) or ""
        try:
            size = self.path.stat().st_size
        except OSError as e:
            raise InputError(f"{self.path}: cannot open: {e.strerror or e}") from e
        if kind == "parquet" and self.options.transform is not None:
            raise UsageError(f"{self.path}: mapping files apply to JSONL logs; Parquet must follow the contract")
        with self.store.file_transaction() as staging:
            self.staging = staging
            if kind == "parquet":
                self.parquet(size)
            else:
                self.jsonl()
            result = staging.commit(self.src, size, kind, self.read, self.rejected)
        self.summary.files += 1
        self.summary.rows_read += self.read
        self.summary.rejected += self.rejected
        self.summary.stored += result.stored
        self.summary.duplicates += result.duplicates

    def reject(self, err: RecordError, count: int = 1) -> None:
        """Report one rejected record (or `count` records sharing one reason); stop past --max-errors."""
        self.rejected += count
        if self.staging is not None:
            self.staging.reject(err.source, err.line, err.field, err.reason)
        if self.on_error:
            self.on_error(err)
        limit = self.options.max_errors
        if limit is not None and self.summary.rejected + self.rejected > limit:
            raise TooManyErrors(
                f"more than {limit} records rejected (last: {err}); nothing of {self.path} was stored "
                f"(the {self.summary.files} files before it were); fix the input or raise --max-errors"
            )

    def progress(self, n: int) -> None:
        if self.on_progress and n > 0:
            self.on_progress(n)

    def stage(self, batch: pa.Table) -> None:
        if self.staging is not None:
            self.staging.append(batch)

    def jsonl(self) -> None:
        max_bytes = self.options.max_line_bytes
        done = 0
        transform = self.options.transform
        for item in jsonl.prefetch(jsonl.blocks(self.path, max_bytes, parse=transform is None)):
            if isinstance(item, RecordError):
                self.read += 1
                self.reject(item)
                continue
            self.progress(item.raw_pos - done)
            done = item.raw_pos
            batch = conform_fast(item.table) if item.table is not None else None
            if batch is not None:
                self.read += batch.num_rows
                self.stage(batch)
                continue
            records = []
            for x in jsonl.parse_lines(item, self.src, max_bytes):
                self.read += 1
                if isinstance(x, RecordError):
                    self.reject(x)
                elif transform is None:
                    records.append(x)
                else:
                    try:
                        records.append((x[0], transform(x[1])))
                    except FieldError as e:
                        self.reject(RecordError(self.src, x[0], e.field, e.reason))
            self.stage(conform_records(records, self.src, self.reject))

    def parquet(self, size: int) -> None:
        try:
            pf = pq.ParquetFile(self.path)
        except (pa.ArrowInvalid, OSError) as e:
            raise InputError(f"{self.path}: not a readable Parquet file ({e})") from e
        n = pf.metadata.num_rows
        names = set(pf.schema_arrow.names)
        missing = [c for c in REQUIRED_EXCHANGE if c not in names]
        if "messages" not in names and "prompt" not in names:
            missing.append("messages")
        if missing:
            self.read += n
            if n:
                self.reject(RecordError(self.src, None, missing[0], f"column missing from the file; all {n} "
                                        "rows rejected"), count=n)
            self.progress(size)
            return
        row0 = 0
        # at most one row group a batch: a file of a few big row groups still shows progress per row group
        groups = [pf.metadata.row_group(i).num_rows for i in range(pf.metadata.num_row_groups)]
        rows = max(1, min(self.options.batch_rows, max(groups, default=1)))
        batches = jsonl.prefetch(pf.iter_batches(batch_size=rows), depth=1)
        while True:
            try:
                rb = next(batches)
            except StopIteration:
                break
            except (pa.ArrowException, OSError) as e:
                left = n - row0
                self.read += left
                self.reject(RecordError(self.src, row0 + 1, None, f"cannot read rows {row0 + 1}..{n} ({e}); "
                                        f"{left} rows rejected"), count=left)
                break
            table = pa.Table.from_batches([rb])
            self.read += table.num_rows
            batch = conform_fast(table)
            if batch is None:
                rows = ((row0 + i + 1, r) for i, r in enumerate(table.to_pylist()))
                batch = conform_records(rows, self.src, self.reject)
            self.stage(batch)
            row0 += table.num_rows
            self.progress(int(size * table.num_rows / max(n, 1)))


# --- accounts -----------------------------------------------------------------------------------------


def _accounts_fast(table: pa.Table) -> pa.Table | None:
    """A Parquet accounts table already in the stored types and valid, as ACCOUNT_SCHEMA (columns in its
    order, absent ones null, others ignored): what `validate_account` row by row would give. None when some
    column has another type, or an account_id is null or empty: then the records are checked one by one."""
    n = table.num_rows
    if "account_id" not in table.column_names:
        return None
    cols = []
    for f in ACCOUNT_SCHEMA:
        if f.name not in table.column_names:
            cols.append(pa.chunked_array([pa.nulls(n, f.type)]))
            continue
        col = table.column(f.name)
        if col.type != f.type:
            return None
        cols.append(col)
    ids = cols[0]
    if ids.null_count or (n and pc.min(pc.binary_length(ids)).as_py() == 0):
        return None
    return pa.Table.from_arrays(cols, schema=ACCOUNT_SCHEMA)


def _account_records(p: Path, name: str, on_error: OnError | None) -> Iterator[tuple[int, Any]]:
    """(line or row number, raw record) of an accounts file; unparsable lines go to `on_error`."""
    src = str(p)

    def report(err: RecordError) -> None:
        if on_error:
            on_error(err)

    try:
        if name.endswith(".parquet"):
            yield from ((i + 1, r) for i, r in enumerate(pq.read_table(p).to_pylist()))
        elif name.endswith((".csv", ".csv.gz")):
            skipped: list[int] = []

            def bad_row(row: Any) -> str:
                skipped.append(row.number)
                report(RecordError(src, row.number, None, f"CSV row has {row.actual_columns} fields, "
                                   f"expected {row.expected_columns}"))
                return "skip"

            table = pacsv.read_csv(
                p,
                read_options=pacsv.ReadOptions(use_threads=False),  # row numbers are known only when serial
                parse_options=pacsv.ParseOptions(invalid_row_handler=bad_row),
                convert_options=pacsv.ConvertOptions(column_types={f.name: pa.string() for f in ACCOUNT_FIELDS},
                                                     strings_can_be_null=True),
            )
            # line numbers assume one line per row (a quoted field holding a newline shifts them)
            line, k = 1, 0
            for r in table.to_pylist():
                line += 1
                while k < len(skipped) and skipped[k] == line:
                    line, k = line + 1, k + 1
                yield line, r
        else:
            for block in jsonl.blocks(p, MAX_LINE_BYTES, parse=False):
                if isinstance(block, RecordError):
                    report(block)
                    continue
                for x in jsonl.parse_lines(block, src, MAX_LINE_BYTES):
                    if isinstance(x, RecordError):
                        report(x)
                    else:
                        yield x
    except (pa.ArrowInvalid, orjson.JSONDecodeError, OSError) as e:
        raise InputError(f"{p}: cannot read accounts: {e}") from e
