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
import pyarrow as pa
import pyarrow.compute as pc

from .. import findings as contract
from ..errors import InputError
from ..findings import Evidence
from ..store import sql_literal

CAPABILITY_ORDER = ("reasoning", "coding", "tool_use", "other")


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


def _read_accounts(detect_dir: Path) -> pa.Table:
    """The five contract columns (`campaign_id` and `reasons` '' when empty), highest score first."""
    t = contract.read_accounts(detect_dir, require=contract.ACCOUNT_COLUMNS).select(list(contract.ACCOUNT_COLUMNS))
    for name in ("campaign_id", "reasons"):
        t = t.set_column(t.column_names.index(name), name, pc.fill_null(t[name], ""))
    return t.sort_by([("score", "descending"), ("account_id", "ascending")])


def _capabilities(raw: Any) -> tuple[tuple[str, float], ...]:
    if not isinstance(raw, dict):
        return ()
    items = [(str(k), float(v)) for k, v in raw.items() if isinstance(v, int | float)]
    order = {k: i for i, k in enumerate(CAPABILITY_ORDER)}
    return tuple(sorted(items, key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def _read_campaigns(detect_dir: Path) -> tuple[Campaign, ...]:
    out = [
        Campaign(campaign_id=c.campaign_id, accounts=c.accounts, exchanges=c.exchanges, first_seen=c.first_seen,
                 last_seen=c.last_seen, capabilities=_capabilities(c.capabilities), evidence=c.evidence,
                 confidence=c.confidence, response=c.response)
        for c in contract.read_campaigns(detect_dir, strict=False)
    ]
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
        accounts = _read_accounts(detect_dir)
        campaigns = _read_campaigns(detect_dir)
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
