"""Score `distillguard detect` on probe folders written by `probe_families.py`: one table per folder.

Reads only the public output contract (SCHEMA.md §4: accounts.csv, campaigns.json) and the probe's
labels.csv. Per campaign family: recall (flagged share), share assigned to any campaign, mean score; per
legitimate kind: false-positive rate; overall precision, recall, FPR, ROC AUC of `score`, and the adjusted
Rand index of detected vs true campaigns (accounts in no campaign count as singletons on both sides).
If accounts.csv has a `verdict` column, the share of each family per verdict is shown too.

    .venv/bin/python bench/probe_eval.py PROBE_DIR [PROBE_DIR ...] [--detect-out DIR] [--reuse] [--json FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Row:
    """One family, legitimate kind or true campaign."""

    name: str
    accounts: int = 0
    flagged: int = 0
    grouped: int = 0
    score_sum: float = 0.0
    verdicts: Counter = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.flagged / self.accounts if self.accounts else 0.0


def roc_auc(pos: list[float], neg: list[float]) -> float:
    """Mann-Whitney ROC AUC with ties counted half."""
    if not pos or not neg:
        return float("nan")
    allv = sorted([(v, 1) for v in pos] + [(v, 0) for v in neg])
    rank_sum, i = 0.0, 0
    while i < len(allv):
        j = i
        while j < len(allv) and allv[j][0] == allv[i][0]:
            j += 1
        avg = (i + j + 1) / 2  # ranks i+1..j
        rank_sum += avg * sum(1 for k in range(i, j) if allv[k][1])
        i = j
    return (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def ari(a: list[str], b: list[str]) -> float:
    """Adjusted Rand index of two labelings ('' = a singleton of its own)."""
    a = [x or f"\0{i}" for i, x in enumerate(a)]
    b = [x or f"\0{i}" for i, x in enumerate(b)]
    c2 = lambda n: n * (n - 1) / 2  # noqa: E731
    nij = sum(c2(v) for v in Counter(zip(a, b, strict=True)).values())
    ai = sum(c2(v) for v in Counter(a).values())
    bj = sum(c2(v) for v in Counter(b).values())
    exp = ai * bj / c2(len(a)) if len(a) > 1 else 0.0
    mx = (ai + bj) / 2
    return 1.0 if mx == exp else (nij - exp) / (mx - exp)


def _dg() -> list[str]:
    exe = shutil.which("distillguard") or (str(ROOT / ".venv/bin/distillguard")
                                           if (ROOT / ".venv/bin/distillguard").exists() else None)
    return [exe] if exe else [sys.executable, "-c", "import sys; from distillguard.cli import main; sys.exit(main())"]


def run_detect(probe: Path, out: Path, extra: list[str]) -> float:
    """Run `distillguard detect` on a probe folder; returns seconds."""
    log = probe / "exchanges.jsonl"
    if not log.exists():
        log = probe / "exchanges.jsonl.gz"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    t = time.time()
    subprocess.run([*_dg(), "detect", str(log), "--accounts", str(probe / "accounts.jsonl"), "--out", str(out),
                    "--quiet", *extra], check=True, env=env)
    return time.time() - t


def evaluate(labels: Path, det: Path) -> dict:
    """All the numbers for one probe folder and one detect output."""
    truth = {}
    with open(labels) as f:
        for r in csv.DictReader(f):
            truth[r["account_id"]] = (r["campaign_id"], r["actor"], r.get("family") or r["actor"].split(":", 1)[-1])
    out = {}
    with open(det / "accounts.csv") as f:
        for r in csv.DictReader(f):
            out[r["account_id"]] = (float(r["score"] or 0), r["flagged"].strip().lower() == "true",
                                    r.get("campaign_id") or "", r.get("verdict") or "")
    fams: dict[str, Row] = {}
    kinds: dict[str, Row] = {}
    camps: dict[str, Row] = {}
    pos, neg, tl, pl = [], [], [], []
    tp = fp = fn = 0
    missing = 0
    for aid, (cid, actor, fam) in truth.items():
        score, flag, pc, verdict = out.get(aid, (0.0, False, "", ""))
        missing += aid not in out
        is_camp = actor.startswith("campaign:")
        rows = [fams.setdefault(fam, Row(fam)), camps.setdefault(cid, Row(cid))] if is_camp else \
            [kinds.setdefault(fam, Row(fam))]
        for row in rows:
            row.accounts += 1
            row.flagged += flag
            row.grouped += bool(pc)
            row.score_sum += score
            if verdict:
                row.verdicts[verdict] += 1
        (pos if is_camp else neg).append(score)
        tp += flag and is_camp
        fp += flag and not is_camp
        fn += (not flag) and is_camp
        tl.append(cid)
        pl.append(pc)
    n_neg = len(neg)

    def rows(d: dict[str, Row]) -> list[dict]:  # not asdict: it rebuilds a Counter from (key, value) pairs
        return [{"name": r.name, "accounts": r.accounts, "flagged": r.flagged, "grouped": r.grouped,
                 "score_sum": r.score_sum, "verdicts": dict(r.verdicts), "rate": r.rate}
                for r in sorted(d.values(), key=lambda r: r.name)]
    return {
        "families": rows(fams), "kinds": rows(kinds), "campaigns": rows(camps),
        "precision": tp / (tp + fp) if tp + fp else float("nan"), "recall": tp / (tp + fn) if tp + fn else float("nan"),
        "fpr": fp / n_neg if n_neg else float("nan"), "auc": roc_auc(pos, neg), "ari": ari(tl, pl),
        "flags": {aid: out.get(aid, (0.0, False))[1] for aid in truth},
        "is_campaign": {aid: v[1].startswith("campaign:") for aid, v in truth.items()},
        "accounts": len(truth), "campaign_accounts": len(pos), "legit_accounts": n_neg, "missing_in_output": missing,
    }


def _fmt(x: float) -> str:
    return "  nan" if isinstance(x, float) and math.isnan(x) else f"{x:.4f}"


def print_table(title: str, res: dict) -> None:
    """The one table: families, legitimate kinds, overall."""
    verd = sorted({v for r in res["families"] + res["kinds"] for v in r["verdicts"]})
    vh = "".join(f" {v[:8]:>8}" for v in verd)
    print(f"\n== {title}")
    print(f"{'campaign family':26} {'accounts':>8} {'flagged':>8} {'recall':>7} {'grouped':>8} {'mean score':>10}{vh}")
    for r in res["families"]:
        vs = "".join(f" {r['verdicts'].get(v, 0):8d}" for v in verd)
        print(f"{r['name']:26} {r['accounts']:8d} {r['flagged']:8d} {r['rate']:7.3f} {r['grouped']:8d} "
              f"{r['score_sum'] / max(1, r['accounts']):10.3f}{vs}")
    print(f"{'legitimate kind':26} {'accounts':>8} {'flagged':>8} {'FPR':>7} {'grouped':>8} {'mean score':>10}{vh}")
    for r in res["kinds"]:
        vs = "".join(f" {r['verdicts'].get(v, 0):8d}" for v in verd)
        print(f"{r['name']:26} {r['accounts']:8d} {r['flagged']:8d} {r['rate']:7.4f} {r['grouped']:8d} "
              f"{r['score_sum'] / max(1, r['accounts']):10.3f}{vs}")
    print(f"overall: precision {_fmt(res['precision'])}  recall {_fmt(res['recall'])}  FPR {_fmt(res['fpr'])}  "
          f"ROC-AUC {_fmt(res['auc'])}  ARI {_fmt(res['ari'])}  ({res['campaign_accounts']} campaign / "
          f"{res['legit_accounts']} legitimate accounts" + (f"; {res['missing_in_output']} missing from accounts.csv"
                                                            if res["missing_in_output"] else "") + ")")


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("probes", nargs="+", type=Path, help="folders written by probe_families.py")
    ap.add_argument("--detect-out", type=Path, help="an existing detect output folder (one probe only)")
    ap.add_argument("--reuse", action="store_true", help="reuse PROBE/detect when it exists")
    ap.add_argument("--fpr-target", help="passed to detect")
    ap.add_argument("--json", type=Path, help="also write all numbers as JSON here")
    a = ap.parse_args(argv)
    if a.detect_out and len(a.probes) != 1:
        print("error: --detect-out takes exactly one probe folder", file=sys.stderr)
        return 2
    results = {}
    for p in a.probes:
        if not (p / "labels.csv").exists():
            print(f"error: {p} has no labels.csv (not a probe folder)", file=sys.stderr)
            return 2
        det = a.detect_out or p / "detect"
        if not a.detect_out and not (a.reuse and (det / "accounts.csv").exists()):
            secs = run_detect(p, det, ["--fpr-target", a.fpr_target] if a.fpr_target else [])
            print(f"detect {p}: {secs:.1f}s", flush=True)
        res = evaluate(p / "labels.csv", det)
        results[str(p)] = res
        print_table(str(p), res)
    if len(results) > 1:  # e.g. --sizes folders: recall per family per folder
        fams = sorted({r["name"] for res in results.values() for r in res["families"]})
        print(f"\n{'family':26}" + "".join(f" {Path(k).name[-12:]:>12}" for k in results))
        for f in fams:
            print(f"{f:26}" + "".join(
                f" {next((r['rate'] for r in res['families'] if r['name'] == f), float('nan')):12.3f}"
                for res in results.values()))
    if len(results) > 1:  # stability: flag changes on the accounts the folders share
        first = next(iter(results))
        for k in list(results)[1:]:
            fa, fb = results[first]["flags"], results[k]["flags"]
            common = fa.keys() & fb.keys()
            moved = [x for x in common if fa[x] != fb[x]]
            legit = sum(1 for x in moved if not results[k]["is_campaign"][x])
            print(f"flag changes {Path(first).name} -> {Path(k).name}: {len(moved)} of {len(common)} shared accounts "
                  f"({legit} legitimate)")
    for res in results.values():
        res.pop("flags"), res.pop("is_campaign")
    if a.json:
        a.json.write_text(json.dumps(results, indent=1, default=dict))
    return 0


if __name__ == "__main__":
    sys.exit(main())
