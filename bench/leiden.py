"""Leiden on a detect run's pair graph: detect's engine (graspologic-native) against igraph, over seeds.

    .venv/bin/python bench/leiden.py DETECT_DIR/links.parquet [--seeds 8]

Builds the campaign stage's pair graph (`campaigns.pair_edges`) and runs detect's Leiden
(`campaigns._leiden_codes`: graspologic-native's `leiden_csr`, modularity, seeded) and, when the optional
`igraph` package is installed, igraph's `community_leiden` as detect used it before, for each seed. Prints per
engine the seconds, the number of communities and the weighted modularity (mean, min, max over seeds), the
agreement (ARI) between the two engines at the same seed, and between igraph's seed 0 and its other seeds (how
much one engine's partition moves with the seed alone).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from sklearn.metrics import adjusted_rand_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from leiden_engines import GRASPOLOGIC, igraph_codes, modularity  # noqa: E402

from distillguard.detection.campaigns import CampaignConfig, _sorted_unique, pair_edges  # noqa: E402
from distillguard.detection.sorted_unique import positions  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("links")
    ap.add_argument("--seeds", type=int, default=8)
    args = ap.parse_args()
    edges = pair_edges(pq.read_table(args.links))
    names = _sorted_unique(edges["src"], edges["dst"])
    n = len(names)
    src, dst = positions(edges["src"], names), positions(edges["dst"], names)
    print(f"{n:,} accounts, {edges.num_rows:,} pair edges")
    engines = [("graspologic-native", GRASPOLOGIC)]
    try:
        import igraph  # noqa: F401
        engines.append(("igraph", igraph_codes))
    except ImportError:
        print("igraph is not installed (`pip install igraph` to compare against it)")
    runs: dict[str, list[np.ndarray]] = {}
    print(f"{'engine':<20}{'seconds':>9}{'communities':>13}{'modularity mean':>17}{'min':>9}{'max':>9}")
    for name, engine in engines:
        t = time.perf_counter()
        runs[name] = [engine(n, src, dst, edges["weight"], CampaignConfig(seed=s)) for s in range(args.seeds)]
        secs = (time.perf_counter() - t) / args.seeds
        mods = [modularity(n, src, dst, edges["weight"], m) for m in runs[name]]
        print(f"{name:<20}{secs:>9.2f}{np.mean([len(set(m.tolist())) for m in runs[name]]):>13.1f}"
              f"{np.mean(mods):>17.5f}{np.min(mods):>9.5f}{np.max(mods):>9.5f}")
    if "igraph" in runs:
        same = [adjusted_rand_score(a, b) for a, b in zip(runs["igraph"], runs["graspologic-native"], strict=True)]
        seed = [adjusted_rand_score(runs["igraph"][0], b) for b in runs["igraph"][1:]]
        print(f"ARI between engines at the same seed: mean {np.mean(same):.3f}; "
              f"igraph seed 0 vs its other seeds: mean {np.mean(seed):.3f}")


if __name__ == "__main__":
    main()
