"""Durable, batched logging of exchanges, enforcement actions and analyst actions into the store.

The request path appends each row to an in-memory queue and, with one `os.write`, to an append-only
journal (`gateway/journal.py`) before the response is completed. A writer thread commits the queue to
DuckDB every `flush_s` (default 0.25 s; sooner when 2,000 rows are waiting) in one transaction per table,
then deletes the journal segment of that batch. `close()` (SIGTERM) drains everything; after `kill -9`
the next start replays the journal into the store (deduplicated by request id), so every answered
exchange is kept; DuckDB replays its own WAL on open, so the store is never corrupt.

DuckDB allows one writing process per file: the gateway owns its store while it runs. Analyse a copy,
or the Parquet export, or stop the gateway first.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ..schema import EXCHANGE_COLUMNS, EXCHANGE_SCHEMA
from ..store import DELTA, DELTA_ROLL_ROWS, Store
from .contract import coerce_event, coerce_exchange
from .journal import Journal, Quarantine, read_segment, set_aside, to_table

log = logging.getLogger("distillguard.gateway")

ENFORCEMENT_SCHEMA = pa.schema([
    ("ts", pa.timestamp("us", tz="UTC")), ("request_id", pa.string()), ("account_id", pa.string()),
    ("campaign_id", pa.string()), ("action", pa.string()), ("code", pa.string()), ("status", pa.int32()),
    ("reason", pa.string()), ("template_id", pa.int64()), ("score", pa.float64()),
])
AUDIT_SCHEMA = pa.schema([
    ("ts", pa.timestamp("us", tz="UTC")), ("actor", pa.string()), ("action", pa.string()),
    ("target", pa.string()), ("reason", pa.string()),
])
_DDL = (
    "CREATE TABLE IF NOT EXISTS enforcement_events (ts TIMESTAMPTZ, request_id VARCHAR, account_id VARCHAR, "
    "campaign_id VARCHAR, action VARCHAR, code VARCHAR, status INTEGER, reason VARCHAR, template_id BIGINT, "
    "score DOUBLE)",
    "CREATE TABLE IF NOT EXISTS audit_log (ts TIMESTAMPTZ, actor VARCHAR, action VARCHAR, target VARCHAR, "
    "reason VARCHAR)",
)
_TABLES = {"exchanges": EXCHANGE_SCHEMA, "enforcement_events": ENFORCEMENT_SCHEMA, "audit_log": AUDIT_SCHEMA}
# what makes a journaled row "already stored" when a segment is replayed
_KEYS = {"exchanges": ("request_id",), "enforcement_events": ("request_id", "ts", "code"),
         "audit_log": ("ts", "actor", "action", "target")}
# `exchanges` is a view over the store's Parquet parts: new rows go to its delta table (rolled into a part)
_INSERT_INTO = {"exchanges": DELTA}


@dataclass(frozen=True)
class LogConfig:
    """What the gateway logs."""

    redact_prompts: bool = False
    redact_completions: bool = False
    flush_s: float = 0.25
    flush_rows: int = 2000
    journal: bool = True  # append every row to `<db>.journal/` before answering (a file store only)
    fsync: bool = False  # fsync the journal per request: survives power loss too, ~5 ms per request here
    memory_limit: str = "512MB"  # DuckDB's buffer pool (its default, 80 % of RAM, lets a long run grow into it)


REDACTED = "[redacted]"
# what a client is told (503) when its exchange cannot be made durable
LOG_UNAVAILABLE = ("log_unavailable", "The service cannot record requests right now (storage unavailable). "
                   "Retry shortly.")


class ExchangeLog:
    """Queue rows from the request path; a background thread commits them in batches.

    >>> sink = ExchangeLog(":memory:")
    >>> sink.audit({"ts": datetime(2026, 1, 1), "actor": "a", "action": "x", "target": "t", "reason": ""})
    >>> sink.close(); sink.written["audit_log"]
    1
    """

    def __init__(self, db: str, config: LogConfig | None = None) -> None:
        self.config = config or LogConfig()
        self.store = Store.open(db)
        self.store.con.execute(f"SET memory_limit = '{self.config.memory_limit}'")
        for stmt in _DDL:
            self.store.con.execute(stmt)
        self._queues: dict[str, deque[dict[str, Any]]] = {t: deque() for t in _TABLES}
        self.written: dict[str, int] = dict.fromkeys(_TABLES, 0)
        self.errors = 0
        self.replayed = 0
        self.store_error: str | None = None  # the last failed commit, None once one succeeds again
        self.journal: Journal | None = None
        self._stranded: list[Path] = []  # segments whose batch could not be committed: retried, kept
        self._delta_rows = 0  # exchanges in the store's delta table (at least): a roll is tried past DELTA_ROLL_ROWS
        folder = Path(f"{db}.journal")
        self.quarantine = Quarantine(folder / "quarantine" if str(db) != ":memory:" else  # (tests, demos)
                                     Path(tempfile.gettempdir()) / f"distillguard-quarantine-{os.getpid()}")
        if self.config.journal and str(db) != ":memory:":
            self.replayed = self._replay(folder)
            self.journal = Journal(folder, self.config.fsync)
        self._delta_rows = self._count_delta()
        self._lock = threading.Lock()  # a row is queued and journaled together, or not yet at all
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="distillguard-logsink", daemon=True)
        self._thread.start()

    def exchange(self, row: dict[str, Any], enforcement: dict[str, Any] | None = None) -> None:
        """Queue and journal one exchange in stored form (schema.EXCHANGE_SCHEMA columns), redacted per
        config, with its enforcement event if any; on return it survives a kill of this process."""
        if self.config.redact_prompts:
            row["prompt"] = REDACTED if row.get("prompt") is not None else None
            if row.get("messages"):
                row["messages"] = [{"role": m["role"], "content": REDACTED if m.get("content") else m.get("content")}
                                   for m in row["messages"]]
        if self.config.redact_completions and row.get("completion") is not None:
            row["completion"] = REDACTED
        coerce_exchange(row)
        if enforcement is not None:
            coerce_event(enforcement)
        self._append([("exchanges", row)] if enforcement is None
                     else [("exchanges", row), ("enforcement_events", enforcement)])
        if len(self._queues["exchanges"]) >= self.config.flush_rows:
            self._wake.set()

    def enforcement(self, row: dict[str, Any]) -> None:
        """Queue and journal one enforcement event (ENFORCEMENT_SCHEMA columns)."""
        self._append([("enforcement_events", coerce_event(row))])

    def audit(self, row: dict[str, Any]) -> None:
        """Queue and journal one analyst action (AUDIT_SCHEMA columns) and write it promptly."""
        self._append([("audit_log", row)])
        self._wake.set()

    def _append(self, records: list[tuple[str, dict[str, Any]]]) -> None:
        """Journal, then queue; raises JournalError (nothing queued) when the records are not durable."""
        j = self.journal
        data = j.encode(records) if j is not None else None
        with self._lock:
            if data is not None:
                j.write(data)  # type: ignore[union-attr]
            for table, row in records:
                self._queues[table].append(row)

    @property
    def failing(self) -> bool:
        """Whether the journal cannot write now (the gateway refuses requests rather than lose them)."""
        return self.journal is not None and self.journal.failing

    def health(self) -> dict[str, Any]:
        """What /healthz reports about logging; `problems` is empty when all is well."""
        j = self.journal
        problems = []
        if j is not None and j.failing:
            problems.append(f"journal cannot write: {j.last_error}")
        if self.store_error is not None:
            problems.append(f"store cannot write: {self.store_error}")
        if self._stranded:
            problems.append(f"{len(self._stranded)} journal segments wait to be stored")
        return {"pending_log_rows": self.pending, "log_rows_written": self.written["exchanges"],
                "log_write_errors": self.errors, "journal_errors": j.errors if j is not None else 0,
                "journal_last_error": j.last_error if j is not None else None,
                "journal_replayed": self.replayed, "quarantined_rows": self.quarantine.count,
                "quarantine_file": str(self.quarantine.path) if self.quarantine.path else None,
                "stranded_segments": len(self._stranded), "log_problems": problems}

    @property
    def pending(self) -> int:
        """Rows queued but not yet committed."""
        return sum(len(q) for q in self._queues.values())

    def flush(self) -> None:
        """Commit everything queued so far, then drop its journal segment (called by the writer thread;
        safe to call from tests). Rows that do not fit their table are quarantined, one by one; a batch
        that cannot be committed (disk full) keeps its segment, retried at the next flush and replayed at
        the next start."""
        with self._flush_lock:
            with self._lock:
                try:
                    segment = self.journal.rotate() if self.journal is not None else None
                except OSError as e:  # no new segment (disk full): take nothing now, retry next time
                    self._store_failed(f"journal rotation: {e}")
                    return
                batches = {t: q for t, q in self._queues.items() if q}
                for t in batches:
                    self._queues[t] = deque()
            ok = self._commit(batches)
            if ok and batches.get("exchanges"):
                self._delta_rows += len(batches["exchanges"])  # (rows quarantined instead: an overcount, harmless)
                if self._delta_rows >= DELTA_ROLL_ROWS:  # counted here, not queried per flush (~1 ms of CPU each)
                    self._roll()
            if segment is not None:
                if ok:
                    segment.unlink()
                else:
                    self._stranded.append(segment)
            elif not ok and self.journal is None:
                self.errors += sum(len(r) for r in batches.values())
            if ok and self._stranded:
                self._retry_stranded()

    def _commit(self, batches: dict[str, Any]) -> bool:
        """Insert the batches in one transaction; False (logged) if the store refused it."""
        if not batches:
            return True
        try:
            with self.store.con.cursor() as cur:
                cur.execute("BEGIN TRANSACTION")
                try:
                    for table, rows in batches.items():
                        batch = to_table(table, list(rows), _TABLES[table], self.quarantine)
                        if batch is None:
                            continue
                        cols = ", ".join(batch.column_names)
                        cur.register("_dg_batch", batch)
                        cur.execute(f"INSERT INTO {_INSERT_INTO.get(table, table)} ({cols}) SELECT {cols} "
                                    "FROM _dg_batch")
                        cur.unregister("_dg_batch")
                    cur.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(duckdb.Error):
                        cur.execute("ROLLBACK")
                    raise
        except Exception as e:  # the store, not a row: keep the journal segment for later
            self._store_failed(str(e))
            return False
        for table, rows in batches.items():
            self.written[table] += len(rows)
        self.store_error = None
        return True

    def _roll(self) -> None:
        """Move the exchanges into a Parquet part of the store once the delta table is big enough."""
        try:
            self.store.roll_delta(min_rows=DELTA_ROLL_ROWS)
        except Exception:  # the rows stay in the delta table, readable; rolled at a later flush
            log.exception("logsink: could not roll the exchanges into a part")
            return  # the count stays past the threshold: tried again at the next flush
        self._delta_rows = self._count_delta()

    def _count_delta(self) -> int:
        with self.store.con.cursor() as cur:
            return int(cur.execute(f"SELECT count(*) FROM {DELTA}").fetchall()[0][0])

    def _store_failed(self, msg: str) -> None:
        if self.store_error is None:
            log.error("logsink: could not commit a batch (its journal segment is kept and retried): %s", msg)
        self.store_error = msg[:300]

    def _retry_stranded(self) -> None:
        while self._stranded:
            seg = self._stranded[0]
            if not self._replay_segment(seg):
                return
            self._stranded.pop(0)

    def close(self) -> None:
        """Drain the queue, stop the writer and close the store (checkpointing it)."""
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self.flush()
        if self.journal is not None:
            self.journal.close()
        self.store.close()

    def _replay(self, folder: Path) -> int:
        """Store the rows of journal segments left by a killed process; return the exchanges added.
        Never raises: a segment that cannot be replayed is set aside as `.failed` and start-up goes on."""
        if not folder.is_dir():
            return 0
        added = 0
        for seg in Journal.list_segments(folder):
            n = self._replay_segment(seg)
            if n is None:
                try:
                    kept = set_aside(seg)
                except OSError:
                    kept = seg
                log.error("journal: could not replay %s; kept as %s", seg.name, kept.name)
                continue
            added += n
        return added

    def _replay_segment(self, seg: Path) -> int | None:
        """Insert a segment's rows not yet stored (bad ones quarantined) and delete it; the exchanges added,
        or None if the store refused."""
        try:
            rows, bad = read_segment(seg, _TABLES)
            n = 0
            with self.store.con.cursor() as cur:
                cur.execute("BEGIN TRANSACTION")
                try:
                    for table, batch_rows in rows.items():
                        batch = to_table(table, batch_rows, _TABLES[table], self.quarantine) if batch_rows else None
                        if batch is not None:
                            got = _insert_new(cur, table, batch)
                            n += got if table == "exchanges" else 0
                    cur.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(duckdb.Error):
                        cur.execute("ROLLBACK")
                    raise
        except Exception as e:
            log.error("journal: replay of %s failed: %s", seg.name, e)
            return None
        seg.unlink()
        self._delta_rows += n
        log.warning("journal: replayed %s: %d exchanges not yet in the store%s", seg.name, n,
                    f", {bad} unreadable lines skipped" if bad else "")
        return n

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.config.flush_s)
            self._wake.clear()
            t0 = time.monotonic()
            try:
                self.flush()
            except Exception:
                log.exception("logsink: flush failed")
            if time.monotonic() - t0 > 0.5:
                log.warning("logsink: a flush took %.2f s; %d rows pending", time.monotonic() - t0, self.pending)


def _insert_new(cur: duckdb.DuckDBPyConnection, table: str, batch: pa.Table) -> int:
    """Insert the rows of `batch` whose key is not yet in `table`; return how many."""
    cols = ", ".join(batch.column_names)
    on = " AND ".join(f"x.{k} IS NOT DISTINCT FROM b.{k}" for k in _KEYS[table])
    cur.register("_dg_replay", batch)
    try:
        row = cur.execute(f"INSERT INTO {_INSERT_INTO.get(table, table)} ({cols}) SELECT {cols} FROM _dg_replay b "
                          f"WHERE NOT EXISTS (SELECT 1 FROM {table} x WHERE {on})").fetchone()
    finally:
        cur.unregister("_dg_replay")
    return int(row[0]) if row else 0


def exchange_row(**fields: Any) -> dict[str, Any]:
    """An exchange row with every contract column present (missing ones None)."""
    row = dict.fromkeys(EXCHANGE_COLUMNS)
    row.update(fields)
    return row


def utc(ts: float) -> datetime:
    """A UTC datetime from epoch seconds."""
    return datetime.fromtimestamp(ts, UTC)
