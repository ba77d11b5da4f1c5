"""Campaigns (DESIGN.md step 6): communities of the account graph plus dense blocks of account × key.

- Leiden (igraph + leidenalg, modularity, fixed seed) on the account graph whose edge weight is the
  kind-weighted sum of the links between two accounts.
- A FRAUDAR-style dense-block detector on the bipartite account × content-key graph, with FRAUDAR's
  column weights 1 / log(degree + 5) so that camouflage (an attacker also sending popular, innocuous
  prompts) cannot lower a block's density. Peeling is the batched (1 + ε) approximation of greedy
  peeling, vectorised over a sparse matrix, so it scales with the number of edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import igraph as ig
import leidenalg
import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from .distinct import unique

DEFAULT_KIND_WEIGHTS = {
    "shared-template": 1.0,
    "near-duplicate-template": 0.8,
    "shared-wrapper": 0.8,
    "shared-prompt-ends": 0.6,
    "shared-phrases": 0.8,
    "shared-system-prompt": 0.4,
    "lockstep-timing": 0.6,
    "shared-ip": 0.4,
    "client-fingerprint": 0.15,
    "shared-payment": 0.8,
    "signup-cohort": 0.4,
    "shared-params": 1.0,   # already down-weighted by popularity (1 / (1 + ln n)) in the link stage
}


# independent families of evidence: a small group bound by one family only may be a coincidence
FAMILIES = {"lockstep-timing": 1, "shared-ip": 2, "client-fingerprint": 2, "shared-params": 2, "shared-payment": 3,
            "signup-cohort": 3, "shared-system-prompt": 3}  # everything else: content (0)
CONTENT_KINDS = frozenset({"shared-template", "near-duplicate-template", "shared-wrapper", "shared-prompt-ends",
                           "shared-phrases"})


@dataclass(frozen=True)
class CampaignConfig:
    """Knobs of the campaign stage."""

    kind_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_KIND_WEIGHTS))
    min_edge: float = 0.15          # pairs whose combined weight is below this are not linked
    min_size: int = 2
    resolution: float = 1.0
    seed: int = 0
    max_blocks: int = 20
    min_block_accounts: int = 3
    peel_eps: float = 0.1
    refine_content_weight: float = 0.1
    refine_min_edge: float = 0.05
    refine_resolution: float = 0.2


@dataclass(frozen=True)
class Grouping:
    """Accounts grouped into candidate campaigns."""

    accounts: list[str]              # every account with an edge or a block
    group: np.ndarray                # group index per account (-1: none)
    strength: np.ndarray             # kind-weighted degree inside the own group, per account
    degree: np.ndarray               # number of linked accounts inside the own group, per account
    in_block: np.ndarray             # bool: inside a dense block
    edges: pa.Table                  # pair edges (src, dst, weight) above min_edge
    families: np.ndarray             # per group index: distinct evidence families binding its accounts


def pair_edges(links: pa.Table, config: CampaignConfig = CampaignConfig()) -> pa.Table:
    """Combine per-kind links into one weight per account pair (kind-weighted sum, capped at 2)."""
    kw = pa.table({"kind": list(config.kind_weights), "kw": list(config.kind_weights.values()),
                   "content": [k in CONTENT_KINDS for k in config.kind_weights]})
    con = duckdb.connect()
    try:
        con.register("l", links)
        con.register("k", kw)
        # content kinds restate one fact (the two accounts send alike prompts): take the strongest;
        # independent kinds (timing, infrastructure, payment, cohort) add up
        return con.sql(f"""
            SELECT src, dst, weight FROM (
              SELECT src, dst, least(
                  coalesce(max(CASE WHEN k.content THEN l.weight * k.kw END), 0)
                  + coalesce(sum(CASE WHEN NOT k.content THEN l.weight * k.kw END), 0), 2.0) AS weight
              FROM l JOIN k USING (kind) GROUP BY src, dst)
            WHERE weight >= {config.min_edge} ORDER BY src, dst""").to_arrow_table()
    finally:
        con.close()


def leiden_groups(edges: pa.Table, config: CampaignConfig = CampaignConfig()) -> tuple[list[str], np.ndarray]:
    """Leiden communities of the pair graph: (account names, community index per account)."""
    if edges.num_rows == 0:
        return [], np.zeros(0, np.int64)
    src = edges["src"].to_numpy(zero_copy_only=False)
    dst = edges["dst"].to_numpy(zero_copy_only=False)
    names, inv = unique(np.concatenate([src, dst]), return_inverse=True)
    n = len(src)
    g = ig.Graph(n=len(names), edges=np.stack([inv[:n], inv[n:]], axis=1).tolist(), directed=False)
    g.es["weight"] = edges["weight"].to_numpy().tolist()
    part = leidenalg.find_partition(g, leidenalg.RBConfigurationVertexPartition, weights="weight",
                                    resolution_parameter=config.resolution, seed=config.seed)
    return [str(x) for x in names], np.asarray(part.membership, np.int64)


def dense_blocks(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int,
                 config: CampaignConfig = CampaignConfig()) -> list[np.ndarray]:
    """FRAUDAR-style dense blocks of a bipartite graph given as edge arrays: row indices per block."""
    if len(rows) == 0:
        return []
    m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_rows, n_cols))
    m.data[:] = 1.0
    col_deg = np.asarray(m.sum(axis=0)).ravel()
    m = m @ sp.diags(1.0 / np.log(col_deg + 5.0))  # FRAUDAR column weights: popular keys count less
    m = m.tocsr()
    alive_r = np.asarray(m.sum(axis=1)).ravel() > 0
    blocks = []
    for _ in range(config.max_blocks):
        block = _peel(m, alive_r.copy(), col_deg > 1, config.peel_eps)
        if block is None or len(block) < config.min_block_accounts:
            break
        blocks.append(block)
        alive_r[block] = False
    return blocks


def _peel(m: sp.csr_matrix, ar: np.ndarray, ac: np.ndarray, eps: float) -> np.ndarray | None:
    best, best_rows = 0.0, None
    mt = m.T.tocsr()
    while ar.any() and ac.any():
        dr = (m @ ac.astype(float)) * ar
        dc = (mt @ ar.astype(float)) * ac
        f = dr.sum()
        size = ar.sum() + ac.sum()
        if f <= 0:
            break
        rho = f / size
        if rho > best:
            best, best_rows = rho, np.flatnonzero(ar)
        thr = 2 * (1 + eps) * rho
        drop_r = ar & (dr <= thr)
        drop_c = ac & (dc <= thr)
        if not drop_r.any() and not drop_c.any():
            break
        ar = ar & ~drop_r
        ac = ac & ~drop_c
    return best_rows


def group_accounts(links: pa.Table, bipartite: pa.Table, config: CampaignConfig = CampaignConfig()) -> Grouping:
    """Leiden communities, merged with dense blocks: returns the grouping of linked accounts."""
    edges = pair_edges(links, config)
    names, member = leiden_groups(edges, config)
    index = {a: i for i, a in enumerate(names)}
    # dense blocks on account × key
    acc = bipartite["account_id"].to_numpy(zero_copy_only=False) if bipartite.num_rows else np.array([], str)
    keys = bipartite["key"].to_numpy() if bipartite.num_rows else np.array([], np.uint64)
    acc_names, r = unique(acc, return_inverse=True)
    _, c = unique(keys, return_inverse=True)
    blocks = dense_blocks(r, c, len(acc_names), int(c.max()) + 1 if len(c) else 0, config)
    for a in acc_names[np.concatenate(blocks)] if blocks else []:
        if a not in index:
            index[a] = len(names)
            names.append(str(a))
            member = np.append(member, -1)
    # dense blocks are evidence, not membership: a block can sweep in accounts that merely share popular
    # keys, so it marks accounts (reason code `dense-block`) but never adds them to a community
    in_block = np.zeros(len(names), bool)
    next_id = int(member.max()) + 1 if len(member) else 0
    for b in blocks:
        in_block[np.array([index[a] for a in acc_names[b]])] = True
    # communities smaller than min_size are not groups
    sizes = np.bincount(member[member >= 0], minlength=max(next_id, 1))
    member = np.where((member >= 0) & (sizes[np.maximum(member, 0)] >= config.min_size), member, -1)
    strength, degree = _strength(edges, names, member)
    families = _families(links, names, member, config)
    return Grouping(accounts=names, group=member, strength=strength, degree=degree, in_block=in_block,
                    edges=edges, families=families)


def _families(links: pa.Table, names: list[str], member: np.ndarray, config: CampaignConfig) -> np.ndarray:
    n_groups = int(member.max()) + 1 if len(member) and member.max() >= 0 else 0
    out = np.zeros(n_groups, np.int64)
    if links.num_rows == 0 or n_groups == 0:
        return out
    arr = np.asarray(names, dtype=object)
    order = np.argsort(arr)
    sorted_names = arr[order]

    def idx(col: str) -> np.ndarray:
        v = links[col].to_numpy(zero_copy_only=False)
        pos = np.clip(np.searchsorted(sorted_names, v), 0, len(sorted_names) - 1)
        found = sorted_names[pos] == v
        return np.where(found, order[pos], -1)

    a, b = idx("src"), idx("dst")
    kinds = links["kind"].to_numpy(zero_copy_only=False)
    w = links["weight"].to_numpy() * np.array([config.kind_weights.get(k, 0.0) for k in kinds])
    ok = (a >= 0) & (b >= 0) & (w >= config.min_edge / 2)
    ga = np.where(ok, member[np.maximum(a, 0)], -1)
    gb = np.where(ok, member[np.maximum(b, 0)], -2)
    same = ok & (ga == gb) & (ga >= 0)
    fam = np.array([FAMILIES.get(k, 0) for k in kinds])
    pairs = unique(ga[same] * 8 + fam[same])
    np.add.at(out, pairs // 8, 1)
    return out


def _strength(edges: pa.Table, names: list[str], member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.zeros(len(member))
    d = np.zeros(len(member))
    if edges.num_rows == 0:
        return s, d
    arr = np.asarray(names, dtype=object)
    order = np.argsort(arr)
    a = order[np.searchsorted(arr[order], edges["src"].to_numpy(zero_copy_only=False))]
    b = order[np.searchsorted(arr[order], edges["dst"].to_numpy(zero_copy_only=False))]
    w = edges["weight"].to_numpy()
    same = (member[a] == member[b]) & (member[a] >= 0)
    np.add.at(s, a[same], w[same])
    np.add.at(s, b[same], w[same])
    np.add.at(d, a[same], 1)
    np.add.at(d, b[same], 1)
    return s, d


def refine_campaigns(links: pa.Table, accounts: list[str], first: np.ndarray,
                     config: CampaignConfig = CampaignConfig()) -> np.ndarray:
    """Regroup flagged accounts into campaigns: campaign index per account of `accounts` (-1: none).

    The first pass finds *that* accounts are coordinated; content similarity also ties separate
    campaigns that draw on the same public prompt sets. Here, among flagged accounts only, content
    links are damped so that operator-specific evidence (payment, cohort, timing, infrastructure)
    decides which campaign an account belongs to. Accounts left without a link keep the campaign that
    holds most of their first-pass group; accounts outside any group stay outside (-1).
    """
    n = len(accounts)
    out = np.full(n, -1, np.int64)
    if n == 0:
        return out
    kw = {k: (v * config.refine_content_weight if k in CONTENT_KINDS else v) for k, v in config.kind_weights.items()}
    sub_cfg = CampaignConfig(kind_weights=kw, min_edge=config.refine_min_edge, resolution=config.refine_resolution,
                             seed=config.seed)
    acc = pa.array(accounts, pa.string())
    mask = pa.compute.and_(pa.compute.is_in(links["src"], acc), pa.compute.is_in(links["dst"], acc)) \
        if links.num_rows else None
    sub = links.filter(mask) if mask is not None else links
    names, member = leiden_groups(pair_edges(sub, sub_cfg), sub_cfg) if sub.num_rows else ([], np.zeros(0))
    pos = {a: i for i, a in enumerate(accounts)}
    for a, m in zip(names, member, strict=True):
        out[pos[a]] = int(m)
    next_id = int(out.max()) + 1
    for g in unique(first):
        idx = np.flatnonzero(first == g)
        loose = idx[out[idx] < 0]
        if len(loose) == 0:
            continue
        known = out[idx][out[idx] >= 0]
        if g >= 0 and len(known):
            out[loose] = np.bincount(known).argmax()
        elif g >= 0:
            out[loose] = next_id
            next_id += 1
    return out
