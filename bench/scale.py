"""Benchmark: the whole pipeline on `qwen-2026` at a scale — simulate, ingest, detect, evaluate.

    .venv/bin/python bench/scale.py [--scale 0.01] [--work DIR] [--engine duckdb|spark] [--seed 1] [--keep]
                                    [--stages simulate,ingest,detect,evaluate] [--drop-logs]

Every stage runs in its own child process (the `distillguard` CLI), so its wall seconds, CPU seconds and
peak RSS (the `os.wait4` rusage of that child alone) are measured separately. The detection stage's
internal profile (fingerprints, features, links, campaigns, scoring, grouping, output) comes from the
seconds `distillguard detect` prints per sub-stage. Simulated traffic is prompts only (`--completions
none`). Prints a table of stages, a table of detect's sub-stages, and the quality figures of
`distillguard evaluate --json`. `--json FILE` also writes everything as JSON (for the scaling table).

`--stages` runs only some stages in `--work` and reuses what earlier runs left there (e.g. simulate and
ingest scale 1 once, then `--stages detect,evaluate` after each change of the detection code); every
stage's measurements are kept in `WORK/<stage>.json`, so the printed table covers all stages run so far.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from distillguard.cli import main; main()"]
QUALITY_KEYS = ("accounts", "positives", "flagged", "precision", "recall", "f1", "roc_auc", "fpr",
                "purity", "ari")


@dataclass(frozen=True)
class StageRun:
    """One child process and its cost."""

    name: str
    rows: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float


def run_stage(name: str, args: list[str], work: Path, rows: int = 0) -> tuple[StageRun, str, str]:
    """Run `args` as a child process; return its measurements, stdout and stderr (raise on failure)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    out_p, err_p = work / f"{name}.stdout", work / f"{name}.stderr"
    with open(out_p, "w") as out, open(err_p, "w") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(args, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = out_p.read_text(), err_p.read_text()
    if p.returncode != 0:
        raise SystemExit(f"stage {name} failed (exit {p.returncode}): {' '.join(args[3:])}\n{stderr[-4000:]}")
    return StageRun(name, rows, wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024), stdout, stderr


def stage_profiler() -> tuple[dict[str, list[float]], Callable[[str, float], None]]:
    """A `detect_store(on_stage=...)` callback filling {sub-stage: [wall s, cpu s, peak RSS MB, Arrow MB]}.

    The third figure is the largest resident set seen during the sub-stage (sampled every 0.1 s from
    /proc/self/statm by a thread), the fourth what pyarrow's memory pool held at that moment: the
    sub-stage that sets the run's peak, and whether Python's Arrow tables or DuckDB (the rest) fill it.
    """
    import threading

    import pyarrow as pa

    prof: dict[str, list[float]] = {}
    cpu0 = [time.process_time()]
    page = os.sysconf("SC_PAGE_SIZE") / 2**20
    peak = [0.0, 0.0]  # RSS MB, Arrow MB at that moment (since the last sub-stage ended)
    lock = threading.Lock()

    def sample() -> None:
        while True:
            try:
                with open("/proc/self/statm") as f:
                    rss = int(f.read().split()[1]) * page
            except OSError:  # not Linux: the rusage peak alone
                return
            with lock:
                if rss > peak[0]:
                    peak[:] = [rss, pa.total_allocated_bytes() / 2**20]
            time.sleep(0.1)

    threading.Thread(target=sample, daemon=True, name="rss-sampler").start()

    def on_stage(name: str, seconds: float) -> None:
        now = time.process_time()
        with lock:
            stage_peak = list(peak)
            peak[:] = [0.0, 0.0]
        prof[name] = [seconds, round(now - cpu0[0], 3), round(stage_peak[0]), round(stage_peak[1])]
        cpu0[0] = now
        # as it happens, for whoever watches a long run (WORK/detect.stderr)
        so_far = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{time.strftime('%H:%M:%S')} {name}: {prof[name][0]:.1f} s wall, {prof[name][1]:.1f} s CPU, "
              f"peak RSS {stage_peak[0]:,.0f} MB (Arrow {stage_peak[1]:,.0f} MB), so far {so_far:,.0f} MB",
              file=sys.stderr, flush=True)

    return prof, on_stage


def detect_child(db: str, out: str, engine: str) -> None:
    """Child process of the detect stage: run detection on `db`, print {sub-stage: [wall s, cpu s]} as JSON.

    CPU seconds (all threads of the process) are the load-independent figure on a shared machine.
    """
    sys.path.insert(0, str(ROOT / "src"))
    from distillguard.api import detect_and_report
    from distillguard.detection import DetectConfig

    prof, on_stage = stage_profiler()
    kwargs: dict[str, object] = {"on_stage": on_stage}
    if engine != "duckdb":
        kwargs["engine"] = engine
    detect_and_report([], out, db=db, config=DetectConfig(), **kwargs)
    print(json.dumps(prof))


STAGES = ("simulate", "ingest", "detect", "evaluate")


def _record(work: Path, run: StageRun, extra: dict[str, object] | None = None) -> None:
    """Keep one stage's measurements (and extras such as detect's profile) in `work/<stage>.json`."""
    (work / f"{run.name}.json").write_text(json.dumps({**asdict(run), **(extra or {})}, indent=2))


# `ingest_parts`' child: what `distillguard ingest FOLDER --accounts A` does (one store, the files in order), each
# part deleted once it is in the store
INGEST_PARTS_CHILD = """
import sys
from pathlib import Path
from distillguard.ingest import ingest_accounts, ingest_logs
from distillguard.store import Store
db, accounts, *parts = sys.argv[1:]
stored = 0
with Store.open(db) as store:
    ingest_accounts(store, accounts)
    for part in parts:
        stored += ingest_logs(store, [part]).stored
        Path(part).unlink()
print(f"stored {stored}")
"""


def ingest_parts(logs: Path, accounts: Path, db: Path, work: Path, rows: int) -> StageRun:
    """Ingest a folder of Parquet parts in one child process, deleting each part once it is in the store.

    For a disk that cannot hold the simulated log and the store together (scale 1: ~20 + ~25 GB). One process,
    as `distillguard ingest FOLDER` (one CLI process per part, as before, cost each part the CLI's start and a
    process's warm-up: +1.1 to +2.5 CPU s per extra process at qwen-2026 0.1, ~15 parts at scale 1).
    """
    parts = sorted(logs.glob("*.parquet"))
    r, _, _ = run_stage("ingest", [sys.executable, "-c", INGEST_PARTS_CHILD, str(db), str(accounts),
                                   *map(str, parts)], work, rows)
    return r


def bench(scale: float, work: Path, seed: int = 1, engine: str = "duckdb", corpora: str = "../shared/data",
          extra_detect: tuple[str, ...] = (), stages: tuple[str, ...] = STAGES,
          drop_logs: bool = False) -> dict[str, object]:
    """Run `stages` at `scale` under `work` (reusing earlier stages' outputs there); return the measurements."""
    work.mkdir(parents=True, exist_ok=True)
    sim, db, det = work / "sim", work / "store.duckdb", work / "detect"
    if "simulate" in stages:
        shutil.rmtree(sim, ignore_errors=True)
        r, _, _ = run_stage("simulate", CLI + ["simulate", "--scenario", "qwen-2026", "--scale", str(scale), "--seed",
                                               str(seed), "--completions", "none", "--corpora", corpora,
                                               "--out", str(sim)], work)
        scenario = json.loads((sim / "scenario.json").read_text())
        rows = int(scenario.get("exchanges") or scenario.get("result", {}).get("exchanges") or 0)
        _record(work, StageRun("simulate", rows, r.wall_s, r.cpu_s, r.peak_rss_mb), {"scale": scale, "seed": seed})
    sim_run = json.loads((work / "simulate.json").read_text())
    rows = int(sim_run["rows"])
    if "ingest" in stages:
        for p in (db, Path(f"{db}.wal")):
            p.unlink(missing_ok=True)
        shutil.rmtree(f"{db}.parts", ignore_errors=True)  # the store's Parquet parts
        logs = sim / "exchanges.parquet"
        if drop_logs and logs.is_dir():
            r = ingest_parts(logs, sim / "accounts.parquet", db, work, rows)
        else:
            r, _, _ = run_stage("ingest", CLI + ["ingest", str(logs), "--accounts", str(sim / "accounts.parquet"),
                                                 "--db", str(db)], work, rows)
        _record(work, r)
    if "detect" in stages:
        shutil.rmtree(det, ignore_errors=True)
        args = [sys.executable, str(Path(__file__).resolve()), "--detect-child", str(db), str(det), "--engine",
                engine]
        r, out, _ = run_stage("detect", args + list(extra_detect), work, rows)
        _record(work, r, {"profile": json.loads(out.strip().splitlines()[-1]), "engine": engine})
    if "evaluate" in stages:
        n_accounts = sum(1 for _ in open(det / "accounts.csv")) - 1
        r, out, _ = run_stage("evaluate", CLI + ["evaluate", "--labels", str(sim / "labels.csv"), str(det),
                                                 "--json"], work, n_accounts)
        _record(work, r, {"quality": json.loads(out)})
    done = {n: json.loads((work / f"{n}.json").read_text()) for n in STAGES if (work / f"{n}.json").exists()}
    keys = ("name", "rows", "wall_s", "cpu_s", "peak_rss_mb")
    return {"scale": sim_run.get("scale", scale), "seed": sim_run.get("seed", seed), "engine": engine,
            "exchanges": rows, "accounts": done.get("evaluate", {}).get("rows", 0),
            "stages": [{k: d[k] for k in keys} for d in done.values()],
            "detect_profile": done.get("detect", {}).get("profile", {}),
            "quality": done.get("evaluate", {}).get("quality", {})}


def format_result(res: dict[str, object]) -> str:
    """Plain-text tables of one benchmark result."""
    lines = [f"qwen-2026 scale {res['scale']} seed {res['seed']} engine {res['engine']}: "
             f"{res['exchanges']:,} exchanges, {res['accounts']:,} accounts",
             f"{'stage':<12}{'rows':>12}{'seconds':>10}{'cpu s':>10}{'rows/s':>12}{'peak RSS MB':>13}"]
    for s in res["stages"]:  # type: ignore[attr-defined]
        rate = s["rows"] / s["wall_s"] if s["wall_s"] else 0.0
        lines.append(f"{s['name']:<12}{s['rows']:>12,}{s['wall_s']:>10.1f}{s['cpu_s']:>10.1f}{rate:>12,.0f}"
                     f"{s['peak_rss_mb']:>13,.0f}")
    prof: dict[str, list[float]] = res["detect_profile"]  # type: ignore[assignment]
    total = sum(v[1] for v in prof.values()) or 1.0
    lines.append(f"{'detect sub-stage':<18}{'wall s':>10}{'cpu s':>10}{'cpu %':>8}{'peak RSS MB':>13}"
                 f"{'Arrow MB':>10}")
    lines += [f"{k:<18}{v[0]:>10.1f}{v[1]:>10.1f}{100 * v[1] / total:>8.0f}"
              + (f"{v[2]:>13,.0f}{v[3]:>10,.0f}" if len(v) > 3 else "") for k, v in prof.items()]
    q: dict[str, object] = res["quality"]  # type: ignore[assignment]
    lines.append("quality: " + "  ".join(f"{k} {q[k]:.4f}" if isinstance(q.get(k), float) else f"{k} {q.get(k)}"
                                         for k in QUALITY_KEYS if k in q))
    return "\n".join(lines)


def markdown_table(works: list[Path]) -> str:
    """One Markdown table of every stage recorded in each work folder (scale, rows, seconds, rows/s, RSS)."""
    lines = ["| scale | stage | rows | wall s | CPU s | rows/s (CPU) | peak RSS MB |",
             "|------:|-------|-----:|-------:|------:|-------------:|------------:|"]
    quality = []
    for w in works:
        done = {n: json.loads((w / f"{n}.json").read_text()) for n in STAGES if (w / f"{n}.json").exists()}
        scale = done.get("simulate", {}).get("scale", "?")
        for n, d in done.items():
            rate = d["rows"] / d["cpu_s"] if d["cpu_s"] else 0.0
            lines.append(f"| {scale:g} | {n} | {d['rows']:,} | {d['wall_s']:,.1f} | {d['cpu_s']:,.1f} | {rate:,.0f} | "
                         f"{d['peak_rss_mb']:,.0f} |")
        q = done.get("evaluate", {}).get("quality")
        if q:
            quality.append(f"| {scale:g} | " + " | ".join(f"{q.get(k, float('nan')):.4f}" for k in
                                                        ("precision", "recall", "fpr", "roc_auc", "purity", "ari"))
                           + " |")
    if quality:
        lines += ["", "| scale | precision | recall | FPR | ROC AUC | purity | ARI |",
                  "|------:|----------:|-------:|----:|--------:|-------:|----:|"] + quality
    return "\n".join(lines)


def main() -> None:
    """Parse arguments, run the benchmark, print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    ap.add_argument("--corpora", default="../shared/data")
    ap.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    ap.add_argument("--keep", action="store_true", help="keep the working folder")
    ap.add_argument("--drop-logs", action="store_true",
                    help="ingest the simulated parts one by one and delete each once ingested (small disks)")
    ap.add_argument("--stages", default=",".join(STAGES),
                    help="comma-separated stages to run; the others are reused from --work")
    ap.add_argument("--table", nargs="+", type=Path, metavar="WORK",
                    help="print one Markdown table of the stages recorded in these work folders and exit")
    ap.add_argument("--detect-child", nargs=2, metavar=("DB", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.detect_child:
        detect_child(*a.detect_child, a.engine)
        return
    if a.table:
        print(markdown_table(a.table))
        return
    stages = tuple(x.strip() for x in a.stages.split(",") if x.strip())
    if bad := [x for x in stages if x not in STAGES]:
        raise SystemExit(f"--stages: unknown stage(s) {bad}; choose from {', '.join(STAGES)}")
    if set(stages) != set(STAGES) and a.work is None:
        raise SystemExit("--stages without all four stages needs --work DIR (the earlier stages' outputs)")
    work = a.work or Path(tempfile.mkdtemp(prefix="dg-scale-"))
    try:
        res = bench(a.scale, work, a.seed, a.engine, a.corpora, stages=stages, drop_logs=a.drop_logs)
    finally:
        if not a.keep and a.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(format_result(res))
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
