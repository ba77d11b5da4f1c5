"""Benchmark: absorbing one more hour of `qwen-2026` into a store that already holds N weeks.

    .venv/bin/python bench/incremental.py [--scale 0.01] [--weeks 5] [--work DIR] [--sim DIR] [--full]
                                          [--update-only] [--store DB [--hours N]]

Simulates `qwen-2026` at the scale (or reuses a simulator folder given by `--sim`), splits its exchanges
into the first `--weeks` weeks (history) and the hour after them, ingests the history and the accounts,
runs the first `detect --incremental` (a full run that leaves the snapshot), ingests the hour, and runs
`detect --incremental` again. Each step runs in its own child process: wall seconds, CPU seconds and peak
RSS (`os.wait4` rusage of that child), plus detect's sub-stages (wall and CPU seconds). `--full` also
times a plain full `detect` on the same store for comparison, and checks the flags agree. The store with
its snapshot is kept as `WORK/store-base.duckdb`; `--update-only` starts from a copy of it (ingest the
hour, update) to time changes of the update path without rebuilding.

`--store DB` measures on a store a finished `bench/scale.py` run left (e.g. scale 1, whose simulated
Parquet is gone and whose store is too large to copy): the log's last `--hours` clock hours are moved out
of the store (kept as `WORK/hour.parquet`), a full run takes the snapshot on the rest (≥ five weeks of `qwen-2026`),
and they are ingested back and absorbed in one update. The hour's texts are removed from the store's
fingerprint cache before (an earlier detect of the whole store cached them; new traffic brings texts never
seen), so the update pays for fingerprinting them. The store ends holding the exchanges it began with, plus
the snapshot; a failed full run puts them back itself. If the bench is killed in between,
`distillguard ingest WORK/hour.parquet --db DB` puts them back.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from scale import CLI, StageRun, run_stage, stage_profiler  # noqa: E402


def detect_child(db: str, out: str, incremental: bool) -> None:
    """Child process: detect on `db` (incremental or full); print {sub-stage: [wall s, cpu s]} and counts."""
    sys.path.insert(0, str(ROOT / "src"))
    from distillguard.api import write_detection_report
    from distillguard.detection import DetectConfig, detect_store
    from distillguard.store import Store

    prof, on_stage = stage_profiler()
    with Store.open(db) as store:
        res = detect_store(store, out, DetectConfig(), on_stage=on_stage, incremental=incremental)
        if not res.incremental_update:
            write_detection_report(store, res, on_stage)
        rows = store.count("exchanges")
        last = dict(store.con.sql("SELECT key, value FROM dgd_meta WHERE starts_with(key, 'last_')").fetchall()) \
            if incremental else {}
    print(json.dumps({"profile": prof, "accounts": res.accounts, "flagged": res.flagged,
                      "campaigns": res.campaigns, "exchanges": rows, "last": last}))


def split(sim: Path, work: Path, weeks: float) -> tuple[Path, Path, int, int]:
    """history.parquet (the first `weeks` weeks) and hour.parquet (the hour after): paths and row counts."""
    import duckdb

    src = sim / "exchanges.parquet"
    pattern = f"{src}/*.parquet" if src.is_dir() else str(src)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    t0 = con.sql(f"SELECT date_trunc('day', min(ts)) FROM read_parquet('{pattern}')").fetchall()[0][0]
    cut = f"TIMESTAMPTZ '{t0.isoformat()}' + INTERVAL {int(weeks * 7 * 24)} HOUR"
    hist, hour = work / "history.parquet", work / "hour.parquet"
    con.execute(f"COPY (SELECT * FROM read_parquet('{pattern}') WHERE ts < {cut}) "
                f"TO '{hist}' (FORMAT parquet, ROW_GROUP_SIZE 10000)")
    con.execute(f"COPY (SELECT * FROM read_parquet('{pattern}') WHERE ts >= {cut} AND ts < {cut} + INTERVAL 1 HOUR) "
                f"TO '{hour}' (FORMAT parquet, ROW_GROUP_SIZE 10000)")
    n_hist = con.sql(f"SELECT count(*) FROM '{hist}'").fetchall()[0][0]
    n_hour = con.sql(f"SELECT count(*) FROM '{hour}'").fetchall()[0][0]
    return hist, hour, n_hist, n_hour


def cut_last_hours(db: Path, work: Path, hours: int = 1) -> tuple[Path, int, int]:
    """Move the exchanges of the log's last `hours` clock hours out of the store `db` into WORK/hour.parquet.

    Returns the path and the row counts (rest, moved). The window ends with the clock hour of the last
    exchange: [trunc(max ts) + 1 h - `hours` h, max ts] (its last hour may be partial).
    """
    from distillguard.schema import EXCHANGE_COLUMNS
    from distillguard.store import Store

    hour = work / "hour.parquet"
    with Store.open(db) as store:
        con = store.con
        (start,) = con.sql(f"SELECT date_trunc('hour', max(ts)) + INTERVAL ({1 - hours}) HOUR "
                           "FROM exchanges").fetchall()[0]
        where = f"ts >= TIMESTAMPTZ '{start.isoformat()}'"
        con.execute(f"COPY (SELECT {', '.join(EXCHANGE_COLUMNS)} FROM exchanges WHERE {where} "
                    f"ORDER BY ts, request_id) TO '{hour}' (FORMAT parquet, ROW_GROUP_SIZE 10000)")
        store.delete_exchanges(where)  # the store's parts are rewritten without those rows
        n_rest = store.count("exchanges")
        n_hour = con.sql(f"SELECT count(*) FROM '{hour}'").fetchall()[0][0]
    return hour, n_rest, n_hour


def bench_on_store(db: Path, work: Path, full: bool, hours: int = 1) -> dict[str, object]:
    """`--store`: take the snapshot on all but the store's last `hours` hours, ingest them back, time the update."""
    work.mkdir(parents=True, exist_ok=True)
    hour, n_hist, n_hour = cut_last_hours(db, work, hours)
    runs: list[StageRun] = []
    ingest = CLI + ["ingest", str(hour), "--db", str(db)]
    try:
        r, first = _detect("detect (full + snapshot)", db, work / "out0", work, True, n_hist)
    except BaseException:  # the store must not stay without its last hours
        print(f"the full run failed: {n_hour:,} exchanges go back from {hour} into {db}", file=sys.stderr)
        run_stage("restore hours", ingest, work, n_hour)
        raise
    runs.append(r)
    uncached = forget_fingerprints(db, hour)
    runs.append(run_stage("ingest hour", ingest, work, n_hour)[0])
    r, upd = _detect("detect --incremental", db, work / "out1", work, True, n_hour)
    runs.append(r)
    res: dict[str, object] = {"store": str(db), "hours": hours, "history": n_hist, "uncached": uncached,
                              "hour": n_hour, "runs": [vars(x) for x in runs], "first": first, "update": upd,
                              "store_mb": round(db.stat().st_size / 2**20)}
    if full:
        _compare_full(res, db, work, n_hist + n_hour)
    return res


def forget_fingerprints(db: Path, hour: Path) -> int:
    """Remove the hour's texts from the store's fingerprint cache; return how many were cached.

    An earlier detect of the whole store cached them; new traffic has texts never seen, and the update
    must pay for fingerprinting them.
    """
    import duckdb

    sys.path.insert(0, str(ROOT / "src"))
    from distillguard.schema import PROMPT_SQL

    con = duckdb.connect(str(db))
    try:
        if not con.sql("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'fingerprint_cache'").fetchall()[0][0]:
            return 0
        con.execute(f"CREATE TEMP TABLE h AS SELECT DISTINCT hash({PROMPT_SQL}) AS text_hash FROM '{hour}'")
        n = con.sql("SELECT count(*) FROM fingerprint_cache WHERE text_hash IN (SELECT text_hash FROM h)").fetchall()
        for t in ("fingerprint_cache", "fingerprint_cache_phrases"):
            con.execute(f"DELETE FROM {t} WHERE text_hash IN (SELECT text_hash FROM h)")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return int(n[0][0])


def _compare_full(res: dict[str, object], db: Path, work: Path, rows: int) -> None:
    """Time a full detect on the updated store and count the flags both runs agree on."""
    r, whole = _detect("detect (full)", db, work / "out-full", work, False, rows)
    res["runs"].append(vars(r))  # type: ignore[attr-defined]
    res["full"] = whole
    a, b = _flags(work / "out1"), _flags(work / "out-full")
    res["flag_agreement"] = {"incremental": len(a), "full": len(b), "both": len(a & b)}


def _detect(name: str, db: Path, out: Path, work: Path, incremental: bool, rows: int) -> tuple[StageRun, dict]:
    args = [sys.executable, str(Path(__file__).resolve()), "--detect-child", str(db), str(out)]
    r, stdout, _ = run_stage(name, args + (["--incremental"] if incremental else []), work, rows)
    return r, json.loads(stdout.strip().splitlines()[-1])


def _flags(out: Path) -> set[str]:
    with open(out / "accounts.csv", newline="") as f:
        return {r["account_id"] for r in csv.DictReader(f) if r["flagged"] == "true"}


def bench(scale: float, weeks: float, work: Path, sim: Path | None, seed: int, full: bool,
          update_only: bool = False) -> dict[str, object]:
    """Run the benchmark; return its measurements (`update_only`: reuse the snapshot taken by an earlier run)."""
    work.mkdir(parents=True, exist_ok=True)
    runs: list[StageRun] = []
    if update_only:
        runs = [StageRun(**r) for r in json.loads((work / "base.json").read_text())["runs"]]
    elif sim is None:
        sim = work / "sim"
        shutil.rmtree(sim, ignore_errors=True)
        runs.append(run_stage("simulate", CLI + ["simulate", "--scenario", "qwen-2026", "--scale", str(scale),
                                                 "--seed", str(seed), "--completions", "none", "--out", str(sim)],
                              work)[0])
    db, base = work / "store.duckdb", work / "store-base.duckdb"
    for p in (db, Path(f"{db}.wal")):
        p.unlink(missing_ok=True)
    if update_only:  # the store as the last full run left it after taking the snapshot
        hour = work / "hour.parquet"
        n_hist, n_hour = (json.loads((work / "base.json").read_text())[k] for k in ("history", "hour"))
        first = json.loads((work / "base.json").read_text())["first"]
        shutil.copyfile(base, db)
    else:
        hist, hour, n_hist, n_hour = split(sim, work, weeks)
        runs.append(run_stage("ingest history", CLI + ["ingest", str(hist), "--accounts",
                                                       str(sim / "accounts.parquet"), "--db", str(db)], work,
                              n_hist)[0])
        r, first = _detect("detect (full + snapshot)", db, work / "out0", work, True, n_hist)
        runs.append(r)
        shutil.copyfile(db, base)
        (work / "base.json").write_text(json.dumps({"history": n_hist, "hour": n_hour, "first": first,
                                                    "runs": [vars(x) for x in runs]}))
    runs.append(run_stage("ingest hour", CLI + ["ingest", str(hour), "--db", str(db)], work, n_hour)[0])
    r, upd = _detect("detect --incremental", db, work / "out1", work, True, n_hour)
    runs.append(r)
    res: dict[str, object] = {"scale": scale, "weeks": weeks, "history": n_hist, "hour": n_hour,
                              "runs": [vars(x) for x in runs], "first": first, "update": upd,
                              "store_mb": round(db.stat().st_size / 2**20)}
    if full:
        _compare_full(res, db, work, n_hist + n_hour)
    return res


def format_result(res: dict) -> str:
    """Plain-text tables of one result."""
    where = f"store {res['store']}: history (all but the last {res['hours']} h)" if "store" in res else \
        f"qwen-2026 scale {res['scale']}: history {res['weeks']} weeks"
    lines = [f"{where} = {res['history']:,} exchanges, "
             f"next {res.get('hours', 1)} h = {res['hour']:,} exchanges; store {res['store_mb']:,} MB"
             + (f"; {res['uncached']:,} of the hour's texts removed from the fingerprint cache first"
                if "uncached" in res else ""),
             f"{'step':<24}{'rows':>12}{'wall s':>9}{'cpu s':>9}{'peak RSS MB':>13}"]
    lines += [f"{r['name']:<24}{r['rows']:>12,}{r['wall_s']:>9.1f}{r['cpu_s']:>9.1f}{r['peak_rss_mb']:>13,.0f}"
              for r in res["runs"]]
    keys = list(dict.fromkeys(list(res["first"]["profile"]) + list(res["update"]["profile"])))
    cols = [("first", "build"), ("update", "update")] + ([("full", "full")] if "full" in res else [])
    lines.append(f"{'detect sub-stage':<16}" + "".join(f"{n + ' wall':>13}{n + ' cpu':>12}" for _, n in cols))
    for k in keys + [k for k in res.get("full", {}).get("profile", {}) if k not in keys]:
        cells = []
        for c, _ in cols:
            v = res[c]["profile"].get(k)
            cells.append(f"{v[0]:>13.2f}{v[1]:>12.2f}" if v else f"{'':>13}{'':>12}")
        lines.append(f"{k:<16}" + "".join(cells))
    u = res["update"]
    lines.append(f"after the update: {u['accounts']:,} accounts, {u['flagged']:,} flagged, {u['campaigns']} campaigns")
    last = u.get("last", {})
    if last:
        lines.append(f"the update absorbed {last.get('last_exchanges')} exchanges, fingerprinted "
                     f"{last.get('last_texts')} new texts, recomputed the features of {last.get('last_accounts')} "
                     f"accounts; {last.get('last_joined')} joined a group")
    if "flag_agreement" in res:
        fa = res["flag_agreement"]
        lines.append(f"flags incremental {fa['incremental']:,} / full {fa['full']:,} / both {fa['both']:,}")
    return "\n".join(lines)


def main() -> None:
    """Command line."""
    if len(sys.argv) > 1 and sys.argv[1] == "--detect-child":
        detect_child(sys.argv[2], sys.argv[3], "--incremental" in sys.argv[4:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--weeks", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "incremental")
    ap.add_argument("--sim", type=Path, help="reuse this simulator output folder (qwen-2026 at --scale)")
    ap.add_argument("--full", action="store_true", help="also time a full detect and compare the flags")
    ap.add_argument("--update-only", action="store_true",
                    help="reuse the store with the snapshot that an earlier run left in --work (store-base.duckdb)")
    ap.add_argument("--store", type=Path,
                    help="measure on this existing store instead (its last --hours are moved out, then absorbed)")
    ap.add_argument("--hours", type=int, default=1, help="with --store: how many clock hours to move out and absorb")
    ap.add_argument("--json", type=Path, help="also write the measurements as JSON")
    a = ap.parse_args()
    if a.store:
        res = bench_on_store(a.store, a.work, a.full, a.hours)
    else:
        res = bench(a.scale, a.weeks, a.work, a.sim, a.seed, a.full, a.update_only)
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))
    print(format_result(res))


if __name__ == "__main__":
    main()
