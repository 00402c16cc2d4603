"""Who may do what: users, roles, API keys and login sessions.

Roles are fixed and nested by what they may do, not by rank:

- ``client``: a platform's software; hashes, matches and scans uploads
  (and may queue them) but never reads the review queue;
- ``reviewer``: a person who claims, views and decides queued items;
- ``curator``: a reviewer who also manages banks and legal holds;
- ``admin``: everything, including users, keys and the audit log.

Passwords are hashed with Argon2id.  API keys are 32 random bytes, shown
once; the store keeps a public prefix to find the key and the SHA-256 of
the secret to check it (a slow KDF adds nothing for random secrets and
would cost every API request milliseconds).

A login checks one Argon2 hash whoever asks - an unknown or disabled
user's attempt is checked against a dummy hash - so its time does not tell
which names exist.  Failed logins are audited per source address: the
first of a window at once, the rest of the window as one record with
counts, so a flood of attempts cannot flood the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bastion import audit
from bastion.banks.bank import as_utc
from bastion.errors import BastionError
from bastion.store import Store
from bastion.store.models import ApiKey, LoginSession, User

KEY_PREFIX = "bst"
MIN_PASSWORD = 12
#: Failed logins from one address within this many seconds share one audit record.
FAILED_LOGIN_WINDOW = 60.0
#: User names a failed-login record lists (the first ones tried; it counts every attempt).
NAMES_RECORDED = 20
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_hasher = PasswordHasher()


class Role(StrEnum):
    CLIENT = "client"
    REVIEWER = "reviewer"
    CURATOR = "curator"
    ADMIN = "admin"


class Permission(StrEnum):
    MATCH = "match"  #: hash, match, scan uploads; read index status
    QUEUE = "queue"  #: put scanned uploads in the review queue
    REVIEW = "review"  #: claim, view, reveal and decide queued items
    READ_BANKS = "read-banks"
    MANAGE_BANKS = "manage-banks"
    HOLD = "hold"  #: legal holds; escalated items
    ADMIN = "admin"  #: users, keys, audit log


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.CLIENT: frozenset({Permission.MATCH, Permission.QUEUE, Permission.READ_BANKS}),
    Role.REVIEWER: frozenset({Permission.MATCH, Permission.REVIEW}),
    Role.CURATOR: frozenset(
        {
            Permission.MATCH,
            Permission.QUEUE,
            Permission.REVIEW,
            Permission.READ_BANKS,
            Permission.MANAGE_BANKS,
            Permission.HOLD,
        }
    ),
    Role.ADMIN: frozenset(Permission),
}


class AccountError(BastionError, ValueError):
    """A user or key operation that cannot be done as asked."""

    code = "account-error"
    status = 400


@dataclass(frozen=True, slots=True)
class Principal:
    """Whoever a request acts for: a logged-in user or an API key."""

    kind: str  #: "user" or "key"
    id: int
    name: str
    role: Role
    #: The login session's id (users in the UI), for the reveal counter.
    session_id: int | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        return f"{self.kind}:{self.name}"

    def may(self, permission: Permission) -> bool:
        return permission in GRANTS[self.role]


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    name: str
    role: Role
    created_at: datetime
    disabled: bool


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: int
    prefix: str
    name: str
    role: Role
    created_at: datetime
    revoked: bool


@dataclass(frozen=True, slots=True)
class LoginInfo:
    token: str
    csrf_token: str
    principal: Principal
    expires_at: datetime


def _role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise AccountError(
            f"unknown role {text!r} (expected one of {', '.join(r.value for r in Role)})"
        ) from None


def _name(text: str) -> str:
    if not _NAME.fullmatch(text):
        raise AccountError(
            f"invalid name {text!r}: 1-64 letters, digits, '_', '.', '@' or '-', "
            "starting with a letter or digit"
        )
    return text


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


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


class Accounts:
    """Users, keys and logins on one store; every change is audited."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self._clock = clock
        self._failures: dict[str, _Failures] = {}
        self._failures_lock = threading.Lock()

    # --- users -------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str, *, actor: str) -> UserInfo:
        row = User(
            name=_name(name),
            role=_role(role).value,
            password_hash=_hash_password(password),
            created_at=datetime.now(UTC),
        )
        try:
            with self.store.transaction() as session:
                session.add(row)
                session.flush()
                audit.record(session, actor, "user.add", f"user:{name}", role=row.role)
                return _user_info(row)
        except IntegrityError:
            raise AccountError(f"a user named {name!r} already exists") from None

    def set_password(self, name: str, password: str, *, actor: str) -> None:
        with self.store.transaction() as session:
            row = self._user_row(session, name)
            row.password_hash = _hash_password(password)
            self._end_logins(session, row.id)
            audit.record(session, actor, "user.password", f"user:{name}")

    def disable_user(self, name: str, *, actor: str) -> None:
        with self.store.transaction() as session:
            row = self._user_row(session, name)
            row.disabled_at = datetime.now(UTC)
            self._end_logins(session, row.id)
            audit.record(session, actor, "user.disable", f"user:{name}")

    def users(self) -> list[UserInfo]:
        with self.store.sessions() as session:
            return [
                _user_info(u) for u in session.execute(select(User).order_by(User.name)).scalars()
            ]

    # --- logins ------------------------------------------------------------

    def log_in(
        self, name: str, password: str, *, hours: int, address: str = "unknown"
    ) -> LoginInfo | None:
        """A new login session, or None (audited either way) for wrong credentials.

        ``address`` is where the attempt came from; failures are audited per address.
        """
        with self.store.transaction() as session:
            row = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
            # One Argon2 check whoever asks: the time taken tells no one which names exist.
            stored = row.password_hash if row is not None else _dummy_hash()
            correct = _verify_password(stored, password)
            if row is not None and row.disabled_at is None and correct:
                return _start_login(session, row, password, hours)
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

    def login(self, token: str) -> tuple[Principal, str] | None:
        """The principal and CSRF token of a live login session."""
        with self.store.sessions() as session:
            found = session.execute(
                select(LoginSession, User)
                .join(User, User.id == LoginSession.user_id)
                .where(LoginSession.digest == _sha256(token))
            ).first()
        if found is None:
            return None
        login, user = found
        if login.ended_at is not None or user.disabled_at is not None:
            return None
        if as_utc(login.expires_at) <= datetime.now(UTC):
            return None
        return Principal("user", user.id, user.name, Role(user.role), login.id), login.csrf_token

    def log_out(self, principal: Principal) -> None:
        with self.store.transaction() as session:
            session.execute(
                update(LoginSession)
                .where(LoginSession.id == principal.session_id)
                .values(ended_at=datetime.now(UTC))
            )
            audit.record(session, principal.actor, "logout", "ui")

    # --- API keys ----------------------------------------------------------

    def create_key(self, name: str, role: str, *, actor: str) -> tuple[str, KeyInfo]:
        """A new key: the secret (shown once, never stored) and its record."""
        prefix = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        row = ApiKey(
            prefix=prefix,
            digest=_sha256(secret),
            name=_name(name),
            role=_role(role).value,
            created_at=datetime.now(UTC),
        )
        with self.store.transaction() as session:
            session.add(row)
            session.flush()
            audit.record(
                session, actor, "apikey.create", f"key:{name}", prefix=prefix, role=row.role
            )
            return f"{KEY_PREFIX}_{prefix}_{secret}", _key_info(row)

    def revoke_key(self, prefix: str, *, actor: str) -> KeyInfo:
        with self.store.transaction() as session:
            row = session.execute(
                select(ApiKey).where(ApiKey.prefix == prefix)
            ).scalar_one_or_none()
            if row is None:
                raise AccountError(f"no API key with prefix {prefix!r} (see `bastion apikey list`)")
            row.revoked_at = row.revoked_at or datetime.now(UTC)
            audit.record(session, actor, "apikey.revoke", f"key:{row.name}", prefix=prefix)
            return _key_info(row)

    def api_keys(self) -> list[KeyInfo]:
        with self.store.sessions() as session:
            return [
                _key_info(k) for k in session.execute(select(ApiKey).order_by(ApiKey.id)).scalars()
            ]

    def check_key(self, presented: str) -> Principal | None:
        """The principal of a live key, or None for anything else."""
        scheme, _, rest = presented.partition("_")
        prefix, _, secret = rest.partition("_")
        if scheme != KEY_PREFIX or not prefix or not secret:
            return None
        with self.store.sessions() as session:
            row = session.execute(
                select(ApiKey).where(ApiKey.prefix == prefix)
            ).scalar_one_or_none()
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.digest, _sha256(secret)):
            return None
        return Principal("key", row.id, row.name, Role(row.role))

    # --- helpers -----------------------------------------------------------

    @staticmethod
    def _user_row(session: Session, name: str) -> User:
        row = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
        if row is None:
            raise AccountError(f"no user named {name!r} (see `bastion user list`)")
        return row

    @staticmethod
    def _end_logins(session: Session, user_id: int) -> None:
        session.execute(
            update(LoginSession)
            .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
            .values(ended_at=datetime.now(UTC))
        )


def _hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"passwords must have at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def _verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """A hash no password matches, with the parameters real ones have."""
    return _hasher.hash(secrets.token_urlsafe(32))


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


def _start_login(session: Session, row: User, password: str, hours: int) -> LoginInfo:
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    login = LoginSession(
        digest=_sha256(token),
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


def _user_info(row: User) -> UserInfo:
    return UserInfo(
        row.id, row.name, Role(row.role), as_utc(row.created_at), row.disabled_at is not None
    )


def _key_info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        row.id,
        row.prefix,
        row.name,
        Role(row.role),
        as_utc(row.created_at),
        row.revoked_at is not None,
    )
