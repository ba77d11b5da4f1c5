"""A newcomer's mistakes get one line and exit 2, and a very long account id does not break the readers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from distillguard.cli import main
from handbuilt import campaign, legit_users, write_jsonl


def _run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_detect_with_a_missing_store_is_an_error_not_an_empty_report(tmp_path: Path) -> None:
    missing = tmp_path / "typo.duckdb"
    code, out, err = _run("detect", "--db", str(missing), "--out", str(tmp_path / "d"))
    assert code == 2 and err.startswith("distillguard: error: ") and "no such store" in err and str(missing) in err
    assert len(err.strip().splitlines()) == 1 and "accounts 0" not in out
    assert not missing.exists() and not (tmp_path / "d").exists()  # nothing created


def test_detect_out_an_existing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    log = write_jsonl(legit_users(3, per_account=3), tmp_path / "log.jsonl")
    f = tmp_path / "taken.txt"
    f.write_text("mine")
    code, _, err = _run("detect", str(log), "--out", str(f), "--quiet")
    assert code == 2 and err == f"distillguard: error: --out {f}: exists and is not a folder; give a folder path\n"
    assert f.read_text() == "mine"


@pytest.mark.slow
def test_an_account_id_over_128_kib_is_read_back_everywhere(tmp_path: Path) -> None:
    long_id = "acct-" + "x" * (130 * 1024)
    records = legit_users(40, per_account=10) + campaign(8, per_account=30)
    for r in records:
        if r["account_id"] == "camp-000":
            r["account_id"] = long_id
    log = write_jsonl(records, tmp_path / "log.jsonl")
    out = tmp_path / "d"
    code, _, err = _run("detect", str(log), "--out", str(out), "--quiet")
    assert code == 0, err
    code, text, err = _run("explain", long_id, str(out))
    assert code == 0 and "_csv.Error" not in err, err
    assert long_id[:40] in text
    code, _, err = _run("intel", "export", str(out), "--out", str(tmp_path / "b.json"), "--min-accounts", "2",
                        "--include-identifiers")
    assert code == 0, err
    assert json.loads((tmp_path / "b.json").read_text())["type"] == "bundle"
    from distillguard.api import read_detection_accounts
    from distillguard.policy import load_detection  # what `serve --detect` loads

    assert long_id in read_detection_accounts(out)["account_id"].to_pylist()
    assert load_detection(out) is not None
