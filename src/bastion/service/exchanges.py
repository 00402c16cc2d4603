"""What every door to exchanges shares: where secrets sent to the service
are kept, who sees what of an exchange, and "sync now".

A secret sent over HTTP is written to a file under ``<home>/secrets``
(mode 0600, the folder 0700) and the store records only its path, as for
a file an operator wrote: ``secrets/<api>.cred`` for an API's credentials
(HMA's API-level credentials, the default of every exchange of that API),
``secrets/exchanges/<name>.cred`` for one exchange's own.  No door accepts
a path or ``env:`` from a client: that would let it send any file or
variable the service can read to a URL of its choosing.

"Sync now" takes the exchange's lease before answering, so a second
request while a sync runs is a 409 (``ExchangeBusy``) and never a second
sync; the sync itself then runs in the background with that lease.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bastion.accounts import Permission, Principal
from bastion.banks.bank import validate_bank_name
from bastion.config import Settings
from bastion.exchanges import lease
from bastion.exchanges.credentials import read_secret, store_secret
from bastion.exchanges.errors import ExchangeConfigError
from bastion.exchanges.registry import APIS, ExchangeInfo, Exchanges, exchange_row
from bastion.exchanges.sync import sync_exchange
from bastion.service.state import ServiceState

log = logging.getLogger("bastion.service")

SECRETS = "secrets"


def api_secret_path(settings: Settings, api: str) -> Path:
    """Where an API's credentials sent to the service are kept."""
    if api not in APIS:
        raise ExchangeConfigError(f"unknown exchange API {api!r} (known: {', '.join(APIS)})")
    return settings.home / SECRETS / f"{api}.cred"


def exchange_secret_path(settings: Settings, name: str) -> Path:
    """Where one exchange's own credentials sent to the service are kept
    (``name`` is a checked bank-style name: no separators, no leading dot)."""
    return settings.home / SECRETS / "exchanges" / f"{name}.cred"


def usable(location: str | None) -> bool:
    """Whether a secret can be read from ``location`` now (never what it is)."""
    if location is None:
        return False
    try:
        read_secret(location)
    except ExchangeConfigError:
        return False
    return True


def set_api_secret(settings: Settings, api: str, secret: str | None) -> bool:
    """Set (or, with None, clear) an API's credentials; whether some are set now."""
    path = api_secret_path(settings, api)
    if secret is None:
        path.unlink(missing_ok=True)
        return False
    APIS[api]("https://check.invalid", secret)  # the secret's form, checked before it is kept
    store_secret(path, secret)
    return True


def add_exchange(
    state: ServiceState,
    actor: str,
    name: str,
    *,
    api: str,
    bank: str,
    url: str,
    options: Mapping[str, str],
    secret: str | None,
) -> ExchangeInfo:
    """Add an exchange with its own secret (written to its file first), or
    with its API's credentials when it brings none."""
    exchanges = Exchanges(state.store, actor=actor)
    validate_bank_name(name)
    if api not in APIS:
        raise ExchangeConfigError(f"unknown exchange API {api!r} (known: {', '.join(APIS)})")
    if any(info.name == name for info in exchanges.list()):
        # Before its file is written: another exchange's secret is never replaced.
        raise ExchangeConfigError(f"an exchange named {name!r} already exists")
    own = exchange_secret_path(state.settings, name)
    if secret is not None:
        APIS[api](url, secret)  # the secret's form, checked before it is kept
        credentials = store_secret(own, secret)
    else:
        credentials = str(api_secret_path(state.settings, api))
        if not usable(credentials):
            raise ExchangeConfigError(
                f"no credentials for {name!r}: give its own, or set the {api} API's first"
            )
    try:
        return exchanges.add(
            name, api=api, bank=bank, url=url, credentials=credentials, options=options
        )
    except BaseException:
        if secret is not None:
            own.unlink(missing_ok=True)
        raise


def forget_secret(settings: Settings, info: ExchangeInfo) -> None:
    """Delete a removed exchange's own secret file (an API's is shared: kept)."""
    own = exchange_secret_path(settings, info.name)
    if info.credentials == str(own):
        own.unlink(missing_ok=True)


def shown(info: ExchangeInfo, who: Principal) -> dict[str, Any]:
    """An exchange as ``who`` may see it: where its secret is kept is for admins."""
    out = info.to_dict()
    if not who.may(Permission.ADMIN):
        del out["credentials"]
    return out


def start_sync(state: ServiceState, name: str) -> str:
    """Take ``name``'s lease for a sync (ExchangeBusy if one runs); the holder."""
    holder = lease.new_holder()
    with state.store.sessions() as session:
        exchange_id = exchange_row(session, name).id
    lease.take(state.store, exchange_id, holder)
    return holder


def run_sync(state: ServiceState, name: str, holder: str) -> None:
    """The sync started by :func:`start_sync`; how it ended is in its status."""
    try:
        report = sync_exchange(state.store, name, holder=holder)
    except Exception:
        # sync_exchange recorded the failure in the exchange's status first.
        log.exception("sync of exchange %s failed", name)
        return
    log.info("sync of exchange %s: %s", name, report.status)
    state.refresh_now()
