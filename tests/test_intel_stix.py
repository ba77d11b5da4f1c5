"""STIX 2.1 and MISP export of detected campaigns: golden files, validation, redaction, thresholds."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import stix2
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from pymisp import MISPEvent
from stix2patterns.validator import run_validator

from distillguard.cli import main
from distillguard.errors import InputError, RecordError, UsageError
from distillguard.intel import signatures, vocab
from distillguard.intel.findings import load_findings
from distillguard.intel.misp import build_events, events_json
from distillguard.intel.stix import ExportOptions, build_bundle, bundle_json

HERE = Path(__file__).parent
DETECT_A = HERE / "fixtures" / "intel" / "detect_a"
GOLDEN = HERE / "golden"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
OPTIONS = ExportOptions(provider="Provider A", tlp="amber", attributions={"c1": "Shadow Llama"})


def golden(name: str, text: str) -> None:
    """Compare with tests/golden/NAME; DG_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    if os.environ.get("DG_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; rerun with DG_UPDATE_GOLDEN=1 if intended"


def bundle_text(options: ExportOptions = OPTIONS) -> str:
    return bundle_json(build_bundle(load_findings(DETECT_A), options, NOW)) + "\n"


def by_type(doc: dict, kind: str) -> list[dict]:
    return [o for o in doc["objects"] if o["type"] == kind]


def test_bundle_matches_golden_and_round_trips() -> None:
    text = bundle_text()
    golden("intel_bundle.json", text)
    assert bundle_text() == text  # frozen clock and uuid5 ids: same input, same bytes
    parsed = stix2.parse(text, allow_custom=False)
    assert bundle_json(parsed) + "\n" == text


def test_bundle_content() -> None:
    doc = json.loads(bundle_text())
    [campaign] = by_type(doc, "campaign")
    assert campaign["first_seen"] == "2026-05-01T08:00:00Z" and campaign["last_seen"] == "2026-05-03T22:10:00Z"
    assert campaign["objective"].endswith("reasoning 70%, coding 25%, other 5%")
    assert campaign["confidence"] == 93
    aps = by_type(doc, "attack-pattern")  # the ATLAS chain, in order, each with its tactic
    assert [a["external_references"][0]["external_id"] for a in aps] == [
        "AML.T0008.005", "AML.T0040", "AML.T0065", "AML.T0024.002", "AML.T0048.004"]
    assert aps[3]["external_references"][0] == {"source_name": "mitre-atlas", "external_id": "AML.T0024.002",
                                                "url": "https://atlas.mitre.org/techniques/AML.T0024.002"}
    assert [a["kill_chain_phases"][0]["phase_name"] for a in aps] == [
        "resource-development", "ai-model-access", "resource-development", "exfiltration", "impact"]
    assert all(a["name"] and a["description"] for a in aps)
    assert {"source_name": "mitre-atlas", "external_id": "AML.CS0056",
            "url": "https://atlas.mitre.org/studies/AML.CS0056"} in campaign["external_references"]
    uses = {r["target_ref"] for r in by_type(doc, "relationship")
            if r["source_ref"] == campaign["id"] and r["relationship_type"] == "uses"}
    assert {a["id"] for a in aps} <= uses
    [iset] = by_type(doc, "intrusion-set")
    assert iset["name"] == "Shadow Llama"
    [infra] = by_type(doc, "infrastructure")
    assert infra["infrastructure_types"] == ["anonymization"]
    rels = {(r["source_ref"].split("--")[0], r["relationship_type"], r["target_ref"].split("--")[0])
            for r in by_type(doc, "relationship")}
    assert {("campaign", "uses", "attack-pattern"), ("campaign", "attributed-to", "intrusion-set"),
            ("campaign", "uses", "infrastructure"), ("indicator", "indicates", "campaign"),
            ("indicator", "indicates", "infrastructure")} <= rels
    patterns = sorted(i["pattern"] for i in by_type(doc, "indicator"))
    assert "[ipv4-addr:value = '203.0.113.7']" in patterns
    assert "[ipv4-addr:value ISSUBSET '198.51.100.0/26']" in patterns
    assert "[ipv6-addr:value = '2001:db8::17']" in patterns
    assert "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'OpenAI/Python 1.52.0']" \
        in patterns
    assert not any("192.0.2.99" in p for p in patterns)  # one account only: below --min-indicator-accounts
    for p in patterns:
        assert run_validator(p, stix_version="2.1") == []
    [sighting] = by_type(doc, "sighting")
    assert sighting["count"] == 1240 and sighting["extensions"][vocab.EXTENSION_ID]["accounts"] == 8
    [od] = by_type(doc, "observed-data")
    assert od["number_observed"] == 1240 and len(od["object_refs"]) == 3
    templates = [i for i in by_type(doc, "indicator") if vocab.TEMPLATE_OBJECT in i["pattern"]]
    assert len(templates) == 2
    mh = templates[0]["extensions"][vocab.EXTENSION_ID]["minhash"]
    assert mh["algorithm"] == "dg-minhash-v1" and len(mh["values"]) == signatures.NUM_PERM
    for ind in by_type(doc, "indicator"):  # stix2-validator warning 303: name and description on each
        assert ind["name"] and "campaign c1" in ind["description"], ind["id"]
    # the custom observable of the template patterns is declared by a new-sco extension-definition
    [sco_def] = [e for e in by_type(doc, "extension-definition") if e["extension_types"] == ["new-sco"]]
    assert sco_def["name"] == vocab.TEMPLATE_OBJECT and sco_def["id"] == vocab.TEMPLATE_EXTENSION_ID


def test_fast_json_is_stix2s_pretty_serialization() -> None:
    """`bundle_json` (what `intel export` writes) is stix2's pretty form: same content, spec property order."""
    for options in (OPTIONS, ExportOptions(provider="P", min_accounts=1, include_identifiers=True)):
        bundle = build_bundle(load_findings(DETECT_A), options, NOW)
        text = bundle_json(bundle)
        assert json.loads(text) == json.loads(bundle.serialize(pretty=True))
        for obj in json.loads(text)["objects"]:
            assert list(obj)[:3] == ["type", "spec_version", "id"] or list(obj)[:2] == ["type", "id"], obj
        stix2.parse(text, allow_custom=False)


def test_tlp_marks_every_shared_object() -> None:
    doc = json.loads(bundle_text(ExportOptions(provider="Provider A", tlp="red")))
    red = stix2.TLP_RED.id
    assert any(o["id"] == red for o in doc["objects"])
    project = {vocab.PROJECT_IDENTITY_ID, vocab.EXTENSION_ID}
    for o in doc["objects"]:
        if o["type"] in ("relationship", "indicator", "campaign", "sighting", "observed-data", "identity") \
                and o["id"] not in project:
            assert o["object_marking_refs"] == [red], o["id"]


def test_no_identifiers_or_text_unless_asked() -> None:
    plain = bundle_text(ExportOptions(provider="Provider A"))
    for secret in ("bot-00", "pay-5f3a9c", "step of your reasoning", "Write a Python function"):
        assert secret not in plain
    full = bundle_text(ExportOptions(provider="Provider A", include_identifiers=True))
    for secret in ("bot-00", "pay-5f3a9c", "step of your reasoning"):
        assert secret in full
    stix2.parse(full, allow_custom=False)


def test_min_accounts() -> None:
    findings = load_findings(DETECT_A)
    names = {c["name"] for c in by_type(json.loads(bundle_text()), "campaign")}
    assert names == {"Distillation campaign c1"}
    low = build_bundle(findings, ExportOptions(provider="P", min_accounts=2), NOW)
    assert {o.name for o in low.objects if o.type == "campaign"} == {"Distillation campaign c1",
                                                                     "Distillation campaign c2"}
    none = build_bundle(findings, ExportOptions(provider="P", min_accounts=100), NOW)
    assert not [o for o in none.objects if o.type in ("campaign", "indicator")]
    with pytest.raises(UsageError):
        ExportOptions(tlp="purple")


def test_misp_golden_and_loads_back() -> None:
    text = events_json(build_events(load_findings(DETECT_A), OPTIONS, NOW))
    golden("intel_misp.json", text)
    [item] = json.loads(text)["response"]
    ev = MISPEvent()
    ev.load(item)
    assert {t.name for t in ev.tags} >= {"tlp:amber", 'estimative-language:confidence-in-analytic-judgment="high"'}
    assert {a.type for a in ev.attributes} >= {"campaign-name", "threat-actor", "ip-src", "user-agent"}
    assert [o.name for o in ev.objects] == ["distillguard-prompt-template"] * 2
    assert "bot-00" not in text and "step of your reasoning" not in text


def test_cli_export_is_reproducible(tmp_path: Path) -> None:
    out = tmp_path / "a.json"
    args = ["intel", "export", str(DETECT_A), "--out", str(out), "--provider", "Provider A", "--tlp", "amber",
            "--attribute", "c1=Shadow Llama", "--timestamp", "2026-11-22T12:00:00Z"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "1 of 2 campaigns shared" in res.output
    assert out.read_text() == (GOLDEN / "intel_bundle.json").read_text()
    misp = tmp_path / "a.misp.json"
    res = CliRunner().invoke(main, [*args[:4], str(misp), *args[5:], "--format", "misp"])
    assert res.exit_code == 0 and misp.read_text() == (GOLDEN / "intel_misp.json").read_text()
    bad = CliRunner().invoke(main, ["intel", "export", str(DETECT_A), "--out", str(out), "--attribute", "c1"])
    assert bad.exit_code == 2 and "CAMPAIGN=NAME" in bad.output


def test_bad_detection_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="campaigns.json: missing"):
        load_findings(tmp_path)
    shutil.copytree(DETECT_A, tmp_path / "d")
    (tmp_path / "d" / "campaigns.json").write_text('[{"campaign_id": "x", "accounts": 3}]')
    with pytest.raises(RecordError, match="campaigns.json:1: exchanges: required field is missing"):
        load_findings(tmp_path / "d")
    res = CliRunner().invoke(main, ["intel", "export", str(tmp_path / "d"), "--out", str(tmp_path / "o.json")])
    assert res.exit_code == 2 and "exchanges" in res.output


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=2, max_size=2), st.sampled_from(["Alice", "Bob"]))
def test_signature_ignores_numbers_and_quoted_data(nums: list[int], name: str) -> None:
    a = signatures.signature(f'Solve step by step: what is {nums[0]} + {nums[1]}? Answer "{name}" in JSON.')
    b = signatures.signature('Solve step by step: what is 3 + 4? Answer "x" in JSON.')
    assert a == b
    other = signatures.signature("Write me a poem about the sea and the sky at night, please.")
    assert sum(x == y for x, y in zip(a, other, strict=True)) < signatures.NUM_PERM // 4
