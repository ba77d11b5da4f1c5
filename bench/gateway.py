"""Gateway speed: added latency at a fixed rate, and max requests/s of one worker, against a local stub.

    .venv/bin/python bench/gateway.py [--rate 300] [--seconds 6] [--client aiohttp|httpx]

Starts a stub upstream (answers at once) and `distillguard serve` (logging to DuckDB, background
fingerprinting, enforcement with the default policy and a detection folder) as separate processes on
127.0.0.1, then:
1. open loop at `--rate` req/s, alternating 1 s blocks direct-to-stub, through-gateway and through the bare
   proxy (so load from other processes hits all alike): p50/p99 latency and the difference to direct (the
   bare proxy's is the engine's own cost of the extra hop);
2. closed loop with `--concurrency` requests in flight for `--seconds`: max requests/s through the
   gateway, and the stub's own max for reference.
3. sequential requests on a new connection each against one kept-alive connection (the per-connection
   penalty), through the gateway and direct;
4. `serve --redis --workers N` for N = 1, 2 (closed loop; needs redis-server; `--no-workers` skips it).
Every prompt is distinct (worst case for the fingerprint cache). Total run time stays under ~55 s.
Then the request journal's cost in isolation: CPU per logged exchange with the journal off, on, and on with
fsync (`--journal-only` runs just that; `--no-journal` runs the gateway without it, for comparison).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import numpy as np

from distillguard.gateway.keys import KeyStore
from distillguard.gateway.stub import free_port

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
TEMPLATES = ["You are an expert. Solve step by step and show your work: what is {a} + {b}? Answer in JSON.",
             "Write a Python function that returns the {a}th prime number below {b}.",
             "Translate to French: 'I have {a} apples and {b} pears.'",
             "Summarise the following note in one line: meeting #{a} moved to room {b}."]


def wait_until_up(url: str, proc: subprocess.Popen[bytes], what: str, timeout_s: float = 30) -> None:
    """Poll `url` until it answers; exit if `proc` dies or `timeout_s` passes."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:  # it answers: it is up
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not start")


def cpu_seconds(pid: int, children: bool = True) -> float:
    """CPU time (user + system) of a process (and its children), from /proc (Linux)."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{pid}/task").iterdir() if children else ():
            for child in (task / "children").read_text().split():
                total += cpu_seconds(int(child))
    except (OSError, IndexError, ValueError):
        pass
    return total


def _body(i: int) -> bytes:
    t = TEMPLATES[i % len(TEMPLATES)].format(a=i, b=i * 7 + 3)
    return json.dumps({"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": t}]}).encode()


async def _one(session: aiohttp.ClientSession, url: str, key: str, i: int) -> float:
    t0 = time.perf_counter()
    async with session.post(url, data=_body(i), headers={"Authorization": f"Bearer {key}",
                                                          "Content-Type": "application/json"}) as r:
        await r.read()
        if r.status != 200:
            raise RuntimeError(f"status {r.status}")
    return time.perf_counter() - t0


async def _timed(session: aiohttp.ClientSession, url: str, key: str, i: int) -> float | None:
    """Latency of one request, or None if it was refused (a 429 when a stall filled the account's 64 slots)."""
    try:
        return await _one(session, url, key, i)
    except RuntimeError:
        return None


async def open_loop(targets: dict[str, tuple[str, str]], rate: float, seconds: float
                    ) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Alternate 1 s blocks per target at `rate` req/s; latencies of answered requests and the count of
    refused ones, per target."""
    out: dict[str, list[float]] = {k: [] for k in targets}
    refused = dict.fromkeys(targets, 0)
    conn = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=conn) as s:
        for url, key in targets.values():  # warm up connections and caches
            await asyncio.gather(*[_one(s, url, key, -i - 1) for i in range(50)])
        i = 0
        for block in range(int(seconds) * len(targets)):
            name = list(targets)[block % len(targets)]
            url, key = targets[name]
            tasks = []
            start = time.perf_counter()
            n = int(rate)
            for j in range(n):
                delay = start + j / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(_timed(s, url, key, i)))
                i += 1
            got = await asyncio.gather(*tasks)
            out[name] += [t for t in got if t is not None]
            refused[name] += sum(t is None for t in got)
    return out, refused


async def closed_loop(url: str, key: str, concurrency: int, seconds: float, start_i: int) -> tuple[float, int]:
    """Requests/s with `concurrency` requests always in flight."""
    done = 0
    stop = time.perf_counter() + seconds
    counter = iter(range(start_i, 10**12))

    async def worker(s: aiohttp.ClientSession) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await _one(s, url, key, next(counter))
            done += 1

    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as s:
        t0 = time.perf_counter()
        await asyncio.gather(*[worker(s) for _ in range(concurrency)])
        return done / (time.perf_counter() - t0), done


FRESH_N = 200


def fresh_vs_keepalive(url: str, key: str, n: int = FRESH_N) -> tuple[float, float]:
    """p50 ms of sequential requests on a new connection each (curl, urllib, PHP) and on one kept-alive
    connection, interleaved so load from other processes hits both alike."""
    import http.client
    from urllib.parse import urlsplit

    u = urlsplit(url)
    kept = http.client.HTTPConnection(u.hostname, u.port)
    h = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    fresh_t, kept_t = [], []
    for i in range(n):
        for conn, out in ((None, fresh_t), (kept, kept_t)):
            c = conn or http.client.HTTPConnection(u.hostname, u.port)
            t0 = time.perf_counter()
            c.request("POST", u.path, _body(4 * 10**8 + i), h)
            r = c.getresponse()
            r.read()
            out.append(time.perf_counter() - t0)
            if conn is None:
                c.close()
    kept.close()
    return float(np.percentile(fresh_t, 50) * 1e3), float(np.percentile(kept_t, 50) * 1e3)


def worker_scaling(sp: int, tmp: Path, key: str, concurrency: int, seconds: float) -> list[tuple[int, float, float]]:
    """(workers, req/s, server CPU us per request) of `serve --redis --workers N` for N = 1, 2 (needs redis-server)."""
    import shutil

    redis_bin = shutil.which("redis-server")
    if redis_bin is None:
        return []
    rport = free_port()
    redis = subprocess.Popen([redis_bin, "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                              "no"], stdout=subprocess.DEVNULL)
    out = []
    try:
        for n in (1, 2):
            gp = free_port()
            gw = subprocess.Popen([PY, "-c", "from distillguard.cli import main; main()", "serve", "--upstream",
                                   f"http://127.0.0.1:{sp}/v1", "--db", str(tmp / f"workers{n}.duckdb"),
                                   "--keys", str(tmp / "keys.json"), "--policy", str(tmp / "policy.toml"),
                                   "--redis", f"redis://127.0.0.1:{rport}/{n}", "--port", str(gp),
                                   "--workers", str(n)], env={**os.environ, "UPSTREAM_API_KEY": "bench-upstream"})
            try:
                wait_until_up(f"http://127.0.0.1:{gp}/healthz", gw, f"gateway --workers {n}")
                url = f"http://127.0.0.1:{gp}/v1/chat/completions"
                asyncio.run(closed_loop(url, key, concurrency, 1.0, 5 * 10**8 + n * 10**7))  # warm up
                c0 = cpu_seconds(gw.pid)
                rps, done = asyncio.run(closed_loop(url, key, concurrency, seconds, 6 * 10**8 + n * 10**7))
                out.append((n, rps, (cpu_seconds(gw.pid) - c0) / done * 1e6))
            finally:
                gw.terminate()
                gw.wait(timeout=30)
    finally:
        redis.terminate()
        redis.wait(timeout=10)
    return out


def journal_cost(n: int = 20_000) -> list[tuple[str, float, float]]:
    """(mode, CPU us, wall us) per `ExchangeLog.exchange` call: journal off, on, on + fsync (writer idle)."""
    from datetime import UTC, datetime

    from distillguard.gateway.logsink import ExchangeLog, LogConfig, exchange_row

    out = []
    for mode, cfg, count in (("off", LogConfig(journal=False), n), ("on", LogConfig(), n),
                             ("on + fsync", LogConfig(fsync=True), max(200, n // 50))):
        tmp = Path(tempfile.mkdtemp(prefix="dg-journal-"))
        sink = ExchangeLog(str(tmp / "j.duckdb"), LogConfig(journal=cfg.journal, fsync=cfg.fsync, flush_s=3600,
                                                            flush_rows=10**9))
        rows = [exchange_row(request_id=f"r{i:08d}", ts=datetime.now(UTC), account_id=f"acct-{i % 200}",
                             api_key_id="k" * 16, ip="127.0.0.1", user_agent="bench/1", model="m",
                             endpoint="/v1/chat/completions", params='{"max_tokens":64}', status=200,
                             messages=[{"role": "user", "content": _body(i).decode()[40:160]}],
                             completion="The answer is 42.", prompt_tokens=30, completion_tokens=5)
                for i in range(count)]
        c0, w0 = time.process_time(), time.perf_counter()
        for r in rows:
            sink.exchange(r)
        out.append((mode, (time.process_time() - c0) / count * 1e6, (time.perf_counter() - w0) / count * 1e6))
        sink.close()
    return out


def print_journal_cost() -> None:
    """Print the journal's cost table."""
    print("\nRequest journal: cost per logged exchange (one os.write per request; the writer thread idle)")
    print(f"{'journal':<14}{'CPU us':>10}{'wall us':>10}")
    for mode, cpu, wall in journal_cost():
        print(f"{mode:<14}{cpu:>10.1f}{wall:>10.1f}")


def serve_bare(port: int, upstream: str) -> None:
    """A bare Starlette + aiohttp proxy (no auth, logging or enforcement): the reference point."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    state: dict[str, aiohttp.ClientSession] = {}

    async def chat(request: Request) -> Response:
        if "s" not in state:
            state["s"] = aiohttp.ClientSession()
        body = await request.body()
        async with state["s"].post(upstream, data=body, headers={"Content-Type": "application/json",
                                                                 "Authorization": "Bearer bench-upstream"}) as r:
            return Response(await r.read(), r.status, media_type="application/json")

    async def health(request: Request) -> Response:
        return Response(b"{}")

    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]), Route("/healthz", health)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, loop="uvloop",
                http="httptools")


def main() -> None:
    """Run the benchmark and print the tables."""
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-bare":
        serve_bare(int(sys.argv[2]), sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=300)
    ap.add_argument("--seconds", type=float, default=6)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--client", default="auto", choices=["auto", "httptools", "aiohttp", "httpx"])
    ap.add_argument("--journal-only", action="store_true", help="only measure the request journal's cost")
    ap.add_argument("--no-journal", action="store_true", help="run the gateway without its request journal")
    ap.add_argument("--no-workers", action="store_true", help="skip the 1 -> 2 worker scaling run (needs redis-server)")
    a = ap.parse_args()
    if a.journal_only:
        print_journal_cost()
        return
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    tmp = Path(tempfile.mkdtemp(prefix="dg-bench-"))
    ks = KeyStore(tmp / "keys.json")
    key = ks.create("bench-account")
    det = tmp / "detect"
    det.mkdir()
    with (det / "accounts.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["account_id", "score", "flagged", "campaign_id", "reasons"])
        w.writerows([(f"c{i}", 0.9, "true", "C1", "shared-template") for i in range(1000)])
    (det / "campaigns.json").write_text('[{"campaign_id": "C1", "confidence": 0.6}]')
    # the default policy, with per-account limits high enough for one benchmark account at full speed
    from distillguard.policy import DEFAULT_POLICY_TOML

    (tmp / "policy.toml").write_text(DEFAULT_POLICY_TOML.replace("requests_per_minute = 600\nrequest_burst = 600",
                                                                 "requests_per_minute = 6e7\nrequest_burst = 1e6"))
    sp, gp, bp = free_port(), free_port(), free_port()
    env = {**os.environ, "UPSTREAM_API_KEY": "bench-upstream"}
    stub = subprocess.Popen([PY, "-m", "distillguard.gateway.stub", "--port", str(sp), "--key", "bench-upstream"])
    gw = subprocess.Popen([PY, "-c", "from distillguard.cli import main; main()", "serve", "--upstream",
                           f"http://127.0.0.1:{sp}/v1", "--db", str(tmp / "gw.duckdb"),
                           "--keys", str(tmp / "keys.json"), "--detect", str(det), "--policy", str(tmp / "policy.toml"),
                           "--port", str(gp), "--client", a.client, *(["--no-journal"] if a.no_journal else [])],
                          env=env)
    bare = subprocess.Popen([PY, __file__, "--serve-bare", str(bp), f"http://127.0.0.1:{sp}/v1/chat/completions"])
    try:
        wait_until_up(f"http://127.0.0.1:{bp}/healthz", bare, "bare proxy")
        wait_until_up(f"http://127.0.0.1:{sp}/v1/models", stub, "stub")
        wait_until_up(f"http://127.0.0.1:{gp}/healthz", gw, "gateway")
        direct = (f"http://127.0.0.1:{sp}/v1/chat/completions", "bench-upstream")
        via = (f"http://127.0.0.1:{gp}/v1/chat/completions", key)
        bare_url = (f"http://127.0.0.1:{bp}/v1/chat/completions", "-")
        lat, refused = asyncio.run(open_loop({"direct": direct, "gateway": via, "bare": bare_url}, a.rate, a.seconds))
        rps_stub, _ = asyncio.run(closed_loop(*direct, a.concurrency, a.seconds / 2, 10**8))
        cpu_b = cpu_seconds(bare.pid)
        rps_bare, n_bare = asyncio.run(closed_loop(*bare_url, a.concurrency, a.seconds / 2, 3 * 10**8))
        bare_per_req = (cpu_seconds(bare.pid) - cpu_b) / n_bare
        cpu0, main0, w0 = cpu_seconds(gw.pid), cpu_seconds(gw.pid, children=False), time.perf_counter()
        rps_gw, n_gw = asyncio.run(closed_loop(*via, a.concurrency, a.seconds, 2 * 10**8))
        wall_gw = time.perf_counter() - w0
        cpu_gw = cpu_seconds(gw.pid) - cpu0
        cpu_per_req = cpu_gw / n_gw
        main_per_req = (cpu_seconds(gw.pid, children=False) - main0) / n_gw
        fresh_gw, kept_gw = fresh_vs_keepalive(via[0], key)
        fresh_st, kept_st = fresh_vs_keepalive(direct[0], direct[1])
        scaling = [] if a.no_workers else worker_scaling(sp, tmp, key, a.concurrency, a.seconds / 2)
        time.sleep(1.0)
        import urllib.request

        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{gp}/healthz").read())
    finally:
        bare.terminate()
        gw.terminate()
        gw.wait(timeout=30)
        stub.terminate()
        stub.wait(timeout=10)
    from distillguard.store import Store

    with Store.open(tmp / "gw.duckdb") as s:
        logged = s.count("exchanges")
    d, g, br = np.array(lat["direct"]) * 1e3, np.array(lat["gateway"]) * 1e3, np.array(lat["bare"]) * 1e3
    p = {k: (np.percentile(v, 50), np.percentile(v, 99)) for k, v in (("direct", d), ("gateway", g), ("bare", br))}
    print(f"\nGateway latency at {a.rate:g} req/s (open loop, {len(g)} requests each, upstream client {a.client}, "
          f"load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"{'path':<22}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'direct to stub':<22}{p['direct'][0]:>10.3f}{p['direct'][1]:>10.3f}")
    print(f"{'through gateway':<22}{p['gateway'][0]:>10.3f}{p['gateway'][1]:>10.3f}")
    print(f"{'added by gateway':<22}{p['gateway'][0] - p['direct'][0]:>10.3f}{p['gateway'][1] - p['direct'][1]:>10.3f}")
    print(f"{'bare proxy (engine)':<22}{p['bare'][0]:>10.3f}{p['bare'][1]:>10.3f}")
    print(f"{'added by bare proxy':<22}{p['bare'][0] - p['direct'][0]:>10.3f}{p['bare'][1] - p['direct'][1]:>10.3f}")
    if any(refused.values()):
        print("refused (not in the percentiles): " + ", ".join(f"{k} {n}" for k, n in refused.items()))
    print(f"\nThroughput, one worker, {a.concurrency} in flight")
    print(f"{'path':<40}{'req/s':>10}")
    print(f"{'stub alone':<40}{rps_stub:>10.0f}")
    print(f"{'bare Starlette+aiohttp proxy':<40}{rps_bare:>10.0f}")
    print(f"{'gateway (log + fingerprint + enforce)':<40}{rps_gw:>10.0f}")
    print(f"{'gateway, CPU-s / wall-s of that run':<40}{cpu_gw:>6.2f} / {wall_gw:.2f} ({n_gw} requests)")
    print("\nNew connection per request (sequential, p50 ms)")
    print(f"{'path':<22}{'new conn':>10}{'kept':>10}{'penalty':>10}")
    print(f"{'direct to stub':<22}{fresh_st:>10.3f}{kept_st:>10.3f}{fresh_st - kept_st:>10.3f}")
    print(f"{'through gateway':<22}{fresh_gw:>10.3f}{kept_gw:>10.3f}{fresh_gw - kept_gw:>10.3f}")
    if scaling:
        print(f"\nserve --redis --workers N, {a.concurrency} in flight ({os.cpu_count()} cores)")
        print(f"{'workers':<10}{'req/s':>10}{'CPU us/req':>12}")
        for n, rps, cpu in scaling:
            print(f"{n:<10}{rps:>10.0f}{cpu:>12.0f}")
    print(f"\nCPU per request: bare proxy {bare_per_req * 1e6:.0f} us; "
          f"gateway {main_per_req * 1e6:.0f} us in the server process "
          f"(-> {1 / main_per_req:.0f} req/s on one free core), {(cpu_per_req - main_per_req) * 1e6:.0f} us in "
          f"the fingerprint worker process")
    print(f"\nlogged exchanges {logged} (sent {len(g) + n_gw + 50 + 2 * FRESH_N} through the gateway); "
          f"fingerprint batches {health['fingerprint_batches']}, dropped {health['fingerprint_dropped']}; "
          f"request journal {'off' if a.no_journal else 'on'}")
    print_journal_cost()


if __name__ == "__main__":
    main()
