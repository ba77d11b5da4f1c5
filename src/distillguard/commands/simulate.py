"""`distillguard simulate`: synthetic traffic with ground truth (see distillguard.simulate)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from ..cli import handle_errors
from ..errors import UsageError

if TYPE_CHECKING:
    from ..simulate import SimulationResult


def describe_table(result: SimulationResult, title: str) -> Table:
    """A rich table per actor: accounts, exchanges, exchanges/account/day, share of traffic."""
    t = Table(title=title)
    for col in ("actor", "campaign", "accounts", "exchanges", "exch/acct/day", "share"):
        t.add_column(col, justify="left" if col in ("actor", "campaign") else "right")
    total = max(result.exchanges, 1)
    for a in result.actors:
        t.add_row(a.label, a.campaign or "-", f"{a.accounts:,}", f"{a.exchanges:,}", f"{a.per_account_day:,.1f}",
                  f"{100 * a.exchanges / total:.1f}%")
    legit = [a for a in result.actors if not a.campaign]
    camp = [a for a in result.actors if a.campaign]
    for name, group in (("legitimate total", legit), ("campaign total", camp)):
        ex = sum(a.exchanges for a in group)
        t.add_row(f"[bold]{name}[/]", "", f"{sum(a.accounts for a in group):,}", f"{ex:,}", "",
                  f"{100 * ex / total:.1f}%")
    return t


@click.command()
@click.option("--scenario", "name", default="mixed-small", show_default=True, help="Preset name (see --list).")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="Multiply account counts (and so exchanges) by this; per-account behaviour is kept.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed → byte-identical output.")
@click.option("--corpora", type=click.Path(), default="../shared/data", show_default=True,
              help="Folder of the real corpora and traces (shared/data).")
@click.option("--out", type=click.Path(), help="Output folder (exchanges.parquet, accounts.parquet, labels.csv, "
              "scenario.json).")
@click.option("--completions", type=click.Choice(["auto", "none", "synthetic"]), default="auto", show_default=True,
              help="Completion texts: synthetic, none, or auto (synthetic for scenarios of ~2M exchanges or less).")
@click.option("--list", "list_", is_flag=True, help="List the presets and exit.")
@click.option("--describe", is_flag=True, help="Print the per-actor table of the scenario (counts only, no files).")
@handle_errors
def simulate(name: str, scale: float, seed: int, corpora: str, out: str | None, completions: str, list_: bool,
             describe: bool) -> None:
    """Generate realistic API traffic of legitimate users and distillation campaigns, with labels."""
    from ..simulate import PRESETS, get_scenario, load_corpora  # numpy and scipy: not for --help
    from ..simulate import simulate as run_simulation

    console = Console(width=max(Console().width, 110))
    if list_:
        t = Table(title="scenario presets (scale 1)")
        for col in ("name", "days", "start", "accounts", "description"):
            t.add_column(col)
        for s in PRESETS.values():
            t.add_row(s.name, str(s.days), s.start, f"{sum(a.accounts for a in s.actors):,}", s.description)
        console.print(t)
        return
    scenario = get_scenario(name)
    if not describe and not out:
        raise UsageError("--out DIR is required (or use --list / --describe)")
    c = load_corpora(corpora)
    t0 = time.perf_counter()
    result = run_simulation(scenario, scale, seed, c, None if describe else out, completions)
    dt = time.perf_counter() - t0
    title = f"{scenario.name} scale {scale:g} seed {seed}: {scenario.start} + {scenario.days} days"
    console.print(describe_table(result, title))
    if not describe:
        click.echo(f"{result.exchanges:,} exchanges from {result.accounts:,} accounts in {dt:.1f} s "
                   f"({result.exchanges / max(dt, 1e-9):,.0f}/s) -> {out}")
