"""An append-only journal of log rows, so that `kill -9` loses nothing that was answered.

The request path appends each record (an exchange and its enforcement event) to the current segment file
with ONE `os.write` on an `O_APPEND` descriptor *before* the response is completed: once `write` returns,
the bytes are in the kernel's page cache and survive the death of the process. The log's writer thread
rotates to a new segment when it takes a batch, commits the batch to DuckDB, then deletes the old segment.
On start-up, segments left by a killed process are replayed into the store, deduplicated by request id
(a segment whose batch was committed just before the kill is replayed without duplicates).

Power loss is another matter: the page cache is gone with it. `fsync=True` calls `fsync` after every
record (about a millisecond per request on an SSD; off by default).

Layout: `<db>.journal/<sequence>.log`, one JSON object per line: `{"t": table, "r": row}`.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

log = logging.getLogger("distillguard.gateway")
SUFFIX = ".log"


def _default(obj: Any) -> Any:
    raise TypeError(f"cannot journal {type(obj).__name__}")


class Journal:
    """Segment files in one folder. Not thread-safe on its own: the log calls `write` and `rotate` under
    its lock, so a row is in a segment exactly when it is in the batch that segment belongs to."""

    def __init__(self, folder: str | Path, fsync: bool = False) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)  # prompts and completions: readable by the gateway's user only
        self.fsync = fsync
        self.errors = 0
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

    def encode(self, records: list[tuple[str, dict[str, Any]]]) -> bytes | None:
        """Records (table, row) as journal lines (done outside the lock); None if a row cannot be encoded."""
        try:
            return b"".join(orjson.dumps({"t": t, "r": r}, default=_default) + b"\n" for t, r in records)
        except (TypeError, orjson.JSONEncodeError) as e:
            self._failed(e)
            return None

    def write(self, data: bytes) -> None:
        """Append encoded records with one `os.write`; an error is counted and logged, never raised."""
        try:
            n = os.write(self._fd, data)
            self._bytes += n
            if n != len(data):  # a short write (disk full): the tail line is torn, replay skips it
                raise OSError(f"short write ({n} of {len(data)} bytes)")
            if self.fsync:
                os.fsync(self._fd)
        except OSError as e:
            self._failed(e)

    def _failed(self, e: Exception) -> None:
        self.errors += 1
        if self.errors == 1 or self.errors % 10_000 == 0:
            log.error("journal: could not append a record (%d so far): %s", self.errors, e)

    def rotate(self) -> Path | None:
        """Start a new segment if the current one has data; return the closed one (None if empty)."""
        if not self._bytes:
            return None
        old_fd, old = self._fd, self._path
        self._fd, self._path = self._open()
        self._bytes = 0
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


def read_segment(path: Path, schemas: dict[str, pa.Schema]) -> tuple[dict[str, pa.Table], int]:
    """The rows of one segment per table, and the number of unreadable lines (a torn tail after power loss)."""
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in schemas}
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
    return {t: pa.Table.from_pylist(r, schema=schemas[t]) for t, r in rows.items() if r}, bad
