"""Cryptographic file hashes (MD5, SHA-1, SHA-256) of the exact bytes.

Hash lists from NCMEC, Project VIC and others still carry mostly MD5 and
SHA-1; all three are computed together so a file is read once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CryptoDigests:
    """Hex digests of one file's bytes."""

    md5: str
    sha1: str
    sha256: str


class CryptoHasher:
    """Accumulates all crypto digests over bytes fed in order."""

    def __init__(self) -> None:
        # usedforsecurity=False keeps MD5/SHA-1 available on FIPS builds:
        # here they identify files, they do not protect anything.
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self.length = 0

    def update(self, data: bytes | memoryview) -> None:
        self._md5.update(data)
        self._sha1.update(data)
        self._sha256.update(data)
        self.length += len(data)

    def digests(self) -> CryptoDigests:
        return CryptoDigests(
            self._md5.hexdigest(), self._sha1.hexdigest(), self._sha256.hexdigest()
        )
