"""Leiden communities and the FRAUDAR-style dense-block detector on graphs with a planted answer."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from distillguard.campaigns import CampaignConfig, dense_blocks, group_accounts, leiden_groups, pair_edges


def _clique(prefix: str, n: int, kind: str = "shared-wrapper", w: float = 1.0) -> list[tuple[str, str, str, float]]:
    return [(f"{prefix}{i}", f"{prefix}{j}", kind, w) for i in range(n) for j in range(i + 1, n)]


def _links(rows: list[tuple[str, str, str, float]]) -> pa.Table:
    s, d, k, w = zip(*rows, strict=True)
    return pa.table({"src": list(s), "dst": list(d), "kind": list(k), "weight": list(w)})


def test_pair_edges_combine_kinds_and_drop_weak() -> None:
    t = _links([("a", "b", "shared-wrapper", 1.0), ("a", "b", "shared-payment", 1.0),
                ("a", "c", "client-fingerprint", 0.5)])
    e = {(r["src"], r["dst"]): r["weight"] for r in pair_edges(t).to_pylist()}
    assert e == {("a", "b"): 1.6}


def test_leiden_separates_two_cliques_joined_by_one_edge() -> None:
    rows = _clique("x", 8) + _clique("y", 6) + [("x0", "y0", "shared-ip", 0.5)]
    names, member = leiden_groups(pair_edges(_links(rows)))
    g = dict(zip(names, member, strict=True))
    assert len({g[f"x{i}"] for i in range(8)}) == 1 and len({g[f"y{i}"] for i in range(6)}) == 1
    assert g["x1"] != g["y1"]


def test_dense_block_found_despite_camouflage() -> None:
    rng = np.random.default_rng(0)
    rows, cols = [], []
    for a in range(30):                       # fraud block: accounts 0..29 × keys 0..9, all edges
        for k in range(10):
            rows.append(a)
            cols.append(k)
        for k in rng.choice(np.arange(10, 200), 5, replace=False):   # camouflage: popular honest keys
            rows.append(a)
            cols.append(int(k))
    for a in range(30, 300):                  # honest accounts: sparse random keys
        for k in rng.choice(np.arange(10, 200), 3, replace=False):
            rows.append(a)
            cols.append(int(k))
    blocks = dense_blocks(np.array(rows), np.array(cols), 300, 200, CampaignConfig(max_blocks=1))
    assert set(blocks[0]) == set(range(30))


def test_group_accounts_marks_blocks_and_strength() -> None:
    links = _links(_clique("c", 5))
    bip = pa.table({"account_id": [f"c{i}" for i in range(5) for _ in range(3)],
                    "key": pa.array([k for _ in range(5) for k in (1, 2, 3)], pa.uint64()),
                    "share": [0.3] * 15})
    g = group_accounts(links, bip)
    assert len(set(g.group.tolist())) == 1 and g.group[0] >= 0
    assert g.in_block.all() and (g.strength > 1).all()
