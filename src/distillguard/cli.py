"""The `distillguard` command: thin click commands over library calls.

Commands live in the module of the stage they drive and are loaded lazily (so `distillguard ingest`
does not import the gateway or Spark). Library errors become one-line messages and exit code 2 here,
at the edge, and nowhere else.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from .errors import DistillGuardError

# command name -> "module:attribute" of a click command; modules are imported on first use.
COMMANDS: dict[str, str] = {
    "ingest": "distillguard.commands.ingest:ingest",
    "demo": "distillguard.commands.demo:demo",
    "simulate": "distillguard.commands.simulate:simulate",
    "detect": "distillguard.commands.detect:detect",
    "evaluate": "distillguard.commands.detect:evaluate",
    "explain": "distillguard.commands.detect:explain",
    "report": "distillguard.commands.report:report",
    "serve": "distillguard.commands.serve:serve",
    "keys": "distillguard.commands.serve:keys",
    "policy": "distillguard.commands.serve:policy",
    "backtest": "distillguard.commands.serve:backtest",
    "watermark": "distillguard.commands.watermark:watermark",
    "intel": "distillguard.commands.intel:intel",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in COMMANDS if self._load(n) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name:  # that stage is not part of this build
                return None
            raise
        cmd = getattr(module, attr)
        assert isinstance(cmd, click.Command)
        return cmd


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
