"""Passwords, hashed with Argon2id; the hash a login checks when the name is unknown."""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bastion.accounts.roles import AccountError

MIN_PASSWORD = 12
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"passwords must have at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def current_hash(stored: str, password: str) -> str:
    """The stored hash, or a new one if it was made with older parameters
    (``password`` is the one just verified against it)."""
    return _hasher.hash(password) if _hasher.check_needs_rehash(stored) else stored


@cache
def dummy_hash() -> str:
    """A hash no password matches, with the parameters real ones have."""
    return _hasher.hash(secrets.token_urlsafe(32))
