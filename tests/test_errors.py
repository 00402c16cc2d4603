"""One error tree: the CLI and the service render every BastionError from its
own ``code`` and ``status``, with no map of their own to fall behind."""

from __future__ import annotations

import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bastion.cli.common import user_errors
from bastion.errors import BastionError, ItemErrorCode
from bastion.fingerprint import ItemError
from bastion.service import errors as service_errors
from tests.test_docs_coverage import ERRORS


def _service_raising(error: BastionError) -> TestClient:
    app = FastAPI()
    service_errors.install(app)

    @app.get("/boom")
    def boom() -> None:
        raise error

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("error_type", ERRORS, ids=lambda cls: cls.__qualname__)
def test_service_answers_every_error_with_its_status_and_code(
    error_type: type[BastionError],
) -> None:
    answer = _service_raising(error_type("what went wrong")).get("/boom")
    assert answer.status_code == error_type.status
    assert answer.json() == {"message": "what went wrong", "code": error_type.code}


@pytest.mark.parametrize("error_type", ERRORS, ids=lambda cls: cls.__qualname__)
def test_cli_says_every_error_on_one_line_with_status_2(
    error_type: type[BastionError], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(typer.Exit) as exited, user_errors():
        raise error_type("what went wrong")
    assert exited.value.exit_code == 2
    assert capsys.readouterr().err.strip() == "error: what went wrong"


def test_http_layer_refusals_carry_the_status_name_as_code() -> None:
    app = FastAPI()
    service_errors.install(app)

    @app.get("/refused")
    def refused() -> None:
        raise service_errors.ApiError(429, "slow down")

    answer = TestClient(app).get("/refused")
    assert answer.json() == {"message": "slow down", "code": "too-many-requests"}
    assert TestClient(app).get("/nowhere").json()["code"] == "not-found"


def test_item_error_codes_round_trip_through_their_text() -> None:
    """Codes are stored as text (results, scan units) and read back as members."""
    for code in ItemErrorCode:
        assert ItemErrorCode(str(code)) is code
    assert str(ItemError.internal(KeyError("x"))) == "internal: KeyError: 'x'"
