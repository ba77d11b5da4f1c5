"""Partners' STIX 2.1 bundles and MISP events into the store's `intel_indicators` table.

Each indicator is stored once per (indicator id, kind, value) with its source, confidence (0–1, the
indicator's own confidence times the trust given to the file) and expiry; re-importing a file replaces
its rows, and a revoked STIX indicator removes them. Kinds: `ip`, `cidr`, `user_agent`, `template_hash`
and `minhash` (a dg-minhash-v1 signature from DistillGuard's extension or MISP object).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import stix2
from stix2patterns.v21.pattern import Pattern

from ..errors import InputError
from ..schema import parse_ts
from ..store import Store
from . import misp_import, vocab
from .indicators import DEFAULT_CONFIDENCE, DEFAULT_VALID_DAYS, PartnerIndicator

SETUP = (
    """CREATE TABLE IF NOT EXISTS intel_indicators (
        indicator_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, value VARCHAR NOT NULL, minhash UINTEGER[],
        source VARCHAR, source_file VARCHAR, format VARCHAR, confidence DOUBLE, valid_from TIMESTAMPTZ,
        valid_until TIMESTAMPTZ, campaign VARCHAR, tlp VARCHAR, imported_at TIMESTAMPTZ,
        PRIMARY KEY (indicator_id, kind, value))""",
    """CREATE TABLE IF NOT EXISTS intel_imports (
        path VARCHAR, format VARCHAR, objects BIGINT, indicators BIGINT, skipped BIGINT, imported_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS intel_matches (
        indicator_id VARCHAR, kind VARCHAR, value VARCHAR, source VARCHAR, confidence DOUBLE, similarity DOUBLE,
        account_id VARCHAR, exchanges BIGINT, first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ,
        matched_at TIMESTAMPTZ)""",
)
_COLUMNS = ("indicator_id", "kind", "value", "minhash", "source", "source_file", "format", "confidence",
            "valid_from", "valid_until", "campaign", "tlp", "imported_at")



@dataclass(frozen=True)
class ImportSummary:
    """What importing one file did."""

    path: str
    format: str
    objects: int
    indicators: int
    revoked: int
    skipped: tuple[str, ...]


def ensure_tables(store: Store) -> None:
    """Create the intel tables in the store if they are missing."""
    for stmt in SETUP:
        store.con.execute(stmt)


def import_files(store: Store, paths: Sequence[str | Path], now: datetime, trust: float = 1.0) -> list[ImportSummary]:
    """Import STIX bundles and MISP event files (detected by content) into `store`."""
    ensure_tables(store)
    return [import_file(store, p, now, trust) for p in paths]


def import_file(store: Store, path: str | Path, now: datetime, trust: float = 1.0) -> ImportSummary:
    """Import one STIX bundle / object or MISP event file; the file is committed whole or not at all."""
    ensure_tables(store)
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"{p}: cannot read it as JSON ({e}); expected a STIX 2.1 bundle or MISP event") from e
    if misp_import.is_misp(doc):
        fmt = "misp"
        indicators, revoked_ids, objects, skipped = misp_import.read_events(doc, now, DEFAULT_VALID_DAYS)
    elif isinstance(doc, dict) and isinstance(doc.get("type"), str):
        fmt = "stix"
        indicators, revoked_ids, objects, skipped = read_stix(doc, now)
    else:
        raise InputError(f"{p}: neither a STIX 2.1 bundle (\"type\": \"bundle\") nor a MISP event (\"Event\")")
    rows = [_row(i, str(p), fmt, trust, now) for i in indicators]
    con = store.con
    con.execute("BEGIN TRANSACTION")
    try:
        for rid in revoked_ids:
            con.execute("DELETE FROM intel_indicators WHERE indicator_id = ?", [rid])
        if rows:
            con.executemany(f"INSERT OR REPLACE INTO intel_indicators ({', '.join(_COLUMNS)}) "
                            f"VALUES ({', '.join('?' * len(_COLUMNS))})", rows)
        con.execute("INSERT INTO intel_imports VALUES (?, ?, ?, ?, ?, ?)",
                    [str(p), fmt, objects, len(rows), len(skipped), now])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return ImportSummary(str(p), fmt, objects, len(rows), len(revoked_ids), tuple(skipped))


def read_stix(doc: dict[str, Any], now: datetime) -> tuple[list[PartnerIndicator], list[str], int, list[str]]:
    """Indicators of a STIX 2.1 bundle (or single object), the ids it revokes, its size and what was skipped."""
    raw = doc.get("objects", []) if doc.get("type") == "bundle" else [doc]
    objs, skipped = [], []
    for i, o in enumerate(raw):
        try:
            parsed = stix2.parse(o, allow_custom=True)
            if "id" not in parsed or (parsed.get("type") == "indicator" and isinstance(parsed, dict)):
                raise ValueError("not a valid STIX 2.1 object")  # an unknown spec_version comes back unchecked
            objs.append(parsed)
        except Exception as e:  # noqa: BLE001 - stix2 also raises AttributeError, UnboundLocalError on bad input
            skipped.append(f"object {i} ({o.get('id', '?') if isinstance(o, dict) else '?'}): {e}")
    names = {o["id"]: o.get("name", o["id"]) for o in objs if o.get("type") == "identity"}
    campaign_names = {o["id"]: o.get("name") for o in objs if o.get("type") in ("campaign", "intrusion-set")}
    indicates = {o.get("source_ref"): campaign_names[o["target_ref"]] for o in objs
                 if o.get("type") == "relationship" and o.get("relationship_type") == "indicates"
                 and o.get("target_ref") in campaign_names}
    out: list[PartnerIndicator] = []
    revoked: list[str] = []
    for o in objs:
        if o.get("type") != "indicator":
            continue
        if o.get("revoked"):
            revoked.append(o["id"])
            continue
        source = names.get(o.get("created_by_ref", ""), o.get("created_by_ref") or "unknown")
        confidence = o["confidence"] / 100 if o.get("confidence") is not None else DEFAULT_CONFIDENCE
        valid_from = parse_ts(str(o["valid_from"])) if o.get("valid_from") else None
        valid_until = (parse_ts(str(o["valid_until"])) if o.get("valid_until")
                       else (valid_from or now) + timedelta(days=DEFAULT_VALID_DAYS))
        tlp = next((vocab.TLP_BY_ID[m] for m in o.get("object_marking_refs", []) if m in vocab.TLP_BY_ID), None)
        base = {"indicator_id": o["id"], "source": str(source), "confidence": confidence, "valid_from": valid_from,
                "valid_until": valid_until, "campaign": indicates.get(o["id"]), "tlp": tlp}
        try:
            found = list(_pattern_values(o)) if o.get("pattern_type") == "stix" else []
        except Exception as e:  # a partner's unparsable pattern skips that indicator, not the file
            skipped.append(f"{o['id']}: pattern not understood ({e})")
            continue
        ext = (o.get("extensions") or {}).get(vocab.EXTENSION_ID) or {}
        mh = ext.get("minhash") if isinstance(ext, dict) else None
        if isinstance(mh, dict) and mh.get("algorithm") == "dg-minhash-v1" and isinstance(mh.get("values"), list):
            found.append(("minhash", str(ext.get("template_hash", o["id"])), tuple(int(v) for v in mh["values"])))
        if not found:
            skipped.append(f"{o['id']}: no address, user agent or prompt-template fingerprint in its pattern")
        for kind, value, sig in found:
            out.append(PartnerIndicator(kind=kind, value=value, minhash=sig, **base))
    return out, revoked, len(raw), skipped


def _pattern_values(o: Any) -> Iterator[tuple[str, str, tuple[int, ...] | None]]:
    comparisons = Pattern(o["pattern"]).inspect().comparisons
    for obj_type, items in comparisons.items():
        for path, op, quoted in items:
            value = _unquote(quoted)
            if obj_type in ("ipv4-addr", "ipv6-addr") and path == ["value"] and op in ("=", "ISSUBSET"):
                yield ("cidr" if "/" in value else "ip"), value, None
            elif obj_type == "network-traffic" and path and str(path[-1]).lower() == "user-agent" and op == "=":
                yield "user_agent", value, None
            elif obj_type == vocab.TEMPLATE_OBJECT and path == ["template_hash"] and op == "=":
                yield "template_hash", value.lower(), None


def _unquote(quoted: str) -> str:
    s = str(quoted)
    if len(s) >= 2 and s[0] == s[-1] == "'":
        s = s[1:-1]
    return s.replace("\\'", "'").replace("\\\\", "\\")


def _row(i: PartnerIndicator, path: str, fmt: str, trust: float, now: datetime) -> list[Any]:
    return [i.indicator_id, i.kind, i.value, list(i.minhash) if i.minhash else None, i.source, path, fmt,
            round(max(0.0, min(1.0, i.confidence * trust)), 4), i.valid_from, i.valid_until, i.campaign, i.tlp, now]


def active_indicators(store: Store, now: datetime) -> list[PartnerIndicator]:
    """Indicators in the store that have not expired at `now`."""
    ensure_tables(store)
    rows = store.con.execute(
        "SELECT indicator_id, kind, value, source, confidence, valid_from, valid_until, campaign, tlp, minhash "
        "FROM intel_indicators WHERE valid_until IS NULL OR valid_until > ? ORDER BY indicator_id, kind, value",
        [now]).fetchall()
    return [PartnerIndicator(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8],
                             tuple(r[9]) if r[9] is not None else None) for r in rows]
