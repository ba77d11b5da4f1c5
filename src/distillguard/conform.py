"""Conform parsed exchanges to their stored form (schema.EXCHANGE_SCHEMA).

Two paths give the same result. `conform_fast` checks a whole Arrow batch with vectorised kernels and
returns None as soon as any row needs a closer look; `conform_records` then validates record by record with
`schema.validate_exchange`, so every bad record is reported with its own line and field. Clean batches,
the common case, never touch Python objects per row.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .errors import RecordError
from .schema import (
    DEFAULT_ENDPOINT,
    DEFAULT_STATUS,
    EXCHANGE_COLUMNS,
    EXCHANGE_SCHEMA,
    MAX_STATUS,
    REQUIRED_EXCHANGE,
    ROLES,
    TS_TYPE,
    FieldError,
    canonical_params,
    validate_exchange,
)

Reject = Callable[[RecordError], None]

# What pyarrow.json parses strictly (a type mismatch fails the block): every field but `params`, whose
# free-form object is left to inference; `ts` as text so that our own ISO-8601 rules apply.
JSON_READ_SCHEMA = pa.schema(
    [pa.field(f.name, pa.string() if f.name == "ts" else pa.int64() if f.name == "status" else f.type)
     for f in EXCHANGE_SCHEMA if f.name != "params"]
)
_ROLES = pa.array(sorted(ROLES))
_NULLABLE = pa.schema([pa.field(f.name, f.type) for f in EXCHANGE_SCHEMA])
_lock = threading.Lock()


def conform_fast(table: pa.Table) -> pa.Table | None:
    """The batch in stored form when every row is valid; None when some row needs `conform_records`."""
    n = table.num_rows
    arrays = []
    try:
        for f in EXCHANGE_SCHEMA:
            if f.name not in table.column_names:
                arrays.append(pa.nulls(n, f.type))
            elif f.name == "params":
                params = _params_column(table.column("params"))
                if params is None:
                    return None
                arrays.append(params)
            elif f.name == "ts":
                arrays.append(_ts_column(table.column("ts")))
            else:
                arrays.append(table.column(f.name).cast(f.type))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    out = pa.Table.from_arrays(arrays, schema=_NULLABLE)
    if not _rows_valid(out, table):
        return None
    no_endpoint = pc.fill_null(pc.equal(out["endpoint"], ""), True)
    out = out.set_column(out.schema.get_field_index("endpoint"), "endpoint",
                         pc.if_else(no_endpoint, DEFAULT_ENDPOINT, out["endpoint"]))
    out = out.set_column(out.schema.get_field_index("status"), "status",
                         pc.fill_null(out["status"], pa.scalar(DEFAULT_STATUS, pa.int32())))
    return out.cast(EXCHANGE_SCHEMA)


def conform_records(records: Iterable[tuple[int, Any]], src: str, reject: Reject) -> pa.Table:
    """Validate (line, record) pairs one by one; bad ones go to `reject`, good ones come back as a batch."""
    cols: dict[str, list[Any]] = {c: [] for c in EXCHANGE_COLUMNS}
    for line, rec in records:
        try:
            ok = validate_exchange(rec)
        except FieldError as e:
            reject(RecordError(src, line, e.field, e.reason))
            continue
        for c in EXCHANGE_COLUMNS:
            cols[c].append(ok[c])
    return pa.Table.from_pydict(cols, schema=EXCHANGE_SCHEMA)


def _rows_valid(out: pa.Table, raw: pa.Table) -> bool:
    for name in REQUIRED_EXCHANGE:
        if out[name].null_count:
            return False
    for name in ("request_id", "account_id", "model"):  # an empty text: 0 bytes (no full-size temporaries)
        if pc.min(pc.binary_length(out[name])).as_py() == 0:
            return False
    if pc.any(pc.and_(pc.is_null(out["messages"]), pc.is_null(out["prompt"]))).as_py():
        return False
    if out.num_rows and out["messages"].null_count < out.num_rows:
        # the role texts of every message, chunk by chunk (no copy of the contents into one array)
        roles = pa.chunked_array([c.field("role") for c in pc.list_flatten(out["messages"]).chunks], pa.string())
        if roles.null_count or not pc.all(pc.is_in(roles, _ROLES)).as_py():
            return False
    for name, hi in (("status", MAX_STATUS), ("prompt_tokens", None), ("completion_tokens", None)):
        col = out[name]
        if col.null_count == len(col):
            continue
        if pc.min(col).as_py() < 0 or (hi is not None and pc.max(col).as_py() > hi):
            return False
    if "tools" in raw.column_names and not pa.types.is_list(raw.column("tools").type):
        return False
    if out["tools"].null_count < out.num_rows and pc.list_flatten(out["tools"]).null_count:
        return False
    return True


def _ts_column(col: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_timestamp(col.type):
        return col.cast(TS_TYPE)  # a naive timestamp means UTC, as in the contract
    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        raise pa.ArrowInvalid("ts is neither text nor a timestamp")
    return col.cast(TS_TYPE)  # fails (to the precise path) on naive or odd spellings


def _params_column(col: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """Canonical params text, computed once per distinct value; None when some value is not an object."""
    if col.null_count == len(col):
        return pa.chunked_array([pa.nulls(len(col), pa.string())])
    if pa.types.is_struct(col.type):
        col = _to_json(col)
    elif not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        return None
    col = col.cast(pa.string())
    uniques = pc.unique(col)
    try:
        canon = pa.array([_canonical_text(v) for v in uniques.to_pylist()], pa.string())
    except FieldError:
        return None
    return pa.chunked_array([canon.take(pc.index_in(col, value_set=uniques).combine_chunks())])


@functools.lru_cache(maxsize=1 << 16)
def _canonical_text(value: str | None) -> str | None:
    """canonical_params of a JSON text, remembered: a log repeats a few thousand spellings in every batch."""
    return canonical_params(value)


def _to_json(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Struct values as JSON text (DuckDB's to_json keeps every double exactly)."""
    params = pa.table({"p": col})  # noqa: F841 - read by name in the query below
    with _lock:
        result = _duck().sql("SELECT to_json(p) AS j FROM params").to_arrow_table()
    return result.column("j")


@functools.cache
def _duck() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(":memory:", config={"threads": 1})
