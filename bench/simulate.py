"""Simulator speed and memory: exchanges/s and peak RSS for a few scales of a preset.

    .venv/bin/python bench/simulate.py                      # qwen-2026 at scales 0.02 and 0.1 (~1.5 min)
    .venv/bin/python bench/simulate.py --scales 0.01,0.5 --scenario minimax-2026

Each scale runs in a fresh process (so peak RSS is its own) with `--completions none`, writing to a
temporary folder that is removed afterwards. Wall time excludes loading the corpora (reported apart).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time
from distillguard.simulate import get_scenario, load_corpora, simulate
name, scale, corpora, out, completions = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
t0 = time.perf_counter()
c = load_corpora(corpora)
t1 = time.perf_counter(); c1 = time.process_time()
r = simulate(get_scenario(name), scale, 1, c, out, completions)
t2 = time.perf_counter(); c2 = time.process_time()
size = sum(p.stat().st_size for p in r.files)
print(json.dumps({"load_s": t1 - t0, "wall_s": t2 - t1, "cpu_s": c2 - c1, "write_cpu_s": r.writer_cpu_s,
                  "exchanges": r.exchanges,
                  "accounts": r.accounts, "bytes": size,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    """Run the benchmark and print a table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="qwen-2026")
    ap.add_argument("--scales", default="0.02,0.1")
    ap.add_argument("--corpora", default="../shared/data")
    ap.add_argument("--completions", default="none", choices=["none", "synthetic"])
    args = ap.parse_args()
    rows = []
    for scale in [float(s) for s in args.scales.split(",")]:
        out = tempfile.mkdtemp(prefix="dg-bench-sim-")
        try:
            proc = subprocess.run([sys.executable, "-c", CHILD, args.scenario, str(scale), args.corpora, out,
                                   args.completions], capture_output=True, text=True, check=True)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        rows.append((scale, json.loads(proc.stdout.strip().splitlines()[-1])))
    load = os.getloadavg()[0]
    print(f"scenario {args.scenario}, completions {args.completions}, {os.cpu_count()} CPUs, "
          f"load average at end {load:.1f}")
    # generation (the main thread and the row builder) and Parquet encoding (writer thread) overlap: on two
    # free cores the wall time is at least half the CPU time and at least the writer's, which is what "2-core
    # bound" reports (wall depends on machine load)
    print(f"{'scale':>7} {'exchanges':>11} {'accounts':>9} {'wall s':>7} {'exch/s':>9} {'gen cpu s':>9} "
          f"{'write cpu s':>11} {'2-core bound exch/s':>19} {'MB out':>7} {'B/exch':>6} {'peak RSS MB':>11}")
    for scale, r in rows:
        gen = r["cpu_s"] - r["write_cpu_s"]
        bound = r["exchanges"] / max(r["cpu_s"] / 2, r["write_cpu_s"], 1e-9)
        print(f"{scale:>7g} {r['exchanges']:>11,} {r['accounts']:>9,} {r['wall_s']:>7.1f} "
              f"{r['exchanges'] / r['wall_s']:>9,.0f} {gen:>9.1f} {r['write_cpu_s']:>11.1f} {bound:>19,.0f} "
              f"{r['bytes'] / 1e6:>7.0f} {r['bytes'] / max(r['exchanges'], 1):>6.0f} {r['rss_mb']:>11.0f}")
    print(f"corpora load (once per process): {rows[0][1]['load_s']:.1f} s")


if __name__ == "__main__":
    main()
