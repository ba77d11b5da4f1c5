"""Indicators out of MISP events: addresses, user agents and DistillGuard prompt-template objects.

Accepts a single event (`{"Event": …}`), MISP's REST list (`{"response": [{"Event": …}]}`) or a JSON list
of events. An attribute's uuid becomes the STIX id `indicator--<uuid>` (as MISP's own STIX export does),
so a match can be reported back as a STIX `sighting` of it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymisp import MISPEvent

from . import vocab
from .indicators import DEFAULT_CONFIDENCE, PartnerIndicator
from .misp import CONFIDENCE_VALUES, TEMPLATE_OBJECT_NAME

IP_TYPES = ("ip-src", "ip-dst")


def is_misp(doc: Any) -> bool:
    """Whether a parsed JSON document looks like MISP event(s)."""
    if isinstance(doc, dict):
        return "Event" in doc or isinstance(doc.get("response"), list)
    return isinstance(doc, list) and bool(doc) and isinstance(doc[0], dict) and "Event" in doc[0]


def read_events(doc: Any, now: datetime, valid_days: int) -> tuple[list[PartnerIndicator], list[str],
                                                                   int, list[str]]:
    """Indicators of MISP event(s), the ids they revoke (deleted attributes), the attribute count, skips."""
    raw = doc.get("response") if isinstance(doc, dict) and "response" in doc else doc
    events = raw if isinstance(raw, list) else [raw]
    out: list[PartnerIndicator] = []
    revoked: list[str] = []
    skipped: list[str] = []
    objects = 0
    for n, item in enumerate(events):
        ev = MISPEvent()
        try:
            ev.load(item)
        except Exception as e:  # pymisp raises assorted errors on malformed events; skip that event only
            skipped.append(f"event {n}: {e}")
            continue
        org = getattr(ev, "Orgc", None) or getattr(ev, "Org", None)
        source = getattr(org, "name", None) or "unknown"
        tags = [t.name for t in ev.tags]
        tlp = next((t.split(":", 1)[1] for t in tags if t.startswith("tlp:")), None)
        confidence = next((CONFIDENCE_VALUES[v] for t in tags for v in CONFIDENCE_VALUES
                           if t.startswith("estimative-language:confidence") and f'"{v}"' in t),
                          DEFAULT_CONFIDENCE)
        campaign = next((str(a.value) for a in ev.attributes if a.type == "campaign-name"), ev.info)
        base = {"source": source, "confidence": confidence, "valid_from": None,
                "valid_until": now + timedelta(days=valid_days), "campaign": campaign, "tlp": tlp}
        for a in ev.attributes:
            objects += 1
            iid = f"indicator--{a.uuid}"
            if getattr(a, "deleted", False):
                revoked.append(iid)
            elif a.type in IP_TYPES:
                value = str(a.value)
                out.append(PartnerIndicator(iid, "cidr" if "/" in value else "ip", value, **base))
            elif a.type == "user-agent":
                out.append(PartnerIndicator(iid, "user_agent", str(a.value), **base))
        for o in ev.objects:
            objects += 1
            if o.name != TEMPLATE_OBJECT_NAME:
                continue
            vals = {a.object_relation: str(a.value) for a in o.attributes}
            h = vals.get("template-hash", "").lower()
            if not h:
                skipped.append(f"object {o.uuid}: no template-hash")
                continue
            iid = f"indicator--{o.uuid}"
            if vals.get("hash-algorithm", vocab.TEMPLATE_HASH_ALGORITHM) == vocab.TEMPLATE_HASH_ALGORITHM:
                out.append(PartnerIndicator(iid, "template_hash", h, **base))
            if vals.get("minhash") and vals.get("minhash-algorithm") == "dg-minhash-v1":
                sig = tuple(int(v) for v in vals["minhash"].split())
                out.append(PartnerIndicator(iid, "minhash", h, minhash=sig, **base))
    return out, revoked, objects, skipped
