"""Fingerprint cache in the store: a text fingerprinted by one `detect` is not fingerprinted again.

Persistent tables (created in the store on first use; one row per distinct text, template, wrapper):

- `fingerprint_cache(version, text_hash, template_id, wrapper_id, capability, cot, structured, pre_key,
  suf_key)`: the per-text columns of `dg_fp` (without `near_group`, which is recomputed over the
  wrappers of each run);
- `fingerprint_cache_phrases(version, text_hash, phrase)`: the hashed opening/closing sentences of a text;
- `fingerprint_cache_skeletons(version, template_id, skeleton)`: first 200 characters of a template;
- `fingerprint_cache_wrappers(version, wrapper_id, wrapper)`: the wrapper string (near-duplicate input).

`text_hash` is DuckDB's `hash()` of the prompt text, as in `dg_x`; `pre_key`, `suf_key` and `phrase`
are `hash()` values too. `hash()` is not promised to be stable across DuckDB releases, so `version`
(:func:`fingerprint_version`) includes the DuckDB version, the fingerprint code version and a digest of
the capability model, of its cues' patterns and of the SQL that derives the keys: after any upgrade no cached
row matches, rows of other versions are deleted, and every text is fingerprinted afresh (never a wrong answer).

A text's wrapper id depends on the batch it was first fingerprinted in (wrapper segments are found among
the batch's distinct skeletons); the cache keeps that first answer. Rows of texts no longer in the log stay
(they cost disk, not time). A read-only store or a caller-supplied fingerprint function uses temporary
tables of the same shape instead (nothing is kept).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources

import duckdb

from ..errors import UsageError
from ..schema import PROMPT_SQL
from . import text_keys

TABLES = {
    "fingerprint_cache": "version VARCHAR, text_hash UBIGINT, template_id BIGINT, wrapper_id BIGINT, "
                         "capability VARCHAR, cot BOOLEAN, structured BOOLEAN, pre_key UBIGINT, suf_key UBIGINT",
    "fingerprint_cache_phrases": "version VARCHAR, text_hash UBIGINT, phrase UBIGINT",
    "fingerprint_cache_skeletons": "version VARCHAR, template_id BIGINT, skeleton VARCHAR",
    "fingerprint_cache_wrappers": "version VARCHAR, wrapper_id BIGINT, wrapper VARCHAR",
}
# DuckDB's memory limit while detect runs (DetectConfig.memory_gb, `detect --memory-gb`): big joins,
# aggregates and the work tables spill to its temp folder (`<store>.tmp` beside a store file)
DETECT_MEMORY_LIMIT_GB = 4.0
# ... and while Python holds a working set beside DuckDB's work (fingerprints and MinHash, the output, the
# report): half of that, at most this (the graph work, which runs no SQL, holds DuckDB to a quarter: detection.run)
PYTHON_PHASE_DUCKDB_GB = 2.0


def fingerprint_version() -> str:
    """The cache version: fingerprint code, capability model, key SQL and DuckDB release."""
    from . import capability as capmod
    from . import texts as fpmod

    model = (resources.files("distillguard") / "data" / "capability_model.json").read_bytes()
    # the capability cues' patterns too: the model file names its cues, not what they match
    doc = json.dumps([fpmod.FINGERPRINT_VERSION, hashlib.blake2b(model, digest_size=8).hexdigest(),
                      text_keys.ENDS_SQL, text_keys.SEGMENTS_SQL, text_keys.WRAPPER_CHARS, fpmod._COT,
                      fpmod._STRUCTURED, capmod.CUES, capmod.MAX_CHARS, capmod.MAX_TOKENS])
    return f"fp{fpmod.FINGERPRINT_VERSION}-duckdb{duckdb.__version__}-" \
           f"{hashlib.blake2b(doc.encode(), digest_size=8).hexdigest()}"


@contextmanager
def duckdb_memory(con: duckdb.DuckDBPyConnection, limit_gb: float | None = None) -> Iterator[None]:
    """Hold DuckDB to `limit_gb` meanwhile (its temporary tables spill to disk) when the store is a file.

    Fingerprinting and MinHash hold their working set in Python / Arrow; DuckDB's buffers (the slim
    per-exchange table: ~6 GB at scale 1) need not stay resident beside them. None: half the connection's
    limit, at most `PYTHON_PHASE_DUCKDB_GB`.
    """
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    old = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    if limit_gb is None:
        limit_gb = min(PYTHON_PHASE_DUCKDB_GB, (memory_gb(con) or 2 * PYTHON_PHASE_DUCKDB_GB) / 2)
    squeezed = False
    if path and path[0][0]:
        try:
            con.execute(f"SET memory_limit = '{limit_gb:g}GB'")
            squeezed = True
        except duckdb.Error:  # nowhere to spill (read-only store): keep the limit
            pass
    try:
        yield
    finally:
        if squeezed:
            con.execute(f"SET memory_limit = '{old}'")


def memory_gb(con: duckdb.DuckDBPyConnection) -> float | None:
    """The connection's memory limit in GB (None when DuckDB reports it in a form not understood)."""
    value = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    m = re.match(r"\s*([\d.]+)\s*([KMGT]?)(i?)B", str(value), re.IGNORECASE)
    if not m:
        return None
    unit = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4}[m.group(2).upper()]
    return float(m.group(1)) * (1024.0 if m.group(3) else 1000.0) ** unit / 1e9


def set_memory(con: duckdb.DuckDBPyConnection, limit_gb: float) -> None:
    """Set DuckDB's memory limit to `limit_gb` (UsageError unless it is a positive number of GB)."""
    if not limit_gb > 0 or limit_gb != limit_gb or limit_gb == float("inf"):
        raise UsageError(f"--memory-gb must be a positive number of GB, got {limit_gb}")
    con.execute(f"SET memory_limit = '{max(limit_gb * 1000, 1):.0f}MB'")


@dataclass(frozen=True)
class FingerprintCache:
    """The cache tables of one connection (persistent, or temporary when the store cannot keep them)."""

    con: duckdb.DuckDBPyConnection
    version: str
    persistent: bool

    @classmethod
    def open(cls, con: duckdb.DuckDBPyConnection, persistent: bool = True) -> FingerprintCache:
        """Create the tables if needed and drop rows of other versions."""
        version = fingerprint_version()
        if persistent:
            try:
                for name, cols in TABLES.items():
                    con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")
                for name in TABLES:
                    con.execute(f"DELETE FROM {name} WHERE version <> ?", [version])
            except (duckdb.InvalidInputException, duckdb.PermissionException, duckdb.CatalogException,
                    duckdb.TransactionException):
                persistent = False  # a read-only store
        if not persistent:
            for name, cols in TABLES.items():
                con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({cols})")
        return cls(con, version, persistent)

    def stage_texts(self, batch_rows: int) -> int:
        """`dg_need`: texts of `dg_sample` not in the cache; `dg_miss(text_hash, text, batch)`: their texts.

        Returns the number of batches (about `batch_rows` texts each, by hash).
        """

        con, v = self.con, self.version
        con.execute("CREATE OR REPLACE TEMP TABLE dg_need AS SELECT text_hash FROM dg_sample WHERE text_hash NOT IN "
                    "(SELECT text_hash FROM fingerprint_cache WHERE version = ?)", [v])
        n = con.execute("SELECT count(*) FROM dg_need").fetchall()[0][0]
        parts = max(1, -(-n // batch_rows))
        # one exchange per needed text (its first row, `dg_x.rid`), and the prompt of those rows only: the
        # prompt is extracted and hashed once per needed text, not once per exchange of the log
        rows = "SELECT min(rid) FROM dg_x WHERE text_hash IN (SELECT text_hash FROM dg_need) GROUP BY text_hash"
        texts = f"SELECT hash(text) AS text_hash, text FROM (SELECT {PROMPT_SQL} AS text FROM exchanges " \
                f"WHERE rowid IN ({rows}))"
        con.execute(f"CREATE OR REPLACE TEMP TABLE dg_miss AS SELECT text_hash, text, text_hash % {parts} AS batch "
                    f"FROM ({texts})")
        return parts if n else 0

    def store_new(self) -> None:
        """Add the fingerprints now in `dg_fp_raw`, `dg_seg`, `dg_sk`, `dg_wr` to the cache.

        A text counts as cached once its `fingerprint_cache` row is in, so that row goes in last: a run
        killed between the inserts leaves phrases, skeletons or wrappers without it, and the next run
        fingerprints those texts again (their leftover phrases are replaced, never doubled). The other
        order left texts taken as cached without their phrases, skeletons or wrappers, and every one of
        them was lost at the next run's join.
        """
        self._store_parts()
        self._store_rows()

    def _store_parts(self) -> None:
        con, v = self.con, self.version
        con.execute("DELETE FROM fingerprint_cache_phrases WHERE version = ? AND text_hash IN "
                    "(SELECT text_hash FROM dg_fp_raw)", [v])
        con.execute("INSERT INTO fingerprint_cache_phrases SELECT ?, text_hash, phrase FROM dg_seg", [v])
        con.execute("INSERT INTO fingerprint_cache_skeletons SELECT ?, template_id, left(any_value(skeleton), 200) "
                    "FROM dg_sk WHERE template_id NOT IN (SELECT template_id FROM fingerprint_cache_skeletons "
                    "WHERE version = ?) GROUP BY template_id", [v, v])
        con.execute("INSERT INTO fingerprint_cache_wrappers SELECT ?, wrapper_id, any_value(wrapper) FROM dg_wr "
                    "WHERE wrapper_id NOT IN (SELECT wrapper_id FROM fingerprint_cache_wrappers WHERE version = ?) "
                    "GROUP BY wrapper_id", [v, v])

    def _store_rows(self) -> None:
        self.con.execute("INSERT INTO fingerprint_cache SELECT ?, * FROM dg_fp_raw", [self.version])

    def load_hits(self) -> None:
        """Fill `dg_fp_raw`, `dg_seg`, `dg_sk`, `dg_wr` with the cached fingerprints of every text of `dg_sample`."""
        con, v = self.con, self.version
        con.execute("CREATE OR REPLACE TEMP TABLE dg_fp_raw AS SELECT * EXCLUDE (version) FROM fingerprint_cache "
                    "WHERE version = ? AND text_hash IN (SELECT text_hash FROM dg_sample)", [v])
        con.execute("CREATE OR REPLACE TEMP TABLE dg_seg AS SELECT text_hash, phrase FROM fingerprint_cache_phrases "
                    "WHERE version = ? AND text_hash IN (SELECT text_hash FROM dg_sample)", [v])
        con.execute("CREATE OR REPLACE TEMP TABLE dg_sk AS SELECT template_id, skeleton "
                    "FROM fingerprint_cache_skeletons "
                    "WHERE version = ? AND template_id IN (SELECT template_id FROM dg_fp_raw)", [v])
        con.execute("CREATE OR REPLACE TEMP TABLE dg_wr AS SELECT wrapper_id, wrapper FROM fingerprint_cache_wrappers "
                    "WHERE version = ? AND wrapper_id IN (SELECT wrapper_id FROM dg_fp_raw)", [v])
        con.execute("DROP TABLE IF EXISTS dg_need")
