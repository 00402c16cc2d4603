"""The ``bastion`` command line: thin wrappers over the library."""

from bastion.cli import demo as _demo  # registers `bastion demo`
from bastion.cli import inspect as _inspect  # registers `bastion inspect`
from bastion.cli import match as _match  # registers `bastion match`
from bastion.cli import scan as _scan  # registers `bastion scan`
from bastion.cli.app import app
from bastion.cli.banks import bank_app

app.add_typer(bank_app, name="bank")

__all__ = ["app"]
del _demo, _inspect, _match, _scan
