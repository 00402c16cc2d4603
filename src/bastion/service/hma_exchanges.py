"""HMA 2.0's exchange routes (``/c/exchanges...``), in HMA's shapes.

An HMA exchange is named after the bank it fills, ``UPPER_WITH_UNDERSCORE``;
its ``api_json`` holds ``url`` (Bastion's) or ``environment`` (HMA's: the
environment's URL, or Bastion's name of it), and anything else as the API's
options.  Credentials are HMA's ``credential_json`` objects, whose fields
are the API's ``credentials_form`` (``user:password`` -> ``user`` and
``password``); they are written to files, never to the database (see
:mod:`bastion.service.exchanges`), and no answer ever holds them.

The status is HMA's ``FetchStatus``: ``checkpoint_ts`` is when the list
was last synced to its end (Bastion's checkpoints are each API's own),
``fetched_items`` counts the remote items the bank holds now.

Reading needs the curator's permission, changing needs the admin's.
"""

from __future__ import annotations

import contextlib
import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from bastion.accounts import Principal
from bastion.banks.bank import BankNotFound, Banks
from bastion.exchanges.api import ExchangeApi
from bastion.exchanges.errors import ExchangeConfigError
from bastion.exchanges.registry import (
    API_ENVIRONMENTS,
    APIS,
    ExchangeInfo,
    ExchangeNotFound,
    Exchanges,
)
from bastion.service.errors import ApiError
from bastion.service.exchanges import (
    add_exchange,
    api_secret_path,
    exchange_secret_path,
    forget_secret,
    set_api_secret,
    usable,
)
from bastion.service.security import Admin, Curator, State
from bastion.service.state import ServiceState

router = APIRouter(tags=["hma"])

#: HMA's exchange (and bank) names.
_HMA_EXCHANGE_NAME = re.compile(r"[A-Z0-9_]+")
#: HMA's limit on one credential field.
MAX_CREDENTIAL_LENGTH = 8192
#: api_json keys Bastion reads itself; the others are the API's options.
_PLACE_KEYS = ("url", "environment")
#: api_json keys HMA sets itself from the request.
_HMA_KEYS = ("name", "api", "enabled")


def _api(name: str, status: int, message: str) -> type[ExchangeApi]:
    api = APIS.get(name)
    if api is None:
        raise ApiError(status, message)
    return api


def _exchange(state: ServiceState, who: Principal, name: str) -> ExchangeInfo:
    try:
        return Exchanges(state.store, actor=who.actor).get(name)
    except ExchangeNotFound:
        raise ApiError(404, f"Exchange '{name}' not found") from None


# --- credentials ----------------------------------------------------------------


def credential_fields(api: type[ExchangeApi]) -> tuple[list[str], str]:
    """The fields of an API's ``credentials_form`` and the character joining
    them (``user:password`` -> ``["user", "password"], ":"``); a form of
    another shape is one field, ``secret``."""
    form = api.credentials_form
    if re.fullmatch(r"\w+", form):
        return [form], ""
    found = re.fullmatch(r"\w+([^\w\s])\w+(?:\1\w+)*", form)
    if found is None:
        return ["secret"], ""
    return form.split(found.group(1)), found.group(1)


def secret_of(api: type[ExchangeApi], raw: Any) -> str | None:
    """The secret a ``credential_json`` object gives (None: it clears them).

    Messages name fields, never values: they go back to the client.
    """
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ApiError(400, "`credential_json` must be an object")
    if not raw:
        return None
    fields, separator = credential_fields(api)
    if any(key not in fields for key in raw):
        raise ApiError(400, f"`credential_json` has unexpected fields; allowed fields: {fields}")
    missing = [name for name in fields if name not in raw]
    if missing:
        raise ApiError(400, f"`credential_json` is missing required fields: {missing}")
    values = []
    for position, name in enumerate(fields):
        value = raw[name]
        if not isinstance(value, str):
            raise ApiError(400, f"`credential_json` field '{name}' must be a string")
        if len(value) > MAX_CREDENTIAL_LENGTH:
            raise ApiError(400, f"`credential_json` field '{name}' is too long")
        last = position == len(fields) - 1
        if any(c in value for c in "\x00\r\n") or (separator in value and not last):
            raise ApiError(400, f"`credential_json` field '{name}' contains invalid characters")
        if not value.strip():
            raise ApiError(400, f"`credential_json` field '{name}' is empty")
        values.append(value.strip())
    return separator.join(values)


def _api_config(state: ServiceState, api: str) -> dict[str, bool]:
    return {
        "supports_authentification": bool(APIS[api].credentials_form),
        "has_set_authentification": usable(str(api_secret_path(state.settings, api))),
    }


def _credential_status(state: ServiceState, info: ExchangeInfo) -> dict[str, Any]:
    """HMA's ``credential_status``: whether there are credentials and whose."""
    source: str | None = None
    if info.credentials == str(exchange_secret_path(state.settings, info.name)):
        source = "exchange"
    elif info.credentials == str(api_secret_path(state.settings, info.api)):
        source = "api"
    elif info.credentials is not None:
        source = "environment" if info.credentials.startswith("env:") else "file"
    has = usable(info.credentials)
    return {"supports_auth": True, "has_credentials": has, "source": source if has else None}


async def _json_object(request: Request, message: str) -> dict[str, Any]:
    """The request's JSON object, read by hand: a validation error would
    echo the (secret) input back."""
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, message) from None
    if not isinstance(body, dict):
        raise ApiError(400, message)
    return body


@router.get("/c/exchanges/apis")
def exchange_apis(_: Curator) -> list[str]:
    return list(APIS)


@router.get("/c/exchanges/api/{api_name}")
def exchange_api_config(_: Curator, state: State, api_name: str) -> dict[str, bool]:
    """Whether the API takes credentials and whether they are set (never what they are)."""
    _api(api_name, 400, f"no such Exchange API '{api_name}'")
    return _api_config(state, api_name)


@router.post("/c/exchanges/api/{api_name}")
async def exchange_api_config_update(
    _: Admin, state: State, request: Request, api_name: str
) -> dict[str, bool]:
    """``{"credential_json": {...}}`` sets the API's credentials (the default of
    its exchanges), ``{}`` clears them, null leaves them."""
    api = _api(api_name, 400, f"no such Exchange API '{api_name}'")
    body = await _json_object(request, "this endpoint expects a json object payload")
    raw = body.get("credential_json")
    if raw is not None:
        secret = secret_of(api, raw)
        await run_in_threadpool(set_api_secret, state.settings, api_name, secret)
    return _api_config(state, api_name)


def _field(name: str, kind: str, required: bool, help: str, choices: Any = None) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "required": required,
        "default": None,
        "help": help,
        "choices": choices,
    }


@router.get("/c/exchanges/api/{api_name}/schema")
def exchange_api_schema(_: Curator, api_name: str) -> dict[str, Any]:
    """HMA's form description of ``api_json`` and ``credential_json`` for the API."""
    api = _api(api_name, 404, f"Exchange API '{api_name}' not found")
    environments = API_ENVIRONMENTS.get(api_name, {})
    config = [_field("url", "string", not environments, "the base URL of the API's environment")]
    if environments:
        config.append(
            _field(
                "environment",
                "enum",
                False,
                "a documented environment (or give url)",
                list(environments.values()),
            )
        )
    config.extend(_field(key, "string", False, text) for key, text in api.known_options.items())
    fields = credential_fields(api)[0]
    credentials = [_field(name, "string", True, api.credentials_form) for name in fields]
    return {"config_schema": {"fields": config}, "credentials_schema": {"fields": credentials}}


# --- exchanges ------------------------------------------------------------------


def _place(api: str, api_json: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The URL and options of ``api_json``; what cannot be used is refused."""
    environments = API_ENVIRONMENTS.get(api, {})
    url, environment = api_json.get("url"), api_json.get("environment")
    if environment is not None:
        by_url = {value: value for value in environments.values()}
        chosen = environments.get(str(environment)) or by_url.get(str(environment))
        if chosen is None:
            known = ", ".join(environments) or "none"
            raise ExchangeConfigError(f"{api} has no environment {environment!r} (known: {known})")
        if url is not None and url != chosen:
            raise ExchangeConfigError("give url or environment, not both")
        url = chosen
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ExchangeConfigError("give url (an http(s) URL) or environment")
    options: dict[str, str] = {}
    for key, value in api_json.items():
        if key in _PLACE_KEYS or key in _HMA_KEYS or value in (None, "", [], {}):
            continue
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ExchangeConfigError(f"option {key!r} must be a string or a number")
        options[str(key)] = str(value)
    return url.rstrip("/"), options


def _bank_exists(state: ServiceState, actor: str, name: str) -> bool:
    try:
        Banks(state.store, actor=actor).get(name)
    except BankNotFound:
        return False
    return True


def _create(state: ServiceState, actor: str, body: dict[str, Any]) -> None:
    bank = body.get("bank")
    if bank is None:
        raise ApiError(400, "bank is required")
    if not isinstance(bank, str) or not _HMA_EXCHANGE_NAME.fullmatch(bank):
        raise ApiError(400, "Field `bank` must match /^[A-Z0-9_]+$/")
    api_json = body.get("api_json") or {}
    if not isinstance(api_json, dict):
        raise ApiError(400, "Field `api_json` must be object")
    api_name = body.get("api")
    if api_name is None:
        raise ApiError(400, "Field `api_type` is required")
    api = _api(str(api_name), 400, f"No such exchange type '{api_name}'")
    try:
        url, options = _place(api.name, api_json)
    except ExchangeConfigError as exc:
        raise ApiError(400, f"Failed to parse `api_json` - {exc}") from None
    secret = secret_of(api, body.get("credential_json"))
    if any(info.name == bank for info in Exchanges(state.store, actor=actor).list()):
        raise ApiError(403, "Exchange already exists")
    if _bank_exists(state, actor, bank):
        raise ApiError(403, "Bank already exists")
    add_exchange(
        state, actor, bank, api=api.name, bank=bank, url=url, options=options, secret=secret
    )
    if api_json.get("enabled") is False:
        Exchanges(state.store, actor=actor).set_enabled(bank, False)


@router.post("/c/exchanges", status_code=201)
async def exchange_create(who: Admin, state: State, request: Request) -> dict[str, str]:
    """HMA's ``{"bank": ..., "api": ..., "api_json": {...}, "credential_json": {...}}``;
    the exchange and its new bank share the name."""
    body = await _json_object(request, "this endpoint expects a json object payload")
    await run_in_threadpool(_create, state, who.actor, body)
    return {"message": "Created successfully"}


@router.get("/c/exchanges")
def exchange_list(who: Curator, state: State) -> list[str]:
    return [info.name for info in Exchanges(state.store, actor=who.actor).list()]


def hma_exchange(info: ExchangeInfo) -> dict[str, Any]:
    """An exchange as HMA serialises its collaboration config (plus its bank and URL)."""
    out: dict[str, Any] = {
        **info.options,
        "name": info.name,
        "api": info.api,
        "enabled": info.enabled,
        "bank": info.bank,
        "url": info.url,
    }
    if info.url in API_ENVIRONMENTS.get(info.api, {}).values():
        out["environment"] = info.url
    return out


@router.get("/c/exchange/{exchange_name}")
def exchange_get(who: Curator, state: State, exchange_name: str) -> dict[str, Any]:
    info = _exchange(state, who, exchange_name)
    return {**hma_exchange(info), "credential_status": _credential_status(state, info)}


class ExchangeUpdate(BaseModel):
    """HMA's ``ExchangeUpdateRequest``: only ``enabled`` changes."""

    enabled: bool | None = None


@router.put("/c/exchange/{exchange_name}")
def exchange_update(
    who: Admin, state: State, exchange_name: str, body: ExchangeUpdate
) -> dict[str, Any]:
    """``enabled`` switches scheduled syncs (its bank keeps matching)."""
    info = _exchange(state, who, exchange_name)
    if body.enabled is not None:
        info = Exchanges(state.store, actor=who.actor).set_enabled(exchange_name, body.enabled)
    return hma_exchange(info)


@router.delete("/c/exchange/{exchange_name}")
def exchange_delete(who: Admin, state: State, exchange_name: str) -> dict[str, str]:
    """The exchange and its bank; as HMA, one already gone is "deleted" too."""
    with contextlib.suppress(ExchangeNotFound):
        info = Exchanges(state.store, actor=who.actor).remove(exchange_name)
        forget_secret(state.settings, info)
        state.refresh_now()
    return {"message": "Exchange deleted"}


def _epoch(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


@router.get("/c/exchange/{exchange_name}/status")
def exchange_status(who: Curator, state: State, exchange_name: str) -> dict[str, Any]:
    """HMA's ``FetchStatus`` of the exchange's syncs."""
    info = _exchange(state, who, exchange_name)
    held = Exchanges(state.store, actor=who.actor).held(exchange_name)
    finished = info.last_finished_at
    return {
        "checkpoint_ts": _epoch(info.last_success_at),
        "running_fetch_start_ts": _epoch(info.last_started_at) if info.syncing_by else None,
        "last_fetch_complete_ts": _epoch(finished),
        "last_fetch_succeeded": info.last_error is None if finished is not None else None,
        "up_to_date": info.last_status == "ok",
        "fetched_items": int(held),
    }
