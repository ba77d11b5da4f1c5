"""Detection quality table (issue 4): DistillGuard vs. baselines on simulator presets, per actor.

    .venv/bin/python bench/quality.py --scenario mixed-small --seeds 2 3 [--scale S] [--work DIR]

For each seed: simulate (once, cached in --work), then
- `distillguard`       the full pipeline (links + campaigns),
- `scrubbed`           the same on the log with `ip` and `user_agent` blanked,
- `no-links`           per-account scoring only (baseline b),
- `rate-limit`         a per-key rate limit as gateways apply it today (baseline a): flag accounts that ever
                       exceed --rpm requests in a minute or --rpd in a day,
and print account precision / recall / FPR / ARI, per campaign level (precision counts the legitimate
accounts placed in campaigns whose majority is that level) and the flag rate of every legitimate kind.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import duckdb

from distillguard.detection import DetectConfig, detect_logs
from distillguard.evaluate import evaluate, read_detection, read_labels

ROOT = Path(__file__).resolve().parents[1]


def simulate(scenario: str, seed: int, scale: float | None, work: Path) -> Path:
    """Simulate once per (scenario, seed, scale); return the folder."""
    out = work / (f"{scenario}-s{seed}" + (f"-x{scale}" if scale else ""))
    if not (out / "labels.csv").is_file():
        cmd = [str(ROOT / ".venv/bin/distillguard"), "simulate", "--scenario", scenario, "--seed", str(seed),
               "--out", str(out)] + (["--scale", str(scale)] if scale else [])
        subprocess.run(cmd, check=True)
    return out


def exchanges_path(sim: Path) -> Path:
    """The exchanges file or folder of a simulator output."""
    return sim / "exchanges.parquet"


def scrubbed(sim: Path) -> Path:
    """A copy of the log with network fields blanked."""
    out = sim / "scrubbed.parquet"
    if not out.exists():
        src = exchanges_path(sim)
        pattern = f"{src}/**/*.parquet" if src.is_dir() else str(src)
        duckdb.execute(f"COPY (SELECT * REPLACE ('' AS ip, '' AS user_agent) FROM read_parquet('{pattern}')) "
                       f"TO '{out}' (FORMAT parquet)")
    return out


def rate_limit(features: Path, out: Path, rpm: int, rpd: int) -> None:
    """Baseline (a): flag accounts whose peak per-minute or per-day volume exceeds the limits."""
    out.mkdir(parents=True, exist_ok=True)
    rows = duckdb.execute("SELECT account_id, peak_per_minute, peak_per_day FROM read_parquet(?)",
                          [str(features)]).fetchall()
    with open(out / "accounts.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["account_id", "score", "flagged", "campaign_id", "reasons"])
        for a, pm, pd in rows:
            hit = pm > rpm or pd > rpd
            w.writerow([a, f"{min(1.0, max(pm / rpm, pd / rpd) / 2):.6f}", "true" if hit else "false", "",
                        "rate-limit" if hit else ""])


def level_precision(labels: dict[str, tuple[str, str]], det: dict[str, tuple[float, bool, str]]) -> dict[str, float]:
    """Per campaign actor: precision over the flagged accounts attributed to that actor's campaigns."""
    by_pred: dict[str, Counter[str]] = defaultdict(Counter)
    for a, (_, flagged, cid) in det.items():
        if flagged:
            actor = labels.get(a, ("", "legit:?"))[1]
            by_pred[cid or f"single:{a}"][actor] += 1
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    for counts in by_pred.values():
        major = max((k for k in counts if k.startswith("campaign")), key=lambda k: counts[k], default=None)
        if major is None:
            continue
        tp[major] += counts[major]
        fp[major] += sum(v for k, v in counts.items() if not k.startswith("campaign"))
    return {k: tp[k] / (tp[k] + fp[k]) for k in tp}


def run(args: argparse.Namespace) -> None:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    lines = []
    for seed in args.seeds:
        sim = simulate(args.scenario, seed, args.scale, work)
        labels = read_labels(sim / "labels.csv")
        acc = sim / "accounts.parquet"
        runs: dict[str, Path] = {}
        for name, log, cfg in (("distillguard", exchanges_path(sim), DetectConfig()),
                               ("scrubbed", scrubbed(sim), DetectConfig()),
                               ("no-links", exchanges_path(sim), DetectConfig(use_links=False))):
            t0 = time.perf_counter()
            res = detect_logs([log], work / f"out-{sim.name}-{name}", accounts=acc, config=cfg)
            print(f"seed {seed} {name:<13} {time.perf_counter() - t0:7.1f} s  stages {res.timings}", file=sys.stderr)
            runs[name] = res.out_dir
        rate_limit(runs["distillguard"] / "features.parquet", work / f"out-{sim.name}-rate", args.rpm, args.rpd)
        runs["rate-limit"] = work / f"out-{sim.name}-rate"
        for name, out in runs.items():
            det = read_detection(out)
            ev = evaluate(labels, det)
            lines.append((seed, name, ev, level_precision(labels, det)))
    _print(lines)


def _print(lines: list) -> None:
    actors = sorted({a.actor for _, _, ev, _ in lines for a in ev.actors})
    print(f"\n{'seed':>4} {'method':<13}{'prec':>7}{'recall':>8}{'F1':>7}{'AUC':>7}{'FPR':>9}{'purity':>8}{'ARI':>7}")
    for seed, name, ev, _ in lines:
        print(f"{seed:>4} {name:<13}{ev.precision:7.4f}{ev.recall:8.4f}{ev.f1:7.4f}{ev.roc_auc:7.4f}"
              f"{ev.fpr:9.5f}{ev.purity:8.4f}{ev.ari:7.4f}")
    print("\nper actor: campaign rows = recall (precision); legit rows = share flagged")
    print(f"{'actor':<26}" + "".join(f"{f's{s} {n}':>22}" for s, n, _, _ in lines))
    for actor in actors:
        cells = []
        for _, _, ev, lp in lines:
            row = next((a for a in ev.actors if a.actor == actor), None)
            if row is None:
                cells.append(f"{'-':>22}")
            elif row.campaign:
                p = lp.get(actor)
                cells.append(f"{row.rate:>13.4f} ({'-' if p is None else f'{p:.3f}'})".rjust(22))
            else:
                cells.append(f"{row.rate:>13.4f} [{row.flagged}/{row.accounts}]".rjust(22))
        print(f"{actor:<26}" + "".join(cells))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", default="mixed-small")
    p.add_argument("--seeds", type=int, nargs="+", default=[2, 3])
    p.add_argument("--scale", type=float, default=None)
    p.add_argument("--work", default="/tmp/dg-quality")
    p.add_argument("--rpm", type=int, default=60, help="rate-limit baseline: requests per minute")
    p.add_argument("--rpd", type=int, default=2000, help="rate-limit baseline: requests per day")
    run(p.parse_args())


if __name__ == "__main__":
    main()
