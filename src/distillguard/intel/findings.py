"""What a detection output folder says about each campaign, in the shape intel exports need.

Reads the contract files of `distillguard detect` (SCHEMA.md §4: `accounts.csv`, `campaigns.json`) and the
optional extras `templates.csv` and `infrastructure.csv`; a missing extra just means nothing of that kind
is shared.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .. import findings as contract
from ..errors import InputError, RecordError
from ..schema import CAPABILITIES, FieldError, parse_ts

INFRA_KINDS = ("ip", "cidr", "user_agent", "payment")


@dataclass(frozen=True)
class TemplateFinding:
    """One prompt template a campaign sent; `example` is a redacted example prompt (never shared by default)."""

    template_id: int
    exchanges: int
    accounts: int
    example: str


@dataclass(frozen=True)
class InfraFinding:
    """One network or payment artefact a campaign used."""

    kind: str
    value: str
    accounts: int
    exchanges: int


@dataclass(frozen=True)
class CampaignFinding:
    """One detected campaign with everything intel may share about it."""

    campaign_id: str
    accounts: int
    exchanges: int
    first_seen: datetime
    last_seen: datetime
    capabilities: dict[str, float]
    signals: tuple[str, ...]
    confidence: float
    templates: tuple[TemplateFinding, ...] = ()
    infrastructure: tuple[InfraFinding, ...] = ()
    account_ids: tuple[str, ...] = ()


def load_findings(detect_dir: str | Path) -> tuple[CampaignFinding, ...]:
    """Campaigns of a detection output folder, joined with their templates, infrastructure and accounts."""
    d = Path(detect_dir)
    path = d / contract.CAMPAIGNS
    raw = contract.read_campaigns(d)
    templates: dict[str, list[TemplateFinding]] = {}
    for line, row in _csv_rows(d / "templates.csv", ("campaign_id", "template_id", "exchanges", "accounts")):
        templates.setdefault(row["campaign_id"], []).append(TemplateFinding(
            template_id=_int(row, "template_id", d / "templates.csv", line),
            exchanges=_int(row, "exchanges", d / "templates.csv", line),
            accounts=_int(row, "accounts", d / "templates.csv", line),
            example=row.get("example") or "",
        ))
    infra: dict[str, list[InfraFinding]] = {}
    for line, row in _csv_rows(d / "infrastructure.csv", ("campaign_id", "kind", "value", "accounts", "exchanges")):
        if row["kind"] not in INFRA_KINDS:
            raise RecordError(str(d / "infrastructure.csv"), line, "kind",
                              f"{row['kind']!r} is not one of {', '.join(INFRA_KINDS)}")
        infra.setdefault(row["campaign_id"], []).append(InfraFinding(
            kind=row["kind"], value=row["value"],
            accounts=_int(row, "accounts", d / "infrastructure.csv", line),
            exchanges=_int(row, "exchanges", d / "infrastructure.csv", line),
        ))
    members: dict[str, list[str]] = {}
    accounts = contract.read_accounts(d)
    for account, cid in zip(accounts["account_id"].to_pylist(), accounts["campaign_id"].to_pylist(), strict=True):
        if cid:
            members.setdefault(cid, []).append(account)
    return tuple(
        _campaign(c, i, path, templates, infra, members) for i, c in enumerate(raw, start=1)
    )


def _campaign(c: contract.Campaign, i: int, path: Path, templates: dict[str, list[TemplateFinding]],
              infra: dict[str, list[InfraFinding]], members: dict[str, list[str]]) -> CampaignFinding:
    cid = c.campaign_id
    if any(k not in CAPABILITIES for k in c.capabilities):
        raise RecordError(str(path), i, "capabilities", f"keys must be among {', '.join(CAPABILITIES)}")
    try:
        return CampaignFinding(
            campaign_id=cid,
            accounts=c.accounts,
            exchanges=c.exchanges,
            first_seen=parse_ts(c.first_seen or None, "first_seen"),
            last_seen=parse_ts(c.last_seen or None, "last_seen"),
            capabilities=dict(c.capabilities),
            signals=c.signals,
            confidence=c.confidence,
            templates=tuple(sorted(templates.get(cid, []), key=lambda t: (-t.exchanges, t.template_id))),
            infrastructure=tuple(sorted(infra.get(cid, []), key=lambda r: (r.kind, -r.exchanges, r.value))),
            account_ids=tuple(sorted(members.get(cid, []))),
        )
    except FieldError as e:
        raise RecordError(str(path), i, e.field, e.reason) from e


def _csv_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    if not path.is_file():
        return
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(required)}")
        for line, row in enumerate(reader, start=2):
            yield line, {k: (v or "") for k, v in row.items() if k is not None}


def _int(row: dict[str, str], name: str, path: Path, line: int) -> int:
    try:
        return int(row[name])
    except ValueError as e:
        raise RecordError(str(path), line, name, f"not an integer: {row[name]!r}") from e
