"""`distillguard detect`, `evaluate` and `explain`: thin commands over the detection library."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..cli import handle_errors
from ..errors import ReportError, UsageError


@click.command()
@click.argument("logs", nargs=-1, type=click.Path())
@click.option("--accounts", type=click.Path(), help="Accounts file (CSV, JSONL or Parquet).")
@click.option("--db", type=click.Path(), help="DuckDB store: ingest LOGs into it, or read it when no LOG is given.")
@click.option("--out", required=True, type=click.Path(), help="Output folder (accounts.csv, campaigns.json, …).")
@click.option("--fpr-target", type=float, default=0.001, show_default=True,
              help="Operating point: share of legitimate accounts you accept to flag. Moves the flag threshold "
                   "(0.5 at 0.001, -0.1 per decade looser) and caps the share of unlinked accounts flagged.")
@click.option("--no-links", is_flag=True, help="Per-account scoring only (baseline; no links or campaigns).")
@click.option("--quiet", is_flag=True, help="Print only the summary line.")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True,
              help="Where features and links run: the embedded store, or Apache Spark (pip install "
                   "'distillguard[spark]').")
@click.option("--master", envvar="SPARK_MASTER", default=None,
              help="Spark master URL for --engine spark (default $SPARK_MASTER, else local[*]).")
@click.option("--incremental", is_flag=True,
              help="With --db: absorb only the exchanges ingested since the last --incremental run into the "
                   "snapshot of the last full run kept in the store, and rescore (the first run is a full one "
                   "and takes the snapshot).")
@click.option("--memory-gb", type=click.FloatRange(min=0, min_open=True), default=None,
              envvar="DISTILLGUARD_DETECT_MEMORY_GB",
              help="DuckDB's memory limit while detect runs, in GB (default 4, or $DISTILLGUARD_DETECT_MEMORY_GB); "
                   "beyond it DuckDB spills to STORE.tmp. Flags and campaigns do not depend on it.")
@click.option("--rebuild", is_flag=True,
              help="With --incremental: run a full detection and take a new snapshot (e.g. daily).")
@handle_errors
def detect(logs: tuple[str, ...], accounts: str | None, db: str | None, out: str, fpr_target: float,
           no_links: bool, quiet: bool, engine: str, master: str | None, incremental: bool, memory_gb: float | None,
           rebuild: bool) -> None:
    """Find the accounts of extraction campaigns in exchange LOGs (or an ingested --db) and group them."""
    from ..api import detect_and_report
    from ..detection import DetectConfig
    from ..detection.spark import SparkSettings

    if not logs and not db:
        raise UsageError("give LOG files/folders, or --db PATH of an ingested store")
    if incremental and not db:
        raise UsageError("--incremental keeps its state in the store: give --db PATH")
    if rebuild and not incremental:
        raise UsageError("--rebuild takes a new incremental snapshot: give it with --incremental")
    spark = SparkSettings.from_env(os.environ, master) if engine == "spark" else None  # env read here

    console = Console(stderr=True, quiet=quiet)
    # an incremental update has stages of its own (and a first full run one more, the snapshot): no total there
    with stage_progress(console, None if incremental else len(FULL_STAGES),
                        first="ingest + fingerprints" if logs else FULL_STAGES[0]) as on_stage:
        try:
            res = detect_and_report(logs, out, accounts=accounts, db=db,
                                    config=DetectConfig(fpr_target=fpr_target, use_links=not no_links,
                                                        **({} if memory_gb is None else {"memory_gb": memory_gb})),
                                    on_stage=on_stage, engine=engine, incremental=incremental,
                                    rebuild=rebuild, spark=spark)
            warning = None
        except ReportError as e:  # the detection output is complete: say what failed, keep the exit status
            res, warning = e.result, str(e)
    click.echo(f"accounts {res.accounts}  flagged {res.flagged}  campaigns {res.campaigns}  "
               f"threshold {res.threshold:.3f}  -> {res.out_dir}")
    if warning:
        click.echo(f"distillguard: warning: {warning}", err=True)


# the stages of a full detect run, in order (distillguard.detection.run calls on_stage after each; the rich
# report after them, distillguard.api.detect_and_report)
FULL_STAGES = ("fingerprints", "provenance", "features", "links", "campaigns", "scoring", "output", "report")


@contextmanager
def stage_progress(console: Console, total: int | None, first: str = FULL_STAGES[0]
                   ) -> Iterator[Callable[[str, float], None]]:
    """A progress bar over detect's stages (the one running named); each finished stage's time printed above.

    Not on a terminal (a log file, a pipe): only the stage lines.
    """
    if not console.is_terminal:
        yield lambda name, seconds: console.print(f"  {name:<14}{seconds:8.2f} s", highlight=False, markup=False)
        return
    with Progress(TextColumn("detect: {task.description:<22}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(first, total=total)
        done = 0

        def on_stage(name: str, seconds: float) -> None:
            nonlocal done
            done += 1
            bar.console.print(f"  {name:<14}{seconds:8.2f} s", highlight=False, markup=False)
            running = FULL_STAGES[done] if total is not None and done < len(FULL_STAGES) else "…"
            bar.update(task, advance=1, description=running, refresh=True)

        yield on_stage


@click.command()
@click.argument("out_dir", type=click.Path())
@click.option("--labels", required=True, type=click.Path(), help="labels.csv (account_id,campaign_id,actor).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@handle_errors
def evaluate(out_dir: str, labels: str, as_json: bool) -> None:
    """Score a detection folder against ground-truth labels."""
    from ..evaluate import evaluate_dir, format_table

    ev = evaluate_dir(labels, out_dir)
    click.echo(json.dumps(ev.to_dict(), indent=2) if as_json else format_table(ev))


@click.command()
@click.argument("account_id")
@click.argument("out_dir", type=click.Path())
@handle_errors
def explain(account_id: str, out_dir: str) -> None:
    """Why ACCOUNT_ID got its score: signals, linked accounts, campaign evidence."""
    from ..explain import explain_account, format_explanation

    click.echo(format_explanation(explain_account(account_id, out_dir)))
