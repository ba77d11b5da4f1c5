"""Threat-intelligence sharing: campaigns out as STIX 2.1 / MISP, partners' indicators in, TAXII 2.1 out.

    findings = load_findings("out/detect")                       # detection output folder
    bundle = build_bundle(findings, ExportOptions(tlp="amber"), now)   # validated stix2.Bundle
    import_files(store, ["partner.json"], now)                   # -> intel_indicators table
    matches = match_indicators(store, now)                       # our traffic vs partners' indicators
"""

from __future__ import annotations

from .findings import CampaignFinding, InfraFinding, TemplateFinding, load_findings
from .importer import ImportSummary, PartnerIndicator, active_indicators, import_files
from .stix import ExportOptions, PartnerSighting, build_bundle

__all__ = [
    "CampaignFinding",
    "ExportOptions",
    "ImportSummary",
    "InfraFinding",
    "PartnerIndicator",
    "PartnerSighting",
    "TemplateFinding",
    "active_indicators",
    "build_bundle",
    "import_files",
    "load_findings",
]
