"""Throughput of prompt fingerprinting, in distinct texts per second, on one core.

    .venv/bin/python bench/fingerprints.py [--n 200000] [--data ../shared/data]

Builds ``--n`` distinct prompts from the real corpora (ShareGPT turns, GSM8K questions and GPTeacher
code tasks, half of them wrapped in campaign-style templates), then times each stage separately and
the whole ``fingerprint_texts`` call, and MinHash signatures / LSH grouping of the skeletons.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from distillguard.fingerprints import capability, neardup
from distillguard.fingerprints import texts as fingerprints

WRAPPERS = [
    "You are an expert. Solve the following problem step by step, showing all reasoning:\n\n{q}\n\n"
    "Return the final answer as JSON.",
    "Question: {q}\nThink carefully and explain your thinking before giving the final answer.",
    "{q}\n\nPlease answer in the following format:\nReasoning: ...\nAnswer: ...",
    "As a senior software engineer, complete this task. Include tests.\n\n{q}",
]


def corpus_texts(data: Path, n: int) -> list[str]:
    """``n`` distinct prompts from real corpora, half wrapped in campaign templates."""
    base: list[str] = []
    with gzip.open(data / "sharegpt_v3_partial" / "sharegpt_v3_human_turns.jsonl.gz", "rt") as f:
        for line in f:
            base += [t["value"] for t in json.loads(line)["turns"] if t.get("value")]
    with gzip.open(data / "gsm8k" / "train.jsonl.gz", "rt") as f:
        base += [json.loads(line)["question"] for line in f]
    with gzip.open(data / "gpteacher_gpt4_distilled" / "codegen_instruct.jsonl.gz", "rt") as f:
        base += [json.loads(line)["instruction"] for line in f]
    rng = random.Random(0)
    out: set[str] = set()
    while len(out) < n:
        q = rng.choice(base)
        if rng.random() < 0.5:
            q = rng.choice(WRAPPERS).format(q=q)
        out.add(q if len(out) < len(base) else f"{q} (#{rng.randrange(10**9)})")
    return sorted(out)


def timed(fn: Callable[[], object], repeat: int = 1) -> tuple[float, float]:
    """Best (wall, CPU) seconds of ``repeat`` runs; CPU time is what one core costs on a shared box."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0), key=lambda x: x[1])
    return best


def main() -> None:
    """Print the throughput table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    ap.add_argument("--threads", type=int, default=1, help="Arrow CPU threads (default 1: one core)")
    args = ap.parse_args()
    pa.set_cpu_count(args.threads)
    pa.set_io_thread_count(args.threads)
    texts = corpus_texts(args.data, args.n)
    arr = pa.array(texts, type=pa.string())
    chars = sum(map(len, texts)) / len(texts)
    print(f"{len(texts)} distinct prompts, mean {chars:.0f} chars, {args.threads} Arrow thread(s)\n")

    capability.load_model()  # model load is a one-off, not per call
    norm = fingerprints.normalise_array(arr)
    skels = fingerprints.skeleton_array(norm)
    lower = pc.utf8_lower(norm)
    sig = neardup.minhash_signatures(skels)
    stages: list[tuple[str, Callable[[], object]]] = [
        ("normalise (NFKC, invisibles, homoglyphs)", lambda: fingerprints.normalise_array(arr)),
        ("skeleton (masking)", lambda: fingerprints.skeleton_array(norm)),
        ("capability (linear model)", lambda: capability.classify_normalised(lower)),
        (
            "cot + structured markers",
            lambda: (
                pc.match_substring_regex(lower, fingerprints._COT),
                pc.match_substring_regex(norm, fingerprints._STRUCTURED),
            ),
        ),  # fmt: skip
        (
            "fingerprint_texts (all of the above + ids, wrappers)",
            lambda: fingerprints.fingerprint_texts(arr, threads=1),
        ),
        (
            "fingerprint_texts, threads=2 (wall-clock gain on 2 idle cores)",
            lambda: fingerprints.fingerprint_texts(arr, threads=2),
        ),
        ("MinHash signatures (rensa, 128 perm)", lambda: neardup.minhash_signatures(skels)),
        ("LSH banding + verify + leader clustering", lambda: neardup.groups_from_signatures(sig, 0.7)),
        ("near_duplicate_groups (signatures + LSH)", lambda: neardup.near_duplicate_groups(skels)),
    ]
    print("| stage | wall s | CPU s | distinct texts per CPU-second |\n|---|---|---|---|")
    for name, fn in stages:
        wall, cpu = timed(fn)
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {len(texts) / cpu:,.0f} |")
    small = texts[:10]
    wall, cpu = timed(lambda: fingerprints.fingerprint_texts(small), repeat=20)
    print(
        f"\nfixed cost of one fingerprint_texts call on 10 texts: {cpu * 1000:.1f} ms CPU ({wall * 1000:.1f} ms wall)"
    )


if __name__ == "__main__":
    main()
