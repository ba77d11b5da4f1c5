"""Benchmark: detect's memory and CPU per sub-stage on one store, cold fingerprint cache, under a DuckDB limit.

    .venv/bin/python bench/detect_memory.py STORE OUT --memory-gb 4 [--src OTHER_CHECKOUT/src] [--python-gb 2]

Drops the store's fingerprint cache tables (a cold run), runs detect and its report in this process, and
prints one JSON line: wall and CPU seconds, peak RSS, flagged accounts and campaigns, and per sub-stage
[wall s, CPU s] (`prof`) and, at the sub-stage's largest resident set (sampled every 0.2 s),
[RSS MB, pyarrow pool MB, DuckDB MB] (`peaks`; DuckDB's from `duckdb_memory()` on a cursor of its own).
`--src` imports distillguard from another checkout (e.g. `git archive main src | tar -x -C /tmp/old`) so
old and new code run side by side, alternated, on the same store; code from before `--memory-gb` (issue 22,
thirteenth session) takes the limit as its former fixed bound and `--python-gb` as its Python-phase limit.
Run each configuration in its own process (peak RSS is per process), on idle cores for wall seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time

ORDER = ("fingerprints", "provenance", "features", "links", "campaigns", "scoring", "output", "report")
CACHE_TABLES = ("fingerprint_cache", "fingerprint_cache_phrases", "fingerprint_cache_skeletons",
                "fingerprint_cache_wrappers")


def main() -> None:
    """Parse arguments, run detect cold, print the JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store")
    ap.add_argument("out")
    ap.add_argument("--memory-gb", type=float, default=4.0)
    ap.add_argument("--python-gb", type=float, default=2.0, help="old code only: DuckDB's Python-phase limit")
    ap.add_argument("--src", default=None, help="import distillguard from this folder (another checkout's src)")
    a = ap.parse_args()
    if a.src:
        sys.path.insert(0, a.src)
    import pyarrow as pa

    from distillguard.api import write_detection_report
    from distillguard.detection import DetectConfig
    from distillguard.detection import run as detect_run
    from distillguard.fingerprints import cache as fpcache

    if "memory_gb" in DetectConfig.__dataclass_fields__:
        config = DetectConfig(memory_gb=a.memory_gb)
    else:  # older code: a fixed bound and Python-phase limit, as default arguments
        config = DetectConfig()
        fpcache.bound_memory.__defaults__ = (a.memory_gb,)  # type: ignore[attr-defined]
        fpcache.duckdb_memory.__defaults__ = (a.python_gb,)
    page = os.sysconf("SC_PAGE_SIZE") / 2**20
    current = [ORDER[0]]
    peaks: dict[str, list[int]] = {}
    prof: dict[str, list[float]] = {}
    cpu_mark = [time.process_time()]

    def sample(con: object) -> None:
        cur = con.cursor()  # type: ignore[attr-defined]
        while True:
            with open("/proc/self/statm") as f:
                rss = int(f.read().split()[1]) * page
            try:
                duck = cur.execute("SELECT sum(memory_usage_bytes) / 2^20 FROM duckdb_memory()").fetchall()[0][0] or 0
            except Exception:  # noqa: BLE001 - the connection is busy closing: no figure
                duck = -1
            p = peaks.setdefault(current[0], [0, 0, 0])
            if rss > p[0]:
                p[:] = [round(rss), round(pa.total_allocated_bytes() / 2**20), round(duck)]
            time.sleep(0.2)

    def on_stage(name: str, seconds: float) -> None:
        now = time.process_time()
        prof[name] = [seconds, round(now - cpu_mark[0], 1)]
        cpu_mark[0] = now
        i = ORDER.index(name) if name in ORDER else -1
        current[0] = ORDER[i + 1] if 0 <= i < len(ORDER) - 1 else "after"

    with detect_run.ingested([], a.out, db=a.store) as store:
        for t in CACHE_TABLES:
            store.con.execute(f"DROP TABLE IF EXISTS {t}")
        store.con.execute("CHECKPOINT")
        threading.Thread(target=sample, args=(store.con,), daemon=True).start()
        t0, c0 = time.perf_counter(), time.process_time()
        res = detect_run.detect_store(store, a.out, config, on_stage=on_stage)
        write_detection_report(store, res, on_stage)
    print(json.dumps({"wall": round(time.perf_counter() - t0, 1), "cpu": round(time.process_time() - c0, 1),
                      "maxrss": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "flagged": res.flagged, "campaigns": res.campaigns, "memory_gb": a.memory_gb,
                      "src": a.src or "this checkout", "prof": prof, "peaks": peaks}))


if __name__ == "__main__":
    main()
