"""Log mappings: read JSONL whose records are not in the contract's shape, through a small TOML file.

A mapping file has a `[fields]` table mapping each contract field to a dotted path in the source record
(`account_id = "user.id"`, `completion = "response.choices.0.message.content"`) or to a list of
candidate paths (the first present wins); an optional `[ts] format` (`iso` default, `epoch_s`,
`epoch_ms`); optional `[defaults]` constants; and an optional `[params]` table gathering sampling
parameters from several paths into the contract's `params` object. Mappings shipped with the package
(`litellm`, `openai-proxy`) are picked by name.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson

from .errors import ConfigError
from .schema import EXCHANGE_COLUMNS, REQUIRED_EXCHANGE, FieldError

TS_FORMATS = ("iso", "epoch_s", "epoch_ms")
_MISSING = object()
_JSON_FIELDS = ("messages", "params", "tools")


@dataclass(frozen=True)
class LogMapping:
    """How to turn one foreign record into a contract record.

    >>> m = LogMapping(fields={"account_id": ("user.id",)}, defaults={"model": "m"})
    >>> m.apply({"user": {"id": "u1"}})
    {'account_id': 'u1', 'model': 'm'}
    """

    fields: dict[str, tuple[str, ...]]
    ts_format: str = "iso"
    defaults: dict[str, Any] = field(default_factory=dict)
    params: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = "<mapping>"

    def apply(self, rec: Any) -> dict[str, Any]:
        """Map one parsed source record to a contract record (validated later by schema.validate_exchange)."""
        if not isinstance(rec, dict):
            raise FieldError("record", "expected a JSON object")
        out: dict[str, Any] = {}
        for name, paths in self.fields.items():
            value = _first(rec, paths)
            if value is _MISSING or value is None:
                if name in self.defaults:
                    out[name] = self.defaults[name]
                elif name in REQUIRED_EXCHANGE:
                    raise FieldError(name, f"mapped path {' or '.join(map(repr, paths))} is missing in the record")
                continue
            out[name] = self._convert(name, value)
        for name, value in self.defaults.items():
            out.setdefault(name, value)
        if self.params:
            params = {k: v for k, p in self.params.items() if (v := _first(rec, p)) is not _MISSING and v is not None}
            if params:
                out["params"] = {**(out.get("params") or {}), **params}
        return out

    def _convert(self, name: str, value: Any) -> Any:
        if name == "ts":
            return _ts(value, self.ts_format)
        if name in _JSON_FIELDS and isinstance(value, str):
            try:  # exports often hold nested JSON as a string
                return orjson.loads(value)
            except orjson.JSONDecodeError:
                raise FieldError(name, "holds a string that is not JSON") from None
        if name in ("request_id", "account_id", "api_key_id", "org_id", "conversation_id") and isinstance(
            value, int | float
        ):
            return str(value)
        return value


def load_mapping(spec: str | Path) -> LogMapping:
    """Load a mapping from a TOML file path or the name of a shipped mapping (`litellm`, `openai-proxy`)."""
    path = Path(spec)
    if path.suffix != ".toml" and not path.exists():
        shipped = files("distillguard").joinpath(f"mappings/{spec}.toml")
        if not shipped.is_file():
            names = ", ".join(shipped_mappings())
            raise ConfigError(f"{spec}: no such mapping file, and not a shipped mapping ({names})")
        text, source = shipped.read_text(encoding="utf-8"), f"mapping '{spec}'"
    else:
        try:
            text, source = path.read_text(encoding="utf-8"), str(path)
        except OSError as e:
            raise ConfigError(f"{path}: cannot read mapping file ({e.strerror})") from e
        except UnicodeDecodeError as e:
            raise ConfigError(f"{path}: not a UTF-8 text file ({e.reason} at byte {e.start})") from e
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: invalid TOML ({e})") from e
    return _parse(doc, source)


def shipped_mappings() -> list[str]:
    """Names of the mappings shipped with the package."""
    return sorted(p.name.removesuffix(".toml") for p in files("distillguard").joinpath("mappings").iterdir()
                  if p.name.endswith(".toml"))


def _parse(doc: dict[str, Any], source: str) -> LogMapping:
    fields_doc = doc.get("fields")
    if not isinstance(fields_doc, dict) or not fields_doc:
        raise ConfigError(f"{source}: needs a [fields] table mapping contract fields to source paths")
    unknown = sorted(set(fields_doc) - set(EXCHANGE_COLUMNS))
    if unknown:
        known = ", ".join(EXCHANGE_COLUMNS)
        raise ConfigError(f"{source}: [fields] names unknown contract fields {unknown}; known: {known}")
    for table in ("defaults", "params", "ts"):
        if not isinstance(doc.get(table, {}), dict):
            raise ConfigError(f"{source}: {table} must be a table ([{table}]), got {doc[table]!r}")
    defaults = doc.get("defaults", {})
    missing = [f for f in REQUIRED_EXCHANGE if f not in fields_doc and f not in defaults]
    if missing:
        raise ConfigError(f"{source}: required contract fields {missing} have neither a path nor a default")
    ts_format = doc.get("ts", {}).get("format", "iso")
    if ts_format not in TS_FORMATS:
        raise ConfigError(f"{source}: [ts] format must be one of {TS_FORMATS}, got {ts_format!r}")
    return LogMapping(
        fields={k: _paths(v, source, k) for k, v in fields_doc.items()},
        ts_format=ts_format,
        defaults=dict(defaults),
        params={k: _paths(v, source, f"params.{k}") for k, v in doc.get("params", {}).items()},
        source=source,
    )


def _paths(value: Any, source: str, name: str) -> tuple[str, ...]:
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise ConfigError(f"{source}: {name} must be a dotted path or a list of them, got {value!r}")


def _first(rec: dict[str, Any], paths: tuple[str, ...]) -> Any:
    for p in paths:
        value = _get(rec, p)
        if value is not _MISSING and value is not None and value != "":  # empty means "not set" in exports
            return value
    return _MISSING


def _get(rec: Any, path: str) -> Any:
    cur = rec
    for part in path.split("."):
        if isinstance(cur, dict):
            if part not in cur:
                return _MISSING
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit():
            i = int(part)
            if i >= len(cur):
                return _MISSING
            cur = cur[i]
        else:
            return _MISSING
    return cur


def _ts(value: Any, fmt: str) -> Any:
    if fmt == "iso":
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise FieldError("ts", f"expected a number of {'seconds' if fmt == 'epoch_s' else 'milliseconds'}")
    try:
        seconds = float(value) / (1000.0 if fmt == "epoch_ms" else 1.0)
        return datetime.fromtimestamp(seconds, UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        raise FieldError("ts", f"not an epoch time: {value!r}") from None
