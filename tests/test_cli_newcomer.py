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


# -- progress: detect shows a bar over its stages, ingest of one Parquet file moves per row group ---------------
def test_detect_stage_progress_bar_renders_each_stage() -> None:
    import io

    from rich.console import Console

    from distillguard.commands.detect import FULL_STAGES, stage_progress

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100, color_system=None)
    with stage_progress(console, len(FULL_STAGES)) as on_stage:
        for i, name in enumerate(FULL_STAGES):
            on_stage(name, 0.5 + i)
    text = buf.getvalue()
    for i, name in enumerate(FULL_STAGES):
        assert f"  {name:<14}{0.5 + i:8.2f} s" in text
    n = len(FULL_STAGES)
    assert f"0/{n}" in text and f"3/{n}" in text and f"{n}/{n}" in text
    assert "detect: fingerprints" in text and "detect: features" in text and "detect: output" in text


def test_detect_cli_prints_stage_times(tmp_path: Path) -> None:
    log = write_jsonl(legit_users(5, per_account=4) + campaign(3, per_account=5), tmp_path / "log.jsonl")
    code, _, err = _run("detect", str(log), "--out", str(tmp_path / "d"))
    assert code == 0, err
    from distillguard.commands.detect import FULL_STAGES

    assert [line.split()[0] for line in err.splitlines() if line.startswith("  ")] == list(FULL_STAGES)


def test_parquet_ingest_reports_progress_per_row_group(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from distillguard.ingest import ingest_logs
    from distillguard.store import Store

    records = legit_users(40, per_account=10)
    path = tmp_path / "x.parquet"
    src = write_jsonl(records, tmp_path / "x.jsonl")
    with Store.open(tmp_path / "a.duckdb") as store:
        ingest_logs(store, [src])
        table = store.con.sql("SELECT * FROM exchanges ORDER BY request_id").to_arrow_table()
    pq.write_table(table, path, row_group_size=100)
    assert pq.ParquetFile(path).metadata.num_row_groups == 4
    steps: list[int] = []
    with Store.open(tmp_path / "b.duckdb") as store:
        s = ingest_logs(store, [path], on_progress=steps.append)
    assert s.stored == 400 and len(steps) == 4 and sum(steps) <= path.stat().st_size
    assert sum(steps) >= path.stat().st_size - 4
