"""One fetcher per exchange, however many servers share the store.

A lease row names its holder and an expiry.  Taking it succeeds when there
is none, when it has expired (its holder died), or when it is already ours;
each committed delta renews it in the same transaction, so a holder that
lost its lease (paused past the expiry while another took over) finds out
before it writes anything.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bastion.exchanges.errors import ExchangeError
from bastion.store import Store
from bastion.store.models import ExchangeLease

#: How long a lease lasts without a renewal: longer than any one page takes.
LEASE_SECONDS = 600


class ExchangeBusy(ExchangeError):
    """Another process is syncing this exchange now."""

    code = "exchange-busy"
    status = 409


def new_holder() -> str:
    """A name for this process's syncs: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _dead_here(holder: str) -> bool:
    """Whether ``holder`` was a process of this machine that no longer runs
    (a cron job killed mid-sync need not block the next run until expiry)."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def take(store: Store, exchange_id: int, holder: str, *, seconds: int = LEASE_SECONDS) -> None:
    """Take the lease of ``exchange_id`` for ``holder``, or raise ExchangeBusy.

    An expired lease is taken over, and so is one whose holder was a
    process of this machine that has died.
    """
    now = datetime.now(UTC)
    with store.transaction() as session:
        current = session.execute(
            select(ExchangeLease.holder).where(ExchangeLease.exchange_id == exchange_id)
        ).scalar_one_or_none()
        dead = [current] if current is not None and _dead_here(current) else []
        taken = session.execute(
            update(ExchangeLease)
            .where(
                ExchangeLease.exchange_id == exchange_id,
                or_(
                    ExchangeLease.expires_at < now,
                    ExchangeLease.holder.in_([holder, *dead]),
                ),
            )
            .values(holder=holder, expires_at=now + timedelta(seconds=seconds))
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if taken:
            return
        try:
            with session.begin_nested():
                session.execute(
                    insert(ExchangeLease).values(
                        exchange_id=exchange_id,
                        holder=holder,
                        expires_at=now + timedelta(seconds=seconds),
                    )
                )
        except IntegrityError:
            raise ExchangeBusy("another process is syncing this exchange now") from None


def renew(session: Session, exchange_id: int, holder: str, *, seconds: int = LEASE_SECONDS) -> None:
    """Extend our lease inside ``session``'s transaction; raise if it is no longer ours."""
    renewed = session.execute(
        update(ExchangeLease)
        .where(ExchangeLease.exchange_id == exchange_id, ExchangeLease.holder == holder)
        .values(expires_at=datetime.now(UTC) + timedelta(seconds=seconds))
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if not renewed:
        raise ExchangeBusy("this sync's lease was taken over by another process; it stopped")


def release(session: Session, exchange_id: int, holder: str) -> None:
    session.execute(
        delete(ExchangeLease).where(
            ExchangeLease.exchange_id == exchange_id, ExchangeLease.holder == holder
        )
    )
