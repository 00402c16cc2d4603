"""Ed25519 key files: made once, the private one readable by its owner only.

The private key signs attestations, so whoever can read it can vouch for a
scan that never ran: a file others may read is refused, with the fix,
before anything is scanned.  The public key is for whoever checks an
attestation; it is written beside the private one, as PEM, so any tool
(OpenSSL, ``cryptography``, securesystemslib) reads it.  No key ever
appears in a message.

A key's id is securesystemslib's default one - the SHA-256 of the
canonical JSON ``{"keytype":"ed25519","keyval":{"public":HEX},"scheme":"ed25519"}``
- so in-toto tools, which pick keys by id, find ours.  It is a hint only:
verification tries the given key whatever the id says.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bastion.attest.errors import AttestKeyError
from bastion.config import secret_file_problem


def key_id(key: Ed25519PublicKey) -> str:
    """The key's id, as securesystemslib computes it for an Ed25519 key."""
    public = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    described = {"keytype": "ed25519", "keyval": {"public": public.hex()}, "scheme": "ed25519"}
    canonical = json.dumps(described, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def generate_key_pair(private: Path, public: Path) -> str:
    """Write a new private key (mode 0600) and its public key; returns the key id.

    Refuses to replace an existing file: a key overwritten is a key lost,
    and every attestation it signed could no longer be checked.
    """
    if private == public:
        raise AttestKeyError("the private and the public key need two different files")
    for path in (private, public):
        if os.path.lexists(path):
            raise AttestKeyError(f"{path} already exists; choose another name (keys are kept)")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        # O_EXCL: never through a file or link someone put there meanwhile.
        descriptor = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), 0o600)
            file.write(pem)
        public.write_bytes(public_pem(key.public_key()))
    except OSError as exc:
        raise AttestKeyError(f"cannot write the key pair: {exc.strerror or exc}") from None
    return key_id(key.public_key())


def _read(path: Path, what: str) -> bytes:
    try:
        if what == "private key":
            problem = secret_file_problem(path, what)
        elif not stat.S_ISREG(path.stat().st_mode):
            problem = f"{what} {path} is not a regular file"
        else:
            problem = None
        if problem is not None:
            raise AttestKeyError(problem)
        return path.read_bytes()
    except OSError as exc:
        raise AttestKeyError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file ``path``, refused if others may read it."""
    data = _read(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise AttestKeyError(
            f"private key {path} is encrypted; Bastion reads unencrypted PEM keys only "
            "(keep the file mode 0600 instead)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise AttestKeyError(
            f"{path} is not a PEM private key (make one with `bastion attest keygen`)"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AttestKeyError(f"private key {path} is not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in the PEM file ``path``."""
    data = _read(path, "public key")
    if b"PRIVATE KEY" in data:
        raise AttestKeyError(
            f"{path} holds a private key; verify with the public one (keygen's --public file)"
        )
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise AttestKeyError(f"{path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AttestKeyError(f"public key {path} is not an Ed25519 key")
    return key
