"""Benchmark: ingest 1M valid exchanges from JSONL.gz and from Parquet into a fresh store.

    .venv/bin/python bench/ingest.py [--rows 1000000] [--repeat 3] [--prefill 0] [--workdir DIR]

Each measurement runs `distillguard ingest` in a child process and reports wall seconds, rows/s and the
child's CPU seconds (resource.getrusage(RUSAGE_CHILDREN)) and peak RSS. `--prefill N` first fills the store
with N other exchanges (in SQL), to show how the dedupe scales with the size of the store.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from distillguard.schema import EXCHANGE_SCHEMA  # noqa: E402
from distillguard.store import Store  # noqa: E402

WORDS = ("solve the following problem step by step and explain your reasoning carefully "
         "write a python function that returns the longest common prefix of a list of strings "
         "summarise this article about renewable energy in three bullet points for a newsletter").split()
MODELS = ("gpt-large", "gpt-small", "reasoner-1")
AGENTS = ("python-httpx/0.27", "OpenAI/Python 1.30.1", "Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0")
START = datetime(2026, 5, 1, tzinfo=UTC)


def records(n: int, offset: int = 0, seed: int = 7) -> list[dict]:
    """`n` valid exchange records shaped like a production log (JSON form)."""
    rng = np.random.default_rng(seed + offset)
    words = np.array(WORDS)
    lens = rng.integers(8, 80, n)
    accts = rng.integers(0, 20_000, n)
    secs = np.sort(rng.integers(0, 30 * 86400, n))
    out = []
    for i in range(n):
        text = " ".join(words[rng.integers(0, len(words), int(lens[i]))])
        a = int(accts[i])
        rec = {
            "request_id": f"req-{offset + i:012d}",
            "ts": (START + timedelta(seconds=int(secs[i]), microseconds=i % 1000)).isoformat().replace("+00:00", "Z"),
            "account_id": f"acct-{a:06d}",
            "api_key_id": f"key-{a:06d}-{i % 3}",
            "ip": f"10.{a % 256}.{(a // 256) % 256}.{i % 250 + 1}",
            "user_agent": AGENTS[a % len(AGENTS)],
            "model": MODELS[i % len(MODELS)],
            "messages": [{"role": "system", "content": "You are a helpful assistant."},
                         {"role": "user", "content": text}],
            "params": {"temperature": round(0.1 * (a % 10), 1), "max_tokens": 512 + 256 * (i % 4)},
            "completion": text[::-1][:300],
            "prompt_tokens": int(lens[i]) * 2,
            "completion_tokens": 100 + i % 300,
            "status": 200,
        }
        if i % 7 == 0:
            rec["tools"] = ["search", "calculator"]
        out.append(rec)
    return out


def write_jsonl_gz(path: Path, n: int, offset: int = 0, chunk: int = 100_000) -> None:
    """Write `n` records as gzip-compressed JSON Lines."""
    with gzip.open(path, "wb", compresslevel=6) as f:
        for start in range(0, n, chunk):
            recs = records(min(chunk, n - start), offset + start)
            f.write(b"".join(orjson.dumps(r) + b"\n" for r in recs))


def write_parquet(path: Path, n: int, offset: int = 0, chunk: int = 100_000) -> None:
    """Write `n` records as one Parquet file in the stored form (params as JSON text)."""
    with pq.ParquetWriter(path, EXCHANGE_SCHEMA) as w:
        for start in range(0, n, chunk):
            recs = records(min(chunk, n - start), offset + start)
            for r in recs:
                r["params"] = orjson.dumps(r["params"], option=orjson.OPT_SORT_KEYS).decode()
                r["ts"] = datetime.fromisoformat(r["ts"])
            w.write_table(pa.Table.from_pylist(recs, schema=EXCHANGE_SCHEMA))


CLI = [sys.executable, "-c", "import resource, sys\nfrom distillguard.cli import main\ntry:\n    main()\n"
       "finally:\n    print('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)"]


@dataclass(frozen=True)
class Run:
    """One child `distillguard ingest` run."""

    seconds: float
    cpu: float  # user + system seconds of the child (all its threads)
    rss_mb: float  # peak RSS of the child
    summary: str


def timed_ingest(log: Path, db: Path) -> Run:
    """Run `distillguard ingest LOG --db DB` in a child and measure it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run([*CLI, "ingest", str(log), "--db", str(db)], capture_output=True, text=True, cwd=ROOT)
    secs = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"ingest failed: {res.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rss = int(res.stderr.rsplit("maxrss", 1)[1].split()[0]) / 1024
    return Run(secs, cpu, rss, res.stdout.strip())


def make_prefilled_store(path: Path, n: int) -> None:
    """A store already holding `n` exchanges (other request ids), written in SQL for speed."""
    with Store.open(path) as store:
        store.con.execute(
            "INSERT INTO exchanges (request_id, ts, account_id, ip, model, endpoint, messages, completion, status) "
            "SELECT 'old-' || i, TIMESTAMPTZ '2026-04-01 00:00:00+00' + INTERVAL (i) SECOND, 'acct-' || (i % 20000), "
            "'10.0.0.' || (i % 250), 'gpt-large', '/v1/chat/completions', "
            "[{'role': 'user', 'content': 'question number ' || i || ' about renewable energy and python'}], "
            "repeat('answer ', 40), 200 FROM range(?) t(i)", [n])
        store.con.execute("CHECKPOINT")


def main() -> None:
    """Generate the logs, ingest each a few times into fresh stores, print the table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--prefill", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="dg-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    logs = {"jsonl.gz": work / f"ex-{args.rows}.jsonl.gz", "parquet": work / f"ex-{args.rows}.parquet"}
    if not logs["jsonl.gz"].exists():
        write_jsonl_gz(logs["jsonl.gz"], args.rows)
    if not logs["parquet"].exists():
        write_parquet(logs["parquet"], args.rows)
    prefill = None
    if args.prefill:
        prefill = work / f"prefill-{args.prefill}.duckdb"
        if not prefill.exists():
            make_prefilled_store(prefill, args.prefill)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    print("| format | rows | MB on disk | store rows before | wall s (best / median) | rows/s wall (best / median) "
          "| CPU s (best) | rows per CPU-s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for fmt, log in logs.items():
        runs: list[Run] = []
        for _ in range(args.repeat):
            db = work / f"bench-{fmt}.duckdb"
            for p in work.glob(f"bench-{fmt}.duckdb*"):
                p.unlink()
            if prefill:
                shutil.copyfile(prefill, db)
            run = timed_ingest(log, db)
            if f"stored {args.rows} " not in run.summary:
                raise SystemExit(f"unexpected summary: {run.summary}")
            runs.append(run)
        times = [r.seconds for r in runs]
        best, med = min(times), statistics.median(times)
        cpu = min(r.cpu for r in runs)
        mb = log.stat().st_size / 1e6
        print(f"| {fmt} | {args.rows:,} | {mb:,.0f} | {args.prefill:,} | {best:.2f} / {med:.2f} | "
              f"{args.rows / best:,.0f} / {args.rows / med:,.0f} | {cpu:.1f} | {args.rows / cpu:,.0f} | "
              f"{max(r.rss_mb for r in runs):,.0f} |", flush=True)
    if args.workdir is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
