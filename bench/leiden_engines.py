"""Leiden engines compared end to end: graspologic-native (MIT, what detect uses) against igraph (GPL) on presets.

    .venv/bin/python bench/leiden_engines.py --presets mixed-small deepseek-2026 --scales 1 0.05 --seeds 2 3

For each (preset, scale, seed): simulate once (cached in --work), then detect with each engine in the same
process (the campaign stage's `_leiden_codes` swapped), and print per engine the detect seconds, the number of
campaigns, the modularity of the first Leiden partition on the same pair graph, and the evaluation against the
ground truth (precision, recall, ARI, purity). igraph must be importable for its rows (`pip install igraph`;
not a DistillGuard dependency).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from distillguard.detection import campaigns  # noqa: E402
from distillguard.detection.run import DetectConfig, detect_logs  # noqa: E402
from distillguard.evaluate import evaluate, read_detection, read_labels  # noqa: E402

GRASPOLOGIC = campaigns._leiden_codes
MODULARITY: list[float] = []


def igraph_codes(n: int, src: np.ndarray, dst: np.ndarray, weight: pa.ChunkedArray,
                 config: campaigns.CampaignConfig) -> np.ndarray:
    """igraph's community_leiden as detect ran it before graspologic-native (modularity, seeded)."""
    import random

    import igraph as ig

    g = ig.Graph(n=n, edges=np.stack([src, dst], axis=1), directed=False)
    g.es["weight"] = weight.to_numpy().tolist()
    ig.set_random_number_generator(random.Random(config.seed))
    try:
        c = g.community_leiden(objective_function="modularity", weights="weight", resolution=config.resolution,
                               n_iterations=config.leiden_iterations)
    finally:
        ig.set_random_number_generator(random)
    return campaigns._by_size(np.asarray(c.membership, np.int64))


def modularity(n: int, src: np.ndarray, dst: np.ndarray, weight: pa.ChunkedArray, member: np.ndarray) -> float:
    w = weight.to_numpy().astype(np.float64)
    m2 = 2 * w.sum()
    deg = np.bincount(src, w, n) + np.bincount(dst, w, n)
    inside = w[member[src] == member[dst]].sum() * 2
    tot = np.bincount(member, deg)
    return float(inside / m2 - (tot ** 2).sum() / m2 ** 2)


def recording(engine):  # type: ignore[no-untyped-def]
    def run(n, src, dst, weight, config):  # type: ignore[no-untyped-def]
        member = engine(n, src, dst, weight, config)
        MODULARITY.append(modularity(n, src, dst, weight, member))
        return member
    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", nargs="+", default=["mixed-small"])
    ap.add_argument("--scales", nargs="+", type=float, default=[1.0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[2])
    ap.add_argument("--work", default="/tmp/dg-leiden-engines")
    args = ap.parse_args()
    work = Path(args.work)
    print(f"{'preset':<15}{'scale':>6}{'seed':>5} {'engine':<12}{'secs':>7}{'camp':>6}{'modularity':>11}"
          f"{'prec':>7}{'recall':>8}{'ARI':>7}{'purity':>8}")
    for preset, scale in zip(args.presets, args.scales * len(args.presets) if len(args.scales) == 1 else args.scales,
                             strict=False):
        for seed in args.seeds:
            sim = work / f"{preset}-x{scale}-s{seed}"
            if not (sim / "labels.csv").is_file():
                subprocess.run([str(ROOT / ".venv/bin/distillguard"), "simulate", "--scenario", preset, "--seed",
                                str(seed), "--scale", str(scale), "--out", str(sim)], check=True,
                               capture_output=True)
            labels = read_labels(sim / "labels.csv")
            for name, engine in (("igraph", igraph_codes), ("graspologic", GRASPOLOGIC)):
                campaigns._leiden_codes = recording(engine)
                MODULARITY.clear()
                t = time.perf_counter()
                res = detect_logs([sim / "exchanges.parquet"], work / f"out-{sim.name}-{name}",
                                  accounts=sim / "accounts.parquet", config=DetectConfig(rich_report=False))
                secs = time.perf_counter() - t
                n_camp = len(json.loads((res.out_dir / "campaigns.json").read_text()))
                ev = evaluate(labels, read_detection(res.out_dir))
                print(f"{preset:<15}{scale:>6}{seed:>5} {name:<12}{secs:>7.1f}{n_camp:>6}"
                      f"{MODULARITY[0] if MODULARITY else float('nan'):>11.5f}{ev.precision:>7.4f}{ev.recall:>8.4f}"
                      f"{ev.ari:>7.4f}{ev.purity:>8.4f}", flush=True)


if __name__ == "__main__":
    main()
