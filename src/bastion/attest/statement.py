"""The in-toto Statement of a finished scan, signed into DIR/attestation.json.

The statement (in-toto Statement v1) binds the scan's subjects - the SHA-256
of every file it read (:mod:`bastion.attest.subjects`) - to a predicate of
type :data:`PREDICATE_TYPE` saying how they were scanned and with what
result, all taken from the scan's own summary.json and outputs:

- ``scanner``: Bastion and its version; ``started_at`` and ``finished_at``
  (UTC, RFC 3339 with ``Z``; a resumed scan started with its first run);
- ``sources`` as given, each with the ``root`` its subjects are named
  under (a subject's ``annotations.source`` is its index), the source
  ``options`` and the ``missing_sources`` left out with --allow-missing;
- ``banks``: each bank matched against, with its kind, size (``entries``),
  ``latest_change`` (its version) and ``last_import`` (a list's own
  version, if it was imported);
- ``counts``: seen, hashed, errored, skipped, matched and unchecked, as in
  summary.json - the statement never says more was checked than the
  summary does;
- ``outputs``: the SHA-256 of removal-list.txt and results.parquet;
- ``not_hashed``: files the scan met but did not read, and why.

docs/attestation.md is the predicate's reference.  :func:`read_statement`
is the other side: a signed payload back to a checked statement.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bastion.attest.envelope import IN_TOTO_PAYLOAD_TYPE, sign
from bastion.attest.errors import AttestationInvalid, AttestError
from bastion.attest.keys import key_id
from bastion.attest.subjects import (
    Subject,
    Unhashed,
    file_sha256,
    scan_subjects,
    source_options,
    source_root,
)
from bastion.scan.results import RESULTS
from bastion.scan.sources import SourceKind, SourceOptions

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://bastion.dev/attestation/scan/v1"
#: The attestation's file in the scan's folder.
ATTESTATION = "attestation.json"
REMOVAL_LIST = "removal-list.txt"
COUNTS = ("seen", "hashed", "errored", "skipped", "matched", "unchecked")
OUTPUTS = (REMOVAL_LIST, RESULTS)


def finished_summary(out: Path) -> dict[str, Any]:
    """The summary of the finished scan in ``out``, or why there is none to attest."""
    if not (out / "summary.json").is_file():
        if (out / "scan.json").exists():
            raise AttestError(f"the scan in {out} is not finished; finish it with --resume")
        raise AttestError(f"{out} holds no finished scan (no summary.json)")
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    if "started_at" not in summary:
        raise AttestError(
            f"{out}/summary.json does not say when the scan ran (an older Bastion wrote it); "
            "scan again to attest"
        )
    return summary


def _utc(moment: str) -> str:
    return datetime.fromisoformat(moment).astimezone(UTC).isoformat().replace("+00:00", "Z")


def _bank(name: str, described: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "kind": described["kind"],
        "entries": described["entries"],
        "latest_change": described.get("latest_change"),
        "last_import": described.get("last_import"),
    }


def scan_statement(out: Path) -> dict[str, Any]:
    """The statement of the finished scan in ``out``, subjects digested."""
    summary = finished_summary(out)
    options = source_options(summary["options"])
    started = datetime.fromisoformat(summary["started_at"])
    subjects, unhashed = scan_subjects(out, summary["sources"], options, started)
    predicate = {
        "scanner": {"name": "bastion", "version": summary["bastion_version"]},
        "started_at": _utc(summary["started_at"]),
        "finished_at": _utc(summary["finished_at"]),
        "sources": [{"source": s, "root": source_root(s)} for s in summary["sources"]],
        "options": {
            "kind": str(options.kind),
            "image_column": options.image_column,
            "id_column": options.id_column,
            "allow_missing": options.allow_missing,
        },
        "missing_sources": summary["missing_sources"],
        "banks": [_bank(name, described) for name, described in sorted(summary["banks"].items())],
        "counts": {name: summary[name] for name in COUNTS},
        "outputs": [{"name": n, "digest": {"sha256": file_sha256(out / n)}} for n in OUTPUTS],
        "not_hashed": [file.to_json() for file in unhashed],
    }
    return {
        "_type": STATEMENT_TYPE,
        "subject": [subject.to_json() for subject in subjects],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }


@dataclass(frozen=True, slots=True)
class Attested:
    path: Path
    subjects: int
    not_hashed: int
    keyid: str


def write_attestation(out: Path, key: Ed25519PrivateKey) -> Attested:
    """Sign the statement of the finished scan in ``out`` into ``out/attestation.json``.

    The file appears whole or not at all; an earlier one is replaced.
    """
    statement = scan_statement(out)
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
    envelope = sign(payload, IN_TOTO_PAYLOAD_TYPE, key)
    path = out / ATTESTATION
    partial = path.with_name(f".{ATTESTATION}.partial")
    try:
        partial.write_text(json.dumps(envelope.to_json(), indent=2) + "\n", encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    predicate = statement["predicate"]
    return Attested(
        path, len(statement["subject"]), len(predicate["not_hashed"]), key_id(key.public_key())
    )


# --- reading a statement back -------------------------------------------------------

_SHA256 = re.compile(r"[0-9a-f]{64}")


def _invalid(message: str) -> AttestationInvalid:
    return AttestationInvalid(f"statement: {message}")


def _get(holder: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``holder[key]`` if it is of ``kind`` (a bool is no int here), else a refusal."""
    if key not in holder:
        raise _invalid(f"{where} has no {key!r}")
    value = holder[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        raise _invalid(f"{where}.{key} is not {_name(kind)}")
    return value


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _name(kind: type | tuple[type, ...]) -> str:
    words = {
        dict: "an object",
        list: "a list",
        str: "a string",
        int: "a whole number",
        bool: "true or false",
        type(None): "null",
    }
    return " or ".join(words[k] for k in _kinds(kind))


def _objects(holder: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    listed: list[Any] = _get(holder, key, list, where)
    if not all(isinstance(value, dict) for value in listed):
        raise _invalid(f"{where}.{key} holds something other than objects")
    return listed


def _digest(holder: dict[str, Any], where: str) -> str:
    digest: dict[str, Any] = _get(holder, "digest", dict, where)
    value = digest.get("sha256")
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise _invalid(f"{where} has no SHA-256 digest of 64 lowercase hex digits")
    return value


def _moment(predicate: dict[str, Any], key: str) -> datetime:
    text: str = _get(predicate, key, str, "predicate")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid(f"predicate.{key} is not an ISO 8601 time: {text[:40]!r}") from None
    if moment.utcoffset() is None:
        raise _invalid(f"predicate.{key} has no UTC offset")
    return moment


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _invalid("a JSON object repeats a key (parsers would disagree on its value)")
    return found


@dataclass(frozen=True, slots=True)
class ScanStatement:
    """A statement that has the shape of Bastion's scan predicate."""

    subjects: tuple[Subject, ...]
    not_hashed: tuple[Unhashed, ...]
    sources: tuple[str, ...]
    roots: tuple[str, ...]
    options: SourceOptions
    counts: dict[str, int]
    #: The whole predicate, as signed.
    predicate: dict[str, Any]


def read_statement(payload: bytes) -> ScanStatement:
    """The scan statement in a verified payload; :class:`AttestationInvalid` naming
    the first thing that is not as :func:`scan_statement` writes it."""
    try:
        statement = json.loads(payload, object_pairs_hook=_unique_keys)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise _invalid("the payload is not JSON") from None
    if not isinstance(statement, dict):
        raise _invalid("the payload is not a JSON object")
    if statement.get("_type") != STATEMENT_TYPE:
        raise _invalid(f"_type is not {STATEMENT_TYPE}")
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise _invalid(f"predicateType is not {PREDICATE_TYPE}")
    predicate: dict[str, Any] = _get(statement, "predicate", dict, "statement")
    sources = _objects(predicate, "sources", "predicate")
    given = tuple(_get(s, "source", str, "predicate.sources[]") for s in sources)
    roots = tuple(_get(s, "root", str, "predicate.sources[]") for s in sources)
    subjects = _subjects(statement, len(sources))
    not_hashed = []
    for file in _objects(predicate, "not_hashed", "predicate"):
        number = _get(file, "source", int, "predicate.not_hashed[]")
        if not 0 <= number < len(sources):
            raise _invalid("predicate.not_hashed[] names a source that is not listed")
        name = _get(file, "name", str, "predicate.not_hashed[]")
        not_hashed.append(Unhashed(number, name, _get(file, "reason", str, "not_hashed[]")))
    counts = _counts(predicate)
    _get(_get(predicate, "scanner", dict, "predicate"), "version", str, "predicate.scanner")
    if _moment(predicate, "started_at") > _moment(predicate, "finished_at"):
        raise _invalid("predicate.started_at is after predicate.finished_at")
    for bank in _objects(predicate, "banks", "predicate"):
        _get(bank, "name", str, "predicate.banks[]")
        if _get(bank, "entries", int, "predicate.banks[]") < 0:
            raise _invalid("predicate.banks[].entries is negative")
    if not all(isinstance(s, str) for s in _get(predicate, "missing_sources", list, "predicate")):
        raise _invalid("predicate.missing_sources holds something other than names")
    outputs = {
        _get(output, "name", str, "predicate.outputs[]"): _digest(output, "predicate.outputs[]")
        for output in _objects(predicate, "outputs", "predicate")
    }
    if sorted(outputs) != sorted(OUTPUTS):
        raise _invalid(f"predicate.outputs are not {' and '.join(OUTPUTS)}")
    return ScanStatement(
        tuple(subjects),
        tuple(not_hashed),
        given,
        roots,
        _options(predicate),
        counts,
        predicate,
    )


def _subjects(statement: dict[str, Any], sources: int) -> list[Subject]:
    subjects = []
    seen: set[tuple[int, str]] = set()
    for described in _objects(statement, "subject", "statement"):
        name = _get(described, "name", str, "subject[]")
        annotations = _get(described, "annotations", dict, f"subject {name!r}")
        number = _get(annotations, "source", int, f"subject {name!r}.annotations")
        if not 0 <= number < sources:
            raise _invalid(f"subject {name!r} names a source that is not listed")
        if (number, name) in seen:
            raise _invalid(f"subject {name!r} is listed twice")
        seen.add((number, name))
        subjects.append(Subject(number, name, _digest(described, f"subject {name!r}")))
    return subjects


def _counts(predicate: dict[str, Any]) -> dict[str, int]:
    listed: dict[str, Any] = _get(predicate, "counts", dict, "predicate")
    counts = {name: _get(listed, name, int, "predicate.counts") for name in COUNTS}
    if any(count < 0 for count in counts.values()):
        raise _invalid("predicate.counts holds a negative count")
    if counts["seen"] != counts["hashed"] + counts["errored"] + counts["skipped"]:
        raise _invalid("predicate.counts: seen is not hashed + errored + skipped")
    if max(counts["matched"], counts["unchecked"]) > counts["seen"]:
        raise _invalid("predicate.counts: more items matched or unchecked than seen")
    return counts


def _options(predicate: dict[str, Any]) -> SourceOptions:
    options: dict[str, Any] = _get(predicate, "options", dict, "predicate")
    kind = _get(options, "kind", str, "predicate.options")
    if kind not in set(SourceKind):
        raise _invalid(f"predicate.options.kind is not one of {', '.join(SourceKind)}")
    _get(options, "image_column", str, "predicate.options")
    _get(options, "id_column", (str, type(None)), "predicate.options")
    _get(options, "allow_missing", bool, "predicate.options")
    return source_options(options)
