"""The `distillguard` command: thin click commands over library calls.

Commands live in the module of the stage they drive and are loaded lazily (so `distillguard ingest`
does not import the gateway or Spark). Library errors become one-line messages and exit code 2 here,
at the edge, and nowhere else.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from .errors import DistillGuardError

# command name -> ("module:attribute" of a click command, its help's first line). Modules are imported on first
# use; `distillguard --help` lists the commands from the summaries here without importing any of them
# (tests/test_docs.py checks that each summary is its command's first help line).
COMMANDS: dict[str, tuple[str, str]] = {
    "ingest": ("distillguard.commands.ingest:ingest",
               "Validate exchange logs (JSONL[.gz|.zst], Parquet files or folders) and append them to the store."),
    "store": ("distillguard.commands.ingest:store", "Maintain an ingested store (merge its small Parquet parts)."),
    "demo": ("distillguard.commands.demo:demo",
             "Rehearse DistillGuard end-to-end on simulated traffic and print where the results are."),
    "simulate": ("distillguard.commands.simulate:simulate",
                 "Generate realistic API traffic of legitimate users and distillation campaigns, with labels."),
    "detect": ("distillguard.commands.detect:detect",
               "Find the accounts of extraction campaigns in exchange LOGs (or an ingested --db) and group them."),
    "evaluate": ("distillguard.commands.detect:evaluate", "Score a detection folder against ground-truth labels."),
    "explain": ("distillguard.commands.detect:explain",
                "Why ACCOUNT_ID got its score: signals, linked accounts, campaign evidence."),
    "report": ("distillguard.commands.report:report",
               "Write DETECT_DIR/report.html from the output of `distillguard detect` and print its path."),
    "serve": ("distillguard.commands.serve:serve",
              "Run the OpenAI-compatible gateway: log every exchange, enforce policy per account and per campaign."),
    "keys": ("distillguard.commands.serve:keys",
             "Manage gateway API keys (stored hashed; a key is printed once, at creation)."),
    "policy": ("distillguard.commands.serve:policy", "Write and check enforcement policy files."),
    "backtest": ("distillguard.commands.serve:backtest",
                 "Replay historical logs through the enforcement engine with simulated time."),
    "watermark": ("distillguard.commands.watermark:watermark",
                  "Watermark outputs, detect the mark, trace leaks to accounts, test suspect models."),
    "intel": ("distillguard.commands.intel:intel",
              "Share campaigns as STIX 2.1 / MISP / TAXII 2.1 and match partners' indicators against our traffic."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in COMMANDS if _present(n))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _present(cmd_name):
            return None
        module_name, attr = COMMANDS[cmd_name][0].split(":")
        cmd = getattr(importlib.import_module(module_name), attr)
        assert isinstance(cmd, click.Command)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names), default=0)
        rows = [(n, click.Command(n, help=COMMANDS[n][1]).get_short_help_str(limit)) for n in names]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _present(name: str) -> bool:
    """Whether the command's module is part of this build (found without importing it)."""
    return importlib.util.find_spec(COMMANDS[name][0].split(":")[0]) is not None


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn DistillGuard errors into a one-line message on stderr and exit status 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DistillGuardError as e:
            click.echo(f"distillguard: error: {e}", err=True)
            sys.exit(2)

    return wrapper


@click.group(cls=LazyGroup)
@click.version_option(package_name="distillguard")
def main() -> None:
    """DistillGuard: detect, contain, prove and share LLM distillation campaigns."""
    # stores, journals, reports and detection output hold prompts and completions: readable by this user only
    os.umask(0o077)
