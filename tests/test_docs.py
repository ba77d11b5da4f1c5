"""Every CLI command is documented in the README (so users can find it)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from distillguard.cli import COMMANDS, main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_is_in_the_readme(name: str) -> None:
    assert f"distillguard {name}" in README, f"README.md does not document `distillguard {name}`"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_loads_and_has_help(name: str) -> None:
    cmd = main.get_command(click.Context(main), name)
    assert cmd is not None, f"{name}: registered in cli.COMMANDS but its module is missing"
    assert cmd.help, f"{name}: no help text"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_listed_summary_is_the_commands_own(name: str) -> None:
    # `distillguard --help` lists COMMANDS' summaries without importing the commands: they must not drift
    cmd = main.get_command(click.Context(main), name)
    assert cmd is not None and cmd.help
    assert COMMANDS[name][1] == cmd.help.strip().splitlines()[0]
    for limit in (45, 80, 200):
        assert click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit) == cmd.get_short_help_str(limit)
