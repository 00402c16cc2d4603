"""C2PA evidence against the reference files' expected results (../shared/testdata/c2pa)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli import app
from bastion.provenance.c2pa_reader import read_c2pa
from bastion.provenance.evidence import (
    MANIFEST_INVALID,
    NO_EVIDENCE,
    SIGNED_NO_ORIGIN,
    Origin,
    Strength,
    assess,
)

# (file, level, digital source types) as the testdata README gives them.
EXPECTED = [
    ("A.jpg", NO_EVIDENCE, None),
    ("P1000827.jpg", NO_EVIDENCE, None),
    ("C.jpg", "algorithmic — signed by an untrusted signer", ["algorithmicMedia"]),
    ("CA.jpg", SIGNED_NO_ORIGIN, []),
    ("C_with_CAWG_data.jpg", "camera capture — signed by an untrusted signer", ["digitalCapture"]),
    ("XCA.jpg", MANIFEST_INVALID, None),
    ("E-sig-CA.jpg", MANIFEST_INVALID, None),
    ("cloud.jpg", NO_EVIDENCE, None),
    ("pdf-file.pdf", "ai-generated — signed by an untrusted signer", ["trainedAlgorithmicMedia"]),
]


@pytest.mark.parametrize(("name", "level", "types"), EXPECTED)
def test_reference_files(testdata: Path, name: str, level: str, types: list[str] | None) -> None:
    evidence = read_c2pa((testdata / "c2pa" / name).read_bytes(), None)
    assessment = assess(evidence)
    assert assessment.level == level
    if types is not None:
        assert evidence[0].detail["digital_source_types"] == types
        assert evidence[0].detail["trust"] == "valid, signer not in trust list"


def test_invalid_manifests_name_the_failure(testdata: Path) -> None:
    (found,) = read_c2pa((testdata / "c2pa" / "XCA.jpg").read_bytes(), None)
    assert found.strength is Strength.INVALID
    assert "assertion.dataHash.mismatch" in found.summary
    (signature,) = read_c2pa((testdata / "c2pa" / "E-sig-CA.jpg").read_bytes(), None)
    assert "claimSignature.mismatch" in signature.summary


def test_remote_manifest_is_reported_not_fetched(testdata: Path) -> None:
    (found,) = read_c2pa((testdata / "c2pa" / "cloud.jpg").read_bytes(), None)
    assert found.strength is Strength.NOTE
    assert found.detail["remote_manifest"].startswith("https://cai-manifests.adobe.com/")
    assert "not fetched" in found.summary


def test_signer_and_generator_are_reported(testdata: Path) -> None:
    (found,) = read_c2pa((testdata / "c2pa" / "pdf-file.pdf").read_bytes(), None)
    assert found.origin is Origin.AI_GENERATED
    assert found.detail["signer"]["issuer"] == "Adobe Inc."
    assert any(a["origin"] == "ai-generated" for a in found.detail["actions"])


def test_damaged_manifest_bytes_never_crash(testdata: Path) -> None:
    data = bytearray((testdata / "c2pa" / "C.jpg").read_bytes())
    start = data.index(b"jumb")
    for offset in range(start, min(start + 4000, len(data)), 97):
        damaged = bytes(data[:offset]) + b"\xff\x00" * 8 + bytes(data[offset + 16 :])
        level = assess(read_c2pa(damaged, "image/jpeg")).level
        # Damage either breaks the signature, stops the parser (reported as
        # unreadable), or lands where nothing is covered; it never passes
        # silently as a different origin.
        assert level in (
            MANIFEST_INVALID,
            NO_EVIDENCE,
            "algorithmic — signed by an untrusted signer",
        ), offset


def test_inspect_command(testdata: Path) -> None:
    files = [str(testdata / "c2pa" / name) for name in ("pdf-file.pdf", "A.jpg")]
    result = CliRunner().invoke(app, ["inspect", "--json", *files])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["level"] for row in rows] == [
        "ai-generated — signed by an untrusted signer",
        NO_EVIDENCE,
    ]
    plain = CliRunner().invoke(app, ["inspect", files[1]])
    assert "no provenance evidence" in plain.stdout
