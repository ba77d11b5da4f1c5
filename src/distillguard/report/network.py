"""A small, laid-out sample of a campaign's account network, fit to draw in a report.

A campaign of 25,000 accounts may have millions of edges; the picture keeps at most `max_nodes`
members (a deterministic sample: the best-connected half plus a hash-ordered spread of the rest), the
strongest edges among them, and a few outside accounts they link to, so the drawing shows both the
campaign's core and how it reaches out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

from .findings import Findings


@dataclass(frozen=True)
class NetworkSample:
    """Nodes (account_id, group, score, degree, x, y) and edges (x, y, x2, y2, kind, weight) to draw."""

    nodes: tuple[dict[str, Any], ...]
    edges: tuple[dict[str, Any], ...]
    members: int  # campaign members in the whole graph
    shown_members: int
    edges_total: int  # edges touching the campaign in the whole graph


def _stable(account_id: str) -> str:
    return hashlib.blake2b(account_id.encode(), digest_size=8).hexdigest()


def _kind(raw: Any) -> str:
    text = str(raw or "link").lower()
    for key in ("phrase", "template", "wrapper", "prompt", "lockstep", "payment", "cohort", "client"):
        if key in text:
            return {"wrapper": "template", "prompt": "template", "phrase": "phrases"}.get(key, key)
    if any(k in text for k in ("ip", "infra", "cidr", "user_agent", "asn")):
        return "infrastructure"
    return text


def campaign_edges(findings: Findings) -> pa.Table | None:
    """links.parquet's edges that touch a campaign's account, as `sample_network` reads them (None: no links).

    Computed once for a report: each campaign's network is then drawn from these, not from every link.
    """
    links = findings.links
    if links is None or links.num_rows == 0:
        return None
    acc = findings.accounts
    members = pc.filter(acc["account_id"], pc.not_equal(pc.fill_null(acc["campaign_id"], ""), ""))
    edges = _edge_table(links)
    return edges.filter(pc.or_(pc.is_in(edges["src"], value_set=members), pc.is_in(edges["dst"], value_set=members)))


def sample_network(findings: Findings, campaign_id: str, max_nodes: int = 120, max_edges: int = 500,
                   max_outside: int = 20, edges: pa.Table | None = None) -> NetworkSample | None:
    """The sampled, laid-out network of one campaign; None without links.parquet or without edges.

    `edges`: :func:`campaign_edges` of `findings` (else computed here).
    """
    if edges is None:
        edges = campaign_edges(findings)
    if edges is None:
        return None
    acc = findings.accounts
    member_ids = pc.filter(acc["account_id"], pc.equal(acc["campaign_id"], campaign_id))
    if len(member_ids) == 0:
        return None
    s_in, d_in = pc.is_in(edges["src"], value_set=member_ids), pc.is_in(edges["dst"], value_set=member_ids)
    touching = edges.filter(pc.or_(s_in, d_in))
    if touching.num_rows == 0:
        return None
    # Weighted degree inside the campaign, in Arrow: a campaign may have millions of links.
    inside = edges.filter(pc.and_(s_in, d_in))
    ends = pa.table({"a": pa.concat_arrays([inside["src"].combine_chunks(), inside["dst"].combine_chunks()]),
                     "w": pa.concat_arrays([inside["weight"].combine_chunks()] * 2)})
    deg = ends.group_by("a").aggregate([("w", "sum")]).sort_by([("w_sum", "descending"), ("a", "ascending")])
    linked = deg["a"].to_pylist()
    degree = dict(zip(linked, deg["w_sum"].to_pylist(), strict=True))
    members = set(member_ids.to_pylist())
    half = max_nodes // 2
    spread = sorted(set(linked[half:]) | (members - set(linked)), key=_stable)
    chosen = set(linked[:half]) | set(spread[: max_nodes - min(half, len(linked))])
    chosen_ids = pa.array(sorted(chosen), pa.string())
    near = touching.filter(pc.or_(pc.is_in(touching["src"], value_set=chosen_ids),
                                  pc.is_in(touching["dst"], value_set=chosen_ids)))
    rows = list(zip(near["src"].to_pylist(), near["dst"].to_pylist(), near["kind"].to_pylist(),
                    near["weight"].to_pylist(), strict=True))
    inner = [r for r in rows if r[0] in chosen and r[1] in chosen]
    outer = [r for r in rows if (r[0] in chosen) != (r[1] in chosen)]
    outer.sort(key=lambda r: (-r[3], _stable(r[0] + r[1])))
    outside: set[str] = set()
    for s, d, _, _ in outer:
        if len(outside) >= max_outside:
            break
        outside.add(d if s in chosen else s)
    outer = [r for r in outer if (r[0] in outside or r[1] in outside)]
    inner.sort(key=lambda r: (-r[3], _stable(r[0] + r[1])))
    drawn = inner[: max(0, max_edges - len(outer))] + outer[: max_edges // 5]
    node_ids = sorted(chosen | outside, key=_stable)
    index = {a: i for i, a in enumerate(node_ids)}
    coords = layout(len(node_ids), [(index[s], index[d]) for s, d, _, _ in drawn if s != d])
    info = _account_info(findings, node_ids)
    nodes = []
    for a in node_ids:
        score, camp, flagged = info.get(a, (0.0, "", False))
        group = ("this campaign" if camp == campaign_id else "other campaign" if camp
                 else "unassigned, flagged" if flagged else "legitimate")
        x, y = coords[index[a]]
        nodes.append({"account_id": a, "group": group, "score": round(score, 4),
                      "degree": round(degree.get(a, 0.0), 2), "x": round(x, 3), "y": round(y, 3)})
    drawn_edges = []
    for s, d, k, w in drawn:
        (x, y), (x2, y2) = coords[index[s]], coords[index[d]]
        drawn_edges.append({"x": round(x, 3), "y": round(y, 3), "x2": round(x2, 3), "y2": round(y2, 3),
                            "kind": _kind(k), "weight": round(float(w), 3)})
    return NetworkSample(tuple(nodes), tuple(drawn_edges), len(members), len(chosen), touching.num_rows)


def layout(n: int, edges: list[tuple[int, int]], iterations: int = 60) -> list[tuple[float, float]]:
    """2-D positions of vertices 0..n-1: stress majorization (SMACOF) on graph distances from a classical-MDS
    start, as Kamada-Kawai minimises the same stress; no random numbers, so the report is the same every run.

    Vertices in different components sit one hop further apart than the farthest pair of one component.
    """
    if n == 0:
        return []
    if n == 1:
        return [(0.0, 0.0)]
    a = sp.coo_matrix((np.ones(len(edges)), ([e[0] for e in edges], [e[1] for e in edges])), shape=(n, n))
    d = shortest_path(a.tocsr(), directed=False, unweighted=True)
    finite = d[np.isfinite(d)]
    d[~np.isfinite(d)] = (finite.max() if finite.size else 0.0) + 1.0
    np.fill_diagonal(d, 0.0)
    # classical MDS: the two leading eigenvectors of the double-centred squared distances
    j = np.eye(n) - 1.0 / n
    vals, vecs = np.linalg.eigh(-0.5 * j @ (d ** 2) @ j)
    x = vecs[:, -2:][:, ::-1] * np.sqrt(np.maximum(vals[-2:][::-1], 1e-9))
    x *= np.where(x[np.abs(x).argmax(axis=0), [0, 1]] < 0, -1.0, 1.0)  # a fixed sign per axis
    # SMACOF with weights 1 / d^2 (Kamada-Kawai's springs)
    with np.errstate(divide="ignore"):
        w = np.where(d > 0, 1.0 / d ** 2, 0.0)
    v = np.diag(w.sum(axis=1)) - w
    v_pinv = np.linalg.pinv(v)
    for _ in range(iterations):
        dist = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
        with np.errstate(divide="ignore", invalid="ignore"):
            b = np.where(dist > 0, -w * d / dist, 0.0)
        np.fill_diagonal(b, 0.0)
        np.fill_diagonal(b, -b.sum(axis=1))
        x = v_pinv @ b @ x
    return [(float(p[0]), float(p[1])) for p in x]


def _edge_table(links: pa.Table) -> pa.Table:
    """links.parquet as (src, dst, kind, weight) with string ids, a kind and a weight on every row."""
    n = links.num_rows
    kind = links["kind"].cast(pa.string()) if "kind" in links.column_names else pa.array(["link"] * n)
    weight = links["weight"].cast(pa.float64()) if "weight" in links.column_names else pa.array([1.0] * n)
    return pa.table({"src": links["src"].cast(pa.string()), "dst": links["dst"].cast(pa.string()),
                     "kind": pc.fill_null(kind, "link"), "weight": pc.fill_null(weight, 1.0)})


def _account_info(findings: Findings, ids: list[str]) -> dict[str, tuple[float, str, bool]]:
    acc = findings.accounts
    sel = acc.filter(pc.is_in(acc["account_id"], value_set=pa.array(ids, pa.string())))
    return {
        a: (float(s), str(c), bool(f))
        for a, s, c, f in zip(sel["account_id"].to_pylist(), sel["score"].to_pylist(),
                              sel["campaign_id"].to_pylist(), sel["flagged"].to_pylist(), strict=True)
    }
