"""A stamping certificate issued by a test CA, written where the settings name it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bastion.config import Settings
from tests.provenance.test_c2pa_signing import _certificate, _pem


@dataclass
class StampCA:
    """The root to trust, and settings that sign with a certificate it issued."""

    root: x509.Certificate
    settings: Settings
    anchors: Path

    def trusting(self) -> Settings:
        """Settings whose trust anchors hold this CA's root."""
        return Settings(home=self.settings.home, trust_anchors=self.anchors)


def write_stamp_ca(folder: Path, name: str = "Stamp Test") -> StampCA:
    folder.mkdir(parents=True, exist_ok=True)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _certificate(f"{name} Root", root_key, None, root_key)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _certificate(f"{name} Signer", key, root, root_key)
    cert = folder / "stamp-chain.pem"
    cert.write_bytes(_pem(leaf) + _pem(root))
    private = folder / "stamp-key.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    anchors = folder / "anchors.pem"
    anchors.write_bytes(_pem(root))
    settings = Settings(home=folder / "home", stamp_cert=cert, stamp_key=private)
    return StampCA(root, settings, anchors)


@pytest.fixture(scope="module")
def stamp_ca(tmp_path_factory: pytest.TempPathFactory) -> StampCA:
    return write_stamp_ca(tmp_path_factory.mktemp("stamp-ca"))
