"""Ingest: read exchange logs (JSONL, JSONL.gz, JSONL.zst, Parquet files or folders) and account files,
validate them against the contract, and append them to the store.

Streaming in Arrow batches; a whole log is never held in Python objects. Each bad record is reported as
`FILE:LINE: field: what is wrong` (also kept in the store's `rejects` table) and the rest goes on.
Each file is committed whole or not at all, so an interrupted run can simply be re-run.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import zstandard

from .errors import InputError, RecordError
from .schema import (
    ACCOUNT_FIELDS,
    ACCOUNT_SCHEMA,
    DEFAULT_ENDPOINT,
    DEFAULT_STATUS,
    EXCHANGE_COLUMNS,
    EXCHANGE_SCHEMA,
    REQUIRED_EXCHANGE,
    ROLES,
    FieldError,
    validate_exchange,
)
from .store import Store

BATCH_ROWS = 50_000
MAX_LINE_BYTES = 8 * 1024 * 1024
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".ndjson", ".ndjson.gz", ".ndjson.zst")

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
    """How strict and how chunky an ingest run is."""

    max_errors: int | None = None
    max_line_bytes: int = MAX_LINE_BYTES
    batch_rows: int = BATCH_ROWS


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
        _ingest_file(store, path, options, summary, on_error, on_progress)
    return summary


def read_accounts(path: str | Path) -> pa.Table:
    """Read an accounts file (CSV, JSONL or Parquet) into ACCOUNT_SCHEMA."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such accounts file")
    name = p.name.lower()
    try:
        if name.endswith(".parquet"):
            table = pq.read_table(p)
        elif name.endswith(".csv") or name.endswith(".csv.gz"):
            table = pacsv.read_csv(p, convert_options=pacsv.ConvertOptions(
                column_types={"account_id": pa.string(), "created_at": pa.string(), "country": pa.string(),
                              "payment_fingerprint": pa.string(), "signup_ip": pa.string()},
                strings_can_be_null=True))
        else:
            rows = [orjson.loads(line) for _, line in _lines(p) if line.strip()]
            table = pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, orjson.JSONDecodeError, OSError) as e:
        raise InputError(f"{p}: cannot read accounts: {e}") from e
    return _conform_accounts(table, str(p))


def ingest_accounts(store: Store, path: str | Path) -> int:
    """Read and store an accounts file; return how many account records were written."""
    return store.append_accounts(read_accounts(path))


# --- files -------------------------------------------------------------------------------------------


def _kind(p: Path) -> str | None:
    name = p.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    return None


def _ingest_file(
    store: Store,
    path: Path,
    options: IngestOptions,
    summary: IngestSummary,
    on_error: OnError | None,
    on_progress: OnProgress | None,
) -> None:
    kind = _kind(path)
    size = path.stat().st_size
    counts = {"read": 0, "rejected": 0}

    def reject(err: RecordError, staging: Any) -> None:
        counts["rejected"] += 1
        staging.reject(err.source, err.line, err.field, err.reason)
        if on_error:
            on_error(err)
        if options.max_errors is not None and summary.rejected + counts["rejected"] > options.max_errors:
            raise TooManyErrors(
                f"more than {options.max_errors} records rejected (last: {err}); "
                f"nothing of {path} was stored; fix the input or raise --max-errors"
            )

    with store.file_transaction() as staging:
        batches = _jsonl_batches if kind == "jsonl" else _parquet_batches
        for batch, n_read in batches(path, options, lambda e: reject(e, staging), on_progress):
            counts["read"] += n_read
            if batch.num_rows:
                staging.append(batch)
        result = staging.commit(str(path), size, kind or "", counts["read"], counts["rejected"])
    summary.files += 1
    summary.rows_read += counts["read"]
    summary.rejected += counts["rejected"]
    summary.stored += result.stored
    summary.duplicates += result.duplicates


# --- JSONL --------------------------------------------------------------------------------------------


def _open_binary(path: Path) -> BinaryIO:
    name = path.name.lower()
    raw = open(path, "rb")  # noqa: SIM115 - closed by the wrapper
    if name.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if name.endswith(".zst"):
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))
    return raw


def _lines(path: Path, max_bytes: int = MAX_LINE_BYTES, on_error: Callable[[RecordError], None] | None = None,
           on_progress: OnProgress | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, bytes) of a possibly compressed text file; oversized lines are reported."""
    src = str(path)
    lineno = 0
    raw_pos = 0
    try:
        with _open_binary(path) as f:
            while True:
                line = f.readline(max_bytes + 1)
                if not line:
                    break
                lineno += 1
                if len(line) > max_bytes and not line.endswith(b"\n"):
                    while line and not line.endswith(b"\n"):  # skip the rest of the long line
                        line = f.readline(1 << 20)
                    if on_error:
                        on_error(RecordError(src, lineno, None, f"line longer than {max_bytes} bytes; skipped"))
                    continue
                yield lineno, line
                if on_progress and lineno % 10_000 == 0:
                    pos = _raw_tell(f)
                    on_progress(pos - raw_pos)
                    raw_pos = pos
    except (EOFError, zlib.error, gzip.BadGzipFile, zstandard.ZstdError, OSError) as e:
        if lineno == 0 and isinstance(e, gzip.BadGzipFile | OSError) and not isinstance(e, EOFError):
            raise InputError(f"{src}: cannot read: {e}") from e
        if on_error:
            on_error(RecordError(src, lineno + 1, None, f"compressed stream is truncated or corrupt ({e}); "
                                 f"the {lineno} lines before were read"))
    if on_progress:
        on_progress(max(path.stat().st_size - raw_pos, 0))


def _raw_tell(f: Any) -> int:
    inner = getattr(f, "fileobj", None) or getattr(f, "raw", None)
    try:
        return int((inner or f).tell())
    except (OSError, AttributeError, ValueError):
        return 0


def _jsonl_batches(
    path: Path, options: IngestOptions, reject: Callable[[RecordError], None], on_progress: OnProgress | None
) -> Iterator[tuple[pa.Table, int]]:
    src = str(path)
    cols: dict[str, list[Any]] = {c: [] for c in EXCHANGE_COLUMNS}
    n_read = 0
    for lineno, line in _lines(path, options.max_line_bytes, reject, on_progress):
        if not line.strip():
            continue
        n_read += 1
        try:
            rec = validate_exchange(orjson.loads(line))
        except orjson.JSONDecodeError as e:
            reason = "invalid UTF-8" if "utf-8" in str(e).lower() else f"malformed JSON ({e})"
            reject(RecordError(src, lineno, None, reason))
            continue
        except FieldError as e:
            reject(RecordError(src, lineno, e.field, e.reason))
            continue
        for c in EXCHANGE_COLUMNS:
            cols[c].append(rec[c])
        if len(cols["request_id"]) >= options.batch_rows:
            yield pa.Table.from_pydict(cols, schema=EXCHANGE_SCHEMA), n_read
            cols = {c: [] for c in EXCHANGE_COLUMNS}
            n_read = 0
    yield pa.Table.from_pydict(cols, schema=EXCHANGE_SCHEMA), n_read


# --- Parquet ------------------------------------------------------------------------------------------


def _parquet_batches(
    path: Path, options: IngestOptions, reject: Callable[[RecordError], None], on_progress: OnProgress | None
) -> Iterator[tuple[pa.Table, int]]:
    src = str(path)
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise InputError(f"{src}: not a readable Parquet file ({e})") from e
    names = set(pf.schema_arrow.names)
    missing = [c for c in REQUIRED_EXCHANGE if c not in names]
    if "messages" not in names and "prompt" not in names:
        missing.append("messages")
    bytes_per_row = path.stat().st_size / max(pf.metadata.num_rows, 1)
    if missing:
        # every row lacks the column: one line for the file, every row counted as rejected
        n = pf.metadata.num_rows
        reject(RecordError(src, None, missing[0], f"column missing from the file ({n} rows rejected)"))
        for _ in range(n - 1):
            reject(RecordError(src, None, missing[0], "column missing from the file"))
        yield EXCHANGE_SCHEMA.empty_table(), n
        return
    row0 = 0
    for rb in pf.iter_batches(batch_size=options.batch_rows):
        table = pa.Table.from_batches([rb])
        fast = _conform_fast(table)
        if fast is not None:
            yield fast, table.num_rows
        else:
            yield _conform_rows(table, src, row0, reject), table.num_rows
        row0 += table.num_rows
        if on_progress:
            on_progress(int(table.num_rows * bytes_per_row))


def _conform_fast(table: pa.Table) -> pa.Table | None:
    """Vectorised conformance of a clean batch; None when any row needs the precise per-row path."""
    n = table.num_rows
    arrays = []
    try:
        for f in EXCHANGE_SCHEMA:
            if f.name not in table.column_names:
                arrays.append(pa.nulls(n, f.type))
                continue
            col = table.column(f.name)
            if f.name == "params" and not pa.types.is_string(col.type):
                return None
            arrays.append(col.cast(f.type))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    out = pa.Table.from_arrays(arrays, schema=_nullable(EXCHANGE_SCHEMA))
    for name in REQUIRED_EXCHANGE:
        if out[name].null_count:
            return None
    for name in ("request_id", "account_id", "model"):
        if pc.any(pc.equal(out[name], "")).as_py():
            return None
    no_text = pc.and_(pc.is_null(out["messages"]), pc.is_null(out["prompt"]))
    if pc.any(no_text).as_py():
        return None
    roles = pc.list_flatten(out["messages"]).combine_chunks().field("role") if n else pa.array([], pa.string())
    if len(roles) and not pc.all(pc.is_in(roles, pa.array(sorted(ROLES)))).as_py():
        return None
    out = out.set_column(out.schema.get_field_index("endpoint"), "endpoint",
                         pc.fill_null(out["endpoint"], DEFAULT_ENDPOINT))
    out = out.set_column(out.schema.get_field_index("status"), "status",
                         pc.fill_null(out["status"], pa.scalar(DEFAULT_STATUS, pa.int32())))
    return out.cast(EXCHANGE_SCHEMA)


def _conform_rows(table: pa.Table, src: str, row0: int, reject: Callable[[RecordError], None]) -> pa.Table:
    """Per-row validation of a batch that failed the fast path: exact row numbers for each problem."""
    cols: dict[str, list[Any]] = {c: [] for c in EXCHANGE_COLUMNS}
    for i, rec in enumerate(table.to_pylist()):
        try:
            ok = validate_exchange(rec)
        except FieldError as e:
            reject(RecordError(src, row0 + i + 1, e.field, e.reason))
            continue
        for c in EXCHANGE_COLUMNS:
            cols[c].append(ok[c])
    return pa.Table.from_pydict(cols, schema=EXCHANGE_SCHEMA)


# --- accounts -----------------------------------------------------------------------------------------


def _conform_accounts(table: pa.Table, src: str) -> pa.Table:
    if "account_id" not in table.column_names:
        raise InputError(f"{src}: accounts file has no 'account_id' column")
    n = table.num_rows
    arrays = []
    for f in ACCOUNT_FIELDS:
        if f.name not in table.column_names:
            arrays.append(pa.nulls(n, f.type))
            continue
        col = table.column(f.name)
        try:
            arrays.append(col.cast(f.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise InputError(f"{src}: accounts column '{f.name}': cannot read as {f.type} ({e})") from e
    out = pa.Table.from_arrays(arrays, schema=_nullable(ACCOUNT_SCHEMA))
    if out["account_id"].null_count:
        raise InputError(f"{src}: accounts file has rows without account_id")
    return out.cast(ACCOUNT_SCHEMA)


def _nullable(schema: pa.Schema) -> pa.Schema:
    """The same schema with every field nullable (for building before the null checks)."""
    return pa.schema([pa.field(f.name, f.type) for f in schema])
