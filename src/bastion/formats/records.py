"""What a hash-list format reads and writes, whatever its syntax.

A reader turns a document into a stream of :class:`Record` (one signal of
one list item, or a tombstone), :class:`Reject` (a row it could not use, and
why) and at most one :class:`DocumentVersion`.  A broken *document* -
truncated JSON, malformed XML - is a :class:`FormatError`: the import stops
and nothing of it is kept.  Writers take :class:`ExportEntry` values.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from bastion.errors import BastionError
from bastion.fingerprint import Signal
from bastion.labels import InvalidLabel, normalize_labels
from bastion.signals.types import InvalidSignal, normalize_signal


class FormatError(BastionError, ValueError):
    """The document as a whole cannot be read; nothing of it may be imported."""

    code = "format-error"
    status = 400


@dataclass(frozen=True, slots=True)
class Record:
    """One signal of one list item, or (``signal`` None) a tombstone by external id."""

    location: str
    signal: Signal | None
    labels: tuple[str, ...] = ()
    external_id: str | None = None
    withdrawn: bool = False


@dataclass(frozen=True, slots=True)
class Reject:
    """A row that was not imported: where it is and why."""

    location: str
    reason: str


@dataclass(frozen=True, slots=True)
class DocumentVersion:
    """The list's own version or timestamp, when the document states one."""

    value: str


@dataclass(frozen=True, slots=True)
class ExportEntry:
    signal: Signal
    labels: tuple[str, ...] = ()
    external_id: str | None = None
    withdrawn: bool = False


def item_key(entry: ExportEntry) -> str:
    """Which list item an entry belongs to: its external id, or itself alone."""
    return entry.external_id or f"{entry.signal.type}:{entry.signal.value}"


@dataclass(slots=True)
class ExportReport:
    written: int = 0
    #: Entries the format has no way to express, by reason.
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def carried(
        self, entries: Iterable[ExportEntry], fields: dict[str, str], what: str
    ) -> Iterator[tuple[ExportEntry, str]]:
        """Active entries a format has a ``field`` for, counted as written; the rest skipped."""
        for entry in entries:
            field_name = fields.get(entry.signal.type)
            if entry.withdrawn:
                self.skip("withdrawn")
            elif field_name is None:
                self.skip(f"{entry.signal.type} (no {what})")
            else:
                self.written += 1
                yield entry, field_name


ReadItem = Record | Reject | DocumentVersion


class ListFormat(Protocol):
    """A hash-list format Bastion can import and export."""

    name: str
    description: str

    def read(self, stream: BinaryIO) -> Iterator[ReadItem]: ...

    def write(self, entries: Iterable[ExportEntry], out: BinaryIO) -> ExportReport: ...


def make_record(
    location: str,
    signal_type: str,
    value: str,
    labels: Iterable[str] = (),
    *,
    external_id: str | None = None,
    withdrawn: bool = False,
) -> Record | Reject:
    """A validated record, or the reason it is rejected."""
    try:
        signal = normalize_signal(signal_type, value)
        canonical = normalize_labels(labels)
    except (InvalidSignal, InvalidLabel) as exc:
        return Reject(location, str(exc))
    return Record(location, signal, canonical, external_id, withdrawn)
