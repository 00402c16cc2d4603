"""Run the CLI against a fresh store of its own (SQLite under a temporary BASTION_HOME)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from bastion.cli import app
from tests.images import encode, photo_like

Invoke = Callable[..., Result]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("BASTION_HOME", str(home))
    monkeypatch.delenv("BASTION_DATABASE_URL", raising=False)
    return home


@pytest.fixture
def bastion(home: Path) -> Invoke:
    """Invoke ``bastion ARGS`` in a wide terminal; returns Click's Result."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, list(args), input=input, env={"COLUMNS": "250"})

    return invoke


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(encode(photo_like(320, 240, 4), "JPEG"))
    return path


@pytest.fixture
def known(bastion: Invoke, photo: Path) -> Path:
    """A blocklist ``known`` holding the hashes of ``photo``."""
    assert bastion("bank", "create", "known").exit_code == 0
    added = bastion("bank", "add", "known", str(photo))
    assert added.exit_code == 0, added.output
    return photo
