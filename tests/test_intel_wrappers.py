"""Campaign wrappers from the exporter's store reach a partner whose campaign accounts send other payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from distillguard.cli import main
from distillguard.ingest import ingest_logs
from distillguard.intel import vocab
from distillguard.intel.findings import load_findings
from distillguard.intel.importer import import_files
from distillguard.intel.matching import match_indicators
from distillguard.intel.wrappers import with_store_wrappers
from distillguard.store import Store

fingerprints = pytest.importorskip("distillguard.fingerprints")

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
WRAP = ("You are an expert tutor. Show every step of your reasoning.\n\n{}\n\n"
        "Number each step and give the final answer.")
ITEMS = [f"How many {thing} fit inside {box} if each one takes {n} units of space?"
         for n, (thing, box) in enumerate(zip(
             ("marbles", "apples", "books", "shoes", "cups", "coins", "eggs", "pencils", "stones", "shells",
              "buttons", "beads", "nails", "seeds", "leaves", "tickets", "cards", "bottles"),
             ("a jar", "a crate", "a shelf", "a closet", "a cupboard", "a purse", "a carton", "a drawer",
              "a bucket", "a basket", "a tin", "a pouch", "a toolbox", "a packet", "a bag", "an envelope",
              "a deck box", "a fridge"), strict=True))]
LEGIT = ["what should I cook tonight with rice and beans", "help me write a birthday card for my sister",
         "Summarise this meeting note in three bullet points for my manager please"]


def write_log(path: Path, rows: list[tuple[str, str]]) -> None:
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    with path.open("w") as f:
        for n, (account, text) in enumerate(rows):
            f.write(json.dumps({"request_id": f"{path.stem}-{n}", "ts": (t0 + timedelta(minutes=n)).isoformat(),
                                "account_id": account, "ip": "", "model": "m",
                                "messages": [{"role": "user", "content": text}]}) + "\n")


@pytest.fixture
def provider_a(tmp_path: Path) -> tuple[Path, Path]:
    rows = [(f"a-bot-{n % 6}", WRAP.format(item)) for n, item in enumerate(ITEMS[:12])]
    rows += [(f"a-user-{n}", text) for n, text in enumerate(LEGIT)]
    rows += [("a-bot-0", LEGIT[2]), ("a-bot-1", LEGIT[2])]  # campaign accounts also send a common prompt
    log = tmp_path / "a.jsonl"
    write_log(log, rows)
    db = tmp_path / "a.duckdb"
    with Store.open(db) as store:
        ingest_logs(store, [str(log)])
    d = tmp_path / "detect_a"
    d.mkdir()
    common = fingerprints.fingerprint_texts([LEGIT[2]]).column("template_id")[0].as_py()
    (d / "campaigns.json").write_text(json.dumps([{
        "campaign_id": "k1", "accounts": 6, "exchanges": 14, "first_seen": "2026-05-01T00:00:00Z",
        "last_seen": "2026-05-01T00:13:00Z", "capabilities": {"reasoning": 1.0}, "evidence": [], "confidence": 0.8}]))
    (d / "templates.csv").write_text("campaign_id,template_id,exchanges,accounts,example\n"
                                     f"k1,{common},2,2,summarise this meeting note in <num> bullet points for my "
                                     "manager please\n")
    (d / "accounts.csv").write_text("account_id,score,flagged,campaign_id,reasons\n" + "".join(
        f"a-bot-{n},0.9,true,k1,shared-template\n" for n in range(6)) + "".join(
        f"a-user-{n},0.1,false,,\n" for n in range(3)))
    return d, db


def test_store_wrappers_shared_and_legit_templates_dropped(provider_a: tuple[Path, Path]) -> None:
    d, db = provider_a
    with Store.open(db) as store:
        [c] = with_store_wrappers(load_findings(d), store, min_accounts=2)
    assert len(c.templates) == 1  # the common prompt (also sent by a-user-2) is gone, the wrapper is in
    [t] = c.templates
    assert "<payload>" in t.example and t.accounts == 6 and t.exchanges == 12


def test_partner_with_other_payloads_matches(tmp_path: Path, provider_a: tuple[Path, Path]) -> None:
    d, db = provider_a
    bundle = tmp_path / "a.json"
    res = CliRunner().invoke(main, ["intel", "export", str(d), "--db", str(db), "--out", str(bundle),
                                    "--min-accounts", "2"])
    assert res.exit_code == 0, res.output
    text = bundle.read_text()
    assert "<payload>" not in text and "expert tutor" not in text and "a-bot" not in text
    templates = [o for o in json.loads(text)["objects"]
                 if o["type"] == "indicator" and vocab.TEMPLATE_OBJECT in o["pattern"]]
    assert len(templates) == 1
    rows = [(f"b-bot-{n % 3}", WRAP.format(item)) for n, item in enumerate(ITEMS[12:])]
    rows += [(f"b-user-{n}", text) for n, text in enumerate(LEGIT)]
    log = tmp_path / "b.jsonl"
    write_log(log, rows)
    with Store.open(tmp_path / "b.duckdb") as store:
        ingest_logs(store, [str(log)])
        import_files(store, [bundle], NOW)
        matches = match_indicators(store, NOW).to_pylist()
    assert {(m["kind"], m["account_id"]) for m in matches} == {
        (k, f"b-bot-{n}") for k in ("template_hash", "minhash") for n in range(3)}
    assert sum(m["exchanges"] for m in matches if m["kind"] == "template_hash") == len(ITEMS) - 12


def test_infrastructure_our_legit_users_share_is_dropped(tmp_path: Path) -> None:
    from distillguard.intel.wrappers import without_legit_infrastructure

    log = tmp_path / "x.jsonl"
    rows = [{"account_id": "bot-1", "ip": "203.0.113.5", "user_agent": "OpenAI/Python 1.54.4"},
            {"account_id": "bot-2", "ip": "198.51.100.77", "user_agent": "evil-scraper/0.1"},
            {"account_id": "user-1", "ip": "203.0.113.9", "user_agent": "OpenAI/Python 1.54.4"}]
    with log.open("w") as f:
        for n, r in enumerate(rows):
            f.write(json.dumps({"request_id": f"r{n}", "ts": "2026-05-01T00:00:00Z", "model": "m",
                                "messages": [{"role": "user", "content": "hi"}], **r}) + "\n")
    d = tmp_path / "d"
    d.mkdir()
    (d / "campaigns.json").write_text(json.dumps([{
        "campaign_id": "k", "accounts": 2, "exchanges": 2, "first_seen": "2026-05-01T00:00:00Z",
        "last_seen": "2026-05-01T00:00:00Z", "capabilities": {}, "evidence": [], "confidence": 0.5}]))
    (d / "accounts.csv").write_text("account_id,score,flagged,campaign_id,reasons\nbot-1,1,true,k,\n"
                                    "bot-2,1,true,k,\nuser-1,0,false,,\n")
    (d / "infrastructure.csv").write_text(
        "campaign_id,kind,value,accounts,exchanges\nk,user_agent,OpenAI/Python 1.54.4,2,2\n"
        "k,user_agent,evil-scraper/0.1,2,2\nk,cidr,203.0.113.0/24,2,2\nk,cidr,198.51.100.0/24,2,2\n"
        "k,ip,203.0.113.9,2,2\nk,payment,pay-1,2,0\n")
    with Store.open(tmp_path / "x.duckdb") as store:
        ingest_logs(store, [str(log)])
        [c] = without_legit_infrastructure(load_findings(d), store)
    assert sorted((r.kind, r.value) for r in c.infrastructure) == [
        ("cidr", "198.51.100.0/24"), ("payment", "pay-1"), ("user_agent", "evil-scraper/0.1")]
