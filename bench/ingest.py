"""Benchmark: ingest valid exchanges from JSONL.gz and from Parquet into a fresh store, beside the engines.

    .venv/bin/python bench/ingest.py [--rows 1000000] [--repeat 3] [--prefill 0] [--workdir DIR]
        [--parquet FILE] [--before OTHER_CHECKOUT/src] [--no-ctas]

Each measurement runs in a child process and reports wall seconds, rows/s, the child's CPU seconds
(resource.getrusage(RUSAGE_CHILDREN)) and peak RSS: `distillguard ingest` (and, with `--before`, the same
command from another checkout, on the same files in the same run, the two alternating), then the
bare-engine references on the same file: pyarrow's Parquet read, read + zstd write, DuckDB's `CREATE TABLE
AS SELECT * FROM read_parquet(...)` into a fresh file, and for JSONL.gz pyarrow's JSON read + zstd Parquet write.
`--prefill N` first fills the store with N other exchanges, to show how the dedupe scales with the
size of the store (each version's store is filled by that version's code: the id index's layout changed with
the id hashes, fourteenth session). `--parquet FILE` ingests that file (e.g. a simulation's) instead of generated logs.
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


CLI = ["-c", "import resource, sys\nfrom distillguard.cli import main\ntry:\n    main()\n"
       "finally:\n    print('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)"]

# bare-engine references: the same file through the engines alone (no checks, no dedupe, no catalog)
BARE = {
    "duckdb CTAS": "import duckdb, sys\ncon = duckdb.connect(sys.argv[2])\n"
                   "con.execute(\"CREATE TABLE t AS SELECT * FROM read_parquet('\" + sys.argv[1] + \"')\")\n"
                   "con.close()",
    "arrow read+write": "import pyarrow.parquet as pq, sys\n"
                        "pq.write_table(pq.read_table(sys.argv[1]), sys.argv[2] + '.parquet', compression='zstd')",
    "arrow read": "import pyarrow.parquet as pq, sys\npq.read_table(sys.argv[1])",
    "arrow json read+write": "import pyarrow.json as pj, pyarrow.parquet as pq, sys\n"
                             "pq.write_table(pj.read_json(sys.argv[1]), sys.argv[2] + '.parquet', compression='zstd')",
}
BARE["CLI start"] = "import sys\nfrom distillguard.cli import main"  # what any command pays before its work
BARE_FOR = {"parquet": ("arrow read", "arrow read+write", "duckdb CTAS", "CLI start"),
            "jsonl.gz": ("arrow json read+write",)}
RSS = "\nimport resource\nprint('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)"


@dataclass(frozen=True)
class Run:
    """One child process run."""

    seconds: float
    cpu: float  # user + system seconds of the child (all its threads)
    rss_mb: float  # peak RSS of the child
    summary: str


def timed(args: list[str], src: Path) -> Run:
    """Run `python ARGS` in a child with `src` first on its path and measure it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(src)}
    res = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=env)
    secs = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{args[-4:]} failed: {res.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rss = int(res.stderr.rsplit("maxrss", 1)[1].split()[0]) / 1024
    return Run(secs, cpu, rss, res.stdout.strip())


# ingests the prefill log into a new store with the distillguard of the src/ folder given first
PREFILL_CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
from distillguard.ingest import ingest_logs
from distillguard.store import Store
with Store.open(sys.argv[3]) as store:
    ingest_logs(store, [sys.argv[2]])
"""


def prefill_log(work: Path, n: int) -> Path:
    """A Parquet log of `n` exchanges, generated in SQL, with request ids shaped like the simulator's and a provider's
    (`req_` and 32 random-looking hex digits): ids of another shape sort apart from the measured log's, and DuckDB's
    min/max filter then skips every stored one in the dedupe probe, which a store fed by one id scheme never sees."""
    import duckdb

    src = work / f"prefill-{n}.parquet"
    if src.exists():
        return src
    duckdb.connect().execute(
        "COPY (SELECT 'req_' || md5('prefill ' || i) AS request_id, "
        "TIMESTAMPTZ '2026-04-01 00:00:00+00' + INTERVAL (i) SECOND AS ts, "
        "'acct-' || (i % 20000) AS account_id, '10.0.0.' || (i % 250) AS ip, 'gpt-large' AS model, "
        "'/v1/chat/completions' AS endpoint, "
        "[{'role': 'user', 'content': 'question number ' || i || ' about renewable energy and python'}] AS messages, "
        "repeat('answer ', 40) AS completion, 200 AS status FROM range(?) t(i)) "
        f"TO '{src}' (FORMAT parquet)", [n])
    return src


def prefilled_store(work: Path, n: int, version: str, src: Path) -> Path:
    """The store `version` (its distillguard in `src`) ingests into: `n` exchanges already in it."""
    path = work / f"prefill-{n}-{version}.duckdb"
    if not path.exists():
        subprocess.run([sys.executable, "-c", PREFILL_CHILD, str(src), str(prefill_log(work, n)), str(path)],
                       check=True)
    return path


def main() -> None:
    """Generate the logs, ingest each a few times into fresh stores, print the table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--prefill", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--parquet", type=Path, default=None,
                    help="ingest this Parquet log (e.g. a simulation's exchanges.parquet) instead of generating one")
    ap.add_argument("--no-ctas", action="store_true",
                    help="leave out the DuckDB CREATE TABLE AS reference (the heaviest, in CPU and memory)")
    ap.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--before", type=Path, default=None,
                    help="the src/ folder of another checkout (e.g. a git worktree of the commit before a change): "
                         "its ingest is measured in the same run, on the same files")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="dg-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.parquet:
        logs = {"parquet": args.parquet.resolve()}
        rows = pq.ParquetFile(args.parquet).metadata.num_rows
    else:
        rows = args.rows
        logs = {"jsonl.gz": work / f"ex-{rows}.jsonl.gz", "parquet": work / f"ex-{rows}.parquet"}
        if args.generate_only:
            if rows and not logs["jsonl.gz"].exists():
                write_jsonl_gz(logs["jsonl.gz"], rows)
            if rows and not logs["parquet"].exists():
                write_parquet(logs["parquet"], rows)
            if args.prefill:
                prefill_log(work, args.prefill)
            return
        # in a child: Linux keeps a process's peak RSS across exec, so the children measured below would
        # all report this process's peak if it built the logs itself
        subprocess.run([sys.executable, __file__, "--generate-only", "--rows", str(rows), "--workdir", str(work),
                        "--prefill", str(args.prefill)], check=True)
    versions = {"now": ROOT / "src"}
    if args.before:
        versions = {"before": args.before.resolve(), **versions}
    prefill: dict[str, Path] = {}
    if args.prefill:
        if not (work / f"prefill-{args.prefill}.parquet").exists():
            subprocess.run([sys.executable, __file__, "--generate-only", "--rows", "0", "--workdir", str(work),
                            "--prefill", str(args.prefill)], check=True)
        prefill = {f"ingest ({v})": prefilled_store(work, args.prefill, v, src) for v, src in versions.items()}
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    print("| format | what | rows | MB in | store rows before | wall s (best / median) | rows/s wall (best) "
          "| CPU s (best) | rows per CPU-s | peak RSS MB | each run (wall, CPU) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for fmt, log in logs.items():
        mb = log.stat().st_size / 1e6
        jobs: list[tuple[str, list[str], Path]] = [
            (f"ingest ({v})", [*CLI, "ingest", str(log), "--db", "{db}"], src) for v, src in versions.items()]
        jobs += [(f"bare: {b}", ["-c", BARE[b] + RSS, str(log), "{db}"], ROOT / "src") for b in BARE_FOR[fmt]
                 if not (args.no_ctas and b == "duckdb CTAS")]

        def one(what: str, cmd: list[str], src: Path, fmt: str = fmt) -> Run:
            db = work / f"bench-{fmt}.duckdb"
            for p in work.glob(f"bench-{fmt}.duckdb*"):
                shutil.rmtree(p) if p.is_dir() else p.unlink()
            if what in prefill:
                shutil.copyfile(prefill[what], db)
                if Path(f"{prefill[what]}.parts").is_dir():
                    shutil.copytree(f"{prefill[what]}.parts", f"{db}.parts")
            run = timed([c.replace("{db}", str(db)) for c in cmd], src)
            if what.startswith("ingest") and f"stored {rows} " not in run.summary:
                raise SystemExit(f"unexpected summary: {run.summary}")
            return run

        runs: dict[str, list[Run]] = {what: [] for what, _, _ in jobs}
        ingests = [j for j in jobs if j[0].startswith("ingest")]
        for i in range(args.repeat):  # the versions alternate (before, now, now, before, ...): shared load hits both
            for what, cmd, src in ingests if i % 2 == 0 else ingests[::-1]:
                runs[what].append(one(what, cmd, src))
        for what, cmd, src in jobs:
            if not what.startswith("ingest"):
                runs[what] = [one(what, cmd, src) for _ in range(args.repeat)]
            times = [r.seconds for r in runs[what]]
            best, med = min(times), statistics.median(times)
            cpu = min(r.cpu for r in runs[what])
            each = " / ".join(f"{r.seconds:.2f} s, {r.cpu:.2f} CPU-s" for r in runs[what])
            print(f"| {fmt} | {what} | {rows:,} | {mb:,.0f} | {args.prefill:,} | {best:.2f} / {med:.2f} | "
                  f"{rows / best:,.0f} | {cpu:.1f} | {rows / cpu:,.0f} | {max(r.rss_mb for r in runs[what]):,.0f} "
                  f"| {each} |", flush=True)
    if args.workdir is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
