"""The ASGI application: ``create_app()`` for uvicorn and for tests.

Each serving process opens the store, loads the match index in the
background and serves the ``/v1`` API, the HMA-compatible routes and the
review UI.  Processes share nothing but the database (and the index
snapshot files under ``BASTION_HOME``), so any number of them can run
behind a load balancer over one PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import fastapi_offline
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.about import __version__
from bastion.accounts import Principal
from bastion.config import Settings
from bastion.service import case_ui, errors, hma, report_ui, ui, v1
from bastion.service.errors import ApiError
from bastion.service.fetch import Fetcher
from bastion.service.limits import BodyLimit, Timeout
from bastion.service.pages import templates
from bastion.service.security import KeyCache, authenticate
from bastion.service.state import ServiceState
from bastion.store import Store

HERE = Path(__file__).parent
#: Swagger UI's script and style sheet, served under /docs/assets.
SWAGGER_ASSETS = Path(fastapi_offline.__file__).parent / "static"
#: No inline script or style, no eval, nothing from elsewhere; images inline
#: (the review panel sends its picture with the request that records a reveal).
CSP = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
Anyone = Annotated[Principal, Depends(authenticate)]
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    """Headers every answer carries; UI pages and review media are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = scope["path"].startswith(("/ui", "/v1/review"))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + _HEADERS
                if private and all(name != b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(
    settings: Settings | None = None, *, store: Store | None = None, wait_for_index: bool = False
) -> FastAPI:
    settings = settings or Settings.from_env()
    state = ServiceState(settings, store or Store.open(settings))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.start(wait=wait_for_index)
        yield
        state.stop()

    app = FastAPI(
        title="Bastion",
        version=__version__,
        description="Hash, match and review media against known-abuse hash lists.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.bastion = state
    app.state.key_cache = KeyCache()
    app.state.fetcher = Fetcher(settings)
    errors.install(app)
    app.include_router(v1.router)
    app.include_router(hma.router)
    app.include_router(ui.router)
    app.include_router(case_ui.router)
    app.include_router(report_ui.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _documentation(app)
    _declare_credentials(app)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=303)

    # The last added is outermost: headers on every answer, then size, then time.
    app.add_middleware(Timeout, seconds=settings.request_timeout)
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes)
    app.add_middleware(SecurityHeaders)
    return app


#: How a client sends its API key, as OpenAPI security schemes (Swagger UI's
#: "Authorize" button offers them).
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer bst_..."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


def _declare_credentials(app: FastAPI) -> None:
    """Every operation needs a key (or a session) unless it declares ``security: []``."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            schema["security"] = [{name: []} for name in SECURITY_SCHEMES]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _documentation(app: FastAPI) -> None:
    """The OpenAPI schema and Swagger UI on it, for signed-in users.

    FastAPI's own /docs loads Swagger UI from a CDN; this page and its assets
    (vendored by ``fastapi-offline``) come from the service itself.  A browser
    without a session is sent to the login page and back, not shown a 401.
    """
    app.mount("/docs/assets", StaticFiles(directory=SWAGGER_ASSETS), name="docs-assets")

    @app.get("/openapi.json", include_in_schema=False)
    @app.get("/openapi/openapi.json", include_in_schema=False)  # where HMA serves it
    def openapi(_: Anyone) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/site-map", include_in_schema=False)
    def site_map(_: Anyone) -> list[str]:
        """Every API route's path, as HMA's /site-map lists them."""
        return sorted(app.openapi()["paths"])

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> Response:
        try:
            await authenticate(request)
        except ApiError as exc:
            presented = {"authorization", "x-api-key"} & set(request.headers.keys())
            if exc.status != 401 or presented:
                raise
            return RedirectResponse(f"/ui/login?{urlencode({'next': '/docs'})}", status_code=303)
        return templates.TemplateResponse(
            request,
            "docs.html",
            {
                "title": app.title,
                "assets": "/docs/assets",
                "openapi_url": "/openapi.json",
                "csrf": getattr(request.state, "csrf_token", ""),
            },
        )
