"""Fixed names and identifiers of DistillGuard's threat-intelligence vocabulary.

Everything a partner needs to read what we share is pinned here: the STIX extension-definition for
prompt-template fingerprints (documented in docs/intel.md), the MITRE ATLAS technique, the TLP markings
and the namespace from which every deterministic STIX id is derived.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import stix2

# Every id we mint is uuid5(NAMESPACE, key): the same campaign exported twice keeps its ids.
NAMESPACE = uuid.UUID("6f1d2c4e-8a53-5b1e-9c3d-2f0e7a9b4d10")

PROJECT_IDENTITY_ID = "identity--0b6c7f0e-3c1a-5d8e-9f20-5a1d7e3c9b41"
PROJECT_NAME = "DistillGuard project"
PROJECT_CREATED = datetime(2026, 11, 22, tzinfo=UTC)

EXTENSION_ID = "extension-definition--9d3c1a7e-52b4-5f0a-8c6e-1e2f3a4b5c6d"
EXTENSION_NAME = "DistillGuard distillation-campaign fingerprints"
EXTENSION_VERSION = "1.0.0"
EXTENSION_SCHEMA = "https://github.com/distillguard/distillguard/blob/main/docs/intel.md#stix-extension"

# A custom cyber-observable type used only inside indicator patterns.
TEMPLATE_OBJECT = "x-distillguard-prompt-template"
TEMPLATE_HASH_ALGORITHM = "distillguard-skeleton-v1"

# The extension-definition (new-sco) that declares TEMPLATE_OBJECT, so strict consumers know the type.
TEMPLATE_EXTENSION_ID = "extension-definition--9f72081a-4440-58ab-b9c3-3b8a0b36e473"
TEMPLATE_EXTENSION_SCHEMA = "https://github.com/distillguard/distillguard/blob/main/docs/intel.md#prompt-template-observable"

# MITRE ATLAS (2026): the technique chain of a distillation campaign, in the order an adversary goes through
# it, each as (id, name, ATLAS tactic = STIX kill-chain phase, description); and the case study it follows.
ATLAS_CHAIN = (
    ("AML.T0008.005", "AI Service Proxies", "resource-development",
     "Adversaries acquire proxy services and many accounts to spread their queries to an AI service and evade "
     "per-account limits and attribution."),
    ("AML.T0040", "AI Model Inference API Access", "ai-model-access",
     "Adversaries use the victim's public inference API as their access to the model."),
    ("AML.T0065", "LLM Prompt Crafting", "resource-development",
     "Adversaries craft prompt templates (wrappers around benchmark items, chain-of-thought and rubric "
     "instructions) that elicit the model's capabilities at scale."),
    ("AML.T0024.002", "Extract AI Model", "exfiltration",
     "Adversaries harvest the model's outputs through its inference API to train (distil) a functionally "
     "equivalent model."),
    ("AML.T0048.004", "AI Intellectual Property Theft", "impact",
     "The extracted capabilities are the provider's intellectual property: the adversary gains a competing "
     "model without bearing its training cost."),
)
ATLAS_CASE_STUDY = "AML.CS0056"
ATLAS_URL = "https://atlas.mitre.org/techniques/"
ATLAS_CASE_STUDY_URL = "https://atlas.mitre.org/studies/"

UA_PATH = "extensions.'http-request-ext'.request_header.'User-Agent'"

# TLP 1.0 markings as shipped by stix2; "clear" is TLP 2.0's name for white.
TLP = {
    "clear": stix2.TLP_WHITE,
    "white": stix2.TLP_WHITE,
    "green": stix2.TLP_GREEN,
    "amber": stix2.TLP_AMBER,
    "red": stix2.TLP_RED,
}
TLP_BY_ID = {m.id: name for name, m in TLP.items() if name != "clear"}

# How much one partner indicator of each kind says about an account, before the source's confidence:
# prompt templates are specific to a campaign; addresses and user agents are shared with bystanders.
KIND_WEIGHT = {
    "template_hash": 1.0,
    "minhash": 0.9,
    "ip": 0.6,
    "cidr": 0.4,
    "user_agent": 0.3,
}
KINDS = tuple(KIND_WEIGHT)


def stix_id(kind: str, *key: object) -> str:
    """A deterministic STIX id `kind--uuid5(NAMESPACE, key)`."""
    return f"{kind}--{uuid.uuid5(NAMESPACE, '|'.join(str(k) for k in key))}"


def template_hash_hex(template_id: int) -> str:
    """The shared form of a DistillGuard template id: 16 hex digits of its 64-bit value."""
    return format(int(template_id) & 0xFFFF_FFFF_FFFF_FFFF, "016x")
