"""Detected campaigns as a STIX 2.1 bundle, built and validated with the OASIS `stix2` library.

Per campaign: a `campaign` (objective = targeted capabilities), `uses` MITRE ATLAS AML.T0024, an
`infrastructure` of type anonymization for its proxy addresses, `indicator`s for addresses, CIDRs, user
agents and prompt-template fingerprints (hashes and MinHash signatures, never text), an `observed-data`
and a `sighting` with counts, an `intrusion-set` when the analyst attributes the campaign, and the
`relationship`s between them. Ids are uuid5 of the provider and the campaign's content, and every
timestamp is `now` or a time from the detection output, so the same input gives the same bundle.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import stix2

from ..errors import UsageError
from . import signatures, vocab
from .findings import CampaignFinding, InfraFinding, TemplateFinding

MAX_COUNT = 999_999_999  # STIX caps sighting counts


@dataclass(frozen=True)
class PartnerSighting:
    """Our traffic matched a partner's indicator: reported back as a `sighting` of it."""

    indicator_id: str
    accounts: int
    exchanges: int
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class ExportOptions:
    """What to share and how to mark it.

    >>> ExportOptions(provider="Example AI", tlp="green", min_accounts=10).tlp
    'green'
    """

    provider: str = "DistillGuard operator"
    tlp: str = "amber"
    min_accounts: int = 5
    min_indicator_accounts: int = 2
    include_identifiers: bool = False
    attributions: dict[str, str] = field(default_factory=dict)
    valid_days: int = 90

    def __post_init__(self) -> None:
        if self.tlp not in vocab.TLP:
            raise UsageError(f"--tlp {self.tlp!r}: choose one of {', '.join(vocab.TLP)}")
        if self.min_accounts < 1 or self.min_indicator_accounts < 1:
            raise UsageError("--min-accounts must be at least 1")


def shared_campaigns(findings: Sequence[CampaignFinding], options: ExportOptions) -> list[CampaignFinding]:
    """The campaigns large enough to share (at least `min_accounts` accounts), in a stable order."""
    return sorted((c for c in findings if c.accounts >= options.min_accounts),
                  key=lambda c: (c.first_seen, c.campaign_id))


def build_bundle(findings: Sequence[CampaignFinding], options: ExportOptions, now: datetime,
                 partner_sightings: Sequence[PartnerSighting] = ()) -> stix2.Bundle:
    """A validated STIX 2.1 bundle for the shareable campaigns (and sightings of partners' indicators)."""
    b = _Builder(options, now)
    for c in shared_campaigns(findings, options):
        b.campaign(c)
    for s in partner_sightings:
        b.add(stix2.Sighting(id=vocab.stix_id("sighting", options.provider, "partner", s.indicator_id),
                             sighting_of_ref=s.indicator_id, count=min(s.exchanges, MAX_COUNT),
                             first_seen=s.first_seen, last_seen=_after(s.first_seen, s.last_seen),
                             where_sighted_refs=[b.identity.id], summary=False,
                             extensions=_ext(accounts=s.accounts, exchanges=s.exchanges), **b.common))
    return stix2.Bundle(objects=b.objects, id=vocab.stix_id("bundle", options.provider, now.isoformat(),
                                                            *sorted(o.id for o in b.objects)))


def atlas_attack_patterns() -> list[stix2.AttackPattern]:
    """The MITRE ATLAS technique chain of a distillation campaign (vocab.ATLAS_CHAIN), as attack-patterns."""
    return [stix2.AttackPattern(
        id=vocab.stix_id("attack-pattern", tid), created=vocab.PROJECT_CREATED, modified=vocab.PROJECT_CREATED,
        created_by_ref=vocab.PROJECT_IDENTITY_ID, name=name, description=description,
        kill_chain_phases=[{"kill_chain_name": "mitre-atlas", "phase_name": tactic}],
        external_references=[{"source_name": "mitre-atlas", "external_id": tid, "url": vocab.ATLAS_URL + tid}],
    ) for tid, name, tactic, description in vocab.ATLAS_CHAIN]


def template_extension_definition() -> stix2.ExtensionDefinition:
    """The new-sco extension-definition declaring the prompt-template observable used in our patterns."""
    return stix2.ExtensionDefinition(
        id=vocab.TEMPLATE_EXTENSION_ID, created=vocab.PROJECT_CREATED, modified=vocab.PROJECT_CREATED,
        created_by_ref=vocab.PROJECT_IDENTITY_ID, name=vocab.TEMPLATE_OBJECT,
        description="A prompt template of an LLM distillation campaign, as a cyber-observable: property "
                    f"template_hash (16 hex digits, {vocab.TEMPLATE_HASH_ALGORITHM}: the hash of the prompt's "
                    "skeleton, with numbers, quoted strings and payload words abstracted). Used in indicator "
                    "patterns; never carries prompt text.",
        schema=vocab.TEMPLATE_EXTENSION_SCHEMA, version=vocab.EXTENSION_VERSION, extension_types=["new-sco"],
    )


def bundle_json(bundle: stix2.Bundle) -> str:
    """The bundle pretty-printed like `bundle.serialize(pretty=True)` (spec property order, 4-space indent), fast.

    stix2's pretty ordering searches the whole object tree once per key (quadratic: 9 s for two campaigns'
    MinHash signatures); here each STIX object keeps its own property order and each plain dict is sorted.
    (stix2 orders a property by where it first finds the same key and value anywhere in the bundle, so a few
    properties may come in another place than there; the content is the same.)
    """
    plain = json.loads(bundle.serialize())

    def order(live: Any, data: Any) -> Any:
        if isinstance(live, stix2.base._STIXBase):
            return {k: order(live[k], v) for k, v in data.items()}
        if isinstance(live, dict):
            keys = sorted(data, key=lambda k: (0, int(k), "") if k.isdigit() else (1, 0, k))
            return {k: order(live[k], data[k]) for k in keys}
        if isinstance(live, list | tuple):
            return [order(a, b) for a, b in zip(live, data, strict=True)]
        return data

    return json.dumps(order(bundle, plain), indent=4, separators=(",", ": "))


def extension_definition() -> stix2.ExtensionDefinition:
    """The extension-definition that carries counts and prompt-template fingerprints (docs/intel.md)."""
    return stix2.ExtensionDefinition(
        id=vocab.EXTENSION_ID, created=vocab.PROJECT_CREATED, modified=vocab.PROJECT_CREATED,
        created_by_ref=vocab.PROJECT_IDENTITY_ID, name=vocab.EXTENSION_NAME,
        description="Counts of accounts and exchanges, targeted capabilities and prompt-template "
                    "fingerprints (skeleton hashes and dg-minhash-v1 signatures) of LLM distillation "
                    "campaigns. Never prompt text or customer identifiers unless the sender opted in.",
        schema=vocab.EXTENSION_SCHEMA, version=vocab.EXTENSION_VERSION, extension_types=["property-extension"],
    )


def project_identity() -> stix2.Identity:
    """The DistillGuard project, author of the extension-definition."""
    return stix2.Identity(id=vocab.PROJECT_IDENTITY_ID, created=vocab.PROJECT_CREATED,
                          modified=vocab.PROJECT_CREATED, name=vocab.PROJECT_NAME, identity_class="organization")


class _Builder:
    def __init__(self, options: ExportOptions, now: datetime) -> None:
        self.o = options
        self.now = now
        self.marking = vocab.TLP[options.tlp]
        self.objects: list[Any] = []
        self._ids: set[str] = set()
        self.identity = stix2.Identity(
            id=vocab.stix_id("identity", options.provider), created=now, modified=now,
            name=options.provider, identity_class="organization", sectors=["technology"],
            object_marking_refs=[self.marking.id])
        self.common: dict[str, Any] = {"created": now, "modified": now, "created_by_ref": self.identity.id,
                                       "object_marking_refs": [self.marking.id]}
        for obj in (self.marking, project_identity(), extension_definition(), template_extension_definition(),
                    self.identity, *atlas_attack_patterns()):
            self.add(obj)
        self.attack_pattern_ids = [vocab.stix_id("attack-pattern", tid) for tid, *_ in vocab.ATLAS_CHAIN]

    def add(self, obj: Any) -> Any:
        if obj.id not in self._ids:
            self._ids.add(obj.id)
            self.objects.append(obj)
        return obj

    def rel(self, src: str, kind: str, dst: str) -> None:
        self.add(stix2.Relationship(id=vocab.stix_id("relationship", self.o.provider, src, kind, dst),
                                    source_ref=src, relationship_type=kind, target_ref=dst, **self.common))

    def campaign(self, c: CampaignFinding) -> None:
        key = (self.o.provider, c.campaign_id, c.first_seen.isoformat())
        props: dict[str, Any] = {"accounts": c.accounts, "exchanges": c.exchanges,
                                 "capabilities": {k: round(v, 4) for k, v in sorted(c.capabilities.items())},
                                 "evidence_signals": list(c.signals)}
        if self.o.include_identifiers:
            props["account_ids"] = list(c.account_ids)
            props["payment_fingerprints"] = [r.value for r in c.infrastructure if r.kind == "payment"]
        last_seen = _after(c.first_seen, c.last_seen)
        camp = self.add(stix2.Campaign(
            id=vocab.stix_id("campaign", *key), name=f"Distillation campaign {c.campaign_id}",
            description=f"Capability-extraction (model distillation) campaign seen by {self.o.provider}: "
                        f"{c.accounts} accounts, {c.exchanges} exchanges. MITRE ATLAS technique chain: "
                        + " -> ".join(f"{tid} {name}" for tid, name, *_ in vocab.ATLAS_CHAIN)
                        + f"; see case study {vocab.ATLAS_CASE_STUDY}.",
            objective=_objective(c.capabilities), first_seen=c.first_seen, last_seen=last_seen,
            confidence=_confidence(c.confidence), extensions=_ext(**props),
            external_references=[{"source_name": "mitre-atlas", "external_id": vocab.ATLAS_CASE_STUDY,
                                  "url": vocab.ATLAS_CASE_STUDY_URL + vocab.ATLAS_CASE_STUDY}], **self.common))
        for ap in self.attack_pattern_ids:
            self.rel(camp.id, "uses", ap)
        actor = self.o.attributions.get(c.campaign_id)
        if actor:
            iset = self.add(stix2.IntrusionSet(id=vocab.stix_id("intrusion-set", self.o.provider, actor),
                                               name=actor, **self.common))
            self.rel(camp.id, "attributed-to", iset.id)
            for ap in self.attack_pattern_ids:
                self.rel(iset.id, "uses", ap)
        valid = {"valid_from": c.first_seen, "valid_until": self.now + timedelta(days=self.o.valid_days),
                 "confidence": _confidence(c.confidence)}
        rows = [r for r in c.infrastructure if r.accounts >= self.o.min_indicator_accounts]
        net = [r for r in rows if r.kind in ("ip", "cidr") and _network(r.value)]
        infra_id = None
        if net:
            infra_id = self.add(stix2.Infrastructure(
                id=vocab.stix_id("infrastructure", *key), name=f"Proxy network of campaign {c.campaign_id}",
                infrastructure_types=["anonymization"], first_seen=c.first_seen, last_seen=last_seen,
                description=f"{len(net)} proxy addresses or ranges shared by the campaign's accounts.",
                **self.common)).id
            self.rel(camp.id, "uses", infra_id)
        for r in rows:
            ind = self._infra_indicator(c, r, valid)
            if ind is not None:
                self.rel(ind.id, "indicates", camp.id)
                if infra_id and r.kind in ("ip", "cidr"):
                    self.rel(ind.id, "indicates", infra_id)
        for t in c.templates:
            if t.accounts >= self.o.min_indicator_accounts and (not t.example or signatures.specific(t.example)):
                ind = self._template_indicator(c, t, valid)
                self.rel(ind.id, "indicates", camp.id)
        self._observed(c, camp.id, net)

    def _infra_indicator(self, c: CampaignFinding, r: InfraFinding, valid: dict[str, Any]) -> Any:
        if r.kind in ("ip", "cidr"):
            net = _network(r.value)
            if net is None:
                return None
            sco = "ipv4-addr" if net.version == 4 else "ipv6-addr"
            value = str(net) if r.kind == "cidr" or net.num_addresses > 1 else str(net.network_address)
            op = "ISSUBSET" if "/" in value else "="
            pattern, name, types = f"[{sco}:value {op} '{value}']", f"Proxy address {value}", ["anonymization"]
            what = f"Source {'range' if '/' in value else 'address'} {value}"
        elif r.kind == "user_agent":
            pattern = f"[network-traffic:{vocab.UA_PATH} = '{_quote(r.value)}']"
            name, types = f"User agent {r.value[:80]}", ["anomalous-activity"]
            what = "User agent"
        else:
            return None
        description = (f"{what} of {r.accounts} accounts ({r.exchanges} exchanges) of distillation campaign "
                       f"{c.campaign_id}; shared by several of its accounts, so likely its proxy or client tooling.")
        return self.add(stix2.Indicator(
            id=vocab.stix_id("indicator", self.o.provider, c.campaign_id, r.kind, r.value), name=name,
            description=description,
            pattern=pattern, pattern_type="stix", indicator_types=types,
            extensions=_ext(accounts=r.accounts, exchanges=r.exchanges), **valid, **self.common))

    def _template_indicator(self, c: CampaignFinding, t: TemplateFinding, valid: dict[str, Any]) -> Any:
        h = vocab.template_hash_hex(t.template_id)
        props: dict[str, Any] = {
            "template_hash": h, "template_hash_algorithm": vocab.TEMPLATE_HASH_ALGORITHM,
            "accounts": t.accounts, "exchanges": t.exchanges,
        }
        if t.example:
            props["minhash"] = {"algorithm": signatures.ALGORITHM, "num_perm": signatures.NUM_PERM,
                                "seed": signatures.SEED, "values": signatures.signature(t.example)}
            if self.o.include_identifiers:
                props["example"] = t.example
        return self.add(stix2.Indicator(
            id=vocab.stix_id("indicator", self.o.provider, c.campaign_id, "template", h),
            name=f"Prompt template {h}", indicator_types=["anomalous-activity"],
            description=f"Prompt template used by {t.accounts} accounts ({t.exchanges} exchanges) of distillation "
                        f"campaign {c.campaign_id}. Matched by its skeleton hash ({vocab.TEMPLATE_HASH_ALGORITHM}) "
                        "or by the MinHash signature in the extension; the template text is not shared.",
            pattern=f"[{vocab.TEMPLATE_OBJECT}:template_hash = '{h}']", pattern_type="stix",
            extensions=_ext(**props), **valid, **self.common))

    def _observed(self, c: CampaignFinding, campaign_id: str, net: list[InfraFinding]) -> None:
        last_seen = _after(c.first_seen, c.last_seen)
        refs = []
        for r in net:
            n = _network(r.value)
            assert n is not None
            cls = stix2.IPv4Address if n.version == 4 else stix2.IPv6Address
            value = str(n) if r.kind == "cidr" or n.num_addresses > 1 else str(n.network_address)
            refs.append(self.add(cls(value=value)).id)
        od_refs = []
        if refs:
            od = self.add(stix2.ObservedData(
                id=vocab.stix_id("observed-data", self.o.provider, c.campaign_id, c.first_seen.isoformat()),
                first_observed=c.first_seen, last_observed=last_seen, number_observed=min(c.exchanges, MAX_COUNT)
                or 1, object_refs=refs, extensions=_ext(accounts=c.accounts, exchanges=c.exchanges),
                **self.common))
            od_refs = [od.id]
        self.add(stix2.Sighting(
            id=vocab.stix_id("sighting", self.o.provider, campaign_id), sighting_of_ref=campaign_id,
            count=min(c.exchanges, MAX_COUNT), first_seen=c.first_seen, last_seen=last_seen,
            where_sighted_refs=[self.identity.id], summary=True, **({"observed_data_refs": od_refs} if od_refs
                                                                    else {}),
            extensions=_ext(accounts=c.accounts, exchanges=c.exchanges), **self.common))


def _ext(**props: Any) -> dict[str, Any]:
    return {vocab.EXTENSION_ID: {"extension_type": "property-extension", **props}}


def _objective(caps: dict[str, float]) -> str:
    parts = [f"{k.replace('_', ' ')} {round(100 * v)}%" for k, v in sorted(caps.items(), key=lambda kv: -kv[1])
             if v > 0]
    return "Extract the model's capabilities by distillation" + (f": {', '.join(parts)}" if parts else "")


def _confidence(x: float) -> int:
    return max(0, min(100, round(100 * x)))


def _after(first: datetime, last: datetime) -> datetime:
    # STIX requires last_seen > first_seen (strictly, for sightings); a one-instant campaign gets 1 s.
    return last if last > first else first + timedelta(seconds=1)


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
