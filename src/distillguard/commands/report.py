"""`distillguard report DETECT_DIR`: (re)write the self-contained HTML report of a detection run."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli import handle_errors


@click.command()
@click.argument("detect_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--db", "store", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The store the log was ingested into: adds per-account activity and, without "
                   "timeline.csv, exchanges per day.")
@handle_errors
def report(detect_dir: Path, store: Path | None) -> None:
    """Write DETECT_DIR/report.html from the output of `distillguard detect` and print its path."""
    from ..report import write_report

    click.echo(str(write_report(detect_dir, store).resolve()))
