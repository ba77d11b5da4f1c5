"""`distillguard ingest`: logs and account files into the embedded store."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

from ..cli import handle_errors
from ..errors import RecordError
from ..ingest import MAX_LINE_BYTES, IngestOptions, IngestSummary, ingest_accounts, ingest_logs, log_files
from ..mapping import load_mapping
from ..store import Store

MAX_PRINTED_ERRORS = 50


def run_ingest(logs: tuple[str, ...], accounts: str | None, db: str, max_errors: int | None,
               quiet: bool = False, max_line_bytes: int = MAX_LINE_BYTES,
               mapping: str | None = None) -> IngestSummary:
    """Ingest logs (and accounts) into the store at `db`, with a progress bar and error lines on stderr."""
    console = Console(stderr=True, quiet=quiet)
    files = log_files(logs)
    transform = load_mapping(mapping).apply if mapping else None
    printed = 0

    def on_error(err: RecordError) -> None:
        nonlocal printed
        printed += 1
        if printed <= MAX_PRINTED_ERRORS:
            console.print(str(err), markup=False, highlight=False, soft_wrap=True)
        elif printed == MAX_PRINTED_ERRORS + 1:
            console.print("… more rejected records are listed in the store's `rejects` table", markup=False)

    total = sum(Path(f).stat().st_size for f in files)
    with Store.open(db) as store:
        if accounts:
            n = ingest_accounts(store, accounts, on_error)
            console.print(f"accounts: {n} records from {accounts}", markup=False, soft_wrap=True)
        with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                      TransferSpeedColumn(), TimeRemainingColumn(), console=console, transient=True) as bar:
            task = bar.add_task("ingest", total=total)
            options = IngestOptions(max_errors=max_errors, max_line_bytes=max_line_bytes, transform=transform)
            summary = ingest_logs(store, files, options, on_error, lambda n: bar.advance(task, n))
    return summary


@click.command()
@click.argument("logs", nargs=-1, required=True, type=click.Path())
@click.option("--accounts", type=click.Path(), help="Accounts file (CSV, JSONL or Parquet).")
@click.option("--db", required=True, type=click.Path(), help="DuckDB store to append to (created if missing).")
@click.option("--max-errors", type=click.IntRange(min=0), default=None,
              help="Stop (exit 2) when more records than this are rejected; the file being read is not stored.")
@click.option("--max-line-bytes", type=click.IntRange(min=1), default=MAX_LINE_BYTES, show_default=True,
              help="Longer JSONL lines are reported and skipped.")
@click.option("--map", "mapping", metavar="MAP",
              help="Mapping file (TOML) for JSONL in another shape, or a shipped one: litellm, openai-proxy.")
@handle_errors
def ingest(logs: tuple[str, ...], accounts: str | None, db: str, max_errors: int | None,
           max_line_bytes: int, mapping: str | None) -> None:
    """Validate exchange logs (JSONL[.gz|.zst], Parquet files or folders) and append them to the store."""
    s = run_ingest(logs, accounts, db, max_errors, max_line_bytes=max_line_bytes, mapping=mapping)
    click.echo(f"files {s.files}  rows read {s.rows_read}  stored {s.stored}  "
               f"duplicates {s.duplicates}  rejected {s.rejected}  -> {db}")


@click.group()
def store() -> None:
    """Maintain an ingested store (merge its small Parquet parts)."""


@store.command("compact")
@click.option("--db", required=True, type=click.Path(dir_okay=False, exists=True), help="The store to compact.")
@click.option("--min-small", type=click.IntRange(min=2), default=2, show_default=True,
              help="Do nothing unless the store holds at least this many small parts.")
@handle_errors
def store_compact(db: str, min_small: int) -> None:
    """Merge runs of small parts (many small ingests, the gateway's rolled journal) into larger ones."""
    with Store.open(db) as s:
        c = s.compact(min_small=min_small)
    click.echo(f"parts {c.parts_before} -> {c.parts_after}  (merged {c.merged} small parts)  {db}")
