"""Threat-intelligence sharing: campaigns out as STIX 2.1 / MISP, partners' indicators in, TAXII 2.1 out.

    findings = load_findings("out/detect")                       # detection output folder
    bundle = build_bundle(findings, ExportOptions(tlp="amber"), now)   # validated stix2.Bundle
    import_files(store, ["partner.json"], now)                   # -> intel_indicators table
    matches = match_indicators(store, now)                       # our traffic vs partners' indicators
    evidence = account_evidence(matches)                         # account_id -> partner_score
"""

from __future__ import annotations

from .enrich import EnrichSummary, enrich_detection
from .findings import CampaignFinding, InfraFinding, TemplateFinding, load_findings
from .importer import ImportSummary, PartnerIndicator, active_indicators, import_files
from .matching import account_evidence, match_indicators, partner_sightings
from .stix import ExportOptions, PartnerSighting, build_bundle

__all__ = [
    "CampaignFinding",
    "EnrichSummary",
    "ExportOptions",
    "ImportSummary",
    "InfraFinding",
    "PartnerIndicator",
    "PartnerSighting",
    "TemplateFinding",
    "account_evidence",
    "active_indicators",
    "build_bundle",
    "enrich_detection",
    "import_files",
    "load_findings",
    "match_indicators",
    "partner_sightings",
]
