"""The fast path for Parquet logs: validate and insert a clean file in SQL, straight from the file.

DuckDB reads the file in parallel and checks every rule of the contract in one aggregate query. When no
row breaks a rule, the file is inserted by one `INSERT … SELECT` (no Python objects, no staging copy). When
any row does, or a column has an unexpected type, `parquet_plan` returns None and the caller takes the
batch path, which names each bad row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from .schema import (
    DEFAULT_ENDPOINT,
    DEFAULT_STATUS,
    EXCHANGE_FIELDS,
    MAX_STATUS,
    ROLES,
    FieldError,
    canonical_params,
)

_STRING = {"request_id", "account_id", "api_key_id", "org_id", "ip", "user_agent", "model", "endpoint", "prompt",
           "params", "completion", "conversation_id"}
_INT = {"prompt_tokens": "BIGINT", "completion_tokens": "BIGINT", "status": "INTEGER"}
_ROLES_SQL = ", ".join(f"'{r}'" for r in sorted(ROLES))


@dataclass(frozen=True)
class ParquetPlan:
    """How to insert a clean Parquet file: its row count and the SELECT of its stored form."""

    rows: int
    sql: str


def parquet_plan(con: duckdb.DuckDBPyConnection, path: Path) -> ParquetPlan | None:
    """A plan for inserting `path` in SQL when every row is valid; None when the batch path is needed."""
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError):
        return None
    if not _compatible(schema):
        return None
    source = f"read_parquet('{_quote(str(path))}', file_row_number = true)"
    cols = _select_list(set(schema.names))
    checks = _row_ok()
    try:
        n, bad, dups = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE NOT ({checks})), count(*) - count(DISTINCT request_id) "
            f"FROM (SELECT {cols}, file_row_number FROM {source})"
        ).fetchall()[0]
        if bad:
            return None
        params = "params"
        joins = ""
        if "params" in schema.names:
            raw = [r[0] for r in con.execute(f"SELECT DISTINCT params FROM {source} WHERE params IS NOT NULL")
                   .fetchall()]
            canon = [canonical_params(v) for v in raw]
            if canon != raw:
                con.register("_params_map", pa.table({"raw": pa.array(raw, pa.string()),
                                                      "canon": pa.array(canon, pa.string())}))
                params = "m.canon AS params"
                joins = " LEFT JOIN _params_map m ON s.params = m.raw"
    except (duckdb.Error, FieldError):
        return None
    body = f"SELECT {cols}, file_row_number FROM {source}"
    where = ""
    if dups:
        where = (f" WHERE s.file_row_number IN (SELECT min(file_row_number) FROM {source} "
                 "GROUP BY request_id)")
    names = ", ".join(f"s.{f.name}" if f.name != "params" else params for f in EXCHANGE_FIELDS)
    return ParquetPlan(rows=int(n), sql=f"SELECT {names} FROM ({body}) s{joins}{where}")


def _compatible(schema: pa.Schema) -> bool:
    """Whether each present contract column has a type the SQL path casts without surprises."""
    for f in EXCHANGE_FIELDS:
        if f.name not in schema.names:
            continue
        t = schema.field(f.name).type
        if f.name in _STRING:
            ok = pa.types.is_string(t) or pa.types.is_large_string(t)
        elif f.name in _INT:
            ok = pa.types.is_integer(t)
        elif f.name == "ts":
            ok = pa.types.is_timestamp(t)
        elif f.name == "tools":
            ok = (pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_string(t.value_type)
        else:  # messages
            ok = ((pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_struct(t.value_type)
                  and [t.value_type.field(i).name for i in range(t.value_type.num_fields)] == ["role", "content"]
                  and all(pa.types.is_string(t.value_type.field(i).type) for i in range(2)))
        if not ok:
            return False
    return True


def _select_list(present: set[str]) -> str:
    out = []
    for f in EXCHANGE_FIELDS:
        name, there = f.name, f.name in present
        if name == "endpoint":
            expr = f"coalesce(nullif(endpoint, ''), '{DEFAULT_ENDPOINT}')" if there else f"'{DEFAULT_ENDPOINT}'"
        elif name == "status":
            expr = f"coalesce(status, {DEFAULT_STATUS})::INTEGER" if there else f"{DEFAULT_STATUS}::INTEGER"
        else:
            expr = f"{name}::{_duck_type(name)}" if there else f"NULL::{_duck_type(name)}"
        out.append(f"{expr} AS {name}")
    return ", ".join(out)


def _row_ok() -> str:
    """A SQL predicate true for rows that keep every rule of schema.validate_exchange."""
    rules = [f"coalesce({c} <> '', false)" for c in ("request_id", "account_id", "model")]
    rules += ["ts IS NOT NULL", "ip IS NOT NULL", "(messages IS NOT NULL OR prompt IS NOT NULL)",
              "coalesce(status BETWEEN 0 AND " + str(MAX_STATUS) + ", false)",
              "coalesce(prompt_tokens >= 0, true)", "coalesce(completion_tokens >= 0, true)",
              f"coalesce(list_bool_and(list_transform(messages, lambda m: coalesce(m.role IN ({_ROLES_SQL}), "
              "false))), true)",
              "coalesce(NOT list_contains(list_transform(tools, lambda t: t IS NULL), true), true)"]
    return " AND ".join(rules)


def _duck_type(name: str) -> str:
    if name == "ts":
        return "TIMESTAMPTZ"
    if name in _INT:
        return _INT[name]
    if name == "tools":
        return "VARCHAR[]"
    if name == "messages":
        return "STRUCT(role VARCHAR, content VARCHAR)[]"
    return "VARCHAR"


def _quote(s: str) -> str:
    return s.replace("'", "''")
