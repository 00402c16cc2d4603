"""Key files: a private key only its owner reads, a public key anyone may."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bastion.attest.errors import AttestKeyError
from bastion.attest.keys import generate_key_pair, key_id, load_private_key, load_public_key


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    private, public = tmp_path / "scan.key", tmp_path / "scan.pub"
    made = generate_key_pair(private, public)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    key = load_private_key(private)
    assert key_id(key.public_key()) == made == key_id(load_public_key(public))


def test_keygen_never_replaces_a_key(tmp_path: Path) -> None:
    private, public = tmp_path / "scan.key", tmp_path / "scan.pub"
    generate_key_pair(private, public)
    before = private.read_bytes()
    with pytest.raises(AttestKeyError, match="already exists"):
        generate_key_pair(private, tmp_path / "other.pub")
    with pytest.raises(AttestKeyError, match="already exists"):
        generate_key_pair(tmp_path / "other.key", public)
    with pytest.raises(AttestKeyError, match="two different files"):
        generate_key_pair(tmp_path / "same", tmp_path / "same")
    assert private.read_bytes() == before
    assert not (tmp_path / "other.key").exists()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o601])
def test_a_private_key_others_may_read_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    private = tmp_path / "scan.key"
    generate_key_pair(private, tmp_path / "scan.pub")
    secret = private.read_text()
    private.chmod(mode)
    with pytest.raises(AttestKeyError, match=f"run: chmod 600 {private}") as refused:
        load_private_key(private)
    assert secret.splitlines()[1] not in str(refused.value)
    private.chmod(0o400)
    load_private_key(private)


def test_unusable_key_files_say_why(tmp_path: Path) -> None:
    private, public = tmp_path / "scan.key", tmp_path / "scan.pub"
    generate_key_pair(private, public)
    with pytest.raises(AttestKeyError, match="holds a private key"):
        load_public_key(private)
    public.chmod(0o600)
    with pytest.raises(AttestKeyError, match="not a PEM private key"):
        load_private_key(public)
    with pytest.raises(AttestKeyError, match=r"cannot read private key .*missing"):
        load_private_key(tmp_path / "missing")
    with pytest.raises(AttestKeyError, match="not a regular file"):
        load_public_key(tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("teapot\n")
    with pytest.raises(AttestKeyError, match="not a PEM public key"):
        load_public_key(text)


def test_other_kinds_of_key_are_refused(tmp_path: Path) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    private, public = tmp_path / "ec.key", tmp_path / "ec.pub"
    private.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    public.write_bytes(
        other.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(AttestKeyError, match="not an Ed25519 key"):
        load_private_key(private)
    with pytest.raises(AttestKeyError, match="not an Ed25519 key"):
        load_public_key(public)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"marmalade"),
        )
    )
    encrypted.chmod(0o600)
    with pytest.raises(AttestKeyError, match="is encrypted"):
        load_private_key(encrypted)
