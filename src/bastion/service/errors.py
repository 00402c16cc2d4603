"""Errors as HMA clients expect them: JSON ``{"message": ...}`` with a status.

Domain errors from the library map to statuses in one table, so a route
never catches an error just to translate it.  A browser on a review page
(``/ui``, asking for ``text/html``) gets the same message as a page with a
way back - log in, back to the queue - instead of raw JSON.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from bastion.accounts import AccountError
from bastion.banks.bank import BankError, BankNotFound
from bastion.config import ConfigError
from bastion.labels import InvalidLabel
from bastion.review.items import Forbidden, NotFound, ReviewError
from bastion.review.render import NotAnImage
from bastion.review.vault import VaultError
from bastion.service.pages import templates
from bastion.service.state import NotReady
from bastion.signals.types import InvalidSignal

log = logging.getLogger("bastion.service")


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


#: Most specific first: the first class an error is an instance of wins.
STATUS: tuple[tuple[type[Exception], int], ...] = (
    (BankNotFound, 404),
    (NotFound, 404),
    (Forbidden, 403),
    (NotReady, 503),
    (NotAnImage, 422),
    (VaultError, 500),
    (ConfigError, 500),
    (BankError, 400),
    (AccountError, 400),
    (ReviewError, 400),
    (InvalidSignal, 400),
    (InvalidLabel, 400),
)


def _json(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers=headers)


def _wants_page(request: Request) -> bool:
    """A browser on a review page; API clients (and HTMX swaps) keep JSON."""
    accept = request.headers.get("accept", "")
    return request.url.path.startswith("/ui") and "text/html" in accept


def _answer(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    if not _wants_page(request):
        return _json(status, message, headers)
    return templates.TemplateResponse(
        request,
        "error.html",
        {"who": None, "status": status, "message": message},
        status_code=status,
        headers=headers,
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        if exc.status == 401 and request.url.path.startswith("/ui"):
            return RedirectResponse("/ui/login", status_code=303)
        return _answer(request, exc.status, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
            problems.append(f"{where}: {error.get('msg', 'invalid')}")
        return _answer(request, 400, "; ".join(problems) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _answer(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    for error_type, status in STATUS:
        app.add_exception_handler(error_type, _handler(status))


def _handler(status: int):  # type: ignore[no-untyped-def]
    async def handle(request: Request, exc: Exception) -> Response:
        if status >= 500:
            log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
        return _answer(request, status, str(exc))

    return handle
