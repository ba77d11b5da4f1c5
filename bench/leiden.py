"""Leiden on a detect run's pair graph: leidenalg (what detect uses) against igraph's own implementation.

    .venv/bin/python bench/leiden.py DETECT_DIR/links.parquet

Builds the campaign stage's pair graph (`campaigns.pair_edges`) and prints, for each implementation, the
seconds, the number of communities, the modularity objective of its partition (leidenalg's
RBConfiguration quality at resolution 1) and the agreement (ARI) with leidenalg's partition.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import igraph as ig  # noqa: E402
import leidenalg  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from distillguard.campaigns import _sorted_unique, pair_edges  # noqa: E402
from distillguard.distinct import positions  # noqa: E402


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    edges = pair_edges(pq.read_table(sys.argv[1]))
    names = _sorted_unique(edges["src"], edges["dst"])
    g = ig.Graph(n=len(names), edges=np.stack([positions(edges["src"], names), positions(edges["dst"], names)],
                                              axis=1), directed=False)
    g.es["weight"] = edges["weight"].to_numpy().tolist()
    print(f"{len(names):,} accounts, {edges.num_rows:,} pair edges")
    print(f"{'implementation':<28}{'seconds':>9}{'communities':>13}{'quality':>14}{'ARI':>8}")
    t = time.perf_counter()
    ref = leidenalg.find_partition(g, leidenalg.RBConfigurationVertexPartition, weights="weight", seed=0)
    print(f"{'leidenalg':<28}{time.perf_counter() - t:>9.1f}{len(set(ref.membership)):>13,}{ref.quality():>14,.1f}"
          f"{1.0:>8.3f}")
    for iterations in (2, -1):
        random.seed(0)   # igraph draws from Python's random module
        t = time.perf_counter()
        c = g.community_leiden(objective_function="modularity", weights="weight", n_iterations=iterations)
        secs = time.perf_counter() - t
        q = leidenalg.RBConfigurationVertexPartition(g, initial_membership=c.membership, weights="weight").quality()
        print(f"{f'igraph (n_iterations={iterations})':<28}{secs:>9.1f}{len(set(c.membership)):>13,}{q:>14,.1f}"
              f"{adjusted_rand_score(ref.membership, c.membership):>8.3f}")


if __name__ == "__main__":
    main()
