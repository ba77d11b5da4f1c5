"""Durable, batched logging of exchanges, enforcement actions and analyst actions into the store.

The request path only appends a row to an in-memory queue. A writer thread commits the queue to DuckDB
every `flush_s` (default 0.25 s; sooner when 2,000 rows are waiting) in one transaction per table: an
answered exchange is on disk (DuckDB's write-ahead log) well within a second, `close()` (SIGTERM)
drains everything, and `kill -9` loses at most the uncommitted batch; DuckDB replays its WAL on the
next open, so the store is never corrupt.

DuckDB allows one writing process per file: the gateway owns its store while it runs. Analyse a copy,
or the Parquet export, or stop the gateway first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from ..schema import EXCHANGE_COLUMNS, EXCHANGE_SCHEMA
from ..store import Store

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


@dataclass(frozen=True)
class LogConfig:
    """What the gateway logs."""

    redact_prompts: bool = False
    redact_completions: bool = False
    flush_s: float = 0.25
    flush_rows: int = 2000


REDACTED = "[redacted]"


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
        for stmt in _DDL:
            self.store.con.execute(stmt)
        self._queues: dict[str, deque[dict[str, Any]]] = {t: deque() for t in _TABLES}
        self.written: dict[str, int] = dict.fromkeys(_TABLES, 0)
        self.errors = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="distillguard-logsink", daemon=True)
        self._thread.start()

    def exchange(self, row: dict[str, Any]) -> None:
        """Queue one exchange in stored form (schema.EXCHANGE_SCHEMA columns); redacts per config."""
        if self.config.redact_prompts:
            row["prompt"] = REDACTED if row.get("prompt") is not None else None
            if row.get("messages"):
                row["messages"] = [{"role": m["role"], "content": REDACTED if m.get("content") else m.get("content")}
                                   for m in row["messages"]]
        if self.config.redact_completions and row.get("completion") is not None:
            row["completion"] = REDACTED
        q = self._queues["exchanges"]
        q.append(row)
        if len(q) >= self.config.flush_rows:
            self._wake.set()

    def enforcement(self, row: dict[str, Any]) -> None:
        """Queue one enforcement event (ENFORCEMENT_SCHEMA columns)."""
        self._queues["enforcement_events"].append(row)

    def audit(self, row: dict[str, Any]) -> None:
        """Queue one analyst action (AUDIT_SCHEMA columns) and write it promptly."""
        self._queues["audit_log"].append(row)
        self._wake.set()

    @property
    def pending(self) -> int:
        """Rows queued but not yet committed."""
        return sum(len(q) for q in self._queues.values())

    def flush(self) -> None:
        """Commit everything queued so far (called by the writer thread; safe to call from tests)."""
        with self.store.con.cursor() as cur:
            for table, q in self._queues.items():
                n = len(q)
                if not n:
                    continue
                rows = [q.popleft() for _ in range(n)]
                try:
                    batch = pa.Table.from_pylist(rows, schema=_TABLES[table])
                    cols = ", ".join(batch.column_names)
                    cur.register("_dg_batch", batch)
                    cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _dg_batch")
                    cur.unregister("_dg_batch")
                    self.written[table] += n
                except Exception:  # a bad row must not stop logging: keep the rest, say so
                    self.errors += n
                    log.exception("logsink: could not write %d rows to %s", n, table)

    def close(self) -> None:
        """Drain the queue, stop the writer and close the store (checkpointing it)."""
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self.flush()
        self.store.close()

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


def exchange_row(**fields: Any) -> dict[str, Any]:
    """An exchange row with every contract column present (missing ones None)."""
    row = dict.fromkeys(EXCHANGE_COLUMNS)
    row.update(fields)
    return row


def utc(ts: float) -> datetime:
    """A UTC datetime from epoch seconds."""
    return datetime.fromtimestamp(ts, UTC)
