"""Login sessions: a person's name and password open one; its token, sent
back as a cookie, says who each later request acts for.

A login checks one Argon2 hash whoever asks - an unknown or disabled
user's attempt is checked against a dummy hash - so its time does not tell
which names exist.  Failed logins are audited per source address: the
first of a window at once, the rest of the window as one record with
counts, so a flood of attempts cannot flood the audit log.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bastion import audit
from bastion.accounts import passwords
from bastion.accounts.keys import secret_digest
from bastion.accounts.roles import Principal, Role
from bastion.store import Store, as_utc
from bastion.store.models import LoginSession, User

#: Failed logins from one address within this many seconds share one audit record.
FAILED_LOGIN_WINDOW = 60.0
#: User names a failed-login record lists (the first ones tried; it counts every attempt).
NAMES_RECORDED = 20


@dataclass(frozen=True, slots=True)
class LoginInfo:
    token: str
    csrf_token: str
    principal: Principal
    expires_at: datetime


@dataclass(slots=True)
class _Failures:
    """Login attempts from one address that failed or were refused since ``opened``
    and are not recorded yet."""

    opened: float
    first_at: datetime
    failed: int = 0
    throttled: int = 0
    names: set[str] = field(default_factory=set)

    def add(self, name: str, *, throttled: bool) -> None:
        if throttled:
            self.throttled += 1
        else:
            self.failed += 1
        if len(self.names) < NAMES_RECORDED:
            self.names.add(name[:64])


class Sessions:
    store: Store
    #: Monotonic seconds, which failed-login windows are measured in.
    _clock: Callable[[], float]
    _failures: dict[str, _Failures]
    _failures_lock: threading.Lock

    def open_session(
        self, name: str, password: str, *, hours: int, address: str = "unknown"
    ) -> LoginInfo | None:
        """A new login session, or None (audited either way) for wrong credentials.

        ``address`` is where the attempt came from; failures are audited per address.
        """
        with self.store.transaction() as session:
            row = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
            # One Argon2 check whoever asks: the time taken tells no one which names exist.
            stored = row.password_hash if row is not None else passwords.dummy_hash()
            correct = passwords.verify_password(stored, password)
            if row is not None and row.disabled_at is None and correct:
                return _start_session(session, row, password, hours)
        self._login_failed(name, address, throttled=False)
        return None

    def login_throttled(self, name: str, address: str) -> None:
        """Count an attempt refused unchecked because its address or name asked too often."""
        self._login_failed(name, address, throttled=True)

    def _login_failed(self, name: str, address: str, *, throttled: bool) -> None:
        """Audit a failed attempt: the first from ``address`` in a window at once, the
        rest counted into one record written when the window has passed."""
        now = self._clock()
        with self._failures_lock:
            due = self._take_failures(opened_before=now - FAILED_LOGIN_WINDOW)
            open_window = self._failures.get(address)
            if open_window is not None:
                open_window.add(name, throttled=throttled)
                first = False
            else:
                self._failures[address] = _Failures(now, datetime.now(UTC))
                first = True
        if due or first:
            with self.store.transaction() as session:
                for where, failures in due.items():
                    _record_failures(session, where, failures)
                if first:
                    actor = f"user:{name[:64]}"
                    audit.record(
                        session, actor, "login.failed", "ui", address=address, throttled=throttled
                    )

    def flush_failed_logins(self) -> None:
        """Record every failed-login count not yet recorded (when a service stops)."""
        with self._failures_lock:
            due = self._take_failures(opened_before=None)
        if due:
            with self.store.transaction() as session:
                for where, failures in due.items():
                    _record_failures(session, where, failures)

    def _take_failures(self, *, opened_before: float | None) -> dict[str, _Failures]:
        """Remove and return the windows opened before a time (all for None).

        Windows are kept in the order they opened, so this stops at the first
        one still open instead of looking at every address (the lock is held).
        """
        taken: dict[str, _Failures] = {}
        for where, failures in self._failures.items():
            if opened_before is not None and failures.opened >= opened_before:
                break
            taken[where] = failures
        for where in taken:
            del self._failures[where]
        return taken

    def session_principal(self, token: str) -> tuple[Principal, str] | None:
        """The principal and CSRF token of the live login session ``token`` opens."""
        with self.store.sessions() as session:
            found = session.execute(
                select(LoginSession, User)
                .join(User, User.id == LoginSession.user_id)
                .where(LoginSession.digest == secret_digest(token))
            ).first()
        if found is None:
            return None
        login, user = found
        if login.ended_at is not None or user.disabled_at is not None:
            return None
        if as_utc(login.expires_at) <= datetime.now(UTC):
            return None
        return Principal("user", user.id, user.name, Role(user.role), login.id), login.csrf_token

    def close_session(self, principal: Principal) -> None:
        """Log out: the principal's login session ends."""
        with self.store.transaction() as session:
            session.execute(
                update(LoginSession)
                .where(LoginSession.id == principal.session_id)
                .values(ended_at=datetime.now(UTC))
            )
            audit.record(session, principal.actor, "logout", "ui")


def end_sessions(session: Session, user_id: int) -> None:
    """End every open login session of a user (a new password, a disabled user)."""
    session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
        .values(ended_at=datetime.now(UTC))
    )


def _record_failures(session: Session, address: str, failures: _Failures) -> None:
    """One record for a window's attempts after its first (if there were any)."""
    if not failures.failed and not failures.throttled:
        return
    audit.record(
        session,
        f"address:{address[:64]}",
        "login.failed",
        "ui",
        address=address,
        failed=failures.failed,
        throttled=failures.throttled,
        names=sorted(failures.names),
        since=failures.first_at.isoformat(timespec="seconds"),
    )


def _start_session(session: Session, row: User, password: str, hours: int) -> LoginInfo:
    row.password_hash = passwords.current_hash(row.password_hash, password)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    login = LoginSession(
        digest=secret_digest(token),
        user_id=row.id,
        csrf_token=csrf,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
        reveals=0,
    )
    session.add(login)
    session.flush()
    audit.record(session, f"user:{row.name}", "login", "ui")
    principal = Principal("user", row.id, row.name, Role(row.role), login.id)
    return LoginInfo(token, csrf, principal, login.expires_at)
