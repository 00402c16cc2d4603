"""The ``bastion`` command line: thin wrappers over the library."""

from bastion.cli import demo as _demo  # registers `bastion demo`
from bastion.cli import filter as _filter  # registers `bastion filter`
from bastion.cli import inspect as _inspect  # registers `bastion inspect`
from bastion.cli import match as _match  # registers `bastion match`
from bastion.cli import scan as _scan  # registers `bastion scan`
from bastion.cli import stamp as _stamp  # registers `bastion stamp`
from bastion.cli.app import app
from bastion.cli.attest import attest_app
from bastion.cli.banks import bank_app
from bastion.cli.cases import case_app
from bastion.cli.exchanges import exchange_app
from bastion.cli.reports import report_app
from bastion.cli.service import audit_app, key_app, review_app, user_app

app.add_typer(bank_app, name="bank")
app.add_typer(exchange_app, name="exchange")
app.add_typer(case_app, name="case")
app.add_typer(user_app, name="user")
app.add_typer(key_app, name="apikey")
app.add_typer(audit_app, name="audit")
app.add_typer(review_app, name="review")
app.add_typer(report_app, name="report")
app.add_typer(attest_app, name="attest")

__all__ = ["app"]
del _demo, _filter, _inspect, _match, _scan, _stamp
