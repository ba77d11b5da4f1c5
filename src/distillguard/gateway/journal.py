"""An append-only journal of log rows, so that `kill -9` loses nothing that was answered.

The request path appends each record (an exchange and its enforcement event) to the current segment file
with ONE `os.write` on an `O_APPEND` descriptor *before* the response is completed: once `write` returns,
the bytes are in the kernel's page cache and survive the death of the process. The log's writer thread
rotates to a new segment when it takes a batch, commits the batch to DuckDB, then deletes the old segment.
On start-up, segments left by a killed process are replayed into the store, deduplicated by request id
(a segment whose batch was committed just before the kill is replayed without duplicates).

Power loss is another matter: the page cache is gone with it. `fsync=True` calls `fsync` after every
record (about a millisecond per request on an SSD; off by default).

A write that fails (disk full, I/O error) raises `JournalError`: the request then fails with 503 instead of
being answered without a durable record. A row that cannot be stored in its table's schema is quarantined
(`Quarantine`): appended to `<db>.journal/quarantine/<start>-<pid>.jsonl`, counted, never fatal to the rows
beside it. A segment that cannot be replayed is renamed `<name>.failed` (`.failed.1`, ... if taken: never
overwritten).

Layout: `<db>.journal/<sequence>.log`, one JSON object per line: `{"t": table, "r": row}`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from ..errors import JournalError

log = logging.getLogger("distillguard.gateway")
SUFFIX = ".log"


def _default(obj: Any) -> Any:
    return str(obj)  # rows are coerced to the contract first; anything left is kept as text, not lost


class Journal:
    """Segment files in one folder. Not thread-safe on its own: the log calls `write` and `rotate` under
    its lock, so a row is in a segment exactly when it is in the batch that segment belongs to."""

    def __init__(self, folder: str | Path, fsync: bool = False) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)  # prompts and completions: readable by the gateway's user only
        self.fsync = fsync
        self.errors = 0
        self.last_error: str | None = None
        self.last_error_at = 0.0  # time.monotonic() of the last failed write
        self._torn = False  # the last write may have left a partial line: start the next on a fresh one
        self._seq = max((_seq(p) for p in self.list_segments(self.folder)), default=0)
        self._fd, self._path = self._open()
        self._bytes = 0

    @staticmethod
    def list_segments(folder: Path) -> list[Path]:
        """Segment files in `folder`, oldest first."""
        return sorted((p for p in folder.glob("*" + SUFFIX) if _seq(p) >= 0), key=_seq)

    def _open(self) -> tuple[int, Path]:
        self._seq += 1
        path = self.folder / f"{self._seq:012d}{SUFFIX}"
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), path

    def encode(self, records: list[tuple[str, dict[str, Any]]]) -> bytes:
        """Records (table, row) as journal lines (done outside the lock); raises JournalError if it cannot."""
        try:
            return b"".join(orjson.dumps({"t": t, "r": r}, default=_default) + b"\n" for t, r in records)
        except (TypeError, orjson.JSONEncodeError) as e:  # e.g. an integer beyond 64 bits
            self._failed(e)
            raise JournalError(f"journal: a record cannot be encoded: {e}") from e

    def write(self, data: bytes) -> None:
        """Append encoded records with one `os.write`; raise JournalError (counted, logged) if they are not
        all written: the caller must not acknowledge them."""
        if self._torn:  # end the partial line a failed write may have left, so replay reads what follows
            data = b"\n" + data
        try:
            n = os.write(self._fd, data)
            self._bytes += n
            if n != len(data):  # a short write (disk full): the tail line is torn, replay skips it
                self._torn = True
                raise OSError(f"short write ({n} of {len(data)} bytes)")
            self._torn = False
            if self.fsync:
                os.fsync(self._fd)
        except OSError as e:
            self._torn = True
            self._failed(e)
            raise JournalError(f"journal: could not append to {self._path.name}: {e}") from e

    @property
    def failing(self) -> bool:
        """Whether the last write failed (or failed less than 1 s ago)."""
        return self.last_error_at > 0 and time.monotonic() - self.last_error_at < 1.0

    def _failed(self, e: Exception) -> None:
        self.errors += 1
        self.last_error, self.last_error_at = str(e), time.monotonic()
        if self.errors == 1 or self.errors % 1_000 == 0:
            log.error("journal: could not append a record (%d so far): %s", self.errors, e)

    def rotate(self) -> Path | None:
        """Start a new segment if the current one has data; return the closed one (None if empty).
        Raises OSError if no new segment can be created (the current one stays in use)."""
        if not self._bytes:
            return None
        old_fd, old = self._fd, self._path
        try:
            self._fd, self._path = self._open()
        except OSError:
            self._seq -= 1
            raise
        self._bytes = 0
        self._torn = False
        os.close(old_fd)
        return old

    def close(self) -> None:
        """Close the current segment and remove it if it is empty."""
        os.close(self._fd)
        if not self._bytes:
            self._path.unlink(missing_ok=True)


def _seq(p: Path) -> int:
    stem = p.name[: -len(SUFFIX)]
    return int(stem) if stem.isdigit() else -1


def read_segment(path: Path, tables: Iterable[str]) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """The rows of one segment per table, and the number of unreadable lines (a torn tail after power loss)."""
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in tables}
    bad = 0
    for line in path.read_bytes().split(b"\n"):
        if not line:
            continue
        try:
            rec = orjson.loads(line)
            table, row = rec["t"], rec["r"]
            if table not in rows or not isinstance(row, dict):
                raise ValueError(table)
            if isinstance(row.get("ts"), str):
                row["ts"] = datetime.fromisoformat(row["ts"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            bad += 1
            continue
        rows[table].append(row)
    return rows, bad


def set_aside(path: Path, suffix: str = ".failed") -> Path:
    """Rename `path` to `<name><suffix>` (or `<name><suffix>.1`, `.2`, ...: an existing file is never
    overwritten); return the new path."""
    target = path.with_name(path.name + suffix)
    n = 0
    while True:
        try:
            os.link(path, target)  # fails if `target` exists, unlike rename
        except FileExistsError:
            n += 1
            target = path.with_name(f"{path.name}{suffix}.{n}")
            continue
        path.unlink()
        return target


class Quarantine:
    """Rows that cannot be stored in their table's schema, kept as JSON lines in a file of this process's
    own (`<folder>/<start time>-<pid>.jsonl`, 0600, appended to, never overwritten) and counted."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.count = 0
        self.path: Path | None = None
        self._lock = threading.Lock()

    def add(self, table: str, row: dict[str, Any], error: str) -> None:
        """Keep one row (with why it was refused); never raises (a failure to keep it is logged)."""
        line = orjson.dumps({"t": table, "r": row, "error": error[:500],
                             "at": datetime.now(UTC).isoformat()}, default=_default) + b"\n"
        with self._lock:
            self.count += 1
            try:
                if self.path is None:
                    self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
                    self.path = self.folder / f"{stamp}-{os.getpid()}.jsonl"
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                try:
                    os.write(fd, line)
                finally:
                    os.close(fd)
            except OSError as e:
                log.error("quarantine: could not keep a %s row in %s: %s", table, self.folder, e)
            if self.count == 1 or self.count % 1_000 == 0:
                log.error("quarantine: %d rows could not be stored (kept in %s); the last: %s", self.count,
                          self.path, error[:200])


def to_table(table: str, rows: list[dict[str, Any]], schema: pa.Schema, quarantine: Quarantine) -> pa.Table | None:
    """The rows as one Arrow table of `schema`; rows that do not fit it go to `quarantine` (one by one,
    so a bad row never takes its neighbours with it). None if no row fits."""
    try:
        return pa.Table.from_pylist(rows, schema=schema)
    except (pa.ArrowException, TypeError, ValueError, OverflowError, KeyError, AttributeError):
        pass
    good = []
    for row in rows:
        try:
            good.append(pa.Table.from_pylist([row], schema=schema))
        except (pa.ArrowException, TypeError, ValueError, OverflowError, KeyError, AttributeError) as e:
            quarantine.add(table, row, f"{type(e).__name__}: {e}")
    return pa.concat_tables(good) if good else None
