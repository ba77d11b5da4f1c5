"""End-to-end detection: hand-built logs, empty and legit-only logs, the CLI, and mixed-small."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from distillguard.api import detect_and_report
from distillguard.cli import main
from distillguard.detection import DetectConfig, detect_logs
from distillguard.errors import ReportError, StoreError, UsageError
from distillguard.store import Store
from handbuilt import (
    batch_integration,
    benchmark_runs,
    campaign,
    legit_users,
    pool_campaign,
    scrub_network,
    task_pool,
    write_jsonl,
)

FAST = DetectConfig()


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "accounts.csv", newline="") as f:
        return {r["account_id"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def mixed_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("mixed")
    return write_jsonl(legit_users(40) + campaign(12) + batch_integration(), d / "mixed.jsonl")


def test_campaign_found_and_grouped(mixed_log: Path, tmp_path: Path) -> None:
    res = detect_logs([mixed_log], tmp_path, config=FAST)
    rows = _rows(tmp_path)
    flagged = {a for a, r in rows.items() if r["flagged"] == "true"}
    assert flagged == {f"camp-{i:03d}" for i in range(12)}
    assert len({rows[a]["campaign_id"] for a in flagged}) == 1
    assert res.campaigns == 1
    assert "cot-elicitation" in rows["camp-000"]["reasons"].split(";")
    campaigns = json.loads((tmp_path / "campaigns.json").read_text())
    c = campaigns[0]
    assert c["accounts"] == 12 and c["exchanges"] == 360
    assert abs(sum(c["capabilities"].values()) - 1) <= 2e-4   # each share is rounded to 4 decimals
    assert 0 < c["confidence"] <= 1
    for name in ("report.html", "features.parquet", "links.parquet", "templates.csv", "infrastructure.csv",
                 "timeline.csv"):
        assert (tmp_path / name).is_file()
    assert all(0 <= float(r["score"]) <= 1 for r in rows.values())
    # the bands: `enforce` exactly when flagged, the others by the thresholds the folder records
    point = json.loads((tmp_path / "operating_point.json").read_text())
    thr = point["thresholds"]
    assert point["fpr_target"] == FAST.fpr_target and thr["enforce"] >= thr["review"] >= thr["watch"] > 0
    for r in rows.values():
        s = float(r["score"])
        want = ("enforce" if s >= thr["enforce"] else "review" if s >= thr["review"]
                else "watch" if s >= thr["watch"] else "")
        assert r["verdict"] == want and (r["verdict"] == "enforce") == (r["flagged"] == "true")
    assert point["accounts"]["enforce"] == len(flagged)
    assert point["accounts"]["review"] + point["accounts"]["watch"] == sum(
        r["verdict"] in ("review", "watch") for r in rows.values())


def test_campaign_size_counts_unsampled_exchanges(tmp_path: Path) -> None:
    # 200 distinct prompts per account: more than the fingerprint sample (128), so the campaign's size must
    # come from all of its exchanges, not from the fingerprinted ones
    log = write_jsonl(legit_users(30) + campaign(8, per_account=200), tmp_path / "big.jsonl")
    detect_logs([log], tmp_path / "out", config=FAST)
    rows = _rows(tmp_path / "out")
    members = [a for a, r in rows.items() if r["campaign_id"]]
    assert len(members) == 8
    c = json.loads((tmp_path / "out" / "campaigns.json").read_text())[0]
    assert c["accounts"] == 8 and c["exchanges"] == 8 * 200
    with open(tmp_path / "out" / "timeline.csv", newline="") as f:
        assert sum(int(r["exchanges"]) for r in csv.DictReader(f) if r["campaign_id"]) == 8 * 200


def test_network_scrubbed_still_found(tmp_path: Path) -> None:
    log = write_jsonl(scrub_network(legit_users(30) + campaign(10)), tmp_path / "scrubbed.jsonl")
    detect_logs([log], tmp_path / "out", config=FAST)
    rows = _rows(tmp_path / "out")
    assert sum(r["flagged"] == "true" for a, r in rows.items() if a.startswith("camp")) == 10
    assert not any(r["flagged"] == "true" for a, r in rows.items() if not a.startswith("camp"))


def test_a_pool_harvested_in_each_accounts_own_wording_is_a_campaign_a_benchmark_run_once_is_not(
        tmp_path: Path) -> None:
    # 24 accounts draw reasoning tasks from one pool of 120 for two weeks, each wording its request its own way,
    # on no shared network or client; six researchers each run a 60-task benchmark drawn from the same pool once,
    # in a burst, through harnesses worded their own way. The tasks bind both; only the runs replay one suite
    pool = task_pool(120)
    log = write_jsonl(legit_users(60) + pool_campaign(24, pool) + benchmark_runs(6, pool[:60]),
                      tmp_path / "pool.jsonl")
    detect_logs([log], tmp_path / "out", config=FAST)
    rows = _rows(tmp_path / "out")
    flagged = {a for a, r in rows.items() if r["flagged"] == "true"}
    assert {a for a in rows if a.startswith("pool")} == flagged


def test_legit_only_nothing_flagged(tmp_path: Path) -> None:
    log = write_jsonl(legit_users(40, ip_pool=3) + batch_integration(), tmp_path / "legit.jsonl")
    res = detect_logs([log], tmp_path / "out", config=FAST)
    assert res.flagged == 0 and res.campaigns == 0
    assert json.loads((tmp_path / "out" / "campaigns.json").read_text()) == []


def test_cli_empty_log_exit_zero(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    r = CliRunner().invoke(main, ["detect", str(empty), "--out", str(tmp_path / "out"), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "flagged 0" in r.output
    assert (tmp_path / "out" / "accounts.csv").read_text().splitlines() == [
        "account_id,score,flagged,campaign_id,reasons,verdict"]
    assert json.loads((tmp_path / "out" / "campaigns.json").read_text()) == []
    assert (tmp_path / "out" / "report.html").is_file()


def test_paths_with_an_apostrophe(mixed_log: Path, tmp_path: Path) -> None:
    # every path spliced into DuckDB SQL is quoted: a store, a log and an --out folder named with a quote
    d = tmp_path / "o'brien's"
    d.mkdir()
    log = d / "it's.jsonl"
    log.write_bytes(mixed_log.read_bytes())
    runner = CliRunner()
    r = runner.invoke(main, ["detect", str(log), "--db", str(d / "store'1.duckdb"), "--out", str(d / "det'out"),
                             "--quiet"])
    assert r.exit_code == 0, r.output
    rows = _rows(d / "det'out")
    assert {a for a, r in rows.items() if r["flagged"] == "true"} == {f"camp-{i:03d}" for i in range(12)}
    assert (d / "det'out" / "timeline.csv").is_file() and (d / "det'out" / "report.html").is_file()
    r = runner.invoke(main, ["report", str(d / "det'out")])
    assert r.exit_code == 0, r.output
    with Store.open(d / "store'1.duckdb") as store:
        store.exchanges_parquet(d / "x'.parquet")
    r = runner.invoke(main, ["backtest", str(d / "x'.parquet"), "--detect", str(d / "det'out"),
                             "--json", str(d / "bt'.json")])
    assert r.exit_code == 0, r.output
    assert json.loads((d / "bt'.json").read_text())


def test_a_failed_report_is_said_not_swallowed(mixed_log: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import distillguard.report

    def broken(*args: object, **kwargs: object) -> Path:
        raise RuntimeError("chart engine missing")

    monkeypatch.setattr(distillguard.report, "write_report", broken)
    r = CliRunner().invoke(main, ["detect", str(mixed_log), "--out", str(tmp_path / "out"), "--quiet"])
    assert r.exit_code == 0, r.output  # the detection output is complete
    assert "flagged 12" in r.output
    assert "warning" in r.output and "chart engine missing" in r.output and "distillguard report" in r.output
    assert "DistillGuard detection report" in (tmp_path / "out" / "report.html").read_text()  # the plain one
    with pytest.raises(ReportError, match="chart engine missing") as e:
        detect_and_report([mixed_log], tmp_path / "lib")
    assert e.value.result.flagged == 12 and (tmp_path / "lib" / "accounts.csv").is_file()


def test_a_duckdb_failure_is_a_one_line_store_error(mixed_log: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    from distillguard.detection import features

    def out_of_memory(rel: object) -> object:
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block of size 256 KiB\n"
                                          "Possible solutions: ...")

    monkeypatch.setattr(features, "account_features", out_of_memory)
    r = CliRunner().invoke(main, ["detect", str(mixed_log), "--out", str(tmp_path / "out"), "--quiet"])
    assert r.exit_code == 2, r.output
    err = [line for line in r.output.splitlines() if line.startswith("distillguard: error:")]
    assert len(err) == 1 and "could not allocate" in err[0] and "more memory" in err[0], r.output
    assert "Possible solutions" not in r.output and "Traceback" not in r.output


def test_incremental_update_without_a_snapshot_is_a_store_error(mixed_log: Path, tmp_path: Path) -> None:
    from distillguard.detection import incremental

    with Store.open(tmp_path / "s.duckdb") as store, pytest.raises(StoreError, match="full `distillguard detect"):
        incremental.update(store, tmp_path / "out", "no-such-key", FAST)


def test_cli_usage_errors(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["detect", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--db" in r.output
    r = CliRunner().invoke(main, ["detect", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2


def test_cli_db_then_evaluate_and_explain(mixed_log: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(mixed_log), "--db", str(db)]).exit_code == 0
    out = tmp_path / "out"
    r = runner.invoke(main, ["detect", "--db", str(db), "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    labels = tmp_path / "labels.csv"
    rows = _rows(out)
    labels.write_text("account_id,campaign_id,actor\n" + "".join(
        f"{a},{'C1' if a.startswith('camp') else ''},{'campaign:test' if a.startswith('camp') else 'legit:x'}\n"
        for a in rows))
    r = runner.invoke(main, ["evaluate", "--labels", str(labels), str(out), "--json"])
    assert r.exit_code == 0, r.output
    ev = json.loads(r.output)
    assert ev["precision"] == 1.0 and ev["recall"] == 1.0 and ev["ari"] == 1.0
    r = runner.invoke(main, ["explain", "camp-003", str(out)])
    assert r.exit_code == 0 and "FLAGGED" in r.output and "camp-0" in r.output.split("linked accounts")[1]
    r = runner.invoke(main, ["explain", "nobody", str(out)])
    assert r.exit_code == 2


@pytest.mark.slow
def test_mixed_small_end_to_end(tmp_path: Path, corpora: Path) -> None:
    simulate = pytest.importorskip("distillguard.simulate.scenarios")
    del simulate
    runner = CliRunner()
    sim = tmp_path / "sim"
    r = runner.invoke(main, ["simulate", "--scenario", "mixed-small", "--seed", "7", "--scale", "0.3",
                             "--corpora", str(corpora), "--out", str(sim)])
    if r.exit_code != 0:
        pytest.skip(f"simulator not usable here: {r.output[-200:]}")
    out = tmp_path / "out"
    r = runner.invoke(main, ["detect", str(sim / "exchanges.parquet"), "--accounts", str(sim / "accounts.parquet"),
                             "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["evaluate", "--labels", str(sim / "labels.csv"), str(out), "--json"])
    ev = json.loads(r.output)
    # a small scale (few accounts per campaign) is harder than the presets; the quality table is in bench/
    assert ev["recall"] >= 0.6 and ev["precision"] >= 0.95 and ev["fpr"] <= 0.005


def test_no_links_baseline_flags_lone_extractors(tmp_path: Path) -> None:
    log = write_jsonl(legit_users(20) + campaign(3, per_account=60), tmp_path / "log.jsonl")
    detect_logs([log], tmp_path / "out", config=DetectConfig(use_links=False))
    rows = _rows(tmp_path / "out")
    assert all(r["campaign_id"] == "" for r in rows.values())
    assert {a for a, r in rows.items() if r["flagged"] == "true"} <= {f"camp-{i:03d}" for i in range(3)}
    assert max(float(r["score"]) for a, r in rows.items() if a.startswith("camp")) > 0.5


def test_duckdb_memory_limit_is_the_configured_one_and_restored(mixed_log: Path, tmp_path: Path) -> None:
    from distillguard.detection import detect_store
    from distillguard.fingerprints.cache import memory_gb

    seen: dict[str, float | None] = {}
    with Store.open(tmp_path / "s.duckdb") as store:
        from distillguard.ingest import ingest_logs

        ingest_logs(store, [mixed_log])
        store.con.execute("SET memory_limit = '7GB'")
        detect_store(store, tmp_path / "small", DetectConfig(memory_gb=0.5),
                     on_stage=lambda name, s: seen.setdefault(name, memory_gb(store.con)))
        assert memory_gb(store.con) == pytest.approx(7.0, rel=0.01)  # the store's own limit again
        detect_store(store, tmp_path / "default", FAST)
    # the run's limit between stages (the Python phases lower it within a stage and put it back)
    assert seen["fingerprints"] == pytest.approx(0.5, rel=0.01) and seen["scoring"] == pytest.approx(0.5, rel=0.01)
    for f in ("accounts.csv", "campaigns.json"):  # the limit changes no answer
        assert (tmp_path / "small" / f).read_text() == (tmp_path / "default" / f).read_text()


def test_memory_gb_from_the_cli_and_its_environment_variable(mixed_log: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from distillguard.fingerprints import cache

    r = CliRunner().invoke(main, ["detect", str(mixed_log), "--out", str(tmp_path / "o"), "--memory-gb", "0"])
    assert r.exit_code == 2 and "--memory-gb" in r.output and "range" in r.output, r.output
    assert not (tmp_path / "o").exists()  # refused before any work
    with pytest.raises(UsageError, match="--memory-gb must be a positive number"):  # the library says so too
        detect_and_report([mixed_log], tmp_path / "lib", config=DetectConfig(memory_gb=-1.0))
    r = CliRunner().invoke(main, ["detect", str(mixed_log), "--out", str(tmp_path / "o")],
                           env={"DISTILLGUARD_DETECT_MEMORY_GB": "lots"})
    assert r.exit_code == 2 and "--memory-gb" in r.output and "lots" in r.output, r.output
    limits: list[float] = []
    real = cache.set_memory
    monkeypatch.setattr(cache, "set_memory", lambda con, gb: (limits.append(gb), real(con, gb))[1])
    import distillguard.detection.run as run

    monkeypatch.setattr(run, "set_memory", cache.set_memory)
    r = CliRunner().invoke(main, ["detect", str(mixed_log), "--out", str(tmp_path / "e"), "--quiet"],
                           env={"DISTILLGUARD_DETECT_MEMORY_GB": "1.5"})
    assert r.exit_code == 0 and limits == [1.5], (r.output, limits)
    r = CliRunner().invoke(main, ["detect", str(mixed_log), "--out", str(tmp_path / "c"), "--quiet",
                                  "--memory-gb", "2.5"], env={"DISTILLGUARD_DETECT_MEMORY_GB": "1.5"})
    assert r.exit_code == 0 and limits == [1.5, 2.5], (r.output, limits)  # the option wins
    r = CliRunner().invoke(main, ["detect", str(mixed_log), "--out", str(tmp_path / "d"), "--quiet"])
    assert r.exit_code == 0 and limits == [1.5, 2.5, DetectConfig().memory_gb], (r.output, limits)
    assert f"default {DetectConfig().memory_gb:g}," in CliRunner().invoke(main, ["detect", "--help"]).output


def test_a_too_small_memory_limit_is_a_one_line_error_naming_the_option(mixed_log: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["detect", str(mixed_log), "--out", str(tmp_path / "out"), "--quiet",
                                  "--memory-gb", "0.001"])
    assert r.exit_code == 2, r.output
    err = [line for line in r.output.splitlines() if line.startswith("distillguard: error:")]
    assert len(err) == 1 and "Out of Memory" in err[0] and "--memory-gb, now 0.001" in err[0], r.output
