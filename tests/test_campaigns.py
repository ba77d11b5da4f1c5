"""Leiden communities and the FRAUDAR-style dense-block detector on graphs with a planted answer."""

from __future__ import annotations

import random
import zlib

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp

from distillguard.detection.campaigns import (
    DEFAULT_KIND_WEIGHTS,
    FAMILIES,
    CampaignConfig,
    Grouping,
    dense_blocks,
    group_accounts,
    join_fragments,
    joining_links,
    leiden_groups,
    pair_edges,
)


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


# --- the fast paths against straightforward references (same vertex order, same blocks, same numbers) ---

def _ref_peel(m: sp.csr_matrix, ar: np.ndarray, ac: np.ndarray, eps: float) -> np.ndarray | None:
    """Greedy peeling with full sparse mat-vecs every round (the original formulation)."""
    best, best_rows = 0.0, None
    mt = m.T.tocsr()
    while ar.any() and ac.any():
        dr = (m @ ac.astype(float)) * ar
        dc = (mt @ ar.astype(float)) * ac
        f = dr.sum()
        if f <= 0:
            break
        rho = f / (ar.sum() + ac.sum())
        if rho > best:
            best, best_rows = rho, np.flatnonzero(ar)
        thr = 2 * (1 + eps) * rho
        drop_r, drop_c = ar & (dr <= thr), ac & (dc <= thr)
        if not drop_r.any() and not drop_c.any():
            break
        ar, ac = ar & ~drop_r, ac & ~drop_c
    return best_rows


def _ref_blocks(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int, cfg: CampaignConfig) -> list:
    m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_rows, n_cols))
    m.data[:] = 1.0
    col_deg = np.asarray(m.sum(axis=0)).ravel()
    m = (m @ sp.diags(1.0 / np.log(col_deg + 5.0))).tocsr()
    alive = np.asarray(m.sum(axis=1)).ravel() > 0
    out = []
    for _ in range(cfg.max_blocks):
        b = _ref_peel(m, alive.copy(), col_deg > 1, cfg.peel_eps)
        if b is None or len(b) < cfg.min_block_accounts:
            break
        out.append(b)
        alive[b] = False
    return out


@pytest.mark.parametrize("seed", range(6))
def test_dense_blocks_match_full_matrix_peeling(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_rows, n_cols = int(rng.integers(200, 600)), int(rng.integers(100, 400))
    rows = [rng.integers(0, n_rows, 4 * n_rows)]
    cols = [np.minimum(rng.zipf(1.5, 4 * n_rows), n_cols) - 1]
    for _ in range(int(rng.integers(2, 6))):    # planted blocks of various sizes and densities
        r = rng.choice(n_rows, int(rng.integers(5, 40)), replace=False)
        c = rng.choice(n_cols, int(rng.integers(3, 15)), replace=False)
        rr, cc = np.meshgrid(r, c)
        keep = rng.random(rr.size) < rng.uniform(0.5, 1.0)
        rows.append(rr.ravel()[keep])
        cols.append(cc.ravel()[keep])
    r, c = np.concatenate(rows), np.concatenate(cols)
    cfg = CampaignConfig(max_blocks=8, peel_eps=float(rng.choice([0.0, 0.1, 0.5])))
    got, want = dense_blocks(r, c, n_rows, n_cols, cfg), _ref_blocks(r, c, n_rows, n_cols, cfg)
    assert len(want) >= 2 and len(got) == len(want)
    assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))


def _random_links(seed: int, n: int = 300) -> pa.Table:
    rng = np.random.default_rng(seed)
    # names of varied length and script: vertex order is the names' sort order, whatever their bytes
    names = [f"{rng.choice(['acc', 'Z', 'é', 'ß-x', '用户'])}{rng.integers(0, 10 ** rng.integers(1, 7))}-{i}"
             for i in range(n)]
    kinds = list(DEFAULT_KIND_WEIGHTS)
    rows = []
    for g in range(0, n - 30, 30):               # ring-like groups plus noise
        for i in range(g, g + 30):
            for off in (1, 2, 3):
                rows.append((names[i], names[g + (i - g + off) % 30], kinds[int(rng.integers(0, len(kinds)))],
                             float(rng.uniform(0.1, 1.0))))
    for _ in range(4 * n):
        a, b = rng.integers(0, n, 2)
        rows.append((names[a], names[b], kinds[int(rng.integers(0, len(kinds)))], float(rng.exponential(0.1))))
    seen = {}
    for s, d, k, w in rows:
        if s != d:
            seen[(min(s, d), max(s, d), k)] = w
    return _links([(s, d, k, w) for (s, d, k), w in sorted(seen.items())])


def _ref_leiden(edges: pa.Table, cfg: CampaignConfig) -> tuple[list[str], np.ndarray]:
    """graspologic-native's Leiden called directly on the symmetric adjacency, built pair by pair."""
    import graspologic_native as gn

    src, dst = edges["src"].to_pylist(), edges["dst"].to_pylist()
    names = sorted(set(src) | set(dst))
    pos = {a: i for i, a in enumerate(names)}
    adj: dict[tuple[int, int], float] = {}
    for a, b, w in zip(src, dst, edges["weight"].to_pylist(), strict=True):
        for i, j in ((pos[a], pos[b]), (pos[b], pos[a])):
            adj[(i, j)] = adj.get((i, j), 0.0) + w
    keys = sorted(adj)
    indptr = np.searchsorted(np.array([i for i, _ in keys]), np.arange(len(names) + 1)).astype(np.int64)
    _, part = gn.leiden_csr(indptr, np.array([j for _, j in keys], np.int32), np.array([adj[k] for k in keys]),
                            len(names), resolution=cfg.resolution, iterations=cfg.leiden_iterations,
                            use_modularity=True, seed=cfg.seed)
    member = [part[i] for i in range(len(names))]
    # communities numbered by size, largest first; ties: the community whose first vertex comes first
    order = sorted(set(member), key=lambda c: (-member.count(c), member.index(c)))
    rank = {c: i for i, c in enumerate(order)}
    return names, np.array([rank[c] for c in member], np.int64)


@pytest.mark.parametrize("seed", range(3))
def test_grouping_matches_reference(seed: int) -> None:
    cfg = CampaignConfig()
    links = _random_links(seed)
    edges = pair_edges(links, cfg)
    names, member = leiden_groups(edges, cfg)
    ref_names, ref_member = _ref_leiden(edges, cfg)
    assert names == ref_names and np.array_equal(member, ref_member)
    bip = pa.table({"account_id": [r["src"] for r in links.to_pylist()[:400]],
                    "key": pa.array([zlib.crc32(r["dst"].encode()) % 50 for r in links.to_pylist()[:400]], pa.uint64()),
                    "share": [0.5] * 400})
    g = group_accounts(links, bip, cfg)
    pos = {a: i for i, a in enumerate(g.accounts)}
    assert g.accounts[:len(names)] == names and len(set(g.accounts)) == len(g.accounts)
    # strength / degree: kind-weighted pair edges inside the own group, summed edge by edge in table order
    s, d = np.zeros(len(g.accounts)), np.zeros(len(g.accounts))
    for e in edges.to_pylist():
        a, b = pos[e["src"]], pos[e["dst"]]
        if g.group[a] == g.group[b] >= 0:
            s[a] += e["weight"]
            d[a] += 1
    for e in edges.to_pylist():
        a, b = pos[e["src"]], pos[e["dst"]]
        if g.group[a] == g.group[b] >= 0:
            s[b] += e["weight"]
            d[b] += 1
    assert np.array_equal(g.strength, s) and np.array_equal(g.degree, d)
    fam: dict[int, set[int]] = {}
    for r in links.to_pylist():
        a, b = pos.get(r["src"], -1), pos.get(r["dst"], -1)
        w = r["weight"] * cfg.kind_weights.get(r["kind"], 0.0)
        if a >= 0 and b >= 0 and w >= cfg.min_edge / 2 and g.group[a] == g.group[b] >= 0:
            fam.setdefault(int(g.group[a]), set()).add(FAMILIES.get(r["kind"], 0))
    assert g.families.tolist() == [len(fam.get(i, ())) for i in range(len(g.families))]
    assert len(g.families) == int(g.group.max()) + 1 and g.families.max() >= 2


def test_fragments_sending_one_wording_are_joined_and_phrases_join_no_one() -> None:
    """Groups 0 and 1 (10 accounts each) send one wrapper: every account has a wrapper link into the other
    group, so they are one campaign. Group 2 shares only phrases (the craft) and a long system prompt (an agent
    framework's) with group 0 — all 10 accounts —
    and 2 of group 3's 10 accounts send group 0's template (below `join_share` 0.3): both stay apart.
    Accounts without a group stay without a campaign."""
    rows = [(f"a{i}", f"b{i}", "shared-wrapper", 0.2) for i in range(10)]
    rows += [(f"a{i}", f"c{i}", kind, 1.0) for i in range(10) for kind in ("shared-phrases", "shared-instructions")]
    rows += [(f"a{i}", f"d{i}", "shared-template", 1.0) for i in range(2)]
    accounts = [f"{p}{i}" for p in "abcd" for i in range(10)] + ["lone"]
    group = np.array([0] * 10 + [1] * 10 + [2] * 10 + [3] * 10 + [-1])
    out = join_fragments(_links(rows), accounts, group)
    assert len(set(out[:20])) == 1
    assert len({out[0], out[20], out[30]}) == 3 and len(set(out[20:30])) == 1 and len(set(out[30:40])) == 1
    assert out[40] == -1
    # one-sided: every account of group 3 sends a template of a0's, but only 1 of group 0's accounts is linked
    one_sided = rows + [(f"d{i}", "a0", "near-duplicate-template", 1.0) for i in range(10)]
    out = join_fragments(_links(one_sided), accounts, group)
    assert out[30] != out[0] and out[10] == out[0]


def test_fragments_composing_prompts_from_one_sentence_bank_are_joined() -> None:
    """An operator writing each account's standing instructions from one bank of sentences, in waves of accounts
    that community detection keeps apart (groups 0 and 1, 10 accounts each): every account shares sentences of
    the bank with accounts of the other wave, so they are one campaign. Group 2 shares only phrases (the craft)
    with group 0, and group 3 shares sentences with 2 of group 0's accounts (below `join_share`): both stay
    apart."""
    rows = [(f"a{i}", f"b{(i + 3) % 10}", "shared-prompt-sentences", 0.3) for i in range(10)]
    rows += [(f"a{i}", f"c{i}", "shared-phrases", 1.0) for i in range(10)]
    rows += [(f"a{i}", f"d{i}", "shared-prompt-sentences", 1.0) for i in range(2)]
    accounts = [f"{p}{i}" for p in "abcd" for i in range(10)]
    group = np.array([0] * 10 + [1] * 10 + [2] * 10 + [3] * 10)
    out = join_fragments(_links(rows), accounts, group)
    assert len(set(out[:20])) == 1
    assert len({out[0], out[20], out[30]}) == 3


def test_only_links_that_can_join_fragments_are_kept_after_grouping() -> None:
    """After grouping, the links kept for `join_fragments` are those of a joining kind across two groups: a group's
    own wording inside it, links to ungrouped accounts and a shared network are dropped, and joining from the kept
    links alone gives the same campaigns as from all of them."""
    rows = [(f"a{i}", f"a{i + 1}", "shared-wrapper", 1.0) for i in range(9)]            # inside group 0
    rows += [(f"a{i}", f"b{i}", "shared-prompt-sentences", 0.3) for i in range(10)]     # across 0 and 1
    rows += [(f"a{i}", f"b{i}", "shared-ip", 1.0) for i in range(10)]                   # across, not joining
    rows += [("a0", "lone", "shared-template", 1.0), ("b0", "b1", "shared-payment", 1.0)]
    accounts = [f"{p}{i}" for p in "ab" for i in range(10)] + ["lone"]
    group = np.array([0] * 10 + [1] * 10 + [-1])
    g = Grouping(accounts=accounts, group=group, strength=np.ones(21), degree=np.ones(21),
                 in_block=np.zeros(21, bool), families=np.array([2, 2]),
                 edges=pa.table({"src": [], "dst": [], "weight": []}))
    kept = joining_links(_links(rows), g)
    assert kept["kind"].to_pylist() == ["shared-prompt-sentences"] * 10
    assert np.array_equal(join_fragments(kept, accounts, group), join_fragments(_links(rows), accounts, group))


def test_fragments_paid_by_one_operators_cards_are_joined_and_a_shared_network_joins_no_one() -> None:
    """Groups 0 and 1 (10 accounts each) each send a wrapper of their own, and cards pay for accounts of both:
    they are one operator's campaign. Group 2
    shares a proxy network and a client with group 0 (every account): rented by many, it joins no one."""
    rows = [(f"a{i}", f"b{(i + k) % 10}", "shared-payment", 1.0) for i in range(10) for k in (0, 4)]
    rows += [(f"a{i}", f"c{i}", kind, 1.0) for i in range(10) for kind in ("shared-ip", "client-fingerprint")]
    accounts = [f"{p}{i}" for p in "abc" for i in range(10)]
    group = np.array([0] * 10 + [1] * 10 + [2] * 10)
    out = join_fragments(_links(rows), accounts, group)
    assert len(set(out[:20])) == 1 and len(set(out[20:])) == 1 and out[20] != out[0]
    # two accounts of each group paid by one payer are enough (a card per few accounts); one is not
    two = [("a0", "b0", "shared-payment", 1.0), ("a1", "b1", "shared-payment", 1.0)]
    assert len(set(join_fragments(_links(two), accounts, group)[:20])) == 1
    assert len(set(join_fragments(_links(two[:1]), accounts, group)[:20])) == 2


def test_leiden_is_a_function_of_the_seed_and_leaves_random_alone() -> None:
    edges = pair_edges(_random_links(0))
    random.seed(123)
    before = random.getstate()
    runs = [leiden_groups(edges, CampaignConfig(seed=s))[1] for s in (0, 0, 1)]
    assert random.getstate() == before          # the global `random` state is not consumed
    assert np.array_equal(runs[0], runs[1])
    random.seed(999)                            # nor does the global state steer the result
    assert np.array_equal(leiden_groups(edges, CampaignConfig(seed=0))[1], runs[0])
    sizes = np.bincount(runs[0])
    assert np.all(sizes[:-1] >= sizes[1:])      # numbered largest first


def test_an_account_is_operator_tied_by_two_links_of_other_evidence_than_content() -> None:
    # a ring of eight bound by its wrapper; f0 also paid by the card of two others, b0 sharing one signup cohort
    # with one of them only: f0 is tied to its group beyond content, b0 (a coincidence) and the rest are not
    rows = _clique("c", 8) + [("c0", "c6", "shared-payment", 1.0), ("c1", "c6", "shared-payment", 1.0),
                              ("c2", "c7", "signup-cohort", 1.0)]
    f0, b0 = "c6", "c7"
    g = group_accounts(_links(rows), pa.table({"account_id": pa.array([], pa.string()),
                                               "key": pa.array([], pa.uint64()), "share": pa.array([], pa.float64())}))
    tied = dict(zip(g.accounts, g.operator_tied.tolist(), strict=True))
    assert len(set(g.group.tolist())) == 1 and tied[f0]
    assert not tied[b0] and not tied["c3"]


def test_a_groups_communities_are_its_parts_denser_than_the_bridge_between_them() -> None:
    """A campaign's twelve accounts and an extension's twenty-four users, each user sharing page text with two of
    the campaign's, in a graph of twenty other rings: modularity binds the two into one group (its resolution
    shrinks as the graph grows), the Potts model inside the group finds the two parts. A group as dense
    everywhere as a random half of its pairs is one community."""
    rows = _clique("c", 12) + _clique("u", 24, "shared-instructions")
    rows += [(f"u{i}", f"c{(2 * i + j) % 12}", "shared-phrases", 1.0) for i in range(24) for j in range(2)]
    rng = random.Random(7)
    rows += [(f"r{i}", f"r{j}", "shared-wrapper", 1.0) for i in range(40) for j in range(i + 1, 40)
             if rng.random() < 0.5]
    for k in range(20):
        rows += _clique(f"o{k}_", 10)
    g = group_accounts(_links(rows), pa.table({"account_id": pa.array([], pa.string()),
                                               "key": pa.array([], pa.uint64()), "share": pa.array([], pa.float64())}))
    at = {a: i for i, a in enumerate(g.accounts)}

    def of(prefix: str, n: int, values: np.ndarray) -> set[int]:
        return {int(values[at[f"{prefix}{i}"]]) for i in range(n)}

    assert len(of("c", 12, g.group) | of("u", 24, g.group)) == 1
    assert len(of("c", 12, g.community)) == 1 and len(of("u", 24, g.community)) == 1
    assert of("c", 12, g.community) != of("u", 24, g.community)
    assert of("r", 40, g.community) == of("r", 40, g.group)
    assert len(of("o0_", 10, g.community)) == 1 and (g.community >= 0).all()
