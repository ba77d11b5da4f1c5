"""Partner indicators in (STIX and MISP), matched against our traffic, folded into detection, sighted back."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from distillguard.cli import main
from distillguard.errors import InputError
from distillguard.ingest import ingest_logs
from distillguard.intel import vocab
from distillguard.intel.enrich import BACKUP, enrich_detection
from distillguard.intel.findings import load_findings
from distillguard.intel.importer import active_indicators, import_file, import_files
from distillguard.intel.matching import account_evidence, match_indicators, partner_sightings
from distillguard.intel.misp import build_events, events_json
from distillguard.intel.stix import ExportOptions, build_bundle
from distillguard.store import Store

HERE = Path(__file__).parent
DETECT_A = HERE / "fixtures" / "intel" / "detect_a"
SAMPLE = HERE.parent / "src" / "distillguard" / "data" / "sample_exchanges.jsonl"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
PARTNER = {
    "type": "bundle", "id": "bundle--5d0f2c1e-8f7a-4c1b-9f3e-2a6b7c8d9e0f",
    "objects": [
        {"type": "identity", "spec_version": "2.1", "id": "identity--a1b2c3d4-0000-4000-8000-000000000001",
         "created": "2026-06-01T00:00:00Z", "modified": "2026-06-01T00:00:00Z", "name": "Other Lab"},
        {"type": "campaign", "spec_version": "2.1", "id": "campaign--a1b2c3d4-0000-4000-8000-000000000002",
         "created": "2026-06-01T00:00:00Z", "modified": "2026-06-01T00:00:00Z", "name": "Op Harvest"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--a1b2c3d4-0000-4000-8000-000000000003",
         "created": "2026-06-01T00:00:00Z", "modified": "2026-06-01T00:00:00Z", "confidence": 80,
         "created_by_ref": "identity--a1b2c3d4-0000-4000-8000-000000000001",
         "pattern": "[ipv4-addr:value = '198.51.100.10'] OR [ipv6-addr:value ISSUBSET '2001:db8:ff::/48']",
         "pattern_type": "stix", "valid_from": "2026-06-01T00:00:00Z", "valid_until": "2027-06-01T00:00:00Z"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--a1b2c3d4-0000-4000-8000-000000000004",
         "created": "2026-06-01T00:00:00Z", "modified": "2026-06-01T00:00:00Z",
         "pattern": "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'it\\'s-ua']",
         "pattern_type": "stix", "valid_from": "2026-06-01T00:00:00Z", "valid_until": "2026-07-01T00:00:00Z"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--a1b2c3d4-0000-4000-8000-000000000005",
         "created": "2026-06-01T00:00:00Z", "modified": "2026-06-01T00:00:00Z",
         "pattern": "title: x\ndetection: y", "pattern_type": "sigma", "valid_from": "2026-06-01T00:00:00Z"},
        {"type": "relationship", "spec_version": "2.1", "id": "relationship--a1b2c3d4-0000-4000-8000-000000000006",
         "created": "2026-06-01T00:00:00Z", "modified": "2026-06-01T00:00:00Z", "relationship_type": "indicates",
         "source_ref": "indicator--a1b2c3d4-0000-4000-8000-000000000003",
         "target_ref": "campaign--a1b2c3d4-0000-4000-8000-000000000002"},
        {"type": "x-unknown-thing", "id": "x-unknown-thing--a1b2c3d4-0000-4000-8000-000000000007"},
    ],
}


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, Path]:
    findings = load_findings(DETECT_A)
    options = ExportOptions(provider="Provider A")
    stix_path, misp_path = tmp_path / "a.json", tmp_path / "a.misp.json"
    stix_path.write_text(build_bundle(findings, options, NOW).serialize(pretty=True))
    misp_path.write_text(events_json(build_events(findings, options, NOW)))
    return stix_path, misp_path


@pytest.fixture
def store_b(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "b.duckdb")
    ingest_logs(store, [str(SAMPLE)])
    yield store
    store.close()


def test_import_stix_and_misp(tmp_path: Path, exported: tuple[Path, Path]) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        a, b = import_files(store, exported, NOW, trust=0.5)
        assert (a.format, a.indicators, a.skipped) == ("stix", 8, ())
        assert (b.format, b.indicators) == ("misp", 8)
        inds = active_indicators(store, NOW)
        kinds = sorted({(i.kind, i.value) for i in inds})
        assert ("cidr", "198.51.100.0/26") in kinds and ("user_agent", "OpenAI/Python 1.52.0") in kinds
        assert {i.source for i in inds} == {"Provider A"}
        assert {i.tlp for i in inds} == {"amber"}
        stix_conf = {i.confidence for i in inds if not i.indicator_id.startswith("indicator--") or i.valid_from}
        assert stix_conf == {0.465}  # campaign confidence 0.93 x trust 0.5
        again = import_files(store, exported, NOW)  # idempotent: rows replaced, not duplicated
        assert [s.indicators for s in again] == [8, 8] and len(active_indicators(store, NOW)) == 16
        assert all(i.minhash and len(i.minhash) == 64 for i in inds if i.kind == "minhash")


def test_import_foreign_bundle_and_revocation(tmp_path: Path) -> None:
    path = tmp_path / "partner.json"
    path.write_text(json.dumps(PARTNER))
    with Store.open(tmp_path / "s.duckdb") as store:
        s = import_file(store, path, NOW)
        assert s.objects == 7 and s.indicators == 3
        assert len(s.skipped) == 1 and "sigma" not in s.skipped[0] and "no address" in s.skipped[0]
        live = {(i.kind, i.value, i.confidence, i.source, i.campaign) for i in active_indicators(store, NOW)}
        assert live == {("ip", "198.51.100.10", 0.8, "Other Lab", "Op Harvest"),
                        ("cidr", "2001:db8:ff::/48", 0.8, "Other Lab", "Op Harvest")}  # the UA one expired
        june = {(i.kind, i.value) for i in active_indicators(store, datetime(2026, 6, 15, tzinfo=UTC))}
        assert ("user_agent", "it's-ua") in june
        revoked = json.loads(json.dumps(PARTNER))
        ind = revoked["objects"][2]
        ind.update(revoked=True, modified="2026-07-01T00:00:00Z")
        path.write_text(json.dumps(revoked))
        assert import_file(store, path, NOW).revoked == 1
        assert not [i for i in active_indicators(store, NOW) if i.indicator_id == ind["id"]]
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    with Store.open(":memory:") as store, pytest.raises(InputError, match="neither a STIX"):
        import_file(store, bad, NOW)


def test_match_fold_and_sight_back(tmp_path: Path, store_b: Store, exported: tuple[Path, Path]) -> None:
    import_files(store_b, exported, NOW)
    matches = match_indicators(store_b, NOW)
    kinds = {r["kind"]: r for r in matches.to_pylist()}
    assert set(kinds) == {"cidr", "minhash"}  # sample traffic: 198.51.100.x clients and the bots' template
    bots = {r["account_id"] for r in matches.to_pylist() if r["kind"] == "minhash"}
    assert bots == {f"bot-0{i}" for i in range(5)}
    assert all(r["similarity"] == 1.0 for r in matches.to_pylist())
    evidence = {r["account_id"]: r for r in account_evidence(matches).to_pylist()}
    # STIX and MISP copies of one indicator count once: 0.9 weight x 0.93 confidence
    assert evidence["bot-00"]["partner_score"] == pytest.approx(0.9 * 0.93)
    assert evidence["acct-000"]["partner_score"] == pytest.approx(0.4 * 0.93)
    stored = store_b.con.execute("SELECT count(*) FROM intel_matches").fetchall()[0][0]
    assert stored == matches.num_rows

    # B's own detection missed the bots; partner evidence flags them, not the legitimate 198.51.100.x users
    detect_b = tmp_path / "detect_b"
    detect_b.mkdir()
    ids = [r[0] for r in store_b.con.execute("SELECT DISTINCT account_id FROM exchanges ORDER BY 1").fetchall()]
    with (detect_b / "accounts.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["account_id", "score", "flagged", "campaign_id", "reasons"])
        w.writerow(["zz-known", "0.7", "true", "b1", "shared-template"])
        w.writerows([a, "0.1", "false", "", ""] for a in ids)
    s = enrich_detection(detect_b, account_evidence(matches), matches)
    assert s.threshold == 0.7 and s.newly_flagged == 5
    with (detect_b / "accounts.csv").open() as f:
        rows = {r["account_id"]: r for r in csv.DictReader(f)}
    assert rows["bot-00"]["flagged"] == "true" and rows["bot-00"]["reasons"] == "partner-indicator"
    assert rows["acct-000"]["flagged"] == "false" and rows["acct-000"]["reasons"] == "partner-indicator"
    assert (detect_b / BACKUP).is_file() and (detect_b / "partner_matches.csv").is_file()
    assert enrich_detection(detect_b, account_evidence(matches), matches).newly_flagged == 5  # from the backup

    sightings = partner_sightings(store_b)
    bundle = build_bundle(load_findings(DETECT_A), ExportOptions(provider="Provider B"), NOW, sightings)
    back = [o for o in bundle.objects if o.type == "sighting" and o.sighting_of_ref != vocab.stix_id(
        "campaign", "Provider B", "c1", "2026-05-01T08:00:00+00:00")]
    assert {o.sighting_of_ref for o in back} == {s.indicator_id for s in sightings}
    bot_sighting = next(o for o in back if o.count == 30)
    assert bot_sighting.extensions[vocab.EXTENSION_ID]["accounts"] == 5


def test_exact_template_hash_and_expiry(tmp_path: Path, store_b: Store) -> None:
    fingerprints = pytest.importorskip("distillguard.fingerprints")
    tid = fingerprints.fingerprint_texts(["Solve step by step and show every step of your reasoning: what is 4 + 4?"]
                                         ).column("template_id")[0].as_py()
    d = tmp_path / "detect"
    shutil.copytree(DETECT_A, d)
    (d / "templates.csv").write_text(f"campaign_id,template_id,exchanges,accounts,example\nc1,{tid},10,5,\n")
    (d / "infrastructure.csv").write_text("campaign_id,kind,value,accounts,exchanges\n")
    bundle = tmp_path / "t.json"
    bundle.write_text(build_bundle(load_findings(d), ExportOptions(provider="A", valid_days=10), NOW).serialize())
    import_files(store_b, [bundle], NOW)
    matches = match_indicators(store_b, NOW).to_pylist()
    assert {(r["kind"], r["account_id"]) for r in matches} == {("template_hash", f"bot-0{i}") for i in range(5)}
    assert match_indicators(store_b, datetime(2027, 1, 1, tzinfo=UTC)).num_rows == 0  # expired


def test_cli_import_match(tmp_path: Path, exported: tuple[Path, Path]) -> None:
    db = tmp_path / "b.duckdb"
    with Store.open(db) as store:
        ingest_logs(store, [str(SAMPLE)])
    runner = CliRunner()
    res = runner.invoke(main, ["intel", "import", *map(str, exported), "--db", str(db), "--trust", "0.8"])
    assert res.exit_code == 0, res.output
    assert "8 indicators stored" in res.output
    res = runner.invoke(main, ["intel", "match", "--db", str(db)])
    assert res.exit_code == 0 and "accounts with partner evidence" in res.output
    out = tmp_path / "b.json"
    res = runner.invoke(main, ["intel", "export", str(DETECT_A), "--out", str(out), "--db", str(db)])
    assert res.exit_code == 0, res.output
    sightings = [o for o in json.loads(out.read_text())["objects"] if o["type"] == "sighting"]
    assert len(sightings) > 1


def test_evidence_needs_repeated_matches_and_counts_an_indicator_once() -> None:
    import pyarrow as pa

    from distillguard.intel.matching import MATCH_SCHEMA

    t = datetime(2026, 5, 1, tzinfo=UTC)
    rows = [
        # one coincidental prompt: a third of the weight
        ("i1", "template_hash", "abc", "Lab", 0.9, 1.0, "once", 1),
        # a campaign account: hash and MinHash of the same template, in STIX and in MISP: one indicator
        ("i1", "template_hash", "abc", "Lab", 0.9, 1.0, "often", 40),
        ("i1", "minhash", "abc", "Lab", 0.9, 0.8, "often", 40),
        ("indicator--m", "template_hash", "abc", "Lab", 0.9, 1.0, "often", 40),
        ("i2", "user_agent", "scraper/1", "Lab", 0.9, 1.0, "often", 40),
    ]
    table = pa.Table.from_pylist([dict(zip(MATCH_SCHEMA.names, (*r, t, t), strict=True)) for r in rows],
                                 schema=MATCH_SCHEMA)
    ev = {r["account_id"]: r for r in account_evidence(table).to_pylist()}
    assert ev["once"]["partner_score"] == pytest.approx(0.9 / 3)
    assert ev["often"]["indicators"] == 2
    assert ev["often"]["partner_score"] == pytest.approx(1 - (1 - 0.9) * (1 - 0.3 * 0.9))
    assert ev["often"]["kinds"] == "minhash;template_hash;user_agent"
