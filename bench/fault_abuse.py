"""What one client can make the gateway hold: RSS of a real `distillguard serve` under each abuse, and what each
limit held to. Run from the project root (uses ../shared/probes/faults/upstream.py as the upstream):

    .venv/bin/python bench/fault_abuse.py [--faults ../shared/probes/faults]

Prints one line per abuse: RSS before -> peak/after (MB), the answers, and /healthz's latency during it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
import httpx

POLICY = """version = 1
[limits.account]
requests_per_minute = 60
request_burst = 10
[[account.rules]]
min_score = 0.98
action = "verify"
[input]
max_body_bytes = 2000000
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Peak(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.peak = max(self.peak, rss_mb(self.pid))


def healthz_ms(url: str) -> float:
    t0 = time.monotonic()
    try:
        httpx.get(url + "/healthz", timeout=10)
    except httpx.HTTPError:
        return float("inf")
    return (time.monotonic() - t0) * 1000


async def flood(url: str, key: str, n: int, size: int, model: str = "ok", conc: int = 64) -> dict[int, int]:
    codes: dict[int, int] = {}
    sem = asyncio.Semaphore(conc)
    big = "z" * size

    async def one(i: int, s: aiohttp.ClientSession) -> None:
        async with sem:
            try:
                async with s.post(url + "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                                  json={"model": model, "messages": [{"role": "user", "content": big + str(i)}]}) as r:
                    await r.read()
                    codes[r.status] = codes.get(r.status, 0) + 1
            except aiohttp.ClientError:
                codes[-1] = codes.get(-1, 0) + 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     timeout=aiohttp.ClientTimeout(total=120)) as s:
        await asyncio.gather(*(one(i, s) for i in range(n)))
    return codes


def measure(name: str, pid: int, url: str, fn) -> None:  # type: ignore[no-untyped-def]
    before = rss_mb(pid)
    p = Peak(pid)
    p.start()
    hz: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        while not stop.wait(0.5):
            hz.append(healthz_ms(url))

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t0 = time.monotonic()
    what = fn()
    took = time.monotonic() - t0
    stop.set()
    t.join()
    p.stop.set()
    p.join()
    print(f"{name:<42} RSS {before:6.0f} -> peak {p.peak:6.0f} / after {rss_mb(pid):6.0f} MB; "
          f"{what}; {took:.1f} s; /healthz max {max(hz) if hz else healthz_ms(url):.0f} ms", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faults", default="../shared/probes/faults")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = Path(tempfile.mkdtemp())
    up_port, gw_port = free_port(), free_port()
    env = {**os.environ, "UPSTREAM_API_KEY": "sk-up"}
    dg = [sys.executable, "-c", "from distillguard.cli import main; main()"]
    up = subprocess.Popen([sys.executable, str(Path(a.faults) / "upstream.py"), str(up_port)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (tmp / "policy.toml").write_text(POLICY)
    (tmp / "detect").mkdir()
    (tmp / "detect" / "accounts.csv").write_text("account_id,score,flagged,campaign_id,reasons\nblocked,0.99,true,,x\n")
    keys = {acct: subprocess.run([*dg, "keys", "create", "--account", acct, "--db", str(tmp / "gw.duckdb")],
                                 capture_output=True, text=True, env=env, check=True).stdout.strip()
            for acct in ("flood", "blocked", "slow", "other")}
    gw = subprocess.Popen([*dg, "serve", "--upstream", f"http://127.0.0.1:{up_port}/v1", "--db", str(tmp / "gw.duckdb"),
                           "--port", str(gw_port), "--policy", str(tmp / "policy.toml"),
                           "--detect", str(tmp / "detect")],
                          env=env, stdout=subprocess.DEVNULL, stderr=open(tmp / "serve.log", "wb"))
    url = f"http://127.0.0.1:{gw_port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        asyncio.run(flood(url, keys["other"], 50, 100))  # warm up
        db0 = sum(p.stat().st_size for p in tmp.rglob("gw.duckdb*") if p.is_file())

        def headers() -> str:
            out = []

            def send() -> None:
                try:
                    with socket.create_connection(("127.0.0.1", gw_port), timeout=10) as s:
                        s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ")
                        for _ in range(40):
                            s.sendall(b"a" * (1 << 20))
                        out.append(s.recv(20).split(b" ")[1].decode())
                except OSError:
                    out.append("closed")
            ts = [threading.Thread(target=send) for _ in range(8)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            return f"answers {sorted(set(out))}"
        measure("8 x 40 MB request headers", gw.pid, url, headers)

        def slow_headers() -> str:
            conns = []
            for _ in range(2000):
                try:
                    conns.append(socket.create_connection(("127.0.0.1", gw_port), timeout=15))
                except OSError:
                    break
            ok_during = healthz_ms(url)
            time.sleep(11)  # the default 10 s head timeout
            closed = 0
            for c in conns:
                c.settimeout(0.5)
                try:
                    closed += c.recv(64).startswith(b"HTTP/1.1 408") or 0
                except OSError:
                    pass
                c.close()
            return (f"{len(conns)} idle connections, {closed} closed with 408 after 10 s; "
                    f"healthz {ok_during:.0f} ms while held")
        measure("2,000 connections that send nothing", gw.pid, url, slow_headers)

        def big_prompts() -> str:
            codes = asyncio.run(flood(url, keys["flood"], 600, 1 << 20))
            grown = sum(p.stat().st_size for p in tmp.rglob("gw.duckdb*") if p.is_file()) - db0
            return f"codes {codes}; store +{grown / 1e6:.0f} MB"
        measure("600 x 1 MB prompts, one key (rate-limited)", gw.pid, url, big_prompts)

        def blocked() -> str:
            return f"codes {asyncio.run(flood(url, keys['blocked'], 200, 1 << 20))}"
        measure("200 x 1 MB prompts, blocked account (403)", gw.pid, url, blocked)

    finally:
        gw.terminate()
        gw.wait(30)
    # one account holding slow requests, on a gateway whose rate limits are out of the way (the faults harness's
    # high.toml), so that only the in-flight cap can refuse
    port2 = free_port()
    gw2 = subprocess.Popen([*dg, "serve", "--upstream", f"http://127.0.0.1:{up_port}/v1",
                            "--db", str(tmp / "gw.duckdb"),
                            "--port", str(port2), "--policy", str(Path(a.faults) / "high.toml")],
                           env=env, stdout=subprocess.DEVNULL, stderr=open(tmp / "serve2.log", "wb"))
    url2 = f"http://127.0.0.1:{port2}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url2 + "/healthz", timeout=1).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                time.sleep(0.1)

        def slow_account() -> str:
            async def run() -> str:
                task = asyncio.create_task(flood(url2, keys["slow"], 520, 10, model="slow:5", conc=520))
                await asyncio.sleep(1.0)
                t0 = time.monotonic()
                other = await flood(url2, keys["other"], 1, 10)
                lat = time.monotonic() - t0
                codes = await task
                return f"slow account codes {codes}; another account's request {other} in {lat * 1000:.0f} ms"
            return asyncio.run(run())
        measure("520 slow requests from one account", gw2.pid, url2, slow_account)
    finally:
        gw2.terminate()
        gw2.wait(30)
        up.kill()


if __name__ == "__main__":
    main()
