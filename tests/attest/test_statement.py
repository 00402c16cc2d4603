"""A signed payload is a scan statement only in the shape Bastion writes; else, why not."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from bastion.attest.errors import AttestationInvalid
from bastion.attest.statement import read_statement, scan_statement
from bastion.config import Settings
from tests.attest.conftest import make_dataset


@pytest.fixture(scope="module")
def statement(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("statement")
    return scan_statement(make_dataset(root, Settings(home=root / "home")).out)


def _payload(statement: dict[str, Any]) -> bytes:
    return json.dumps(statement).encode()


def test_a_written_statement_reads_back(statement: dict[str, Any]) -> None:
    read = read_statement(_payload(statement))
    assert len(read.subjects) == len(statement["subject"])
    assert read.sources == tuple(s["source"] for s in statement["predicate"]["sources"])
    assert read.options.id_column == "key"
    assert read.predicate == statement["predicate"]


Change = Callable[[dict[str, Any]], object]


def _set(path: str, value: object) -> Change:
    def change(statement: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        holder: Any = statement
        for part in parents:
            holder = holder[int(part)] if part.isdigit() else holder[part]
        holder[int(last) if last.isdigit() else last] = value

    return change


def _drop(key: str) -> Change:
    return lambda statement: statement.pop(key)


def _repeat_subject(statement: dict[str, Any]) -> None:
    statement["subject"].append(statement["subject"][0])


CHANGES: list[tuple[str, Change, str]] = [
    ("no predicate", _drop("predicate"), "statement has no 'predicate'"),
    ("another type", _set("_type", "https://in-toto.io/Statement/v0.1"), "_type is not"),
    ("another predicate", _set("predicateType", "https://slsa.dev/provenance/v1"), "predicateType"),
    ("upper-case digest", _set("subject.0.digest.sha256", "A" * 64), "64 lowercase hex digits"),
    ("no digest", _set("subject.0.digest", {"md5": "0" * 32}), "has no SHA-256 digest"),
    ("unlisted source", _set("subject.0.annotations.source", 7), "not listed"),
    ("repeated subject", _repeat_subject, "is listed twice"),
    ("count as a flag", _set("predicate.counts.matched", True), "not a whole number"),
    ("negative count", _set("predicate.counts.errored", -1), "negative count"),
    ("more matched than seen", _set("predicate.counts.matched", 10**6), "more items matched"),
    ("one output", _set("predicate.outputs", []), "outputs are not"),
    ("time without offset", _set("predicate.started_at", "2026-01-01T00:00:00"), "UTC offset"),
    ("end before start", _set("predicate.finished_at", "2000-01-01T00:00:00Z"), "after"),
    ("unknown source kind", _set("predicate.options.kind", "zip"), "options.kind is not one of"),
    ("flag as text", _set("predicate.options.allow_missing", "False"), "not true or false"),
    ("no banks", _set("predicate.banks", None), "banks is not a list"),
]


@pytest.mark.parametrize(
    ("change", "reason"), [c[1:] for c in CHANGES], ids=[c[0] for c in CHANGES]
)
def test_a_statement_of_another_shape_is_refused(
    statement: dict[str, Any], change: Change, reason: str
) -> None:
    changed = copy.deepcopy(statement)
    change(changed)
    with pytest.raises(AttestationInvalid, match=reason):
        read_statement(_payload(changed))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"_type": "a", "_type": "b"}', "repeats a key"),
    ],
)
def test_a_payload_that_is_no_statement_is_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(AttestationInvalid, match=reason):
        read_statement(payload)
