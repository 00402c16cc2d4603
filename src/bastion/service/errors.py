"""Errors as JSON ``{"message": ..., "code": ...}`` with a status; on HMA's
routes exactly ``{"message": ...}``, the body HMA 2.0's clients parse.

Bastion's own errors (:class:`bastion.errors.BastionError`) carry their
status and code, so one handler renders them all and a route never catches
an error just to translate it.  Refusals of the HTTP layer (:class:`ApiError`,
a bad request body, an unknown route) have the status's name as their code
(``bad-request``, ``unauthorized`` ...).  A browser on a review page
(``/ui``, asking for ``text/html``) gets the same message as a page with a
way back - log in, back to the queue - instead of raw JSON.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from bastion.errors import BastionError, http_status_code
from bastion.service.pages import templates

log = logging.getLogger("bastion.service")


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


#: Path prefixes of the HMA 2.0 routes (bastion.service.hma).
HMA_PREFIXES = ("/h/", "/m/", "/c/", "/status")


def _json(
    request: Request,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"message": message}
    if not request.url.path.startswith(HMA_PREFIXES):
        body["code"] = code
    return JSONResponse(body, status_code=status, headers=headers)


def _wants_page(request: Request) -> bool:
    """A browser on a review page; API clients (and HTMX swaps) keep JSON."""
    accept = request.headers.get("accept", "")
    return request.url.path.startswith("/ui") and "text/html" in accept


def _answer(
    request: Request,
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    code: str | None = None,
) -> Response:
    if not _wants_page(request):
        return _json(request, status, code or http_status_code(status), message, headers)
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

    @app.exception_handler(BastionError)
    async def bastion_error(request: Request, exc: BastionError) -> Response:
        if exc.status >= 500:
            log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
        return _answer(request, exc.status, str(exc), code=exc.code)
