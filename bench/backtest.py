"""Backtest quality: the default policy vs a per-key-only rate limit on a simulated campaign.

    .venv/bin/python bench/backtest.py [--scenario qwen-2026] [--scale 0.01] [--work /tmp/dg-bt] [--delay-hours 24]

Simulates the scenario (`distillguard simulate`), runs `distillguard detect` on it (both reused when the
work folder already holds them), then replays the log through the enforcement engine with detection
known `--delay-hours` after each account's first request, and prints per-campaign and summary tables
next to the targets (<= 5 % of campaign exchanges served after each campaign's first 24 h, <= 0.1 % of
legitimate requests affected).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from distillguard.backtest import BacktestOptions, format_results, load_fingerprinted, run_backtest, write_json
from distillguard.policy import DEFAULT_POLICY_TOML, PER_KEY_BASELINE_TOML, load_policy, parse_policy

CLI = [sys.executable, "-c", "from distillguard.cli import main; main()"]


def main() -> None:
    """Run the backtest benchmark and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="qwen-2026")
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default="/tmp/dg-bt")
    ap.add_argument("--policy", help="policy file (default: the default policy)")
    ap.add_argument("--delay-hours", type=float, default=24.0)
    ap.add_argument("--also-delays", default="", help="comma-separated extra delays (hours) for a sensitivity table")
    a = ap.parse_args()
    work = Path(a.work)
    sim = work / f"{a.scenario}-{a.scale:g}-s{a.seed}"
    det = work / f"{sim.name}-detect"
    t0 = time.perf_counter()
    if not (sim / "labels.csv").exists():
        subprocess.run([*CLI, "simulate", "--scenario", a.scenario, "--scale", str(a.scale), "--seed", str(a.seed),
                        "--out", str(sim)], check=True)
    t_sim = time.perf_counter() - t0
    if not (det / "accounts.csv").exists():
        subprocess.run([*CLI, "detect", str(sim / "exchanges.parquet"), "--accounts", str(sim / "accounts.parquet"),
                        "--out", str(det), "--quiet"], check=True)
    t_det = time.perf_counter() - t0 - t_sim
    policy = load_policy(a.policy) if a.policy else parse_policy(DEFAULT_POLICY_TOML, "default")
    policies = {"default policy": policy, "per-key baseline": parse_policy(PER_KEY_BASELINE_TOML, "baseline")}
    t1 = time.perf_counter()
    loaded = load_fingerprinted([sim / "exchanges.parquet"])
    results = run_backtest(loaded, policies,
                           BacktestOptions(detect=str(det), labels=str(sim / "labels.csv"),
                                           delay_s=a.delay_hours * 3600))
    t_bt = time.perf_counter() - t1
    write_json(results, work / f"{sim.name}-backtest.json")
    print(f"\n{a.scenario} --scale {a.scale:g} --seed {a.seed}; detection known {a.delay_hours:g} h after first use "
          f"(simulate {t_sim:.0f} s, detect {t_det:.0f} s, backtest {t_bt:.0f} s incl. fingerprinting)\n")
    print(format_results(results))
    pol = results[0]
    print(f"\ntargets: campaign exchanges served after their first 24 h <= 5 %: "
          f"{100 * pol.served_after_24h_share:.2f} % ({'met' if pol.served_after_24h_share <= 0.05 else 'NOT met'}); "
          f"legitimate requests affected <= 0.1 %: {100 * pol.legit_affected_share:.3f} % "
          f"({'met' if pol.legit_affected_share <= 0.001 else 'NOT met'})")
    if a.also_delays:
        print(f"\n{'detection delay h':>18} {'served >24h %':>14} {'served total':>13} {'1st action h':>13} "
              f"{'contained h':>12} {'legit affected %':>17} {'joined online':>14}")
        for d in [a.delay_hours] + [float(x) for x in a.also_delays.split(",")]:
            (r,) = run_backtest(loaded, {"p": policy}, BacktestOptions(detect=str(det), labels=str(sim / "labels.csv"),
                                                                        delay_s=d * 3600))
            c = r.campaigns[0]
            first = float("nan") if c.first_action_h is None else c.first_action_h
            cont = float("nan") if c.containment_h is None else c.containment_h
            print(f"{d:>18g} {100 * r.served_after_24h_share:>14.2f} {sum(x.served for x in r.campaigns):>13} "
                  f"{first:>13.1f} {cont:>12.1f} {100 * r.legit_affected_share:>17.3f} "
                  f"{r.extra['accounts_assigned_online']:>14}")


if __name__ == "__main__":
    main()

