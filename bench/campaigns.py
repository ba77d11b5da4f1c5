"""Cost of the campaign and scoring Python stage of detection, per input size: wall seconds and peak RSS.

    .venv/bin/python bench/campaigns.py [--case dg-sub] [--case synth:30000] [--case links:DIR] [--check DIR]

Times, each case in its own child process, the calls detect makes after the link stage:
`without_same_customer_links`, `group_accounts` (pair edges, Leiden, dense blocks, strength, families),
`score_accounts` (with shared-traffic features). Per stage: wall seconds and the peak RSS reached during it
(the peak is reset before each stage through /proc/self/clear_refs); `base` is the RSS after loading the inputs.

Cases:
- `links:DIR`: the real `links.parquet` and `features.parquet` of a detect output folder (read only);
  `dg-sub` = `links:/tmp/dg-sub/out0` (1.1M links, 27.8k accounts), `s1` = the scale-1 run's folder.
- `synth:N`: N synthetic accounts: 8 % in campaign groups of 50–2,000 accounts (ring neighbourhoods, mostly
  content kinds, some infrastructure/payment/cohort/timing), small legitimate teams, and random noise
  links to ~90 other accounts each, with the real kind mix (≈ 50 links per account: 300k → 15M links).
In every case the account × key table of the dense-block detector is derived from the links (a
shared-template or shared-wrapper link puts its dst on its src's key) plus 4 popular keys per account, the
declared orgs are synthetic (3 % of accounts in small orgs, one org of 80 keys), and the shared-traffic
features are the account's own features, damped, for half of the grouped accounts.

`--check DIR`: the outputs of each case (links kept, grouping, scores) are saved under
DIR/<case>/ if absent, otherwise compared with the saved ones exactly (run once on old code, once on new:
e.g. `PYTHONPATH=/tmp/old/src` after `git archive <commit> src | tar -x -C /tmp/old`). A scale run rewrites
its detect folder, so copy `links.parquet` and `features.parquet` elsewhere and use `links:COPY` for
comparisons that span one. `--parts` also times `pair_edges`, `dense_blocks` and the groups' communities
(`campaigns._communities`, CPU seconds too) alone (Leiden is most of
the rest of the group stage).
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
import pyarrow.compute as pc
import pyarrow.parquet as pq

CONTENT = ["shared-phrases", "near-duplicate-template", "shared-wrapper", "shared-template", "shared-prompt-ends",
           "shared-system-prompt"]
CONTENT_P = [0.62, 0.09, 0.08, 0.05, 0.05, 0.11]
OTHER = ["client-fingerprint", "shared-ip", "signup-cohort", "shared-payment", "shared-params", "lockstep-timing"]
FEATURE_COLS = ["exchanges", "first_ts", "last_ts", "replayed_share", "cap_other", "cot_share", "single_turn_share",
                "long_max_tokens_share", "template_diversity", "hour_entropy", "burstiness", "output_input_ratio"]
CASES = {"dg-sub": "links:/tmp/dg-sub/out0", "s1": "links:/tmp/dg-scale/s1/detect"}


def _names(n: int, rng: np.random.Generator) -> np.ndarray:
    alphabet = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)
    raw = np.concatenate([np.tile(np.frombuffer(b"user-", np.uint8), (n, 1)),
                          alphabet[rng.integers(0, 62, (n, 24))]], axis=1)
    names = np.unique(raw.view("S29").ravel())
    assert len(names) == n, "name collision"
    return rng.permutation(names.astype(str)).astype(object)


def synthetic(n: int, seed: int = 0) -> tuple[pa.Table, pa.Table]:
    """(links, features) of n synthetic accounts with campaign groups, teams and noise."""
    rng = np.random.default_rng(seed)
    names = _names(n, rng)
    src, dst, kind, weight = [], [], [], []

    def add(a: np.ndarray, b: np.ndarray, k: np.ndarray, w: np.ndarray) -> None:
        keep = a != b
        lo, hi = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
        src.append(lo)
        dst.append(hi)
        kind.append(np.asarray(k)[keep] if np.ndim(k) else np.full(keep.sum(), k, object))
        weight.append(np.asarray(w)[keep])

    # campaign groups of 50-2000 accounts, 8 % of all accounts: each account tied to its next 30 ring neighbours
    n_camp, start = int(0.08 * n), 0
    feat_camp = np.zeros(n, bool)
    while start < n_camp:
        size = int(min(rng.integers(50, 2001), n_camp - start))
        if size < 2:
            break
        members = np.arange(start, start + size)
        feat_camp[members] = True
        for off in range(1, min(31, size)):
            k = CONTENT[off % len(CONTENT)] if off <= 24 else OTHER[(off - 24) % len(OTHER)]
            w = np.clip(rng.beta(2, 3, size), 0.01, 1.0)
            add(members, np.roll(members, -off), k, w)
        start += size
    # legitimate teams of 2-20 accounts, 5 % of accounts: cliques on client fingerprint / system prompt
    start = n_camp
    while start < n_camp + int(0.05 * n):
        size = int(rng.integers(2, 21))
        members = np.arange(start, min(start + size, n))
        i, j = np.triu_indices(len(members), 1)
        add(members[i], members[j], np.where(rng.random(len(i)) < 0.5, "client-fingerprint", "shared-system-prompt"),
            rng.uniform(0.2, 1.0, len(i)))
        start += size
    # noise: ~45 random links per account (so ~90 partners each), with the real kind mix
    m = 45 * n
    a = rng.integers(0, n, m)
    b = rng.integers(0, n, m)
    kinds = np.array(CONTENT + OTHER, object)
    p = np.array([x * 0.75 for x in CONTENT_P] + [0.22, 0.012, 0.008, 0.003, 0.003, 0.004])
    add(a, b, kinds[rng.choice(len(kinds), m, p=p / p.sum())], np.clip(rng.exponential(0.08, m), 0.001, 1.0))
    s, d = np.concatenate(src), np.concatenate(dst)
    links = pa.table({"src": pa.array(names[s], pa.string()), "dst": pa.array(names[d], pa.string()),
                      "kind": pa.array(np.concatenate(kind), pa.string()), "weight": np.concatenate(weight)})
    # one row per (src, dst, kind) as the link stage produces, ordered like links.parquet
    links = links.group_by(["src", "dst", "kind"], use_threads=False).aggregate([("weight", "max")]) \
        .rename_columns(["src", "dst", "kind", "weight"]).sort_by([("src", "ascending"), ("dst", "ascending"),
                                                                  ("kind", "ascending")])
    f = {"account_id": pa.array(names, pa.string()), "exchanges": rng.integers(1, 3000, n)}
    f["first_ts"] = rng.uniform(1.7e9, 1.703e9, n)
    f["last_ts"] = f["first_ts"] + rng.exponential(5e5, n)
    for c in FEATURE_COLS[3:]:
        f[c] = rng.beta(2, 5, n)
    for c in ("cot_share", "single_turn_share", "long_max_tokens_share", "template_diversity"):
        f[c] = np.where(feat_camp, rng.beta(6, 2, n), f[c])
    f["hour_entropy"] = rng.uniform(0.4, 1.0, n)
    f["output_input_ratio"] = rng.lognormal(1.0, 1.0, n)
    return links, pa.table(f)


def load(case: str) -> tuple[pa.Table, pa.Table]:
    """(links, features) of a case."""
    case = CASES.get(case, case)
    kind, _, arg = case.partition(":")
    if kind == "synth":
        return synthetic(int(arg))
    d = Path(arg)
    return pq.read_table(d / "links.parquet"), pq.read_table(d / "features.parquet", columns=["account_id",
                                                                                            *FEATURE_COLS])


def extras(links: pa.Table, features: pa.Table, seed: int = 1) -> tuple[pa.Table, list[str | None], pa.Table]:
    """(bipartite account × key, declared orgs aligned with features, shared-traffic features)."""
    rng = np.random.default_rng(seed)
    ids = features["account_id"]
    n = len(ids)
    tw = links.filter(pc.is_in(links["kind"], pa.array(["shared-template", "shared-wrapper"])))
    src_key = pc.index_in(tw["src"], value_set=ids).to_numpy(zero_copy_only=False)
    own = np.arange(n, dtype=np.uint64) * np.uint64(2654435761) + np.uint64(7)
    pop = (rng.zipf(1.6, 4 * n) % (n // 2 + 1)).astype(np.uint64) * np.uint64(97) + np.uint64(3)
    acc = pa.concat_arrays([tw["src"].combine_chunks(), tw["dst"].combine_chunks(), pa.array(np.repeat(
        ids.to_numpy(zero_copy_only=False), 4), pa.string())])
    keys = np.concatenate([own[src_key], own[src_key], pop])
    bip = pa.table({"account_id": acc, "key": pa.array(keys, pa.uint64()), "share": rng.uniform(0.05, 1, len(keys))})
    bip = bip.group_by(["account_id", "key"], use_threads=False).aggregate([("share", "max")]) \
        .rename_columns(["account_id", "key", "share"])
    orgs: list[str | None] = [None] * n
    perm = rng.permutation(n)
    i, o = 0, 0
    while i < int(0.03 * n):
        size = int(rng.integers(2, 6))
        for j in perm[i:i + size]:
            orgs[j] = f"org-{o}"
        i, o = i + size, o + 1
    for j in perm[i:i + 80]:
        orgs[j] = "org-big"
    half = np.sort(rng.permutation(n)[: n // 2])
    sh = features.take(pa.array(half))
    cols = {c: sh[c] for c in sh.column_names}
    cols["exchanges"] = pc.cast(pc.divide(sh["exchanges"], 3), pa.int64())
    for c in ("cot_share", "single_turn_share", "template_diversity"):
        cols[c] = pc.min_element_wise(pc.multiply(sh[c], 1.2), 1.0)
    return bip, orgs, pa.table(cols)


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def run_case(case: str, check: Path | None, parts: bool = False) -> dict:
    """Run the stages on one case in this process; returns its row of figures."""
    from distillguard.detection.campaigns import group_accounts
    from distillguard.detection.scoring import score_accounts, without_same_customer_links

    links, features = load(case)
    bip, orgs, shared = extras(links, features)
    ids = features["account_id"].to_pylist()
    row: dict = {"case": case, "links": links.num_rows, "accounts": features.num_rows, "bip": bip.num_rows,
                 "base_mb": _rss_mb("VmRSS")}

    def stage(name: str, fn):  # noqa: ANN001, ANN202
        _reset_peak()
        t = time.perf_counter()
        r = fn()
        row[name + "_s"] = time.perf_counter() - t
        row[name + "_mb"] = _rss_mb("VmHWM")
        return r

    kept = stage("wscl", lambda: without_same_customer_links(links, ids, orgs))
    g = stage("group", lambda: group_accounts(kept, bip))
    s = stage("score", lambda: score_accounts(features, g, orgs=orgs, shared=shared))
    if parts:  # the group stage's pieces on their own (Leiden is the rest of it)
        from distillguard.detection.campaigns import dense_blocks, pair_edges
        from distillguard.detection.sorted_unique import unique

        stage("pairs", lambda: pair_edges(kept))
        _, r = unique(bip["account_id"].to_numpy(zero_copy_only=False), return_inverse=True)
        _, c = unique(bip["key"].to_numpy(), return_inverse=True)
        stage("blocks", lambda: dense_blocks(r, c, int(r.max()) + 1, int(c.max()) + 1))
        # the communities inside each group (the Potts-model pass over the groups' own edges)
        from distillguard.detection.campaigns import CampaignConfig, _communities
        from distillguard.detection.sorted_unique import positions

        a, b = positions(g.edges["src"], g.accounts), positions(g.edges["dst"], g.accounts)
        cpu = time.process_time()
        stage("communities", lambda: _communities(a, b, g.edges["weight"], g.group, CampaignConfig()))
        row["communities_cpu_s"] = time.process_time() - cpu
    row["groups"] = int(g.group.max()) + 1 if len(g.group) else 0
    row["edges"] = g.edges.num_rows
    row["kept"] = kept.num_rows
    row["peak_mb"] = max(v for k, v in row.items() if k.endswith("_mb"))
    if check is not None:
        tables = {
            "grouping": pa.table({"account": pa.array(g.accounts, pa.string()), "group": g.group,
                                  "strength": g.strength, "degree": g.degree, "in_block": g.in_block}),
            "families": pa.table({"families": g.families}),
            "edges": g.edges,
            "scores": s.accounts,
            "group_score": pa.table({"group_score": s.group_score, **{k: v for k, v in s.group_parts.items()}}),
        }
        tables["kept"] = kept.select(["src", "dst", "kind"])   # kept is an order-preserving filter of links
        row["check"] = _check(check / case.replace(":", "_").replace("/", "_"), tables)
    return row


def _check(d: Path, tables: dict[str, pa.Table]) -> str:
    if not d.exists():
        d.mkdir(parents=True)
        for k, t in tables.items():
            pq.write_table(t, d / f"{k}.parquet")
        return "saved"
    bad = []
    for k, t in tables.items():
        old = pq.read_table(d / f"{k}.parquet")
        new = pa.table({c: t[c].combine_chunks() for c in t.column_names})
        if old.column_names != new.column_names or not all(
                old[c].combine_chunks().equals(pa.array(new[c], type=old[c].type)) for c in old.column_names):
            bad.append(k)
    return "EQUAL" if not bad else "DIFF:" + ",".join(bad)


def main() -> None:
    """Run every case in a child process and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", help="dg-sub | s1 | links:DIR | synth:N (repeatable)")
    ap.add_argument("--check", type=Path, help="save outputs here, or compare with those saved")
    ap.add_argument("--parts", action="store_true",
                    help="also time pair_edges, dense_blocks and the communities on their own")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(run_case(a.child, a.check, a.parts)))
        return
    rows = []
    for case in a.case or ["dg-sub", "synth:30000"]:
        cmd = [sys.executable, __file__, "--child", case] + (["--check", str(a.check)] if a.check else []) \
            + (["--parts"] if a.parts else [])
        t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode:
            print(p.stderr, file=sys.stderr)
            raise SystemExit(f"case {case} failed (exit {p.returncode})")
        r = json.loads(p.stdout.strip().splitlines()[-1])
        r["wall_s"] = time.perf_counter() - t
        rows.append(r)
        _print(rows)


def _print(rows: list[dict]) -> None:
    cols = ["case", "links", "accounts", "bip", "edges", "groups", "base_mb", "wscl_s", "wscl_mb", "group_s",
            "group_mb", "score_s", "score_mb", "pairs_s", "blocks_s", "communities_s", "communities_cpu_s", "peak_mb",
            "check"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join("---" for _ in cols) + "|")
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c, "")
            cells.append(f"{v:,.1f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v))
        print("| " + " | ".join(cells) + " |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
