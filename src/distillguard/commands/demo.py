"""`distillguard demo`: the main job end-to-end on the embedded default."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import click

from ..cli import handle_errors
from .ingest import run_ingest


@click.command()
@click.option("--out", default="demo-out", show_default=True, type=click.Path(), help="Folder for results.")
@handle_errors
def demo(out: str) -> None:
    """Run DistillGuard end-to-end on bundled/simulated data and print where the results are."""
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    sample = files("distillguard").joinpath("data/sample_exchanges.jsonl")
    db = out_dir / "store.duckdb"
    s = run_ingest((str(sample),), None, str(db), None)
    click.echo(f"ingested {s.stored} exchanges ({s.duplicates} duplicates, {s.rejected} rejected)")
    click.echo(f"store: {db.resolve()}")
