"""Exchanges as the store keeps them: added, listed, shown and removed.

Each change is audited in its own transaction, as bank changes are.  The
bank an exchange fills is created with it (a blocklist) unless it exists;
removing the exchange removes that bank too unless asked to keep it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bastion import audit
from bastion.banks import Banks
from bastion.banks.bank import BankNotFound, bank_row, validate_bank_name
from bastion.exchanges.api import ExchangeApi, check_options, http_base
from bastion.exchanges.credentials import check_location, read_secret
from bastion.exchanges.errors import ExchangeConfigError, ExchangeError
from bastion.exchanges.http import Retrying
from bastion.exchanges.ncmec import ENVIRONMENTS, NcmecApi
from bastion.exchanges.peer import PeerApi
from bastion.exchanges.stopncii import DEFAULT_URL as STOPNCII_URL
from bastion.exchanges.stopncii import StopNciiApi
from bastion.exchanges.threatexchange import DEFAULT_URL as THREATEXCHANGE_URL
from bastion.exchanges.threatexchange import ThreatExchangeApi
from bastion.exchanges.url import UrlApi
from bastion.store import Store, as_utc
from bastion.store.models import Bank as BankRow
from bastion.store.models import Exchange, ExchangeLease, ExchangeVersion

#: The APIs Bastion can follow, by the names ``--api`` takes.
APIS: dict[str, type[ExchangeApi]] = {
    NcmecApi.name: NcmecApi,
    StopNciiApi.name: StopNciiApi,
    ThreatExchangeApi.name: ThreatExchangeApi,
    UrlApi.name: UrlApi,
    PeerApi.name: PeerApi,
}
#: Named environments of each API (``--env``), turned into its base URL
#: (``url`` and ``bastion`` have none: their URL is always given).
API_ENVIRONMENTS: dict[str, dict[str, str]] = {
    NcmecApi.name: ENVIRONMENTS,
    StopNciiApi.name: {"production": STOPNCII_URL},
    ThreatExchangeApi.name: {"production": THREATEXCHANGE_URL},
}


class ExchangeNotFound(ExchangeError, LookupError):
    code = "exchange-not-found"
    status = 404


@dataclass(frozen=True, slots=True)
class ExchangeInfo:
    """An exchange's settings and the state of its syncs (never its secret)."""

    name: str
    api: str
    bank: str
    url: str
    credentials: str | None
    options: dict[str, str]
    enabled: bool
    checkpoint: dict[str, Any] | None
    last_status: str | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_counts: dict[str, Any] | None
    syncing_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        def moment(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "name": self.name,
            "api": self.api,
            "bank": self.bank,
            "url": self.url,
            "credentials": self.credentials,
            "options": self.options,
            "enabled": self.enabled,
            "checkpoint": self.checkpoint,
            "last_status": self.last_status,
            "last_started_at": moment(self.last_started_at),
            "last_finished_at": moment(self.last_finished_at),
            "last_success_at": moment(self.last_success_at),
            "last_error": self.last_error,
            "last_counts": self.last_counts,
            "syncing_by": self.syncing_by,
        }


def _maybe(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None


def info_of(session: Session, row: Exchange) -> ExchangeInfo:
    bank = session.get(BankRow, row.bank_id)
    lease = session.get(ExchangeLease, row.id)
    live = lease is not None and as_utc(lease.expires_at) > datetime.now(UTC)
    return ExchangeInfo(
        name=row.name,
        api=row.api,
        bank=bank.name if bank else "?",
        url=row.url,
        credentials=row.credentials,
        options=json.loads(row.options or "{}"),
        enabled=row.enabled,
        checkpoint=json.loads(row.checkpoint) if row.checkpoint else None,
        last_status=row.last_status,
        last_started_at=_maybe(row.last_started_at),
        last_finished_at=_maybe(row.last_finished_at),
        last_success_at=_maybe(row.last_success_at),
        last_error=row.last_error,
        last_counts=json.loads(row.last_counts) if row.last_counts else None,
        syncing_by=lease.holder if lease is not None and live else None,
    )


def exchange_row(session: Session, name: str) -> Exchange:
    row = session.execute(select(Exchange).where(Exchange.name == name)).scalar_one_or_none()
    if row is None:
        raise ExchangeNotFound(f"no exchange named {name!r}")
    return row


def resolve_url(api: str, url: str | None, env: str | None) -> str:
    """The base URL an exchange is added with: ``--url``, or ``--env``'s."""
    environments = API_ENVIRONMENTS.get(api, {})
    if env is not None:
        if url is not None:
            raise ExchangeConfigError("give --url or --env, not both")
        if env not in environments:
            known = ", ".join(environments) or "none"
            raise ExchangeConfigError(f"{api} has no environment {env!r} (known: {known})")
        return environments[env]
    if not url:
        raise ExchangeConfigError("a URL (--url) or an environment (--env) is needed")
    return http_base(url)


def build_api(info: ExchangeInfo, http: Retrying | None = None) -> ExchangeApi:
    """The API client of an exchange, with its secret read now."""
    cls = APIS.get(info.api)
    if cls is None:
        raise ExchangeConfigError(f"unknown exchange API {info.api!r}")
    if info.credentials is None:
        raise ExchangeConfigError(f"exchange {info.name!r} has no credentials")
    return cls(info.url, read_secret(info.credentials), http=http, options=info.options)


class Exchanges:
    """Exchange settings on one store, changed on behalf of ``actor``."""

    def __init__(self, store: Store, *, actor: str) -> None:
        self.store = store
        self.actor = actor

    @contextmanager
    def _changing(self) -> Iterator[Session]:
        with self.store.transaction() as session:
            yield session

    def add(
        self,
        name: str,
        *,
        api: str,
        bank: str,
        url: str,
        credentials: str,
        options: Mapping[str, str] | None = None,
    ) -> ExchangeInfo:
        validate_bank_name(name)
        if api not in APIS:
            raise ExchangeConfigError(f"unknown exchange API {api!r} (known: {', '.join(APIS)})")
        credentials = check_location(credentials)
        # The secret's and options' form is checked now, not at the first sync at night.
        check_options(APIS[api], options)
        APIS[api](url, read_secret(credentials), options=options)
        try:
            with self._changing() as session:
                try:
                    bank_id = bank_row(session, bank).id
                except BankNotFound:
                    created = Banks(self.store, actor=self.actor, session=session).create(
                        bank, description=f"follows the exchange {name} ({api})"
                    )
                    bank_id = bank_row(session, created.name).id
                row = Exchange(
                    name=name,
                    api=api,
                    bank_id=bank_id,
                    url=url,
                    credentials=credentials,
                    options=json.dumps(dict(options or {}), sort_keys=True),
                    enabled=True,
                    created_at=datetime.now(UTC),
                )
                session.add(row)
                session.flush()
                audit.record(
                    session, self.actor, "exchange.add", f"exchange:{name}", api=api, bank=bank
                )
                return info_of(session, row)
        except IntegrityError:
            raise ExchangeConfigError(f"an exchange named {name!r} already exists") from None

    def get(self, name: str) -> ExchangeInfo:
        with self.store.sessions() as session:
            return info_of(session, exchange_row(session, name))

    def held(self, name: str) -> int:
        """How many of the list's items the exchange holds now (not deleted)."""
        with self.store.sessions() as session:
            exchange_id = exchange_row(session, name).id
            count: int = session.execute(
                select(func.count()).where(
                    ExchangeVersion.exchange_id == exchange_id, ExchangeVersion.deleted.is_(False)
                )
            ).scalar_one()
            return count

    def list(self) -> list[ExchangeInfo]:
        with self.store.sessions() as session:
            rows = session.execute(select(Exchange).order_by(Exchange.name)).scalars()
            return [info_of(session, row) for row in rows]

    def set_enabled(self, name: str, enabled: bool) -> ExchangeInfo:
        """Switch scheduled syncs of ``name`` on or off (its bank keeps matching)."""
        with self._changing() as session:
            row = exchange_row(session, name)
            if row.enabled != enabled:
                row.enabled = enabled
                action = "exchange.enable" if enabled else "exchange.disable"
                audit.record(session, self.actor, action, f"exchange:{name}")
            return info_of(session, row)

    def remove(self, name: str, *, keep_bank: bool = False) -> ExchangeInfo:
        with self._changing() as session:
            row = exchange_row(session, name)
            info = info_of(session, row)
            for model in (ExchangeVersion, ExchangeLease):
                session.execute(delete(model).where(model.exchange_id == row.id))
            session.delete(row)
            session.flush()
            audit.record(
                session, self.actor, "exchange.remove", f"exchange:{name}", keep_bank=keep_bank
            )
            if not keep_bank:
                Banks(self.store, actor=self.actor, session=session).delete(info.bank)
            return info
