"""Users: people who log in to review (and curators and admins); every change audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bastion import audit
from bastion.accounts.passwords import hash_password
from bastion.accounts.roles import AccountError, Role, checked_name, parse_role
from bastion.accounts.sessions import end_sessions
from bastion.store import Store, as_utc
from bastion.store.models import User


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    name: str
    role: Role
    created_at: datetime
    disabled: bool


class Users:
    store: Store

    def add_user(self, name: str, role: str, password: str, *, actor: str) -> UserInfo:
        row = User(
            name=checked_name(name),
            role=parse_role(role).value,
            password_hash=hash_password(password),
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
        """A new password; the user's open sessions end."""
        with self.store.transaction() as session:
            row = _user_row(session, name)
            row.password_hash = hash_password(password)
            end_sessions(session, row.id)
            audit.record(session, actor, "user.password", f"user:{name}")

    def disable_user(self, name: str, *, actor: str) -> None:
        """The user may no longer log in; their open sessions end."""
        with self.store.transaction() as session:
            row = _user_row(session, name)
            row.disabled_at = datetime.now(UTC)
            end_sessions(session, row.id)
            audit.record(session, actor, "user.disable", f"user:{name}")

    def users(self) -> list[UserInfo]:
        with self.store.sessions() as session:
            return [
                _user_info(u) for u in session.execute(select(User).order_by(User.name)).scalars()
            ]


def _user_row(session: Session, name: str) -> User:
    row = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if row is None:
        raise AccountError(f"no user named {name!r} (see `bastion user list`)")
    return row


def _user_info(row: User) -> UserInfo:
    return UserInfo(
        row.id, row.name, Role(row.role), as_utc(row.created_at), row.disabled_at is not None
    )
