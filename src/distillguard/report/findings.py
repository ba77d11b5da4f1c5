"""Read a detection output folder (SCHEMA.md §4 plus the optional extras) into `Findings`.

The contract files `accounts.csv` and `campaigns.json` are required; every extra file
(`features.parquet`, `links.parquet`, `templates.csv`, `infrastructure.csv`, `timeline.csv`) is
optional, and its section of the report is simply left out when it is missing. Tables are read by
DuckDB into Arrow, so a folder with millions of accounts or edges stays out of Python objects until
something is sampled from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from ..errors import InputError
from ..store import sql_literal

CAPABILITY_ORDER = ("reasoning", "coding", "tool_use", "other")


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence that binds a campaign: a signal code and a human detail."""

    signal: str
    detail: str


@dataclass(frozen=True)
class Campaign:
    """One detected campaign as in `campaigns.json`."""

    campaign_id: str
    accounts: int
    exchanges: int
    first_seen: str
    last_seen: str
    capabilities: tuple[tuple[str, float], ...]
    evidence: tuple[Evidence, ...]
    confidence: float
    response: dict[str, Any] | None = None  # what the default policy would do (campaigns.json `response`)


@dataclass(frozen=True)
class Findings:
    """Everything a report or dashboard shows about one detection run; extras are None when absent."""

    detect_dir: Path
    accounts: pa.Table  # account_id, score, flagged, campaign_id, reasons
    campaigns: tuple[Campaign, ...]
    features: pa.Table | None = None
    links: pa.Table | None = None
    templates: pa.Table | None = None
    infrastructure: pa.Table | None = None
    timeline: pa.Table | None = None

    def campaign(self, campaign_id: str) -> Campaign | None:
        """The campaign with this id, or None."""
        return next((c for c in self.campaigns if c.campaign_id == campaign_id), None)


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET preserve_insertion_order = true")
    return con


def _view_csv(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Expose the CSV at `path` as the view `src`, every column as text (views take no parameters)."""
    con.execute(f"CREATE OR REPLACE TEMP VIEW src AS SELECT * FROM read_csv({sql_literal(path)}, header=true, "
                "all_varchar=true)")


def _csv(con: duckdb.DuckDBPyConnection, path: Path, query: str) -> pa.Table:
    """Run `query` over the CSV at `path` (read as text, exposed as view `src`)."""
    try:
        _view_csv(con, path)
        return con.sql(query).to_arrow_table()
    except duckdb.Error as e:
        raise InputError(f"{path}: cannot read ({e}); is it the CSV that `distillguard detect` wrote?") from e


def _read_accounts(con: duckdb.DuckDBPyConnection, path: Path) -> pa.Table:
    if not path.is_file():
        raise InputError(f"{path}: missing; point the report at a folder written by `distillguard detect`")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file; expected the header account_id,score,flagged,campaign_id,reasons")
    _view_csv(con, path)
    have = {r[0] for r in con.execute("DESCRIBE src").fetchall()}
    missing = [c for c in ("account_id", "score", "flagged", "campaign_id", "reasons") if c not in have]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; expected the header "
                         "account_id,score,flagged,campaign_id,reasons (SCHEMA.md §4)")
    return _csv(
        con,
        path,
        """SELECT account_id,
                  coalesce(try_cast(score AS DOUBLE), 0.0) AS score,
                  lower(coalesce(flagged, 'false')) IN ('true', '1', 'yes') AS flagged,
                  coalesce(campaign_id, '') AS campaign_id,
                  coalesce(reasons, '') AS reasons
           FROM src ORDER BY score DESC, account_id""",
    )


def _capabilities(raw: Any) -> tuple[tuple[str, float], ...]:
    if not isinstance(raw, dict):
        return ()
    items = [(str(k), float(v)) for k, v in raw.items() if isinstance(v, int | float)]
    order = {k: i for i, k in enumerate(CAPABILITY_ORDER)}
    return tuple(sorted(items, key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def _read_campaigns(path: Path) -> tuple[Campaign, ...]:
    if not path.is_file():
        raise InputError(f"{path}: missing; point the report at a folder written by `distillguard detect`")
    try:
        raw = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e}); expected a list of campaign objects") from e
    if not isinstance(raw, list):
        raise InputError(f"{path}: expected a JSON list of campaign objects, got {type(raw).__name__}")
    out = []
    for i, c in enumerate(raw):
        if not isinstance(c, dict) or "campaign_id" not in c:
            raise InputError(f"{path}: item {i}: expected an object with a campaign_id")
        evidence = tuple(
            Evidence(str(e.get("signal", "")), str(e.get("detail", "")))
            for e in c.get("evidence") or ()
            if isinstance(e, dict)
        )
        out.append(
            Campaign(
                campaign_id=str(c["campaign_id"]),
                accounts=int(c.get("accounts") or 0),
                exchanges=int(c.get("exchanges") or 0),
                first_seen=str(c.get("first_seen") or ""),
                last_seen=str(c.get("last_seen") or ""),
                capabilities=_capabilities(c.get("capabilities")),
                evidence=evidence,
                confidence=float(c.get("confidence") or 0.0),
                response=c["response"] if isinstance(c.get("response"), dict) else None,
            )
        )
    return tuple(sorted(out, key=lambda c: (-c.exchanges, c.campaign_id)))


def _optional_csv(con: duckdb.DuckDBPyConnection, path: Path, columns: dict[str, str]) -> pa.Table | None:
    """Read an optional CSV, casting `columns` (name -> SQL type); None when absent or unusable."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        _view_csv(con, path)
        have = {r[0] for r in con.execute("DESCRIBE src").fetchall()}
    except duckdb.Error:
        return None
    if not set(columns) <= have:
        return None  # an extra from another version: leave its section out rather than fail the report
    select = ", ".join(
        f"coalesce({n}, '') AS {n}" if t == "VARCHAR" else f"try_cast({n} AS {t}) AS {n}"
        for n, t in columns.items()
    )
    return con.sql(f"SELECT {select} FROM src").to_arrow_table()


def _optional_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> pa.Table | None:
    if not path.exists():
        return None
    try:
        return con.sql(f"SELECT * FROM read_parquet({sql_literal(path)})").to_arrow_table()
    except duckdb.Error:
        return None


def load_findings(detect_dir: Path) -> Findings:
    """Read the detection output folder `detect_dir` into `Findings`."""
    detect_dir = Path(detect_dir)
    if not detect_dir.is_dir():
        raise InputError(f"{detect_dir}: not a folder; give the --out folder of `distillguard detect`")
    con = _connect()
    try:
        accounts = _read_accounts(con, detect_dir / "accounts.csv")
        campaigns = _read_campaigns(detect_dir / "campaigns.json")
        links = _optional_parquet(con, detect_dir / "links.parquet")
        if links is not None and not {"src", "dst"} <= set(links.column_names):
            links = None
        return Findings(
            detect_dir=detect_dir,
            accounts=accounts,
            campaigns=campaigns,
            features=_optional_parquet(con, detect_dir / "features.parquet"),
            links=links,
            templates=_optional_csv(
                con,
                detect_dir / "templates.csv",
                {"campaign_id": "VARCHAR", "template_id": "VARCHAR", "exchanges": "BIGINT",
                 "accounts": "BIGINT", "example": "VARCHAR"},
            ),
            infrastructure=_optional_csv(
                con,
                detect_dir / "infrastructure.csv",
                {"campaign_id": "VARCHAR", "kind": "VARCHAR", "value": "VARCHAR", "accounts": "BIGINT",
                 "exchanges": "BIGINT"},
            ),
            timeline=_optional_csv(
                con,
                detect_dir / "timeline.csv",
                {"campaign_id": "VARCHAR", "day": "VARCHAR", "exchanges": "BIGINT"},
            ),
        )
    finally:
        con.close()
