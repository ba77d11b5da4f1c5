"""The findings contract (distillguard.findings): the one reader of a detection folder's contract files."""

from __future__ import annotations

from pathlib import Path

import pytest

from distillguard import findings
from distillguard.errors import InputError, RecordError

CAMPAIGNS = """[
  {"campaign_id": "dg-0001", "accounts": 2, "exchanges": 7, "first_seen": "2026-03-02T00:00:00Z",
   "last_seen": "2026-03-03T00:00:00Z", "capabilities": {"reasoning": 1.0},
   "evidence": [{"signal": "shared-wrapper", "detail": "2 of 2"}, {"signal": "shared-wrapper", "detail": "x"}],
   "confidence": 0.8, "response": {"action": "block"}, "new_key": [1, 2]}
]"""


def _folder(tmp_path: Path, accounts: str, campaigns: str = CAMPAIGNS) -> Path:
    (tmp_path / "accounts.csv").write_text(accounts)
    (tmp_path / "campaigns.json").write_text(campaigns)
    return tmp_path


def test_read_typed_records_with_an_extra_column(tmp_path: Path) -> None:
    d = _folder(tmp_path, "account_id,score,flagged,campaign_id,reasons,verdict,later\n"
                          "a,0.900000,true,dg-0001,shared-wrapper;dense-block,enforce,x\n"
                          "b,0.100000,false,,,,\n")
    f = findings.read(d)
    a, b = f.verdicts()
    assert a == findings.AccountVerdict("a", 0.9, True, "dg-0001", ("shared-wrapper", "dense-block"), "enforce",
                                        {"later": "x"})
    assert b.campaign_id is None and b.reasons == () and b.verdict == "" and not b.flagged
    c = f.campaign("dg-0001")
    assert c is not None and c.accounts == 2 and c.signals == ("shared-wrapper",)
    assert c.response == {"action": "block"} and c.extra == {"new_key": [1, 2]}
    assert f.run == findings.RunInfo()  # no operating_point.json: a folder from before it


def test_operating_point_is_read(tmp_path: Path) -> None:
    d = _folder(tmp_path, "account_id,score,flagged,campaign_id,reasons\n")
    (d / "operating_point.json").write_text(
        '{"fpr_target": 0.001, "thresholds": {"enforce": 0.5, "review": 0.4, "watch": 0.3}, "accounts": {}}')
    run = findings.read_run(d)
    assert run.threshold == 0.5 and run.fpr_target == 0.001 and run.watch == 0.3


def test_write_accounts_round_trips_byte_for_byte_and_atomically(tmp_path: Path) -> None:
    text = ("account_id,score,flagged,campaign_id,reasons,verdict\n"
            'a,0.597110,true,dg-0002,"shared-wrapper;x",enforce\n'
            '"o,dd ""id""",0.000000,false,,,\n')
    d = _folder(tmp_path, text)
    findings.write_accounts(d, findings.read_accounts(d))
    assert (d / "accounts.csv").read_text() == text.replace('"shared-wrapper;x"', "shared-wrapper;x")
    assert [p.name for p in d.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize(("accounts", "campaigns", "error", "message"), [
    ("account_id,score\na,high\n", CAMPAIGNS, InputError, r"accounts.csv:2: score: not a number: 'high'"),
    ("account_id\na\n", CAMPAIGNS, InputError, r"missing column\(s\) score"),
    ("account_id,score\n", '[{"campaign_id": "x", "accounts": 3}]', RecordError, r"campaigns.json:1: exchanges"),
    ("account_id,score\n", "{}", InputError, "expected a JSON list"),
])
def test_bad_files_are_one_line_errors(tmp_path: Path, accounts: str, campaigns: str, error: type,
                                       message: str) -> None:
    d = _folder(tmp_path, accounts, campaigns)
    with pytest.raises(error, match=message):
        findings.read(d)


def test_lenient_campaigns_for_readers_that_need_only_confidence(tmp_path: Path) -> None:
    d = _folder(tmp_path, "account_id,score\n", '[{"campaign_id": "C1", "confidence": 0.7}]')
    (c,) = findings.read_campaigns(d, strict=False)
    assert c.campaign_id == "C1" and c.confidence == 0.7 and c.accounts == 0
