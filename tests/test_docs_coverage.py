"""Everything a user can meet by name is documented: error codes, ``BASTION_*``
variables and CLI commands each appear in README.md or docs/*.md.

A name added to the code without a line in the docs fails here, so the docs
cannot silently fall behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

import bastion
from bastion.cli import app
from bastion.errors import BastionError, ItemErrorCode

ROOT = Path(__file__).resolve().parents[1]
SRC = Path(bastion.__file__).resolve().parent


def _docs() -> str:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(page.read_text(encoding="utf-8") for page in pages)


DOCS = _docs()


def _subclasses(cls: type[BastionError]) -> Iterator[type[BastionError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _import_all() -> None:
    """Import every module, so every BastionError subclass is defined."""
    import importlib

    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        if "migrations" in parts or parts[-1] == "__main__":
            continue
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        importlib.import_module(module)


_import_all()
ERRORS = sorted(set(_subclasses(BastionError)), key=lambda cls: cls.__qualname__)


def _commands(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """Every command and subcommand (Typer's own Click: a group has ``commands``)."""
    if path:
        yield path
    for name, sub in getattr(command, "commands", {}).items():
        if not sub.hidden:
            yield from _commands(sub, (*path, name))


def _env_vars() -> set[str]:
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        found.update(
            re.findall(r"\bBASTION_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8"))
        )
    return found


def test_error_tree_is_found() -> None:
    """The walks below check something: the tree holds the errors named in its docstring."""
    names = {cls.__name__ for cls in ERRORS}
    assert {"BankNotFound", "ConfigError", "TruncatedImage", "StoreError"} <= names


@pytest.mark.parametrize("error", ERRORS, ids=lambda cls: cls.__qualname__)
def test_every_error_has_its_own_documented_code(error: type[BastionError]) -> None:
    assert "code" in vars(error), f"{error.__qualname__} inherits its code"
    assert "status" in vars(error) or "status" in vars(error.__mro__[1])
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", error.code)
    assert 400 <= error.status <= 599
    assert f"`{error.code}`" in DOCS, f"{error.__qualname__}'s code {error.code!r} is undocumented"


@pytest.mark.parametrize("code", list(ItemErrorCode), ids=str)
def test_every_item_error_code_is_documented(code: ItemErrorCode) -> None:
    assert f"`{code}`" in DOCS


@pytest.mark.parametrize("name", sorted(_env_vars()))
def test_every_environment_variable_is_documented(name: str) -> None:
    assert re.search(rf"\b{name}\b", DOCS), f"{name} is read but not documented"


COMMANDS = list(_commands(typer.main.get_command(app), ()))


def test_commands_are_found() -> None:
    assert ("bank", "import") in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_is_documented(path: tuple[str, ...]) -> None:
    assert "bastion " + " ".join(path) in DOCS, f"`bastion {' '.join(path)}` is undocumented"
