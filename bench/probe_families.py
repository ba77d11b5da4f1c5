"""Outside-style probe: 14 days of traffic with campaign families and hard negatives, for `probe_eval.py`.

Written from the threat description alone (see docs/probes.md); it shares no code or phrasing with
`distillguard.simulate` or the detection code. Writes, under --out, `exchanges.jsonl`, `accounts.jsonl` and
`labels.csv` (SCHEMA.md §1-3; labels carry an extra `family` column: the campaign family or legitimate kind).

    .venv/bin/python bench/probe_families.py --seed 1 [--scale 1] [--scrub] [--out DIR]
    .venv/bin/python bench/probe_families.py --seed 1 --families mimicry --sizes 20,200,2000 --out DIR
    .venv/bin/python bench/probe_families.py --suite round10 --seed 200 [--scrub] --out DIR   # round-10 families
    .venv/bin/python bench/probe_families.py --suite round13 --seed 1301 [--scrub] --out DIR  # round-13 families
    .venv/bin/python bench/probe_families.py --suite round15 --seed 1501 [--scrub] --out DIR  # round-15 families
    .venv/bin/python bench/probe_families.py --suite round16 --seed 1601 [--scrub] --out DIR  # round-16 families
    .venv/bin/python bench/probe_families.py --suite round17 --seed 1701 [--scrub] --out DIR  # round-17 families
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
from probekit.attacks10b import FAMILIES as FAMILIES10  # noqa: E402
from probekit.attacks13 import FAMILIES as FAMILIES13  # noqa: E402
from probekit.attacks15 import FAMILIES as FAMILIES15  # noqa: E402
from probekit.attacks16 import FAMILIES as FAMILIES16  # noqa: E402
from probekit.attacks17 import FAMILIES as FAMILIES17  # noqa: E402
from probekit.corpora import load  # noqa: E402
from probekit.legit import KINDS  # noqa: E402
from probekit.legit10 import KINDS as KINDS10  # noqa: E402
from probekit.legit13 import KINDS as KINDS13  # noqa: E402
from probekit.legit15 import KINDS as KINDS15  # noqa: E402
from probekit.legit16 import KINDS as KINDS16  # noqa: E402
from probekit.legit17 import KINDS as KINDS17  # noqa: E402
from probekit.odd import add_odd  # noqa: E402
from probekit.pools10 import load10  # noqa: E402
from probekit.pools13 import load13  # noqa: E402
from probekit.pools15 import load15  # noqa: E402
from probekit.pools16 import load16  # noqa: E402
from probekit.pools17 import load17  # noqa: E402
from probekit.world import Log, stream  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# suite -> (campaign families, legitimate kinds, corpus loader, campaign id prefix); "probe" is round 1
SUITES = {"probe": (FAMILIES, KINDS, load, "pf-"), "round10": (FAMILIES10, KINDS10, load10, "r10-"),
          "round13": (FAMILIES13, KINDS13, load13, "r13-"), "round15": (FAMILIES15, KINDS15, load15, "r15-"),
          "round16": (FAMILIES16, KINDS16, load16, "r16-"), "round17": (FAMILIES17, KINDS17, load17, "r17-")}


def build(out: Path, seed: int, data: Path, scale: float = 1.0, families: list[str] | None = None,
          kinds: list[str] | None = None, sizes: dict[str, int] | None = None, scrub: bool = False,
          gz: bool = False, tag: str = "", odd: int = 0, suite: str = "probe") -> dict[str, Path]:
    """Generate one probe log into `out`; returns the paths written (log, accounts, labels)."""
    fams_all, kinds_all, loader, prefix = SUITES[suite]
    c = loader(data)
    log = Log(seed)
    for k in kinds_all if kinds is None else kinds:
        kinds_all[k](log, c, stream(seed, "legit:" + k), scale)
    for f in fams_all if families is None else families:
        fn, default = fams_all[f]
        n = (sizes or {}).get(f, max(1, int(round(default * scale))))
        fn(log, c, stream(seed, "campaign:" + f), n, f"{prefix}{f}{tag}")
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
    ap.add_argument("--suite", choices=list(SUITES), default="probe", help="which family set: 'probe' (round 1, "
                    "the default), 'round10' (docs/redteam.md, round 10), 'round13', 'round15', 'round16' or "
                    "'round17' (issue 20)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every account count (default sizes: "
                    + "; ".join(s + ": " + ", ".join(f"{k} {v}" for k, (_, v) in f.items())
                                for s, (f, *_) in SUITES.items()) + ")")
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
    families_known, kinds_known = SUITES[a.suite][:2]
    if a.list:
        print("campaign families:", ", ".join(f"{k} ({v})" for k, (_, v) in families_known.items()))
        print("legitimate kinds:", ", ".join(kinds_known))
        return 0
    if not (a.data / "gsm8k").is_dir():
        print(f"error: corpora not found under {a.data}; pass --data", file=sys.stderr)
        return 2
    fams = [f for f in _csv(a.families, families_known, "family")
            if f not in _csv(a.without or "none", families_known, "family")]
    kinds = _csv(a.legit, kinds_known, "kind")
    sizes: dict[str, int] = {}
    if a.campaign_size:
        sizes = dict.fromkeys(fams, a.campaign_size)
    for s in a.size:
        k, _, v = s.partition("=")
        if k not in families_known or not v.isdigit():
            print(f"error: --size wants FAMILY=N with a known family, got {s!r}", file=sys.stderr)
            return 2
        sizes[k] = int(v)
    sub = "probes" if a.suite == "probe" else a.suite
    out = a.out or ROOT / "bench/out" / sub / f"seed{a.seed}{'-scrub' if a.scrub else ''}"
    runs = [(out, sizes, "")]
    if a.sizes:
        runs = [(out / f"size-{n}", dict.fromkeys(fams, n), f"-n{n}") for n in map(int, a.sizes.split(","))]
    for o, sz, tag in runs:
        t = time.time()
        paths = build(o, a.seed, a.data, a.scale, fams, kinds, sz, a.scrub, a.gzip, tag, a.odd, a.suite)
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
