"""`distillguard demo`: the main job end-to-end on the embedded default.

simulate (a small preset, with ground truth) → ingest into DuckDB → detect → evaluate → report.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..api import detect_and_report
from ..cli import handle_errors
from ..evaluate import evaluate_dir, format_table
from ..simulate import get_scenario, load_corpora, simulate


@click.command()
@click.option("--out", default="demo-out", show_default=True, type=click.Path(), help="Folder for results.")
@click.option("--scenario", default="mixed-small", show_default=True, help="Simulator preset to rehearse on.")
@click.option("--scale", default=1.0, show_default=True, type=float, help="Scale of the preset.")
@click.option("--seed", default=7, show_default=True, type=int, help="Simulator seed.")
@click.option("--corpora", default="../shared/data", show_default=True, type=click.Path(),
              help="Folder of the real corpora and traces (shared/data).")
@handle_errors
def demo(out: str, scenario: str, scale: float, seed: int, corpora: str) -> None:
    """Rehearse DistillGuard end-to-end on simulated traffic and print where the results are."""
    out_dir = Path(out)
    sim_dir, det_dir = out_dir / "simulated", out_dir / "detection"
    t0 = time.monotonic()
    sim = simulate(get_scenario(scenario), scale, seed, load_corpora(corpora), sim_dir)
    click.echo(f"simulated {sim.exchanges:,} exchanges from {sim.accounts:,} accounts "
               f"({scenario}, scale {scale}, seed {seed}) in {time.monotonic() - t0:.1f} s -> {sim_dir}")
    t1 = time.monotonic()
    db = out_dir / "store.duckdb"
    for stale in (db, db.with_name(db.name + ".wal")):  # a fresh store each run; an old WAL would be replayed
        stale.unlink(missing_ok=True)
    res = detect_and_report([sim_dir / "exchanges.parquet"], det_dir, accounts=sim_dir / "accounts.parquet", db=db)
    click.echo(f"detected {res.campaigns} campaigns, {res.flagged:,} of {res.accounts:,} accounts flagged "
               f"in {time.monotonic() - t1:.1f} s")
    click.echo(format_table(evaluate_dir(sim_dir / "labels.csv", det_dir)))
    click.echo(f"store:  {db.resolve()}")
    click.echo(f"report: {(det_dir / 'report.html').resolve()}")
