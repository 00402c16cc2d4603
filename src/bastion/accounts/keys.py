"""API keys: a platform's software authenticates with one.

A key is 32 random bytes, shown once; the store keeps a public prefix to
find the key and the SHA-256 of the secret to check it (a slow KDF adds
nothing for random secrets and would cost every API request milliseconds).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from bastion import audit
from bastion.accounts.roles import AccountError, Principal, Role, checked_name, parse_role
from bastion.store import Store, as_utc
from bastion.store.models import ApiKey

KEY_PREFIX = "bst"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: int
    prefix: str
    name: str
    role: Role
    created_at: datetime
    revoked: bool


def secret_digest(secret: str) -> str:
    """How a random secret (an API key's, a login session's token) is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeys:
    store: Store

    def create_key(self, name: str, role: str, *, actor: str) -> tuple[str, KeyInfo]:
        """A new key: the secret (shown once, never stored) and its record."""
        prefix = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        row = ApiKey(
            prefix=prefix,
            digest=secret_digest(secret),
            name=checked_name(name),
            role=parse_role(role).value,
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
        if not hmac.compare_digest(row.digest, secret_digest(secret)):
            return None
        return Principal("key", row.id, row.name, Role(row.role))


def _key_info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        row.id,
        row.prefix,
        row.name,
        Role(row.role),
        as_utc(row.created_at),
        row.revoked_at is not None,
    )
