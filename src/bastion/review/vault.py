"""Review media encrypted at rest with keys that never enter the database.

AES-256-GCM with a fresh nonce per item; the item id is authenticated with
the ciphertext, so a blob moved to another item's row does not decrypt.
Several keys may be configured (newest first): the first encrypts, all
decrypt, which lets an operator rotate keys without re-encrypting at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bastion.config import ConfigError
from bastion.errors import BastionError

_NONCE = 12


class VaultError(BastionError, RuntimeError):
    """Media that cannot be decrypted with the configured keys."""

    code = "vault-error"
    status = 500


def new_key() -> str:
    """A fresh key in the form ``BASTION_MEDIA_KEYS`` takes."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"bastion-media-key:" + key).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Sealed:
    key_id: str
    blob: bytes


class Vault:
    def __init__(self, keys: list[bytes]) -> None:
        self._keys = {_key_id(key): AESGCM(key) for key in keys}
        self._current = _key_id(keys[0]) if keys else None

    @classmethod
    def from_setting(cls, text: str) -> Vault:
        keys = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            try:
                key = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
            except (binascii.Error, ValueError):
                key = b""
            if len(key) != 32:
                raise ConfigError(
                    "BASTION_MEDIA_KEYS must hold 32-byte keys in URL-safe base64 "
                    "(make one with `bastion review keygen`)"
                )
            keys.append(key)
        return cls(keys)

    @property
    def enabled(self) -> bool:
        return self._current is not None

    def seal(self, item_id: int, data: bytes, *, purpose: str = "item") -> Sealed:
        """``data`` encrypted for the row ``item_id`` of ``purpose`` (an upload's
        context is sealed to its upload row, so it cannot pass for media)."""
        if self._current is None:
            raise VaultError("no media key configured (BASTION_MEDIA_KEYS)")
        nonce = os.urandom(_NONCE)
        cipher = self._keys[self._current]
        return Sealed(self._current, nonce + cipher.encrypt(nonce, data, _aad(item_id, purpose)))

    def open(self, item_id: int, sealed: Sealed, *, purpose: str = "item") -> bytes:
        cipher = self._keys.get(sealed.key_id)
        if cipher is None:
            raise VaultError(
                f"item {item_id}'s media was encrypted with key {sealed.key_id}, "
                "which is not among BASTION_MEDIA_KEYS"
            )
        nonce, body = sealed.blob[:_NONCE], sealed.blob[_NONCE:]
        try:
            return cipher.decrypt(nonce, body, _aad(item_id, purpose))
        except InvalidTag:
            raise VaultError(f"item {item_id}'s media fails authentication (altered?)") from None


def _aad(row_id: int, purpose: str) -> bytes:
    return f"bastion-review-{purpose}:{row_id}".encode()
