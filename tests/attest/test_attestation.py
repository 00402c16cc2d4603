"""Attestations of finished scans: what they state, and every change a verifier catches."""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bastion.attest.envelope import IN_TOTO_PAYLOAD_TYPE, sign
from bastion.attest.errors import AttestError
from bastion.attest.keys import key_id
from bastion.attest.statement import (
    COUNTS,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    scan_statement,
    write_attestation,
)
from bastion.attest.verify import verify_attestation
from tests.attest.conftest import Scanned, sha256
from tests.scan.fixtures import jpeg


def _subjects(statement: dict[str, Any]) -> dict[tuple[int, str], str]:
    return {
        (s["annotations"]["source"], s["name"]): s["digest"]["sha256"] for s in statement["subject"]
    }


def test_the_statement_names_every_file_read_and_says_what_the_summary_says(
    scanned: Scanned,
) -> None:
    statement = scan_statement(scanned.out)
    assert statement["_type"] == STATEMENT_TYPE
    assert statement["predicateType"] == PREDICATE_TYPE
    folder = scanned.folder
    assert _subjects(statement) == {
        (0, "0.jpg"): sha256(folder / "0.jpg"),
        (0, "1.jpg"): sha256(folder / "1.jpg"),
        (0, "2.jpg"): sha256(folder / "2.jpg"),
        (0, "bundle.zip"): sha256(folder / "bundle.zip"),
        (0, "more/3.jpg"): sha256(folder / "more" / "3.jpg"),
        (0, "more/cut.jpg"): sha256(folder / "more" / "cut.jpg"),
        (1, "data-000000.tar"): sha256(scanned.shards / "data-000000.tar"),
        (1, "data-000001.tar"): sha256(scanned.shards / "data-000001.tar"),
        (2, "table.parquet"): sha256(scanned.parquet),  # once, for all its row groups
    }
    predicate = statement["predicate"]
    summary = scanned.summary()
    assert predicate["counts"] == {name: summary[name] for name in COUNTS}
    assert predicate["counts"]["unchecked"] >= 1  # the cut file: never cleaner than the summary
    assert predicate["counts"]["matched"] == 2  # 1.jpg, and its picture in a shard
    assert [s["root"] for s in predicate["sources"]] == [
        str(scanned.folder),
        str(scanned.shards),
        str(scanned.parquet),
    ]
    assert [s["source"] for s in predicate["sources"]] == scanned.sources
    [bank] = predicate["banks"]
    assert (bank["name"], bank["kind"], bank["entries"]) == ("known", "blocklist", 1)
    assert bank["latest_change"] == summary["banks"]["known"]["latest_change"] is not None
    assert {o["name"]: o["digest"]["sha256"] for o in predicate["outputs"]} == {
        "removal-list.txt": sha256(scanned.out / "removal-list.txt"),
        "results.parquet": sha256(scanned.out / "results.parquet"),
    }
    assert predicate["started_at"].endswith("Z")
    assert predicate["started_at"] <= predicate["finished_at"]
    assert predicate["not_hashed"] == []


def test_an_attestation_round_trips(scanned: Scanned, key: Ed25519PrivateKey) -> None:
    attested = write_attestation(scanned.out, key)
    assert attested.path == scanned.out / "attestation.json"
    assert (attested.subjects, attested.not_hashed) == (9, 0)
    assert attested.keyid == key_id(key.public_key())
    envelope = json.loads(attested.path.read_text())
    assert envelope["payloadType"] == IN_TOTO_PAYLOAD_TYPE
    assert [s["keyid"] for s in envelope["signatures"]] == [attested.keyid]
    result = verify_attestation(attested.path, key.public_key())
    assert result.ok, result.failures
    assert result.keyid == attested.keyid
    assert result.statement is not None
    assert result.statement.counts == {name: scanned.summary()[name] for name in COUNTS}
    datasets = [scanned.folder, scanned.shards, scanned.parquet]
    checked = verify_attestation(attested.path, key.public_key(), datasets)
    assert checked.ok, checked.failures
    assert checked.dataset is not None
    assert checked.dataset.matching == 9


def test_a_copy_of_the_dataset_elsewhere_verifies(
    scanned: Scanned, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    attested = write_attestation(scanned.out, key)
    copy = tmp_path / "copy"
    shutil.copytree(scanned.folder, copy / "images")
    shutil.copytree(scanned.shards, copy / "wds")
    shutil.copy(scanned.parquet, copy / "renamed.parquet")
    datasets = [copy / "images", copy / "wds", copy / "renamed.parquet"]
    result = verify_attestation(attested.path, key.public_key(), datasets)
    assert result.ok, result.failures


def _tampered(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Change the statement inside the envelope at ``path``, keeping the signature."""
    envelope = json.loads(path.read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    change(statement)
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    path.write_text(json.dumps(envelope))


def _subject_digest(statement: dict[str, Any]) -> None:
    statement["subject"][0]["digest"]["sha256"] = "0" * 64


def _count(statement: dict[str, Any]) -> None:
    statement["predicate"]["counts"]["unchecked"] = 0


def _dropped_subject(statement: dict[str, Any]) -> None:
    del statement["subject"][-1]


@pytest.mark.parametrize("change", [_subject_digest, _count, _dropped_subject])
def test_a_changed_statement_does_not_verify(
    scanned: Scanned, key: Ed25519PrivateKey, change: Callable[[dict[str, Any]], None]
) -> None:
    path = write_attestation(scanned.out, key).path
    _tampered(path, change)
    result = verify_attestation(path, key.public_key())
    assert result.failures == (
        "signature: does not match the payload and its type; "
        "the attestation was altered after it was signed",
    )
    assert result.statement is None


def test_a_changed_payload_type_does_not_verify(scanned: Scanned, key: Ed25519PrivateKey) -> None:
    path = write_attestation(scanned.out, key).path
    envelope = json.loads(path.read_text())
    envelope["payloadType"] = "application/json"
    path.write_text(json.dumps(envelope))
    failures = verify_attestation(path, key.public_key()).failures
    assert [failure.split(":")[0] for failure in failures] == ["signature", "payloadType"]


def test_a_changed_signature_does_not_verify(scanned: Scanned, key: Ed25519PrivateKey) -> None:
    path = write_attestation(scanned.out, key).path
    envelope = json.loads(path.read_text())
    signature = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    signature[10] ^= 1
    envelope["signatures"][0]["sig"] = base64.b64encode(signature).decode()
    path.write_text(json.dumps(envelope))
    assert not verify_attestation(path, key.public_key()).ok


def test_another_key_does_not_verify(scanned: Scanned, key: Ed25519PrivateKey) -> None:
    path = write_attestation(scanned.out, key).path
    other = Ed25519PrivateKey.generate()
    [failure] = verify_attestation(path, other.public_key()).failures
    assert failure.startswith("signature: not signed by the given key")


def test_a_signed_statement_of_another_shape_is_refused(
    scanned: Scanned, key: Ed25519PrivateKey
) -> None:
    """The signature verifies, but the predicate is not a scan's: refused, with the reason."""
    statement = scan_statement(scanned.out)
    statement["predicate"]["counts"]["seen"] += 1
    path = scanned.out / "attestation.json"
    payload = json.dumps(statement).encode()
    path.write_text(json.dumps(sign(payload, IN_TOTO_PAYLOAD_TYPE, key).to_json()))
    assert verify_attestation(path, key.public_key()).failures == (
        "statement: predicate.counts: seen is not hashed + errored + skipped",
    )
    path.write_text("not json")
    assert verify_attestation(path, key.public_key()).failures == (
        "not a DSSE envelope: it is not JSON",
    )


def test_the_dataset_as_it_is_now_against_the_attestation(
    scanned: Scanned, key: Ed25519PrivateKey
) -> None:
    path = write_attestation(scanned.out, key).path
    folder = scanned.folder
    (folder / "0.jpg").write_bytes(jpeg(40))
    (folder / "more" / "3.jpg").unlink()
    (folder / "more" / "new.jpg").write_bytes(jpeg(41))
    (scanned.shards / "data-000001.tar").write_bytes(b"teapot")
    datasets = [folder, scanned.shards, scanned.parquet]
    result = verify_attestation(path, key.public_key(), datasets)
    assert [f.split(" (")[0] for f in result.failures] == [
        f"changed: {folder / '0.jpg'}",
        f"extra: {folder / 'more' / 'new.jpg'}",
        f"changed: {scanned.shards / 'data-000001.tar'}",
        f"missing: {folder / 'more' / '3.jpg'}",
    ]
    assert result.dataset is not None
    assert result.dataset.matching == 6
    assert result.dataset.counts() == {
        "changed": 2,
        "missing": 1,
        "extra": 1,
        "unreadable": 0,
        "not-attested": 0,
    }


def test_a_dataset_for_each_source_is_required(scanned: Scanned, key: Ed25519PrivateKey) -> None:
    path = write_attestation(scanned.out, key).path
    with pytest.raises(AttestError, match="give one --dataset for each, in that order, not 1"):
        verify_attestation(path, key.public_key(), [scanned.folder])
    missing = [scanned.folder, scanned.shards, scanned.root / "nowhere.parquet"]
    with pytest.raises(AttestError, match="does not exist"):
        verify_attestation(path, key.public_key(), missing)


def test_a_plain_files_digest_is_of_the_bytes_the_scan_read(
    scanned: Scanned, key: Ed25519PrivateKey
) -> None:
    before = sha256(scanned.folder / "2.jpg")
    (scanned.folder / "2.jpg").write_bytes(jpeg(42))
    assert _subjects(scan_statement(scanned.out))[(0, "2.jpg")] == before


def test_a_container_changed_since_the_scan_started_is_refused(scanned: Scanned) -> None:
    (scanned.folder / "bundle.zip").write_bytes(b"marmalade")
    with pytest.raises(
        AttestError, match=r"bundle\.zip changed or appeared after the scan started"
    ):
        scan_statement(scanned.out)


def test_files_added_or_removed_since_the_scan_are_refused(scanned: Scanned) -> None:
    (scanned.folder / "late.jpg").write_bytes(jpeg(43))
    with pytest.raises(AttestError, match=r"late\.jpg changed or appeared after the scan started"):
        scan_statement(scanned.out)
    (scanned.folder / "late.jpg").unlink()
    (scanned.folder / "1.jpg").unlink()
    with pytest.raises(AttestError, match=r"1\.jpg was scanned, but the file it came from is no"):
        scan_statement(scanned.out)


def test_only_a_finished_scan_is_attested(scanned: Scanned, key: Ed25519PrivateKey) -> None:
    with pytest.raises(AttestError, match="holds no finished scan"):
        write_attestation(scanned.root, key)
    (scanned.out / "summary.json").rename(scanned.out / "held.json")
    (scanned.out / "scan.json").write_text("{}")
    with pytest.raises(AttestError, match="is not finished; finish it with --resume"):
        write_attestation(scanned.out, key)
    assert not (scanned.out / "attestation.json").exists()


def test_files_the_scan_did_not_read_are_listed_not_attested(
    scanned: Scanned, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    big = jpeg(7, (800, 600))
    assert len(big) > 10_000
    (scanned.folder / "big.jpg").write_bytes(big)
    out = tmp_path / "small"
    summary = scanned.scan(out, max_file_bytes=10_000)
    # big.jpg, and the Parquet file's row groups: rows of a file the scan read.
    assert summary["errors_by_reason"]["file-too-large"] == 8
    path = write_attestation(out, key).path
    result = verify_attestation(path, key.public_key())
    assert result.statement is not None
    assert [(u.source, u.name, u.reason) for u in result.statement.not_hashed] == [
        (0, "big.jpg", "not read by the scan (file-too-large)")
    ]
    assert (0, "big.jpg") not in {(s.source, s.name) for s in result.statement.subjects}
    datasets = [scanned.folder, scanned.shards, scanned.parquet]
    checked = verify_attestation(path, key.public_key(), datasets)
    assert any(f.startswith("not-attested: ") for f in checked.failures)


def test_an_unreadable_walk_entry_stays_consistent(
    scanned: Scanned, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    """A broken link the scan could not read, and still cannot: listed, and no failure."""
    os.symlink(scanned.root / "nowhere.jpg", scanned.folder / "broken.jpg")
    out = tmp_path / "with-link"
    scanned.scan(out)
    path = write_attestation(out, key).path
    statement = verify_attestation(path, key.public_key()).statement
    assert statement is not None
    assert [(u.name, u.reason) for u in statement.not_hashed] == [
        ("broken.jpg", "not-found: broken symbolic link")
    ]
    datasets = [scanned.folder, scanned.shards, scanned.parquet]
    assert verify_attestation(path, key.public_key(), datasets).ok


def test_an_envelope_nested_too_deep_is_no_envelope(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    key = Ed25519PrivateKey.generate()
    assert verify_attestation(path, key.public_key()).failures == (
        "not a DSSE envelope: it is not JSON",
    )
