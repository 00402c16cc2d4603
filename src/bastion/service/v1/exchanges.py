"""Exchanges: list, describe, add, remove, sync now; the APIs and their credentials.

Curators read (list, status); admins manage (add, remove, sync,
credentials).  A secret is sent once, written to a file under
``<home>/secrets`` and never shown again: answers give where it is kept to
admins only (see :mod:`bastion.service.exchanges`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Response
from pydantic import BaseModel, ConfigDict, Field

from bastion.exchanges.registry import API_ENVIRONMENTS, APIS, Exchanges, resolve_url
from bastion.service import exchanges as doors
from bastion.service.exchanges import (
    api_secret_path,
    forget_secret,
    run_sync,
    set_api_secret,
    shown,
    start_sync,
    usable,
)
from bastion.service.security import Admin, Curator, State

router = APIRouter(tags=["exchanges"])


class ExchangeIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "ncmec-industry",
                    "api": "ncmec",
                    "bank": "NCMEC",
                    "env": "industry",
                    "credentials": "user:password",
                }
            ]
        }
    )

    name: str = Field(max_length=64)
    api: str = Field(max_length=32)
    bank: str = Field(max_length=64)
    url: str | None = Field(default=None, max_length=2048)
    env: str | None = Field(default=None, max_length=64)
    options: dict[str, str] = Field(default_factory=dict, max_length=50)
    #: The secret itself, in the API's credentials form; without it the
    #: API's credentials (``PUT /v1/exchanges/apis/{api}/credentials``) are used.
    credentials: str | None = Field(default=None, max_length=8192)


class SecretIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"credentials": "user:password"}]})

    #: The secret in the API's credentials form; null clears it.
    credentials: str | None = Field(max_length=8192)


@router.get("/exchanges", summary="List exchanges and how their last sync ended")
def list_exchanges(who: Curator, state: State) -> list[dict[str, Any]]:
    return [shown(info, who) for info in Exchanges(state.store, actor=who.actor).list()]


@router.get("/exchanges/apis", summary="The APIs an exchange can follow")
def list_apis(_: Curator, state: State) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "description": api.description,
            "credentials_form": api.credentials_form,
            "environments": API_ENVIRONMENTS.get(name, {}),
            "credentials_set": usable(str(api_secret_path(state.settings, name))),
        }
        for name, api in APIS.items()
    ]


@router.put("/exchanges/apis/{api}/credentials", summary="Set or clear an API's credentials")
def set_api_credentials(_: Admin, state: State, api: str, body: SecretIn) -> dict[str, Any]:
    """The default credentials of the API's exchanges, kept in a file (never shown)."""
    return {"api": api, "credentials_set": set_api_secret(state.settings, api, body.credentials)}


@router.post("/exchanges", status_code=201, summary="Add an exchange (its bank is created)")
def add(who: Admin, state: State, body: ExchangeIn) -> dict[str, Any]:
    info = doors.add_exchange(
        state,
        who.actor,
        body.name,
        api=body.api,
        bank=body.bank,
        url=resolve_url(body.api, body.url, body.env),
        options=body.options,
        secret=body.credentials,
    )
    return shown(info, who)


@router.get("/exchanges/{name}", summary="An exchange: its checkpoint, last sync and counts")
def get_exchange(who: Curator, state: State, name: str) -> dict[str, Any]:
    return shown(Exchanges(state.store, actor=who.actor).get(name), who)


@router.delete("/exchanges/{name}", summary="Remove an exchange (and its bank unless kept)")
def remove_exchange(who: Admin, state: State, name: str, keep_bank: bool = False) -> dict[str, Any]:
    info = Exchanges(state.store, actor=who.actor).remove(name, keep_bank=keep_bank)
    forget_secret(state.settings, info)
    state.refresh_now()
    return {"deleted": info.name, "bank": info.bank, "bank_kept": keep_bank}


@router.post(
    "/exchanges/{name}/sync",
    status_code=202,
    summary="Sync an exchange now (in the background)",
    responses={409: {"description": "a sync of this exchange is running"}},
)
def sync_now(
    _: Admin, state: State, name: str, background: BackgroundTasks, response: Response
) -> dict[str, str]:
    """Starts the sync and answers at once; its progress and end are in the
    exchange's status (``status_url``)."""
    holder = start_sync(state, name)
    background.add_task(run_sync, state, name, holder)
    status_url = f"/v1/exchanges/{name}"
    response.headers["Location"] = status_url
    return {"exchange": name, "status": "started", "status_url": status_url}
