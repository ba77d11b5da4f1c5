"""Benchmark: every figure of issue 22 at one scale of `qwen-2026`, in one table, beside the bare engines.

    .venv/bin/python bench/scale_table.py --scale 0.01 [0.1 ...] [--work DIR] [--keep] [--seed 1] [--json FILE]
                                          [--no-jsonl]

In one run, each step a child process of its own (wall seconds, CPU seconds and peak RSS from that child's
`wait4` rusage, as in bench/scale.py):

- simulate: `distillguard simulate --scenario qwen-2026 --completions none` (prompts only);
- ingest Parquet: `distillguard ingest` of the simulated Parquet log (and its accounts) into a fresh store;
- ingest JSONL.gz: the same exchanges as gzipped JSON Lines (written by DuckDB beforehand, not timed)
  into another fresh store;
- detect: `distillguard detect --db` on the Parquet store (cold: a fresh store has no fingerprint cache),
  with its sub-stages;
- bare engines on the same files: DuckDB `CREATE TABLE AS SELECT * FROM read_parquet(…)` into a fresh
  file, pyarrow's Parquet read, read + zstd write, pyarrow's JSON read + zstd Parquet write of the
  JSONL.gz, and the CLI's start (imports only).

Every row carries rows/s (wall and per CPU second) and its ratio to a bare-engine reference of the same
run (CPU seconds ÷ the reference's, wall ÷ wall): Parquet ingest and simulate against Arrow's read +
write of the same Parquet, JSONL.gz ingest against Arrow's JSON read + Parquet write, detect against
DuckDB's CTAS (how many plain copies of the log into DuckDB detect costs). The target column is issue
22's, for scale 1 on idle cores. On a shared machine compare CPU seconds; wall seconds carry the load.
With several scales, one table each, then the growth of every step between consecutive scales (CPU
seconds per exchange, larger ÷ smaller: 1.00 is linear; the issue asks ≤ 1.10 from 0.1 to 1).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import CLI, ROOT, StageRun, run_stage  # noqa: E402

SCALE_PY = str(Path(__file__).resolve().parent / "scale.py")
# the bare engines: argv[1] the input (a Parquet file or glob, or the JSONL.gz), argv[2] an output path
BARE = {
    "DuckDB CTAS": "import duckdb, sys\ncon = duckdb.connect(sys.argv[2] + '.duckdb')\n"
                   "con.execute(\"CREATE TABLE t AS SELECT * FROM read_parquet('\" + sys.argv[1] + \"')\")\n"
                   "print(con.execute('SELECT count(*) FROM t').fetchall()[0][0])",
    "Arrow read": "import pyarrow.dataset as ds, sys\nprint(ds.dataset(sys.argv[1]).to_table().num_rows)",
    "Arrow read + write": "import pyarrow.dataset as ds, pyarrow.parquet as pq, sys\n"
                          "t = ds.dataset(sys.argv[1]).to_table()\n"
                          "pq.write_table(t, sys.argv[2] + '.parquet', compression='zstd')\nprint(t.num_rows)",
    "Arrow JSON read + write": "import pyarrow.json as pj, pyarrow.parquet as pq, sys\n"
                               "t = pj.read_json(sys.argv[1])\n"
                               "pq.write_table(t, sys.argv[2] + '.parquet', compression='zstd')\nprint(t.num_rows)",
    "CLI start (imports)": "import sys\nfrom distillguard.cli import main",
}
TO_JSONL = ("import duckdb, sys\nduckdb.connect().execute(\"COPY (SELECT * REPLACE (strftime(ts AT TIME ZONE 'UTC', "
            "'%Y-%m-%dT%H:%M:%S.%fZ') AS ts, params::JSON AS params) FROM read_parquet('\" + sys.argv[1] + \"')) "
            "TO '\" + sys.argv[2] + \"' (FORMAT json, COMPRESSION gzip)\")")
TARGETS = {"simulate": "≥ 300,000 rows/s wall", "ingest Parquet": "≥ 300,000 rows/s wall",
           "ingest JSONL.gz": "≥ 100,000 rows/s wall", "detect": "≤ 300 s wall, ≤ 6,000 MB at scale 1",
           "ingest Parquet + detect": "≤ 600 s wall, ≤ 1,200 CPU-s at scale 1"}


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    what: str
    rows: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    ref: str = ""           # the bare-engine row this one is compared with
    wall_ratio: float = 0.0
    cpu_ratio: float = 0.0
    target: str = ""


def bare(name: str, src: str, work: Path, rows: int) -> StageRun:
    """A bare-engine child on `src`; checks that it saw `rows` rows (when it prints a count)."""
    out = work / f"bare-{len(list(work.glob('bare-*')))}"
    code = BARE[name]
    r, stdout, _ = run_stage("bare", [sys.executable, "-c", code, src, str(out)], work, rows)
    if stdout.strip() and int(stdout.split()[-1]) != rows:
        raise SystemExit(f"{name}: read {stdout.strip()} rows, expected {rows}")
    for p in work.glob(f"{out.name}*"):
        p.unlink()
    return StageRun(name, rows if stdout.strip() else 0, r.wall_s, r.cpu_s, r.peak_rss_mb)


def _stored(stdout: str, rows: int, what: str) -> None:
    if f"stored {rows} " not in stdout:
        raise SystemExit(f"{what}: expected all {rows} rows stored, got: {stdout.strip()}")


def measure(scale: float, work: Path, seed: int, corpora: str,
            jsonl: bool = True) -> tuple[list[Row], dict[str, list[float]]]:
    """Run every step at `scale` under `work`; return the table's rows and detect's sub-stage profile."""
    sim, det = work / "sim", work / "detect"
    r, _, _ = run_stage("simulate", CLI + ["simulate", "--scenario", "qwen-2026", "--scale", str(scale), "--seed",
                                           str(seed), "--completions", "none", "--corpora", corpora,
                                           "--out", str(sim)], work)
    scenario = json.loads((sim / "scenario.json").read_text())
    rows = int(scenario.get("exchanges") or scenario.get("result", {}).get("exchanges") or 0)
    simulate = StageRun("simulate", rows, r.wall_s, r.cpu_s, r.peak_rss_mb)
    log = sim / "exchanges.parquet"
    parquet = str(log / "*.parquet") if log.is_dir() else str(log)
    gz = work / "exchanges.jsonl.gz"
    if jsonl:
        run_stage("to-jsonl", [sys.executable, "-c", TO_JSONL, parquet, str(gz)], work)

    db = work / "store.duckdb"
    r, out, _ = run_stage("ingest", CLI + ["ingest", str(log), "--accounts", str(sim / "accounts.parquet"),
                                           "--db", str(db)], work, rows)
    _stored(out, rows, "ingest Parquet")
    ingest_pq = StageRun("ingest Parquet", rows, r.wall_s, r.cpu_s, r.peak_rss_mb)
    ingest_gz = None
    if jsonl:
        r, out, _ = run_stage("ingest-jsonl", CLI + ["ingest", str(gz), "--db", str(work / "store-jsonl.duckdb")],
                              work, rows)
        _stored(out, rows, "ingest JSONL.gz")
        ingest_gz = StageRun("ingest JSONL.gz", rows, r.wall_s, r.cpu_s, r.peak_rss_mb)
        shutil.rmtree(work / "store-jsonl.duckdb.parts", ignore_errors=True)
    r, out, _ = run_stage("detect", [sys.executable, SCALE_PY, "--detect-child", str(db), str(det)], work, rows)
    profile: dict[str, list[float]] = json.loads(out.strip().splitlines()[-1])
    detect = StageRun("detect", rows, r.wall_s, r.cpu_s, r.peak_rss_mb)

    # DuckDB reads a glob over the simulator's part folder; Arrow's dataset reads the folder itself
    refs = {name: bare(name, str(gz) if "JSON" in name else str(log) if name.startswith("Arrow") else parquet,
                       work, rows) for name in BARE if jsonl or "JSON" not in name}

    def row(s: StageRun, ref: str = "") -> Row:
        b = refs.get(ref)
        return Row(s.name, s.rows, s.wall_s, s.cpu_s, s.peak_rss_mb, ref,
                   s.wall_s / b.wall_s if b and b.wall_s else 0.0, s.cpu_s / b.cpu_s if b and b.cpu_s else 0.0,
                   TARGETS.get(s.name, ""))

    both = StageRun("ingest Parquet + detect", rows, ingest_pq.wall_s + detect.wall_s, ingest_pq.cpu_s + detect.cpu_s,
                    max(ingest_pq.peak_rss_mb, detect.peak_rss_mb))
    table = [row(simulate, "Arrow read + write"), row(ingest_pq, "Arrow read + write")]
    table += [row(ingest_gz, "Arrow JSON read + write")] if ingest_gz else []
    table += [row(detect, "DuckDB CTAS"), row(both, "DuckDB CTAS")]
    table += [row(b) for b in refs.values()]
    return table, profile


def format_table(scale: float, rows: list[Row], profile: dict[str, list[float]]) -> str:
    """The Markdown table (and detect's sub-stages) of one run."""
    load = os.getloadavg()[0]
    lines = [f"qwen-2026 scale {scale:g}, {rows[0].rows:,} exchanges; {os.cpu_count()} cores, load average "
             f"{load:.1f} at the end (wall seconds include other work's; CPU seconds do not)", "",
             "| what | rows | wall s | CPU s | rows/s wall | rows/s per CPU-s | peak RSS MB | ÷ bare, wall | "
             "÷ bare, CPU | bare reference | issue 22 target |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        rate = (f"{r.rows / r.wall_s:,.0f} | {r.rows / r.cpu_s:,.0f}" if r.rows and r.wall_s and r.cpu_s
                else "– | –")
        ratio = f"{r.wall_ratio:.2f}× | {r.cpu_ratio:.2f}×" if r.ref else " | "
        lines.append(f"| {r.what} | {r.rows:,} | {r.wall_s:,.2f} | {r.cpu_s:,.2f} | {rate} | {r.peak_rss_mb:,.0f} | "
                     f"{ratio} | {r.ref} | {r.target} |")
    lines += ["", "| detect sub-stage | wall s | CPU s |", "|---|---:|---:|"]
    lines += [f"| {k} | {v[0]:,.1f} | {v[1]:,.1f} |" for k, v in profile.items()]
    return "\n".join(lines)


def growth(runs: list[tuple[float, list[Row]]]) -> str:
    """CPU seconds per exchange of each step, each scale against the one before (1.00: linear)."""
    pairs = list(zip(runs, runs[1:], strict=False))
    lines = ["| step | " + " | ".join(f"{a:g} → {b:g}" for (a, _), (b, _) in pairs) + " |",
             "|---|" + "---:|" * (len(runs) - 1)]
    for i, r in enumerate(runs[0][1]):
        if not r.rows:
            continue
        cells = [(y[i].cpu_s / y[i].rows) / (x[i].cpu_s / x[i].rows) for (_, x), (_, y) in pairs]
        lines.append(f"| {r.what} | " + " | ".join(f"{c:.2f}×" for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    """Parse arguments, run every step at each scale, print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, nargs="+", default=[0.01])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--corpora", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--keep", action="store_true", help="keep the working folder")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    ap.add_argument("--no-jsonl", action="store_true",
                    help="skip the JSONL.gz rows (at scale 1 the gzipped copy needs tens of GB of disk)")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="dg-table-"))
    if a.work is not None and work.exists() and any(work.iterdir()):
        raise SystemExit(f"--work {work}: not empty (every step starts from nothing)")
    runs: list[tuple[float, list[Row]]] = []
    out: list[dict[str, object]] = []
    try:
        for scale in a.scale:
            folder = work / f"scale-{scale:g}"
            folder.mkdir(parents=True)
            rows, profile = measure(scale, folder, a.seed, a.corpora, jsonl=not a.no_jsonl)
            print(format_table(scale, rows, profile), "", sep="\n", flush=True)
            runs.append((scale, rows))
            out.append({"scale": scale, "rows": [asdict(r) for r in rows], "detect": profile})
            if not a.keep:
                shutil.rmtree(folder, ignore_errors=True)  # the next scale needs the disk
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    if len(runs) > 1:
        print(growth(runs))
    if a.json:
        a.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
