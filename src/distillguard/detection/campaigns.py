"""Campaigns (DESIGN.md step 6): communities of the account graph plus dense blocks of account × key.

- Leiden (graspologic-native's `leiden_csr`, MIT: modularity, seeded by `CampaignConfig.seed`) on the
  account graph whose edge weight is the kind-weighted sum of the links between two accounts.
- A FRAUDAR-style dense-block detector on the bipartite account × content-key graph, with FRAUDAR's
  column weights 1 / log(degree + 5) so that camouflage (an attacker also sending popular, innocuous
  prompts) cannot lower a block's density. Peeling is the batched (1 + ε) approximation of greedy
  peeling, vectorised over a sparse matrix, so it scales with the number of edges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .sorted_unique import positions, strings, unique

DEFAULT_KIND_WEIGHTS = {
    "shared-template": 1.0,
    "near-duplicate-template": 0.8,
    "shared-wrapper": 0.8,
    "shared-prompt-ends": 0.6,
    "shared-phrases": 0.8,
    "shared-system-prompt": 0.4,
    "shared-instructions": 0.4,
    "shared-prompt-sentences": 0.4,
    "lockstep-timing": 0.6,
    "shared-ip": 0.4,
    "client-fingerprint": 0.15,
    "shared-payment": 0.8,
    "signup-cohort": 0.4,
    # payloads drawn from one pool: two accounts share a sliver of their traffic (their draws over the pool's
    # size), so a pair sharing a twenty-fifth of it makes an edge
    "shared-payloads": 4.0,
    "shared-params": 1.0,   # already down-weighted by popularity (1 / (1 + ln n)) in the link stage
    # one account's completions sent back verbatim by another, again and again: a pipeline's own plumbing
    "reused-completions": 1.0,
}


# independent families of evidence: a small group bound by one family only may be a coincidence
FAMILIES = {"lockstep-timing": 1, "shared-ip": 2, "client-fingerprint": 2, "shared-params": 2, "shared-payment": 3,
            "signup-cohort": 3, "shared-system-prompt": 3, "reused-completions": 4}  # everything else: content (0)
CONTENT_KINDS = frozenset({"shared-template", "near-duplicate-template", "shared-wrapper", "shared-prompt-ends",
                           "shared-phrases", "shared-payloads"})
# an operator's own wording: a template or wrapper around its prompts, or its bank of standing sentences,
# recombined account by account (`shared-prompt-sentences`: a bank's sentences recur in prompts no two accounts share
# whole; one app's or framework's fixed prompt recurs in no other). Not phrases (the craft of prompt writing —
# openers, closers, CoT requests — is shared between operators), nor long system prompts (two operators driving
# one open-source agent framework send its instructions alike)
WORDING_KINDS = (CONTENT_KINDS - {"shared-phrases", "shared-payloads"}) | {"shared-prompt-sentences"}
# what says two flagged groups are one operator's campaign (`join_fragments`): its wording, or its money
PAYMENT_KINDS = frozenset({"shared-payment"})
JOIN_KINDS = WORDING_KINDS | PAYMENT_KINDS


UNTIL_STABLE_ITERATIONS = 10  # leiden_iterations = -1: passes enough for the partition to settle


@dataclass(frozen=True)
class CampaignConfig:
    """Knobs of the campaign stage."""

    kind_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_KIND_WEIGHTS))
    min_edge: float = 0.15          # pairs whose combined weight is below this are not linked
    min_size: int = 2
    resolution: float = 1.0
    seed: int = 0
    leiden_iterations: int = 2      # Leiden passes (-1: UNTIL_STABLE_ITERATIONS, many)
    # inside each group of at least `community_min_accounts`, its communities (`Grouping.community`): Leiden with
    # the constant Potts model on the group's own edges, at this share of the group's density (its edge weight
    # per pair of accounts). Modularity may join two dense communities through a bridge of content both send
    # (an extension's users and a campaign visiting the same sites); the Potts model finds the parts denser
    # than the bridge, whatever the size of the rest of the graph (modularity's resolution does not)
    community_density: float = 0.5
    community_min_accounts: int = 10
    community_iterations: int = 1   # Leiden passes for them (one: at scale 1 a third of the CPU of two)
    max_blocks: int = 20
    min_block_accounts: int = 3
    peel_eps: float = 0.1
    # two groups of flagged accounts are one campaign when this share of each group's accounts sends wording
    # that accounts of the other send too (`join_fragments`)
    join_share: float = 0.3
    join_paid_accounts: int = 2


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
    # per account: linked to two or more of its group by evidence other than content (payment, network, client,
    # timing, cohort); None where not known (an incremental update's grouping)
    operator_tied: np.ndarray | None = None
    # per account: its community inside its group (`CampaignConfig.community_density`; -1: no group); None where
    # not known (an incremental update's grouping)
    community: np.ndarray | None = None


def pair_edges(links: pa.Table, config: CampaignConfig = CampaignConfig()) -> pa.Table:
    """Combine per-kind links into one weight per account pair (kind-weighted sum, capped at 2)."""
    return _pairs(links, config).edges


@dataclass(frozen=True)
class _Pairs:
    edges: pa.Table        # src, dst, weight: pair_edges' result
    names: pa.Array        # every account of the links, sorted
    src: np.ndarray        # per edge: index of src, dst in `names`
    dst: np.ndarray
    link_src: np.ndarray   # per link: index of src, dst in `names`
    link_dst: np.ndarray


def _pairs(links: pa.Table, config: CampaignConfig) -> _Pairs:
    empty = np.zeros(0, np.int64)
    if links.num_rows == 0:
        edges = pa.table({"src": pa.array([], pa.string()), "dst": pa.array([], pa.string()),
                          "weight": pa.array([], pa.float64())})
        return _Pairs(edges, pa.array([], pa.string()), empty, empty, empty, empty)
    # accounts as their rank among the sorted names: DuckDB groups and sorts integers, not strings, and the
    # integer order is the names' byte order, so the rows come out in the same order as `ORDER BY src, dst`
    names = _sorted_unique(links["src"], links["dst"])
    ls = positions(links["src"], names).astype(np.int32)
    ld = positions(links["dst"], names).astype(np.int32)
    coded = pa.table({"src": ls, "dst": ld, "kind": links["kind"], "weight": links["weight"]})
    kw = pa.table({"kind": list(config.kind_weights), "kw": list(config.kind_weights.values()),
                   "content": [k in CONTENT_KINDS for k in config.kind_weights]})
    con = duckdb.connect()
    try:
        con.register("l", coded)
        con.register("k", kw)
        # content kinds restate one fact (the two accounts send alike prompts): take the strongest;
        # independent kinds (timing, infrastructure, payment, cohort) add up (rounded: the sum's order is the
        # aggregation's, and the partition must not depend on the last bits)
        t = con.sql(f"""
            SELECT src, dst, weight FROM (
              SELECT src, dst, round(least(
                  coalesce(max(CASE WHEN k.content THEN l.weight * k.kw END), 0)
                  + coalesce(sum(CASE WHEN NOT k.content THEN l.weight * k.kw END), 0), 2.0), 9) AS weight
              FROM l JOIN k USING (kind) GROUP BY src, dst)
            WHERE weight >= {config.min_edge} ORDER BY src, dst""").to_arrow_table()
    finally:
        con.close()
    s = np.asarray(t["src"].to_numpy(), np.int64)
    d = np.asarray(t["dst"].to_numpy(), np.int64)
    text = names.cast(pa.string())
    step = 1 << 20   # in slices: one string array of all edge ends could pass Arrow's 2 GiB offset limit
    edges = pa.table({"src": pa.chunked_array([text.take(s[i:i + step]) for i in range(0, len(s), step)], pa.string()),
                      "dst": pa.chunked_array([text.take(d[i:i + step]) for i in range(0, len(d), step)], pa.string()),
                      "weight": t["weight"]})
    return _Pairs(edges, names, s, d, ls, ld)


def leiden_groups(edges: pa.Table, config: CampaignConfig = CampaignConfig()) -> tuple[list[str], np.ndarray]:
    """Leiden communities of the pair graph: (account names, community index per account)."""
    names, member = _leiden(edges, config)
    return names.to_pylist(), member


def _sorted_unique(*cols: pa.ChunkedArray) -> pa.Array:
    """Distinct values of the columns, sorted (Arrow's byte order = `np.unique`'s order of the strings)."""
    chunks = [c for col in cols for c in (col.chunks if isinstance(col, pa.ChunkedArray) else [col])]
    u = pc.unique(pa.chunked_array([strings(c) for c in chunks], strings(chunks[0]).type))
    return u.take(pc.sort_indices(u))


def _leiden(edges: pa.Table, config: CampaignConfig) -> tuple[pa.Array, np.ndarray]:
    if edges.num_rows == 0:
        return pa.array([], pa.string()), np.zeros(0, np.int64)
    names = _sorted_unique(edges["src"], edges["dst"])
    return names, _leiden_codes(len(names), positions(edges["src"], names), positions(edges["dst"], names),
                                edges["weight"], config)


def _leiden_codes(n: int, src: np.ndarray, dst: np.ndarray, weight: pa.ChunkedArray, config: CampaignConfig,
                  cpm: float | None = None) -> np.ndarray:
    """Leiden on vertices 0..n-1 (the names' sorted order) and the edges in the table's order: modularity at
    `config.resolution`, or the constant Potts model at resolution `cpm` (communities denser than it), largest
    community first."""
    import graspologic_native as gn

    # the symmetric adjacency as CSR arrays (no Python object per edge); its own seeded generator, so the
    # partition is a function of the seed and no process-wide random state is read or consumed
    w = weight.to_numpy().astype(np.float64)
    m = sp.coo_matrix((np.concatenate([w, w]), (np.concatenate([src, dst]), np.concatenate([dst, src]))),
                      shape=(n, n)).tocsr()
    m.sum_duplicates()
    iterations = config.leiden_iterations if config.leiden_iterations > 0 else UNTIL_STABLE_ITERATIONS
    _, part = gn.leiden_csr(m.indptr.astype(np.int64), m.indices.astype(np.int32), m.data, n,
                            resolution=config.resolution if cpm is None else cpm, iterations=iterations,
                            use_modularity=cpm is None,
                            seed=config.seed)
    member = np.full(n, -1, np.int64)
    if part:
        member[np.fromiter(part.keys(), np.int64, len(part))] = np.fromiter(part.values(), np.int64, len(part))
    lone = member < 0  # a vertex without a weighted edge: a community of its own
    member[lone] = member.max(initial=-1) + 1 + np.arange(int(lone.sum()))
    return _by_size(member)


def _by_size(member: np.ndarray) -> np.ndarray:
    """Renumber communities by size, largest first (ties: the one whose first vertex comes first)."""
    if len(member) == 0:
        return member
    sizes = np.bincount(member)
    first = np.full(len(sizes), len(member), np.int64)
    values, at = unique(member, return_index=True)
    first[values] = at
    rank = np.empty(len(sizes), np.int64)
    rank[np.lexsort((first, -sizes))] = np.arange(len(sizes))
    return rank[member]


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
    # the matrix's entries in its storage order: sums over them in this order are the mat-vecs' sums
    er = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(m.indptr))
    ec = m.indices.astype(np.int64)
    ed = m.data
    blocks = []
    for _ in range(config.max_blocks):
        block = _peel(er, ec, ed, alive_r.copy(), col_deg > 1, config.peel_eps)
        if block is None or len(block) < config.min_block_accounts:
            break
        blocks.append(block)
        alive_r[block] = False
    return blocks


def _peel(er: np.ndarray, ec: np.ndarray, ed: np.ndarray, ar: np.ndarray, ac: np.ndarray,
          eps: float) -> np.ndarray | None:
    """Batched greedy peeling from the alive rows `ar` and columns `ac`: the densest row set seen.

    Each round costs the alive part only: entries of dead rows or columns are dropped as they die, and
    columns are renumbered among the alive ones. A row's (column's) degree is the sum of its alive entries
    in storage (row) order — bit for bit the sparse mat-vec of the whole matrix with 0/1 masks, since the
    masked entries only ever added +0.0 — and the density sums the full-length row-degree vector, so
    every comparison, hence every selected block, is the same as peeling the whole matrix each round.
    """
    n_rows = len(ar)
    cols = np.flatnonzero(ac)
    code = np.full(len(ac), -1, np.int64)
    code[cols] = np.arange(len(cols))
    keep = ar[er] & ac[ec]
    r, c, d = er[keep], code[ec[keep]], ed[keep]
    acc = np.ones(len(cols), bool)   # alive among `cols`
    n_ar, n_ac = int(ar.sum()), len(cols)
    best, best_rows = 0.0, None
    while n_ar and n_ac:
        dr = np.bincount(r, weights=d, minlength=n_rows)
        dc = np.bincount(c, weights=d, minlength=len(acc))
        f = dr.sum()
        if f <= 0:
            break
        rho = f / (n_ar + n_ac)
        if rho > best:
            best, best_rows = rho, np.flatnonzero(ar)
        thr = 2 * (1 + eps) * rho
        drop_r = ar & (dr <= thr)
        drop_c = acc & (dc <= thr)
        n_dr, n_dc = int(drop_r.sum()), int(drop_c.sum())
        if not n_dr and not n_dc:
            break
        ar &= ~drop_r
        acc &= ~drop_c
        n_ar, n_ac = n_ar - n_dr, n_ac - n_dc
        keep = ar[r] & acc[c]
        if n_ac * 2 < len(acc):  # renumber the alive columns
            renum = np.cumsum(acc) - 1
            r, c, d = r[keep], renum[c[keep]], d[keep]
            acc = np.ones(n_ac, bool)
        else:
            r, c, d = r[keep], c[keep], d[keep]
    return best_rows


def group_accounts(links: pa.Table, bipartite: pa.Table, config: CampaignConfig = CampaignConfig()) -> Grouping:
    """Leiden communities, merged with dense blocks: returns the grouping of linked accounts."""
    p = _pairs(links, config)
    # the pair graph's vertices: accounts with an edge, in name order (= the order of their link-name index)
    used = unique(np.concatenate([p.src, p.dst]))
    vertex = np.full(len(p.names), -1, np.int64)
    vertex[used] = np.arange(len(used))
    a, b = vertex[p.src], vertex[p.dst]
    member = _leiden_codes(len(used), a, b, p.edges["weight"], config) if len(used) else np.zeros(0, np.int64)
    names = p.names.take(pa.array(used, pa.int64())).cast(pa.string()).to_pylist()
    index = {x: i for i, x in enumerate(names)}
    # dense blocks on account × key
    blocks: list[np.ndarray] = []
    acc_names = pa.array([], pa.string())
    if bipartite.num_rows:
        acc_names = _sorted_unique(bipartite["account_id"])
        r = positions(bipartite["account_id"], acc_names)
        _, c = unique(bipartite["key"].to_numpy(), return_inverse=True)
        blocks = dense_blocks(r, c, len(acc_names), int(c.max()) + 1, config)
    block_names = [acc_names.take(pa.array(blk)).cast(pa.string()).to_pylist() for blk in blocks]
    added: list[str] = []
    for blk in block_names:
        for x in blk:
            if x not in index:
                index[x] = len(names)
                names.append(x)
                added.append(x)
    member = np.concatenate([member, np.full(len(added), -1, np.int64)])
    # dense blocks are evidence, not membership: a block can sweep in accounts that merely share popular
    # keys, so it marks accounts (reason code `dense-block`) but never adds them to a community
    in_block = np.zeros(len(names), bool)
    next_id = int(member.max()) + 1 if len(member) else 0
    for blk in block_names:
        in_block[np.array([index[x] for x in blk])] = True
    # communities smaller than min_size are not groups
    sizes = np.bincount(member[member >= 0], minlength=max(next_id, 1))
    member = np.where((member >= 0) & (sizes[np.maximum(member, 0)] >= config.min_size), member, -1)
    strength, degree = _strength(a, b, p.edges["weight"].to_numpy(), member)
    # position of every link name among `names` (-1: neither in the pair graph nor in a block)
    if added and len(p.names):
        at = positions(pa.array(added, pa.string()), p.names)
        vertex[at[at >= 0]] = len(used) + np.flatnonzero(at >= 0)
    families, tied = _families(links, vertex[p.link_src], vertex[p.link_dst], member, config)
    return Grouping(accounts=names, group=member, strength=strength, degree=degree, in_block=in_block,
                    edges=p.edges, families=families, operator_tied=tied,
                    community=_communities(a, b, p.edges["weight"], member, config))


def _communities(a: np.ndarray, b: np.ndarray, weight: pa.ChunkedArray, member: np.ndarray, config: CampaignConfig
                 ) -> np.ndarray:
    """Per account, its community inside its group (`CampaignConfig.community_density`), numbered apart from every
    other group's; a group of fewer than `community_min_accounts` accounts is one community, its group's number;
    -1: no group (`a`, `b`: each edge's account index)."""
    out = np.where(member >= 0, member, -1).astype(np.int64)
    n_groups = int(member.max(initial=-1)) + 1
    sizes = np.bincount(member[member >= 0], minlength=n_groups)
    big = np.flatnonzero(sizes >= config.community_min_accounts)
    if len(big) == 0 or len(a) == 0:
        return out
    # each account's rank inside its group, and each group's edges, from one stable sort apiece
    by_member = np.argsort(member, kind="stable")
    starts = np.searchsorted(member[by_member], np.arange(n_groups + 1))
    rank = np.empty(len(member), np.int64)
    rank[by_member] = np.arange(len(member)) - starts[np.maximum(member[by_member], 0)]
    same = np.flatnonzero((member[a] == member[b]) & (member[a] >= 0))
    same = same[np.argsort(member[a[same]], kind="stable")]
    edge_starts = np.searchsorted(member[a[same]], np.arange(n_groups + 1))
    w = weight.to_numpy()
    passes = replace(config, leiden_iterations=config.community_iterations)
    following = n_groups
    for g in big:
        e = same[edge_starts[g]:edge_starts[g + 1]]
        n = int(sizes[g])
        density = float(w[e].sum()) / max(n * (n - 1) / 2, 1.0)
        code = _leiden_codes(n, rank[a[e]], rank[b[e]], pa.chunked_array([w[e]]), passes,
                             cpm=config.community_density * density)
        # the largest community keeps the group's number; the others take numbers after every group's
        mine = by_member[starts[g]:starts[g + 1]]
        out[mine] = np.where(code == 0, g, following + code - 1)
        following += int(code.max())
    return out


def _families(links: pa.Table, a: np.ndarray, b: np.ndarray, member: np.ndarray, config: CampaignConfig
              ) -> tuple[np.ndarray, np.ndarray]:
    """Distinct evidence families among the links inside each group, and per account whether two or more of its
    links inside its group are of another family than content (`a`, `b`: each end's account index)."""
    n_groups = int(member.max()) + 1 if len(member) and member.max() >= 0 else 0
    out = np.zeros(n_groups, np.int64)
    if links.num_rows == 0 or n_groups == 0:
        return out, np.zeros(len(member), bool)
    # per kind, not per link: the kind column's dictionary carries the weights and families
    kinds = pc.dictionary_encode(strings(links["kind"])).combine_chunks()
    code = kinds.indices.to_numpy(zero_copy_only=False)
    kind_names = kinds.dictionary.to_pylist()
    kw = np.array([config.kind_weights.get(k, 0.0) for k in kind_names], float)
    w = links["weight"].to_numpy() * kw[code]
    ok = np.flatnonzero((a >= 0) & (b >= 0) & (w >= config.min_edge / 2))
    del w
    ga, gb = member[a[ok]], member[b[ok]]
    same = (ga == gb) & (ga >= 0)
    fam = np.array([FAMILIES.get(k, 0) for k in kind_names], np.int64)[code[ok[same]]]
    pairs = unique(ga[same] * 8 + fam)
    np.add.at(out, pairs // 8, 1)
    # (to two of them at least: one signup-cohort neighbour or one shared address is a coincidence)
    inside = ok[same][fam > 0]
    ties = np.bincount(np.concatenate([a[inside], b[inside]]), minlength=len(member))
    return out, ties >= 2


def _strength(a: np.ndarray, b: np.ndarray, w: np.ndarray, member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kind-weighted degree and number of edges inside the own group (`a`, `b`: each edge's account index)."""
    if len(a) == 0:
        return np.zeros(len(member)), np.zeros(len(member))
    same = (member[a] == member[b]) & (member[a] >= 0)
    # one bincount over (a-ends, then b-ends) adds in the same order as two `np.add.at` calls: same bits
    ends = np.concatenate([a[same], b[same]])
    s = np.bincount(ends, weights=np.concatenate([w[same], w[same]]), minlength=len(member))
    d = np.bincount(ends, minlength=len(member)).astype(float)
    return s, d


def joining_links(links: pa.Table, grouping: Grouping) -> pa.Table:
    """The links `join_fragments` can read: of a joining kind (`JOIN_KINDS`) between accounts of two different
    groups. Kept after grouping in place of the whole graph (a campaign's own wording links its accounts to each
    other thousands of times over; only the links across its fragments can join them)."""
    links = links.filter(pc.is_in(links["kind"], pa.array(sorted(JOIN_KINDS), pa.string())))
    group = np.asarray(grouping.group, np.int64)
    if links.num_rows == 0 or len(group) == 0:
        return links
    ga, gb = (np.where(i >= 0, group[np.maximum(i, 0)], -1)
              for i in (positions(links["src"], grouping.accounts), positions(links["dst"], grouping.accounts)))
    return links.filter(pa.array((ga >= 0) & (gb >= 0) & (ga != gb)))


def join_fragments(links: pa.Table, accounts: pa.Array | pa.ChunkedArray | Sequence[str], group: np.ndarray,
                   config: CampaignConfig = CampaignConfig()) -> np.ndarray:
    """Campaign index per account of `accounts` (flagged ones, with their group; -1: none): groups joined.

    Community detection cuts a campaign along its operator evidence when that evidence comes in rings — 12
    cards each paying for 20 accounts are 12 cliques, while the wording all 240 accounts send links each of
    them to a few others only (a key of many holders is linked as a ring) — or along its wording when the
    operator runs one wrapper family per batch of accounts and pays for them across batches. The wording, or
    the money, says the fragments are one operator's: two groups are joined when at least `join_share` of the
    accounts of each have a wording link (`WORDING_KINDS`: a template, a wrapper, its bank of sentences) to an
    account of the other, or at least `join_paid_accounts` of each a payment link (one payer's cards are one
    operator, however few of its accounts each pays for). Phrases and system prompts do not join (operators share
    the craft and the frameworks), nor do infrastructure or timing (a proxy network, a cloud region and a clock are
    rented by many).
    """
    group = np.asarray(group, np.int64)
    out = group.copy()
    if links.num_rows == 0 or (group >= 0).sum() == 0:
        return out
    n_groups = int(group.max()) + 1
    size = np.bincount(group[group >= 0], minlength=n_groups)
    names = strings(accounts)
    joined = []
    for kinds, bar in ((WORDING_KINDS, config.join_share * size), (PAYMENT_KINDS, config.join_paid_accounts)):
        sub = links.filter(pc.is_in(links["kind"], pa.array(sorted(kinds))))
        a, b = positions(sub["src"], names), positions(sub["dst"], names)
        ok = (a >= 0) & (b >= 0)
        ga, gb = group[a[ok]], group[b[ok]]
        cross = (ga >= 0) & (gb >= 0) & (ga != gb)
        # distinct (account, other group) pairs, from both ends of each cross link
        acc = np.concatenate([a[ok][cross], b[ok][cross]])
        other = np.concatenate([gb[cross], ga[cross]])
        pairs = unique(acc * n_groups + other)
        g_pair, n = unique(group[pairs // n_groups] * n_groups + pairs % n_groups, return_counts=True)
        # each direction (group → other group) that reaches the bar for its own group; two groups are joined
        # where both directions do
        reach = g_pair[n >= np.broadcast_to(bar, (n_groups,))[g_pair // n_groups]]
        joined.append(reach[np.isin(reach, (reach % n_groups) * n_groups + reach // n_groups)])
    both = np.concatenate(joined)
    join = sp.coo_matrix((np.ones(len(both)), (both // n_groups, both % n_groups)), shape=(n_groups, n_groups))
    _, label = connected_components(join, directed=False)
    out[group >= 0] = label[group[group >= 0]]
    return out
