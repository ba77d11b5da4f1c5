"""Behaviour-preservation check for refactors: capture the pipeline's outputs on fixed seeds, compare two captures.

    .venv/bin/python bench/equivalence.py capture DIR [--work WORKDIR] [--qwen-scale 0.003]
    .venv/bin/python bench/equivalence.py compare BASELINE_DIR NEW_DIR

`capture` runs, through the `distillguard` command, on fixed simulator seeds: mixed-small seed 3 (detect from
logs into a store, evaluate --json, backtest --json, intel export STIX and MISP with a fixed timestamp and --db,
an incremental detect run) and qwen-2026 at a small scale seed 3 (detect, evaluate). It copies accounts.csv,
campaigns.json, features.parquet, links.parquet, templates.csv, infrastructure.csv, timeline.csv and the JSON
outputs into DIR. `compare` checks every file byte for byte, Parquet by table equality, and JSON after dropping
timing fields (`seconds`); it exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
DETECT_FILES = ["accounts.csv", "campaigns.json", "features.parquet", "links.parquet", "templates.csv",
                "infrastructure.csv", "timeline.csv"]
TIMING_KEYS = {"seconds", "secs", "elapsed_s"}


def dg(*args: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    cmd = [sys.executable, "-c", "from distillguard.cli import main; main()", *args]
    subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)


def keep(src: Path, dst: Path, prefix: str) -> None:
    for f in DETECT_FILES:
        if (src / f).exists():
            shutil.copyfile(src / f, dst / f"{prefix}.{f}")


def capture(out: Path, work: Path, qwen_scale: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    data = os.environ.get("DG_CORPORA", str(ROOT.parent / "shared" / "data"))
    # mixed-small seed 3, through a store
    dg("simulate", "--scenario", "mixed-small", "--seed", "3", "--corpora", data, "--out", str(work / "sim1"))
    sim1 = work / "sim1"
    dg("detect", str(sim1 / "exchanges.parquet"), "--accounts", str(sim1 / "accounts.parquet"),
       "--db", str(work / "s1.duckdb"), "--out", str(work / "det1"), "--quiet")
    keep(work / "det1", out, "mixed")
    ev = subprocess.run([sys.executable, "-c", "from distillguard.cli import main; main()", "evaluate",
                         str(work / "det1"), "--labels", str(sim1 / "labels.csv"), "--json"],
                        check=True, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    (out / "mixed.evaluate.json").write_text(ev.stdout)
    dg("backtest", str(sim1 / "exchanges.parquet"), "--detect", str(work / "det1"), "--labels",
       str(sim1 / "labels.csv"), "--json", str(out / "mixed.backtest.json"))
    for fmt in ("stix", "misp"):
        dg("intel", "export", str(work / "det1"), "--out", str(out / f"mixed.intel.{fmt}.json"), "--format", fmt,
           "--db", str(work / "s1.duckdb"), "--timestamp", "2026-03-10T00:00:00Z", "--tlp", "green")
    # incremental: the first run takes a snapshot (full), the second absorbs nothing new
    dg("detect", "--db", str(work / "s1.duckdb"), "--out", str(work / "inc1"), "--incremental", "--quiet")
    dg("detect", "--db", str(work / "s1.duckdb"), "--out", str(work / "inc2"), "--incremental", "--quiet")
    keep(work / "inc2", out, "mixed.incremental")
    # qwen-2026, small scale, from logs
    dg("simulate", "--scenario", "qwen-2026", "--scale", str(qwen_scale), "--seed", "3", "--corpora", data,
       "--out", str(work / "sim2"))
    sim2 = work / "sim2"
    dg("detect", str(sim2 / "exchanges.parquet"), "--accounts", str(sim2 / "accounts.parquet"),
       "--out", str(work / "det2"), "--quiet")
    keep(work / "det2", out, "qwen")
    print(f"captured {len(list(out.iterdir()))} files -> {out}")


def strip(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: strip(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [strip(v) for v in obj]
    return obj


def compare(a: Path, b: Path) -> int:
    names = sorted({p.name for p in a.iterdir()} | {p.name for p in b.iterdir()})
    bad = 0
    for n in names:
        pa_, pb = a / n, b / n
        if not pa_.exists() or not pb.exists():
            print(f"MISSING {n} ({'baseline' if not pa_.exists() else 'new'})")
            bad += 1
            continue
        if n.endswith(".parquet"):
            ta, tb = pq.read_table(pa_), pq.read_table(pb)
            same = ta.schema.equals(tb.schema) and ta.equals(tb)
        elif n.endswith(".backtest.json"):
            same = strip(json.loads(pa_.read_text())) == strip(json.loads(pb.read_text()))
        else:
            same = pa_.read_bytes() == pb.read_bytes()
        print(f"{'same' if same else 'DIFFERENT'}  {n}")
        bad += not same
    print(f"{len(names) - bad}/{len(names)} identical")
    return 1 if bad else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture")
    c.add_argument("dir", type=Path)
    c.add_argument("--work", type=Path, default=Path("/tmp/dg-equivalence-work"))
    c.add_argument("--qwen-scale", type=float, default=0.003)
    k = sub.add_parser("compare")
    k.add_argument("a", type=Path)
    k.add_argument("b", type=Path)
    args = ap.parse_args()
    if args.cmd == "capture":
        capture(args.dir, args.work, args.qwen_scale)
    else:
        sys.exit(compare(args.a, args.b))


if __name__ == "__main__":
    main()
