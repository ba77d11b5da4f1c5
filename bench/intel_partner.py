"""Provider A shares a campaign, provider B (holding a small part of it) imports it: B's detection before/after.

One simulated world is split between two providers: legitimate accounts half and half, each campaign's
accounts 1 - B_SHARE to A and B_SHARE to B (both see the same campaign: same wrappers, items,
infrastructure). Each provider runs `distillguard detect` on its own traffic; A exports STIX
(`intel export --db A`), B imports it, matches its traffic (`intel match --detect`), and B's detection is
evaluated against the labels before and after. Prints a table.

    .venv/bin/python bench/intel_partner.py --work /tmp/dg-intel-bench [--scenario mixed-small --seed 1]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

DG = [str(Path(sys.executable).parent / "distillguard")]


def run(*args: str) -> str:
    t = time.perf_counter()
    out = subprocess.run([*DG, *args], check=True, capture_output=True, text=True).stdout
    print(f"  {time.perf_counter() - t:6.1f} s  distillguard {' '.join(args[:2])}", file=sys.stderr)
    return out


def split(sim: Path, work: Path, b_share: float, seed: int) -> None:
    """Write A/ and B/ simulator-shaped folders from one simulated world."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE labels AS SELECT * FROM read_csv('{sim / 'labels.csv'}', all_varchar=true)")
    con.execute(f"""CREATE TABLE side AS SELECT account_id, CASE
        WHEN coalesce(campaign_id, '') = '' THEN (CASE WHEN hash(account_id || '{seed}') % 2 = 0 THEN 'A' ELSE 'B' END)
        WHEN (hash(account_id || 'b{seed}') % 1000) < {int(b_share * 1000)} THEN 'B' ELSE 'A' END AS side
        FROM labels""")
    for side in ("A", "B"):
        d = work / side
        d.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY (SELECT x.* FROM read_parquet('{sim / 'exchanges.parquet'}') x JOIN side s USING "
                    f"(account_id) WHERE s.side = '{side}') TO '{d / 'exchanges.parquet'}' (FORMAT parquet)")
        con.execute(f"COPY (SELECT a.* FROM read_parquet('{sim / 'accounts.parquet'}') a JOIN side s USING "
                    f"(account_id) WHERE s.side = '{side}') TO '{d / 'accounts.parquet'}' (FORMAT parquet)")
        con.execute(f"COPY (SELECT l.* FROM labels l JOIN side s USING (account_id) WHERE s.side = '{side}') "
                    f"TO '{d / 'labels.csv'}' (HEADER)")


def recall_at_precision(detect_dir: Path, labels: Path, precision: float) -> float:
    """Best recall among score thresholds whose precision is at least `precision`."""
    with labels.open() as f:
        positive = {r["account_id"] for r in csv.DictReader(f) if r["campaign_id"]}
    with (detect_dir / "accounts.csv").open() as f:
        scores = sorted(((float(r["score"]), r["account_id"] in positive) for r in csv.DictReader(f)), reverse=True)
    best, tp = 0.0, 0
    for n, (_, pos) in enumerate(scores, start=1):
        tp += pos
        if tp / n >= precision:
            best = max(best, tp / len(positive))
    return best


def evaluate(detect_dir: Path, labels: Path) -> dict[str, float]:
    m = json.loads(run("evaluate", str(detect_dir), "--labels", str(labels), "--json"))
    return {k: m[k] for k in ("accounts", "positives", "flagged", "precision", "recall", "f1")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/dg-intel-bench"))
    ap.add_argument("--scenario", default="mixed-small")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--b-share", type=float, default=0.15)
    ap.add_argument("--reuse", action="store_true", help="Keep the split and detections of a previous run.")
    ap.add_argument("--corpora", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    args = ap.parse_args()
    w = args.work
    sim = w / "sim"
    if not (sim / "labels.csv").is_file():
        run("simulate", "--scenario", args.scenario, "--seed", str(args.seed), "--corpora", args.corpora,
            "--out", str(sim))
    if not args.reuse:
        split(sim, w, args.b_share, args.seed)
    for side in ("A", "B"):
        d = w / side
        if args.reuse and (d / "detect" / "accounts.csv").is_file():
            continue
        (d / "store.duckdb").unlink(missing_ok=True)
        run("detect", str(d / "exchanges.parquet"), "--accounts", str(d / "accounts.parquet"), "--db",
            str(d / "store.duckdb"), "--out", str(d / "detect"), "--quiet")
    if (w / "B" / "detect" / "accounts.before-intel.csv").is_file():  # undo a previous run's enrichment
        shutil.copyfile(w / "B" / "detect" / "accounts.before-intel.csv", w / "B" / "detect" / "accounts.csv")
        (w / "B" / "detect" / "accounts.before-intel.csv").unlink()
    before = evaluate(w / "B" / "detect", w / "B" / "labels.csv")
    shutil.copytree(w / "B" / "detect", w / "B" / "detect-before", dirs_exist_ok=True)
    run("intel", "export", str(w / "A" / "detect"), "--db", str(w / "A" / "store.duckdb"), "--provider",
        "Provider A", "--out", str(w / "A" / "bundle.json"))
    (w / "B" / "intel.duckdb").unlink(missing_ok=True)
    shutil.copyfile(w / "B" / "store.duckdb", w / "B" / "intel.duckdb")
    print(run("intel", "import", str(w / "A" / "bundle.json"), "--db", str(w / "B" / "intel.duckdb")).strip(),
          file=sys.stderr)
    print(run("intel", "match", "--db", str(w / "B" / "intel.duckdb"), "--detect", str(w / "B" / "detect")).strip(),
          file=sys.stderr)
    after = evaluate(w / "B" / "detect", w / "B" / "labels.csv")
    p = before["precision"]
    rows = [("before (B alone)", before, recall_at_precision(w / "B" / "detect-before", w / "B" / "labels.csv", p)),
            ("after (B + A's STIX)", after, recall_at_precision(w / "B" / "detect", w / "B" / "labels.csv", p))]
    print(f"\nprovider B: {before['accounts']} accounts, {before['positives']} campaign accounts "
          f"(B holds {args.b_share:.0%} of each campaign; scenario {args.scenario} seed {args.seed})\n")
    print(f"| {'':22} | flagged | precision | recall | F1     | recall @ precision {p:.3f} |")
    print("|------------------------|---------|-----------|--------|--------|--------------------------|")
    for name, m, r in rows:
        print(f"| {name:22} | {m['flagged']:7} | {m['precision']:9.4f} | {m['recall']:6.4f} | {m['f1']:6.4f} "
              f"| {r:24.4f} |")


if __name__ == "__main__":
    main()
