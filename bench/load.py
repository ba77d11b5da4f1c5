"""Gateway soak: a steady request rate for a bounded time; errors, p50/p99 per window, gateway memory growth.

    .venv/bin/python bench/load.py [--rate 200] [--seconds 60] [--accounts 200] [--redis] [--window 10]

Starts the stub upstream and `distillguard serve` (DuckDB log, background fingerprinting, default policy;
with `--redis`, a throwaway redis-server for shared limits) as separate processes on 127.0.0.1, then sends
an open-loop stream of chat requests at `--rate` req/s from `--accounts` keys, every prompt distinct, for
`--seconds` (capped at 600). Prints one row per window: requests, errors (non-2xx or transport), p50 and
p99 latency, the gateway's RSS (server + fingerprint workers), the machine's 1-minute load average and
the gateway's CPU use in the window; then the totals, the RSS growth from the end of the first window to
the end, and the rows the gateway logged against the 2xx the client got.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import numpy as np
import psutil
from gateway import TEMPLATES as PROMPTS  # bench/gateway.py: same prompts, same start-up wait
from gateway import wait_until_up

from distillguard.gateway.keys import KeyStore
from distillguard.gateway.stub import free_port

PY = sys.executable


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, MiB."""
    try:
        p = psutil.Process(pid)
        return sum(q.memory_info().rss for q in [p, *p.children(recursive=True)]) / 2**20
    except psutil.Error:
        return float("nan")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children."""
    try:
        p = psutil.Process(pid)
        return sum(sum(q.cpu_times()[:2]) for q in [p, *p.children(recursive=True)])
    except psutil.Error:
        return float("nan")


async def soak(url: str, keys: list[str], rate: float, seconds: float, window: float,
               gw_pid: int) -> tuple[list[dict[str, float]], int]:
    """Open loop at `rate` for `seconds`; stats per window and the number of 2xx answers."""
    results: list[tuple[float, float, int]] = []  # (sent offset, latency, status; 0 = transport error)
    rss: list[tuple[float, float, float, int]] = []  # (RSS MiB, load average, gateway CPU s, cache) per window
    conn = aiohttp.TCPConnector(limit=1024)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as s:

        health_url = url.replace("/v1/chat/completions", "/healthz")

        async def cache_entries() -> int:
            try:
                async with s.get(health_url) as r:
                    return int((await r.json()).get("fingerprint_cache", -1))
            except (aiohttp.ClientError, TimeoutError, ValueError):
                return -1

        async def one(i: int, t_sent: float) -> None:
            text = PROMPTS[i % len(PROMPTS)].format(a=i, b=i * 7 + 3)
            body = json.dumps({"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": text}]})
            t0 = time.perf_counter()
            try:
                async with s.post(url, data=body, headers={"Authorization": f"Bearer {keys[i % len(keys)]}",
                                                           "Content-Type": "application/json"}) as r:
                    await r.read()
                    status = r.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            results.append((t_sent, time.perf_counter() - t0, status))

        for i in range(50):  # warm-up (imports, connections, worker start): not counted
            await one(-i - 1, 0.0)
        results.clear()
        start = time.perf_counter()
        cpu0 = cpu_s(gw_pid)
        tasks: set[asyncio.Task[None]] = set()
        n = int(rate * seconds)
        next_rss = window
        for i in range(n):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            t = asyncio.create_task(one(i, due - start))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
            if due - start >= next_rss:
                rss.append((rss_mb(gw_pid), os.getloadavg()[0], cpu_s(gw_pid), await cache_entries()))
                next_rss += window
        await asyncio.gather(*tasks)
        rss.append((rss_mb(gw_pid), os.getloadavg()[0], cpu_s(gw_pid), await cache_entries()))
    rows = []
    arr = np.array(results, dtype=float)
    prev_cpu = cpu0
    for w, (m, load, cpu, cached) in enumerate(rss):
        sel = arr[(arr[:, 0] >= w * window) & (arr[:, 0] < (w + 1) * window)] if len(arr) else arr
        if not len(sel):
            continue
        ok = sel[(sel[:, 2] >= 200) & (sel[:, 2] < 300)]
        lat = ok[:, 1] * 1000 if len(ok) else np.array([np.nan])
        rows.append({"window": w, "requests": len(sel), "errors": int(len(sel) - len(ok)),
                     "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)), "rss_mb": m,
                     "load": load, "cpu_pct": (cpu - prev_cpu) / window * 100, "fp_cache": cached})
        prev_cpu = cpu
    answered = int(((arr[:, 2] >= 200) & (arr[:, 2] < 300)).sum()) if len(arr) else 0
    return rows, answered


def cache_entry_bytes(n: int = 20_000) -> float:
    """Memory per fingerprint-cache entry for this benchmark's prompts (a dict of text -> 2 ints), bytes."""
    import gc
    import tracemalloc

    texts = [PROMPTS[i % len(PROMPTS)].format(a=i, b=i * 7 + 3) for i in range(10**6, 10**6 + n)]
    gc.collect()
    tracemalloc.start()
    cache = {t: (hash(t) & 0x7FFFFFFFFFFFFFFF, hash(t[::-1]) & 0x7FFFFFFFFFFFFFFF) for t in texts}
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del cache
    return size / n


def main() -> None:
    """Run the soak and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--window", type=float, default=10)
    ap.add_argument("--accounts", type=int, default=200)
    ap.add_argument("--redis", action="store_true", help="share limits through a throwaway redis-server")
    a = ap.parse_args()
    seconds = min(a.seconds, 600)
    tmp = Path(tempfile.mkdtemp(prefix="dg-load-"))
    ks = KeyStore(tmp / "keys.json")
    keys = [ks.create(f"acct-{i:04d}") for i in range(a.accounts)]
    (tmp / "policy.toml").write_text("version = 1\n[limits.account]\nrequests_per_minute = 100000\n"
                                     "[limits.campaign]\nrequests_per_minute = 100000\n")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        up_port, gw_port = free_port(), free_port()
        procs.append(subprocess.Popen([PY, "-m", "distillguard.gateway.stub", "--port", str(up_port)]))
        wait_until_up(f"http://127.0.0.1:{up_port}/v1/models", procs[-1], "stub", timeout_s=60)
        cmd = [PY, "-c", "from distillguard.cli import main; main()", "serve", "--upstream",
               f"http://127.0.0.1:{up_port}/v1", "--db", str(tmp / "gw.duckdb"), "--keys", str(tmp / "keys.json"),
               "--policy", str(tmp / "policy.toml"), "--port", str(gw_port)]
        if a.redis:
            redis = shutil.which("redis-server") or "/usr/bin/redis-server"
            r_port = free_port()
            procs.append(subprocess.Popen([redis, "--port", str(r_port), "--bind", "127.0.0.1", "--save", "",
                                           "--appendonly", "no"], stdout=subprocess.DEVNULL))
            time.sleep(0.3)
            cmd += ["--redis", f"redis://127.0.0.1:{r_port}/0"]
        gw = subprocess.Popen(cmd, env={**os.environ, "UPSTREAM_API_KEY": "bench"})
        procs.append(gw)
        wait_until_up(f"http://127.0.0.1:{gw_port}/healthz", gw, "gateway", timeout_s=60)
        rows, answered = asyncio.run(soak(f"http://127.0.0.1:{gw_port}/v1/chat/completions", keys, a.rate,
                                          seconds, a.window, gw.pid))
        time.sleep(1.0)  # the log commits every 0.25 s
        with __import__("urllib.request").request.urlopen(f"http://127.0.0.1:{gw_port}/healthz") as r:
            health = json.loads(r.read())
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    print(f"\nsoak: {a.rate:.0f} req/s for {seconds:.0f} s, {a.accounts} accounts, "
          f"{'redis' if a.redis else 'in-memory'} state, cpu cores {os.cpu_count()}")
    print(f"{'window':>6} {'from_s':>6} {'requests':>8} {'errors':>6} {'p50_ms':>7} {'p99_ms':>8} {'rss_mb':>7} "
          f"{'load1':>6} {'gw_cpu%':>7} {'fp_cache':>8}")
    for r in rows:
        print(f"{r['window']:>6} {r['window'] * a.window:>6.0f} {r['requests']:>8} {r['errors']:>6} "
              f"{r['p50_ms']:>7.2f} {r['p99_ms']:>8.2f} {r['rss_mb']:>7.1f} {r['load']:>6.1f} {r['cpu_pct']:>7.0f} "
              f"{r['fp_cache']:>8}")
    total = sum(r["requests"] for r in rows)
    errors = sum(r["errors"] for r in rows)
    growth = (rows[-1]["rss_mb"] / rows[0]["rss_mb"] - 1) * 100 if len(rows) > 1 else 0.0
    print(f"total {total} requests, {errors} errors ({errors / max(total, 1):.2%}); RSS {rows[0]['rss_mb']:.1f} -> "
          f"{rows[-1]['rss_mb']:.1f} MiB ({growth:+.1f} % after the first window); "
          f"2xx answered {answered}, rows logged {health['log_rows_written']} (incl. 50 warm-up); "
          f"log write errors {health.get('log_write_errors', 0)}, journal errors {health.get('journal_errors', 0)}")
    per_entry = cache_entry_bytes()
    cache_mb = (rows[-1]["fp_cache"] - rows[0]["fp_cache"]) * per_entry / 2**20
    print(f"fingerprint cache (bounded, 200,000 texts): {rows[0]['fp_cache']} -> {rows[-1]['fp_cache']} texts, "
          f"~{per_entry:.0f} B each -> ~{cache_mb:.1f} MiB of the RSS growth; RSS growth without it "
          f"{(rows[-1]['rss_mb'] - cache_mb) / rows[0]['rss_mb'] * 100 - 100:+.1f} %")
    p99 = [r["p99_ms"] for r in rows]
    print(f"p99 per window: min {min(p99):.1f}, median {float(np.median(p99)):.1f}, max {max(p99):.1f} ms; "
          f"load average min {min(r['load'] for r in rows):.1f}, max {max(r['load'] for r in rows):.1f}")


if __name__ == "__main__":
    main()
