"""``--help`` of every command fits an 80-column terminal without cutting option names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from bastion.cli import app


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command under a group (Typer's own Click: read by attribute)."""
    for name, command in group.commands.items():
        yield (*path, name), command
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))


COMMANDS = list(_commands(typer.main.get_group(app)))


def test_every_command_is_covered() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"hash", "match", "inspect", "scan", "bank add", "bank import"} <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_option_names_are_never_cut_off(path: tuple[str, ...], command: Any) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    words = set(result.stdout.replace(",", " ").replace("/", " ").split())
    names = [
        name
        for param in command.params
        if param.param_type_name == "option"
        for name in [*param.opts, *param.secondary_opts]
    ]
    for name in names:
        assert name in words, f"{' '.join(path)}: {name} cut off\n{result.stdout}"
    assert "…" not in result.stdout
    assert max(map(len, result.stdout.splitlines())) <= 80
