"""The ``bastion`` fixture: the CLI run against the test store (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bastion.cli import app
from bastion.config import Settings


@pytest.fixture
def bastion(settings: Settings, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run the CLI against the test store; returns the Result."""
    monkeypatch.setenv("BASTION_HOME", str(settings.home))
    monkeypatch.setenv("BASTION_DATABASE_URL", settings.store_url)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args), input=input)

    return invoke
