"""Detected campaigns as MISP events (built with `pymisp`), for teams that run MISP.

One event per shareable campaign (same selection and redaction as the STIX export): TLP and MITRE ATLAS
tags, a confidence tag from the estimative-language taxonomy, `ip-src` attributes for proxy addresses
and ranges, `user-agent` attributes, and one `distillguard-prompt-template` object per template carrying
its skeleton hash and dg-minhash-v1 signature. The file is MISP's REST shape `{"response": [{"Event": …}]}`.
UUIDs are uuid5 of the provider and campaign content, so the same input gives the same file.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymisp import MISPEvent, MISPObject, MISPOrganisation

from . import signatures, vocab
from .findings import CampaignFinding
from .stix import ExportOptions, shared_campaigns

TEMPLATE_OBJECT_NAME = "distillguard-prompt-template"
TEMPLATE_OBJECT = {
    "name": TEMPLATE_OBJECT_NAME,
    "uuid": "3f0c9a52-7e1d-5b6a-8c2f-4d9e0a1b2c3d",
    "version": 1,
    "meta-category": "misc",
    "description": "Fingerprint of a prompt template sent by an LLM distillation campaign (hashes, never text).",
    "attributes": {
        "template-hash": {"misp-attribute": "text", "ui-priority": 1,
                          "description": "16 hex digits of the DistillGuard skeleton hash"},
        "hash-algorithm": {"misp-attribute": "text", "ui-priority": 0, "description": "e.g. distillguard-skeleton-v1"},
        "minhash": {"misp-attribute": "text", "ui-priority": 0,
                    "description": "space-separated uint32 MinHash values (dg-minhash-v1)"},
        "minhash-algorithm": {"misp-attribute": "text", "ui-priority": 0, "description": "e.g. dg-minhash-v1"},
        "exchanges": {"misp-attribute": "counter", "ui-priority": 0, "description": "exchanges seen"},
        "accounts": {"misp-attribute": "counter", "ui-priority": 0, "description": "accounts seen"},
        "example": {"misp-attribute": "text", "ui-priority": 0, "description": "redacted example (opt-in)"},
    },
    "required": ["template-hash"],
}
CONFIDENCE_TAGS = (
    (0.8, 'estimative-language:confidence-in-analytic-judgment="high"'),
    (0.5, 'estimative-language:confidence-in-analytic-judgment="moderate"'),
    (0.0, 'estimative-language:confidence-in-analytic-judgment="low"'),
)
CONFIDENCE_VALUES = {"high": 0.9, "moderate": 0.6, "low": 0.3}
ATLAS_TAGS = tuple(f'misp-galaxy:mitre-atlas-attack-pattern="{name} - {tid}"' for tid, name, *_ in vocab.ATLAS_CHAIN)


def build_events(findings: Sequence[CampaignFinding], options: ExportOptions, now: datetime) -> list[MISPEvent]:
    """One MISP event per shareable campaign."""
    return [_event(c, options, now) for c in shared_campaigns(findings, options)]


def events_json(events: Sequence[MISPEvent]) -> str:
    """The events as MISP REST JSON, keys sorted so the same events give the same text."""
    doc = {"response": [{"Event": json.loads(e.to_json())} for e in events]}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _event(c: CampaignFinding, o: ExportOptions, now: datetime) -> MISPEvent:
    key = (o.provider, c.campaign_id, c.first_seen.isoformat())
    ev = MISPEvent()
    ev.uuid = _uuid("event", *key)
    ev.info = f"Distillation campaign {c.campaign_id} ({o.provider}): {c.accounts} accounts, {c.exchanges} exchanges"
    ev.date = c.first_seen.date()
    ev.threat_level_id = 2
    ev.analysis = 2
    ev.distribution = 0
    ev.timestamp = now
    org = MISPOrganisation()
    org.name = o.provider
    org.uuid = _uuid("org", o.provider)
    ev.Orgc = org
    ev.add_tag(f"tlp:{o.tlp}")
    for tag in ATLAS_TAGS:
        ev.add_tag(tag)
    ev.add_tag(next(tag for floor, tag in CONFIDENCE_TAGS if c.confidence >= floor))
    seen = {"first_seen": c.first_seen, "last_seen": max(c.first_seen, c.last_seen), "timestamp": now}
    _attr(ev, key, "campaign-name", f"Distillation campaign {c.campaign_id}", category="Attribution",
          to_ids=False, **seen)
    actor = o.attributions.get(c.campaign_id)
    if actor:
        _attr(ev, key, "threat-actor", actor, category="Attribution", to_ids=False, timestamp=now)
    caps = ", ".join(f"{k} {round(100 * v)}%" for k, v in sorted(c.capabilities.items(), key=lambda kv: -kv[1]))
    _attr(ev, key, "comment", f"targeted capabilities: {caps}; evidence: {', '.join(c.signals)}",
          category="Other", to_ids=False, timestamp=now)
    for r in c.infrastructure:
        if r.accounts < o.min_indicator_accounts:
            continue
        comment = f"{r.accounts} accounts, {r.exchanges} exchanges"
        if r.kind in ("ip", "cidr"):
            _attr(ev, key, "ip-src", r.value, category="Network activity", comment=comment, **seen)
        elif r.kind == "user_agent":
            _attr(ev, key, "user-agent", r.value, category="Network activity", comment=comment, **seen)
        elif r.kind == "payment" and o.include_identifiers:
            _attr(ev, key, "text", r.value, category="Financial fraud", to_ids=False,
                  comment=f"payment fingerprint; {comment}", timestamp=now)
    if o.include_identifiers:
        for acct in c.account_ids:
            _attr(ev, key, "text", acct, category="Other", to_ids=False, comment="account id", timestamp=now)
    for t in c.templates:
        if t.accounts < o.min_indicator_accounts or (t.example and not signatures.specific(t.example)):
            continue
        h = vocab.template_hash_hex(t.template_id)
        obj = MISPObject(TEMPLATE_OBJECT_NAME, standalone=False, misp_objects_template_custom=TEMPLATE_OBJECT)
        obj.uuid = _uuid("object", *key, h)
        obj.timestamp = now
        obj.add_attribute("template-hash", value=h)
        obj.add_attribute("hash-algorithm", value=vocab.TEMPLATE_HASH_ALGORITHM)
        if t.example:
            obj.add_attribute("minhash", value=" ".join(map(str, signatures.signature(t.example))))
            obj.add_attribute("minhash-algorithm", value=signatures.ALGORITHM)
            if o.include_identifiers:
                obj.add_attribute("example", value=t.example)
        obj.add_attribute("exchanges", value=t.exchanges)
        obj.add_attribute("accounts", value=t.accounts)
        for a in obj.attributes:
            a.uuid = _uuid("object-attribute", obj.uuid, a.object_relation)
            a.timestamp = now
        ev.add_object(obj)
    return ev


def _attr(ev: MISPEvent, key: tuple[str, ...], type_: str, value: str, **kw: Any) -> None:
    a = ev.add_attribute(type_, value, **kw)
    a.uuid = _uuid("attribute", *key, type_, value)


def _uuid(*key: str) -> str:
    return str(uuid.uuid5(vocab.NAMESPACE, "|".join(("misp", *key))))
