"""The C2PA signer generated images are stamped with, from the operator's files.

The certificate chain and its private key are named by ``BASTION_STAMP_CERT``
and ``BASTION_STAMP_KEY`` (never stored in the database); the key file must
be readable by its owner alone.  The signing algorithm follows from the key:
C2PA signs with ECDSA (P-256, P-384, P-521), Ed25519 or RSA-PSS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from bastion.config import ConfigError, Settings, read_secret_file

if TYPE_CHECKING:
    import c2pa

#: The C2PA algorithm name of each elliptic curve.
_CURVES = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}


def algorithm_of(key_pem: bytes) -> str:
    """C2PA's name for the algorithm this private key signs with."""
    try:
        key = load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"BASTION_STAMP_KEY is not an unencrypted PEM private key: {exc}"
        ) from None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in _CURVES:
        return _CURVES[key.curve.name]
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    raise ConfigError(
        f"BASTION_STAMP_KEY is a {type(key).__name__}; C2PA signs with ECDSA "
        "(P-256, P-384, P-521), Ed25519 or RSA"
    )


def load_signer(settings: Settings) -> c2pa.Signer:
    """A signer for the configured certificate chain and key."""
    import c2pa

    key = read_secret_file(settings.stamp_key, "STAMP_KEY")
    if settings.stamp_cert is None:
        raise ConfigError("BASTION_STAMP_CERT is not set: name the PEM certificate chain")
    try:
        chain = settings.stamp_cert.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read BASTION_STAMP_CERT {settings.stamp_cert}: {exc.strerror}"
        ) from None
    if b"-----BEGIN CERTIFICATE-----" not in chain:
        raise ConfigError(f"BASTION_STAMP_CERT {settings.stamp_cert} holds no PEM certificate")
    info = c2pa.C2paSignerInfo(algorithm_of(key).encode(), chain, key, None)
    try:
        return c2pa.Signer.from_info(info)
    except c2pa.C2paError as exc:
        raise ConfigError(f"the stamp certificate and key cannot sign: {exc}") from None
