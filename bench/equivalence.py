"""Behaviour-preservation check for refactors: capture the pipeline's outputs on fixed seeds, compare two captures.

    .venv/bin/python bench/equivalence.py capture DIR [--work WORKDIR] [--qwen-scale 0.003]
    .venv/bin/python bench/equivalence.py compare BASELINE_DIR NEW_DIR

`capture` runs, through the `distillguard` command, on fixed simulator seeds: mixed-small seed 3 (detect from
logs into a store, evaluate --json, backtest --json, intel export STIX and MISP with a fixed timestamp and --db,
an incremental detect run) and qwen-2026 at a small scale seed 3 (detect, evaluate). It copies accounts.csv,
campaigns.json, features.parquet, links.parquet, templates.csv, infrastructure.csv, timeline.csv and the JSON
outputs into DIR. `compare` checks every file byte for byte (Parquet by table equality); a file that differs is
compared again after normalising what a detect run does not fix from one run to the next (multi-threaded DuckDB
aggregates): rows in any order, floats equal to 1e-9 relative (CSV's six decimals to 2e-6), `;`-joined reason
lists and JSON lists in any order (equally weighted reasons swap on a last-bit difference), timing fields
(`seconds`) dropped. It prints `same`, `equivalent` or `DIFFERENT` per file and exits 1 on any DIFFERENT.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
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


def _num(x: float, digits: int = 9) -> str:
    return f"{x:.{digits}g}"


def norm(obj: object) -> object:
    """JSON value with timing fields dropped, floats to 9 digits, lists and `;`-lists in a fixed order."""
    if isinstance(obj, dict):
        return {k: norm(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return sorted((norm(v) for v in obj), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(obj, float):
        return _num(obj)
    if isinstance(obj, str) and ";" in obj:
        return ";".join(sorted(obj.split(";")))
    return obj


def _cell(v: str) -> object:
    try:
        return round(float(v) / 4e-6)  # CSV floats carry six decimals: a last-digit flip is noise
    except ValueError:
        return ";".join(sorted(v.split(";"))) if ";" in v else v


def _close_cells(a: list, b: list) -> bool:
    return all(x == y or (isinstance(x, int) and isinstance(y, int) and abs(x - y) <= 1)
               for x, y in zip(a, b, strict=True))


def equivalent(pa_: Path, pb: Path) -> bool:
    if pa_.suffix == ".parquet":
        ta, tb = pq.read_table(pa_), pq.read_table(pb)
        if not ta.schema.equals(tb.schema) or ta.num_rows != tb.num_rows:
            return False
        keys = [c for c in ta.column_names if not pa.types.is_floating(ta.schema.field(c).type)]
        ta, tb = (t.sort_by([(k, "ascending") for k in keys]) for t in (ta, tb))
        for c in ta.column_names:
            if pa.types.is_floating(ta.schema.field(c).type):
                x = ta[c].to_numpy(zero_copy_only=False).astype(float)
                y = tb[c].to_numpy(zero_copy_only=False).astype(float)
                if not np.allclose(x, y, rtol=1e-9, atol=1e-12, equal_nan=True):
                    return False
            elif not ta[c].equals(tb[c]):
                return False
        return True
    if pa_.suffix == ".json":
        return norm(json.loads(pa_.read_text())) == norm(json.loads(pb.read_text()))
    if pa_.suffix == ".csv":
        ra = sorted(([_cell(v) for v in r] for r in csv.reader(pa_.open())), key=repr)
        rb = sorted(([_cell(v) for v in r] for r in csv.reader(pb.open())), key=repr)
        return len(ra) == len(rb) and all(len(x) == len(y) and _close_cells(x, y) for x, y in zip(ra, rb, strict=True))
    return False


def compare(a: Path, b: Path) -> int:
    names = sorted({p.name for p in a.iterdir()} | {p.name for p in b.iterdir()})
    bad = identical = 0
    for n in names:
        pa_, pb = a / n, b / n
        if not pa_.exists() or not pb.exists():
            print(f"MISSING {n} ({'baseline' if not pa_.exists() else 'new'})")
            bad += 1
            continue
        if n.endswith(".parquet"):
            ta, tb = pq.read_table(pa_), pq.read_table(pb)
            same = ta.schema.equals(tb.schema) and ta.equals(tb)
        else:
            same = pa_.read_bytes() == pb.read_bytes()
        verdict = "same" if same else "equivalent" if equivalent(pa_, pb) else "DIFFERENT"
        print(f"{verdict:<11} {n}")
        bad += verdict == "DIFFERENT"
        identical += same
    print(f"{identical}/{len(names)} byte-identical, {len(names) - identical - bad} equivalent, {bad} different")
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
