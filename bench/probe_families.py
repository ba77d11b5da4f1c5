"""Outside-style probe: 14 days of traffic with campaign families and hard negatives, for `probe_eval.py`.

Written from the threat description alone (see docs/probes.md); it shares no code or phrasing with
`distillguard.simulate` or the detection code. Writes, under --out, `exchanges.jsonl`, `accounts.jsonl` and
`labels.csv` (SCHEMA.md §1-3; labels carry an extra `family` column: the campaign family or legitimate kind).

    .venv/bin/python bench/probe_families.py --seed 1 [--scale 1] [--scrub] [--out DIR]
    .venv/bin/python bench/probe_families.py --seed 1 --families mimicry --sizes 20,200,2000 --out DIR
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from probekit.attacks import FAMILIES  # noqa: E402
from probekit.corpora import load  # noqa: E402
from probekit.legit import KINDS  # noqa: E402
from probekit.odd import add_odd  # noqa: E402
from probekit.world import Log, stream  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def build(out: Path, seed: int, data: Path, scale: float = 1.0, families: list[str] | None = None,
          kinds: list[str] | None = None, sizes: dict[str, int] | None = None, scrub: bool = False,
          gz: bool = False, tag: str = "", odd: int = 0) -> dict[str, Path]:
    """Generate one probe log into `out`; returns the paths written (log, accounts, labels)."""
    c = load(data)
    log = Log(seed)
    for k in KINDS if kinds is None else kinds:
        KINDS[k](log, c, stream(seed, "legit:" + k), scale)
    for f in FAMILIES if families is None else families:
        fn, default = FAMILIES[f]
        n = (sizes or {}).get(f, max(1, int(round(default * scale))))
        fn(log, c, stream(seed, "campaign:" + f), n, f"pf-{f}{tag}")
    add_odd(log, stream(seed, "odd"), odd)
    return log.write(out, scrub=scrub, gz=gz)


def _csv(s: str, known: dict, what: str) -> list[str]:
    if s in ("", "all"):
        return list(known)
    if s == "none":
        return []
    out = [x.strip() for x in s.split(",") if x.strip()]
    bad = [x for x in out if x not in known]
    if bad:
        raise SystemExit(f"error: unknown {what} {', '.join(bad)}; known: {', '.join(known)}")
    return out


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every account count (default sizes: "
                    + ", ".join(f"{k} {v}" for k, (_, v) in FAMILIES.items()) + ")")
    ap.add_argument("--out", type=Path, help="output folder (default bench/out/probes/seed<N>[-scrub])")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data")
    ap.add_argument("--families", default="all", help="comma list of campaign families, 'all' or 'none'")
    ap.add_argument("--without", default="", help="comma list of campaign families to leave out (stability)")
    ap.add_argument("--odd", type=int, default=0, help="add N odd or malformed records on existing accounts")
    ap.add_argument("--legit", default="all", help="comma list of legitimate kinds, 'all' or 'none'")
    ap.add_argument("--size", action="append", default=[], metavar="FAMILY=N", help="one campaign's size")
    ap.add_argument("--campaign-size", type=int, help="every selected campaign at N accounts")
    ap.add_argument("--sizes", help="comma list of campaign sizes: one probe folder <out>/size-<N> per size, the "
                    "same legitimate background and selected families at N accounts each")
    ap.add_argument("--scrub", action="store_true", help="blank ip, user_agent (and accounts' signup_ip)")
    ap.add_argument("--gzip", action="store_true", help="write exchanges.jsonl.gz")
    ap.add_argument("--list", action="store_true", help="print families and kinds and exit")
    a = ap.parse_args(argv)
    if a.list:
        print("campaign families:", ", ".join(f"{k} ({v})" for k, (_, v) in FAMILIES.items()))
        print("legitimate kinds:", ", ".join(KINDS))
        return 0
    if not (a.data / "gsm8k").is_dir():
        print(f"error: corpora not found under {a.data}; pass --data", file=sys.stderr)
        return 2
    fams = [f for f in _csv(a.families, FAMILIES, "family") if f not in _csv(a.without or "none", FAMILIES,
                                                                                 "family")]
    kinds = _csv(a.legit, KINDS, "kind")
    sizes: dict[str, int] = {}
    if a.campaign_size:
        sizes = dict.fromkeys(fams, a.campaign_size)
    for s in a.size:
        k, _, v = s.partition("=")
        if k not in FAMILIES or not v.isdigit():
            print(f"error: --size wants FAMILY=N with a known family, got {s!r}", file=sys.stderr)
            return 2
        sizes[k] = int(v)
    out = a.out or ROOT / "bench/out/probes" / f"seed{a.seed}{'-scrub' if a.scrub else ''}"
    runs = [(out, sizes, "")]
    if a.sizes:
        runs = [(out / f"size-{n}", dict.fromkeys(fams, n), f"-n{n}") for n in map(int, a.sizes.split(","))]
    for o, sz, tag in runs:
        t = time.time()
        paths = build(o, a.seed, a.data, a.scale, fams, kinds, sz, a.scrub, a.gzip, tag, a.odd)
        actors: Counter[str] = Counter()
        with open(paths["labels"]) as f:
            next(f)
            for line in f:
                actors[line.rstrip("\n").split(",")[2]] += 1
        op = gzip.open if a.gzip else open
        with op(paths["log"], "rb") as f:
            n_ex = sum(1 for _ in f)
        print(f"{o}: {sum(actors.values())} accounts, {n_ex} exchanges in {time.time() - t:.1f}s")
        print("  " + ", ".join(f"{k} {v}" for k, v in sorted(actors.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
