"""Images signed here with a test CA: trusted, untrusted and tampered manifests."""

from __future__ import annotations

import datetime
import io
import json
from dataclasses import dataclass
from pathlib import Path

import c2pa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bastion.config import Settings
from bastion.pipeline import ScanResult, Status
from bastion.provenance import Strength, inspect_bytes
from bastion.provenance.evidence import Assessment
from bastion.review.priority import TIERS, priority
from tests.provenance.files import jpeg

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
NOW = datetime.datetime.now(datetime.UTC)


def _usage(*, sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign,
        crl_sign=sign,
        encipher_only=False,
        decipher_only=False,
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, subject),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bastion Tests"),
        ]
    )
    is_ca = issuer is None
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name if issuer is None else issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(_usage(sign=is_ca), critical=True)
    )
    if is_ca:
        identifier = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        builder = builder.add_extension(identifier, critical=False)
    else:
        authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        ).add_extension(authority, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@dataclass
class SigningCA:
    root: x509.Certificate
    signer: c2pa.Signer

    def sign(self, source_type: str, image: bytes | None = None) -> bytes:
        """``image`` (a JPEG; by default a generated one) with a manifest naming ``source_type``."""
        action = {"action": "c2pa.created", "digitalSourceType": IPTC + source_type}
        manifest = {
            "claim_generator_info": [{"name": "bastion-tests", "version": "1"}],
            "title": "placeholder",
            "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}],
        }
        out = io.BytesIO()
        source = io.BytesIO(image if image is not None else jpeg())
        c2pa.Builder(json.dumps(manifest)).sign(self.signer, "image/jpeg", source, out)
        return out.getvalue()


def make_ca(name: str) -> SigningCA:
    """A root CA and a signing certificate it issued (C2PA refuses self-signed ones)."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _certificate(f"{name} Root", root_key, None, root_key)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _certificate(f"{name} Signer", key, root, root_key)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    info = c2pa.C2paSignerInfo(b"es256", _pem(leaf) + _pem(root), private, None)
    return SigningCA(root, c2pa.Signer.from_info(info))


@pytest.fixture(scope="module")
def ca() -> SigningCA:
    return make_ca("Test")


def _anchors(tmp_path: Path, *roots: x509.Certificate) -> Settings:
    bundle = tmp_path / "anchors.pem"
    bundle.write_bytes(b"".join(_pem(root) for root in roots))
    return Settings(trust_anchors=bundle)


@pytest.mark.parametrize(
    ("source_type", "origin"),
    [
        ("trainedAlgorithmicMedia", "ai-generated"),
        ("compositeWithTrainedAlgorithmicMedia", "ai-edited"),
        ("digitalCapture", "camera capture"),
    ],
)
def test_only_a_trusted_signer_verifies(
    ca: SigningCA, tmp_path: Path, source_type: str, origin: str
) -> None:
    """Anyone can sign a manifest: without a trust anchor it is not "verified"."""
    signed = ca.sign(source_type)
    untrusted = inspect_bytes(signed, "image/jpeg", Settings())
    assert untrusted.level == f"{origin} — signed by an untrusted signer"
    assert untrusted.evidence[0].strength is Strength.UNTRUSTED_SIGNATURE
    stranger = make_ca("Other")
    elsewhere = inspect_bytes(signed, "image/jpeg", _anchors(tmp_path, stranger.root))
    assert elsewhere.level == f"{origin} — signed by an untrusted signer"
    trusted = inspect_bytes(signed, "image/jpeg", _anchors(tmp_path, ca.root))
    assert trusted.level == f"{origin} — verified"
    assert trusted.evidence[0].strength is Strength.VERIFIED


def _scanned(assessment: Assessment) -> ScanResult:
    return ScanResult("signed.jpg", "test", Status.HASHED, provenance=assessment)


def test_an_untrusted_signature_ranks_below_a_trusted_one(ca: SigningCA, tmp_path: Path) -> None:
    signed = ca.sign("trainedAlgorithmicMedia")
    untrusted = inspect_bytes(signed, "image/jpeg", Settings())
    trusted = inspect_bytes(signed, "image/jpeg", _anchors(tmp_path, ca.root))
    low = priority(_scanned(untrusted), TIERS)
    high = priority(_scanned(trusted), TIERS)
    assert low.tier == high.tier == "ai"
    assert low.value < high.value


def test_a_signature_without_origin_is_not_an_origin(ca: SigningCA) -> None:
    # A term that says nothing about a model or a camera.
    assert inspect_bytes(ca.sign("digitalCreation"), "image/jpeg", Settings()).level == (
        "signed, origin not declared"
    )


def test_trust_depends_on_the_configured_anchors(ca: SigningCA, tmp_path: Path) -> None:
    signed = ca.sign("trainedAlgorithmicMedia")
    untrusted = inspect_bytes(signed, "image/jpeg", Settings())
    assert untrusted.evidence[0].detail["trust"] == "valid, signer not in trust list"
    assert "untrusted signer" in untrusted.evidence[0].summary
    trusted = inspect_bytes(signed, "image/jpeg", _anchors(tmp_path, ca.root))
    assert trusted.evidence[0].detail["trust"] == "trusted"
    assert trusted.evidence[0].detail["signer"]["issuer"] == "Bastion Tests"
    stranger = make_ca("Other")
    elsewhere = inspect_bytes(signed, "image/jpeg", _anchors(tmp_path, stranger.root))
    assert elsewhere.evidence[0].detail["trust"] == "valid, signer not in trust list"


def test_tampered_pixels_are_detected(ca: SigningCA) -> None:
    signed = bytearray(ca.sign("digitalCapture"))
    start_of_scan = signed.rindex(b"\xff\xda")
    signed[start_of_scan + 40] ^= 0x01  # one bit of image data
    result = inspect_bytes(bytes(signed), "image/jpeg", Settings())
    assert result.level == "manifest invalid"
    (evidence,) = result.evidence
    assert evidence.strength is Strength.INVALID
    assert "assertion.dataHash.mismatch" in evidence.detail["validation_codes"]
