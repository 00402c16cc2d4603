"""Authentication and authorisation for every route but health.

Clients send an API key (``Authorization: Bearer bst_...`` or
``X-API-Key``); people log in to the UI and carry a session cookie
(HttpOnly, SameSite=Strict) plus a CSRF token, which every state-changing
request must echo in the ``X-CSRF-Token`` header or a ``csrf_token`` form
field.  Keys need no CSRF token: a browser never sends them by itself.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from bastion.accounts import Permission, Principal
from bastion.service.errors import ApiError
from bastion.service.fetch import Fetcher
from bastion.service.state import ServiceState

SESSION_COOKIE = "bastion_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: A revoked key stops working within this many seconds in every process.
KEY_CACHE_SECONDS = 5.0


def state_of(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.bastion
    return state


class KeyCache:
    """Recently checked keys, so a lookup costs no database round trip."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[Principal | None, float]] = {}
        self._lock = threading.Lock()

    def get(self, presented: str) -> tuple[bool, Principal | None]:
        digest = hashlib.sha256(presented.encode()).hexdigest()
        with self._lock:
            found = self._known.get(digest)
        if found is None or found[1] < time.monotonic():
            return False, None
        return True, found[0]

    def put(self, presented: str, principal: Principal | None) -> None:
        digest = hashlib.sha256(presented.encode()).hexdigest()
        with self._lock:
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[digest] = (principal, time.monotonic() + KEY_CACHE_SECONDS)


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        raise ApiError(401, "the Authorization header must be 'Bearer <API key>'")
    return request.headers.get("x-api-key") or None


async def authenticate(request: Request) -> Principal:
    """Who is asking; 401 if nobody is, 429 if they ask too often."""
    state = state_of(request)
    presented = _presented_key(request)
    if presented is not None:
        cache: KeyCache = request.app.state.key_cache
        known, principal = cache.get(presented)
        if not known:
            principal = await run_in_threadpool(state.accounts.check_key, presented)
            cache.put(presented, principal)
        if principal is None:
            raise ApiError(401, "the API key is not valid (unknown or revoked)")
        wait = state.rate_limiter.wait_time(f"key:{principal.id}")
        if wait:
            retry = str(max(1, round(wait)))
            raise ApiError(429, "rate limit exceeded (BASTION_RATE_LIMIT)", {"Retry-After": retry})
        return principal
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        found = await run_in_threadpool(state.accounts.session_principal, token)
        if found is not None:
            principal, csrf = found
            if request.method not in SAFE_METHODS:
                await _check_csrf(request, csrf)
            request.state.csrf_token = csrf
            return principal
    raise ApiError(
        401, "authentication required: send an API key (Authorization: Bearer ...) or log in"
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def login_wait(request: Request, name: str) -> float:
    """0 if this login attempt may be checked, else seconds to wait (429).

    A refused attempt is counted in its address's failed-login audit record.
    """
    state = state_of(request)
    address = client_address(request)
    wait = state.logins.wait_time(name, address)
    if wait:
        state.accounts.login_throttled(name, address)
    return wait


async def _check_csrf(request: Request, expected: str) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        field = form.get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if sent is None or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise ApiError(403, "missing or wrong CSRF token: reload the page and try again")


def require(permission: Permission) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: the principal, if its role grants ``permission`` (else 403)."""

    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        if not principal.may(permission):
            raise ApiError(403, f"role {principal.role} may not do this (needs {permission})")
        return principal

    return dependency


async def current_state(request: Request) -> ServiceState:
    """A dependency (async, so FastAPI need not hop to a thread for it)."""
    return state_of(request)


async def current_fetcher(request: Request) -> Fetcher:
    """A dependency: this process's URL fetcher (its slots are per process)."""
    fetcher: Fetcher = request.app.state.fetcher
    return fetcher


State = Annotated[ServiceState, Depends(current_state)]
Fetching = Annotated[Fetcher, Depends(current_fetcher)]
Matcher = Annotated[Principal, Depends(require(Permission.MATCH))]
BankReader = Annotated[Principal, Depends(require(Permission.READ_BANKS))]
Curator = Annotated[Principal, Depends(require(Permission.MANAGE_BANKS))]
Reviewer = Annotated[Principal, Depends(require(Permission.REVIEW))]
Admin = Annotated[Principal, Depends(require(Permission.ADMIN))]
