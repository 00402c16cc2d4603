"""Checking an attestation: its signature, its statement, and the dataset as it is now.

The order matters: nothing in the payload is believed before the given key
has verified the signature over it and its type, and a statement is read
only from a verified payload.  Given the dataset (one path standing for
each source, in order), every file the sources name now is found the way
the scan found them and compared with the subjects: a file changed, an
attested file missing or unreadable, a file the attestation does not cover
(extra) or covers only as not read by the scan - each is a failure of its
own, so a verifier sees exactly what differs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bastion.attest.envelope import IN_TOTO_PAYLOAD_TYPE, Envelope
from bastion.attest.errors import AttestationInvalid, AttestError
from bastion.attest.statement import ScanStatement, read_statement
from bastion.attest.subjects import file_sha256, found_files, rebase

#: The kinds of difference between an attested dataset and the one given.
DIFFERENCES = ("changed", "missing", "extra", "unreadable", "not-attested")


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str
    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path} ({self.detail})"


@dataclass(frozen=True, slots=True)
class DatasetCheck:
    #: Files whose digest matched the attested one.
    matching: int
    differences: tuple[Difference, ...]

    def counts(self) -> dict[str, int]:
        return {kind: sum(d.kind == kind for d in self.differences) for kind in DIFFERENCES}


@dataclass(frozen=True, slots=True)
class Verification:
    """What was checked, and every failure in one line each (none: it verifies)."""

    failures: tuple[str, ...]
    #: The key id of the signature that verified, when one did.
    keyid: str | None = None
    statement: ScanStatement | None = None
    dataset: DatasetCheck | None = None

    @property
    def ok(self) -> bool:
        return not self.failures


def verify_attestation(
    path: Path, key: Ed25519PublicKey, datasets: Sequence[Path] = ()
) -> Verification:
    """Check the attestation at ``path`` with ``key`` and, given them, the datasets.

    Raises :class:`AttestError` only when nothing can be checked as asked
    (the file unreadable, not one dataset per source, a dataset missing);
    whatever is wrong with the attestation itself is a failure in the result.
    """
    try:
        document = path.read_bytes()
    except OSError as exc:
        raise AttestError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        envelope = Envelope.from_json(json.loads(document))
    except AttestationInvalid as exc:
        return Verification((str(exc),))
    except (ValueError, RecursionError):
        return Verification(("not a DSSE envelope: it is not JSON",))
    failures = []
    try:
        signature = envelope.verify(key)
    except AttestationInvalid as exc:
        failures.append(str(exc))
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
        failures.append(
            f"payloadType: {envelope.payload_type!r} is not {IN_TOTO_PAYLOAD_TYPE!r}; "
            "nothing else was checked"
        )
    if failures:
        return Verification(tuple(failures))
    try:
        statement = read_statement(envelope.payload)
    except AttestationInvalid as exc:
        return Verification((str(exc),), signature.keyid)
    if not datasets:
        return Verification((), signature.keyid, statement)
    dataset = compare_dataset(statement, datasets)
    return Verification(tuple(map(str, dataset.differences)), signature.keyid, statement, dataset)


def compare_dataset(statement: ScanStatement, datasets: Sequence[Path]) -> DatasetCheck:
    """Every file the sources name now, ``datasets`` standing for them, against the subjects."""
    if len(datasets) != len(statement.sources):
        raise AttestError(
            f"the attestation has {len(statement.sources)} source(s) "
            f"({', '.join(statement.sources)}): give one --dataset for each, in that order, "
            f"not {len(datasets)}"
        )
    for dataset in datasets:
        # A source missing at scan time was left out (--allow-missing): so may its dataset be.
        if not os.path.lexists(dataset) and not statement.options.allow_missing:
            raise AttestError(f"--dataset {dataset} does not exist")
    expected = {(s.source, s.name): s.sha256 for s in statement.subjects}
    unread = {(u.source, u.name): u.reason for u in statement.not_hashed}
    sources = [
        rebase(source, root, dataset)
        for source, root, dataset in zip(statement.sources, statement.roots, datasets, strict=True)
    ]
    root_names = [PurePath(root).name for root in statement.roots]
    roots = [str(dataset) for dataset in datasets]
    differences: list[Difference] = []
    matching = 0
    for found in found_files(sources, roots, statement.options, root_names):
        where = str(found.path)
        attested = expected.pop((found.source, found.name), None)
        if attested is None:
            reason = unread.pop((found.source, found.name), None)
            if reason is None:
                differences.append(Difference("extra", where, "not in the attestation"))
            elif found.problem is None:
                detail = f"the scan did not read it: {reason}"
                differences.append(Difference("not-attested", where, detail))
            continue
        try:
            if found.problem is not None:
                raise OSError(found.problem)
            now = file_sha256(found.path)
        except OSError as exc:
            differences.append(Difference("unreadable", where, exc.strerror or str(exc)))
            continue
        if now == attested:
            matching += 1
        else:
            detail = f"SHA-256 {now[:16]}…, attested {attested[:16]}…"
            differences.append(Difference("changed", where, detail))
    for (number, name), _ in expected.items():
        dataset = datasets[number]
        where = str(dataset if name == root_names[number] and dataset.is_file() else dataset / name)
        differences.append(Difference("missing", where, "attested, not found"))
    return DatasetCheck(matching, tuple(differences))
