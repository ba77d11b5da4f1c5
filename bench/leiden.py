"""Leiden on a detect run's pair graph: igraph's implementation (what detect uses) against leidenalg.

    .venv/bin/python bench/leiden.py DETECT_DIR/links.parquet

Builds the campaign stage's pair graph (`campaigns.pair_edges`) and runs detect's Leiden
(`campaigns._leiden_codes`: igraph's `community_leiden`, modularity, seeded) with 2 passes (the default)
and until stable (-1), twice each to show the partition is a function of the seed. For comparison it
also runs leidenalg's `RBConfigurationVertexPartition` (the same objective; detect used it before) when
the optional `leidenalg` package is installed. Prints, per run, the seconds, the number of communities,
the weighted modularity of its partition and the agreement (ARI) with the first row's partition.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import igraph as ig  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from distillguard.detection.campaigns import CampaignConfig, _leiden_codes, _sorted_unique, pair_edges  # noqa: E402
from distillguard.detection.sorted_unique import positions  # noqa: E402


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    edges = pair_edges(pq.read_table(sys.argv[1]))
    names = _sorted_unique(edges["src"], edges["dst"])
    src, dst = positions(edges["src"], names), positions(edges["dst"], names)
    g = ig.Graph(n=len(names), edges=np.stack([src, dst], axis=1), directed=False)
    g.es["weight"] = edges["weight"].to_numpy().tolist()
    print(f"{len(names):,} accounts, {edges.num_rows:,} pair edges")
    print(f"{'implementation':<32}{'seconds':>9}{'communities':>13}{'modularity':>12}{'ARI':>8}")
    ref: list[int] | None = None

    def row(label: str, run: object) -> list[int]:
        nonlocal ref
        t = time.perf_counter()
        member = list(run())  # type: ignore[operator]
        secs = time.perf_counter() - t
        ref = member if ref is None else ref
        print(f"{label:<32}{secs:>9.1f}{len(set(member)):>13,}{g.modularity(member, weights='weight'):>12.5f}"
              f"{adjusted_rand_score(ref, member):>8.3f}", flush=True)
        return member

    n = len(names)
    for iterations in (2, -1):
        cfg = CampaignConfig(leiden_iterations=iterations)
        runs = [row(f"igraph (n_iterations={iterations}) #{i}",
                    lambda cfg=cfg: _leiden_codes(n, src, dst, edges["weight"], cfg)) for i in (1, 2)]
        print(f"{'':<32}identical memberships: {runs[0] == runs[1]}")
    try:
        import leidenalg
    except ImportError:
        print("leidenalg is not installed (`pip install leidenalg` to compare against it)")
        return
    row("leidenalg (RBConfiguration)", lambda: leidenalg.find_partition(
        g, leidenalg.RBConfigurationVertexPartition, weights="weight", seed=0).membership)


if __name__ == "__main__":
    main()
