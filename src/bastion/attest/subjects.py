"""The files a finished scan read, by SHA-256: an attestation's subjects.

A subject is one file the scan read: each file of a folder, named by its
path under the folder; a webdataset shard, a Parquet file or an archive as
the file itself, named by its name (a pattern's files by their path under
the folders before its first wildcard).  They are found again the way the
scan found them - the same sources, options and order, through
:func:`bastion.scan.sources.iter_units` - and matched to the scan's rows
in order, so a file the scan never read (one added since) can never become
a subject, and a file it read that is gone now stops the attestation.

Where the digests come from:

- a plain file's SHA-256 is in its row: computed from the very bytes the
  scan read, at no cost.  A plain file the scan could not read (its row has
  no digest: unreadable, over the size limit) is no subject; it is listed,
  with the reason, as not hashed.
- an archive, shard or Parquet file is hashed in a second pass after the
  scan (its rows hold its members' digests, not its own), and refused if
  its status changed (ctime or mtime) after the scan started: the digest
  must be of the bytes the scan read.

:func:`found_files` is also how ``bastion attest verify --dataset`` finds
the files to compare, with the dataset in place of each source's root.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import takewhile
from pathlib import Path, PurePath
from typing import Any

from bastion.attest.errors import AttestError
from bastion.scan.results import RESULTS, iter_rows
from bastion.scan.sources import SourceKind, SourceOptions, iter_units

#: What makes a SOURCE a pattern of names (a glob or a shard range).
_PATTERN = re.compile(r"[*?\[{]")
#: What separates a container's path from its items' in row ids.
_ITEM_SEPARATORS = ("!", "#")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def source_root(source: str) -> str:
    """What a SOURCE's subjects are named under: the folder or file itself,
    or for a pattern the folders before its first wildcard (``.`` if none)."""
    if _PATTERN.search(source) is None:
        return source
    fixed = list(takewhile(lambda part: _PATTERN.search(part) is None, PurePath(source).parts))
    return str(PurePath(*fixed)) if fixed else "."


def rebase(source: str, root: str, dataset: Path) -> str:
    """SOURCE as it reads with ``dataset`` standing where its ``root`` stood."""
    if source == root:
        return str(dataset)
    return str(dataset / PurePath(source).relative_to(root))


def source_options(recorded: dict[str, Any]) -> SourceOptions:
    """The options a summary or predicate recorded, as the scan used them."""

    def flag(value: object) -> bool:
        return value is True or value == "True"

    return SourceOptions(
        SourceKind(recorded["kind"]),
        str(recorded["image_column"]),
        None if recorded["id_column"] is None else str(recorded["id_column"]),
        flag(recorded["allow_missing"]),
    )


@dataclass(frozen=True, slots=True)
class Found:
    """A file a source names now, as the scan reads it."""

    source: int
    name: str
    path: Path
    #: Why the walk cannot read it (its row says so too), if it cannot.
    problem: str | None


@dataclass(frozen=True, slots=True)
class Subject:
    source: int
    name: str
    sha256: str

    def to_json(self) -> dict[str, Any]:
        """An in-toto ResourceDescriptor; ``source`` indexes the predicate's sources."""
        return {
            "name": self.name,
            "digest": {"sha256": self.sha256},
            "annotations": {"source": self.source},
        }


@dataclass(frozen=True, slots=True)
class Unhashed:
    """A file the scan met but did not read, so no subject: and why."""

    source: int
    name: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "reason": self.reason}


def _name(path: str, root: str, root_name: str) -> str:
    if PurePath(path) == PurePath(root):
        return root_name
    return PurePath(path).relative_to(root).as_posix()


def found_files(
    sources: Sequence[str],
    roots: Sequence[str],
    options: SourceOptions,
    root_names: Sequence[str] | None = None,
) -> Iterator[Found]:
    """Every file the sources name now, in the scan's order, each once.

    ``root_names`` name a root that is a file itself (by default its own
    name; a verifier passes the attested name for a dataset renamed since).
    """
    names = root_names or [PurePath(root).name for root in roots]
    for number, (source, root) in enumerate(zip(sources, roots, strict=True)):
        last: str | None = None
        for unit in iter_units([source], options):
            for path, code, message in unit.entries:
                if path == last:
                    continue  # the next row group of the same Parquet file
                last = path
                problem = None if code is None else f"{code}: {message}"
                yield Found(number, _name(path, root, names[number]), Path(path), problem)


def file_sha256(path: Path, *, unchanged_since: datetime | None = None) -> str:
    """The file's SHA-256, read now; OSError if it cannot be read.

    With ``unchanged_since``, a file whose content or status changed after
    that moment is refused (:class:`AttestError`): its bytes may not be the
    ones the scan read.
    """
    with path.open("rb") as file:
        if unchanged_since is not None:
            info = os.fstat(file.fileno())
            changed_ns = max(info.st_mtime_ns, info.st_ctime_ns)
            if changed_ns > (unchanged_since - _EPOCH) // timedelta(microseconds=1) * 1000:
                changed = datetime.fromtimestamp(changed_ns / 1e9, UTC).isoformat()
                raise AttestError(
                    f"{path} changed or appeared after the scan started (at {changed}); "
                    "scan it again to attest it"
                )
        return hashlib.file_digest(file, "sha256").hexdigest()


def _belongs(row: dict[str, Any], path: str) -> bool:
    item_id: str = row["item_id"]
    return (
        row["container"] == path
        or item_id == path
        or item_id.startswith(tuple(path + separator for separator in _ITEM_SEPARATORS))
    )


def scan_subjects(
    out: Path,
    sources: Sequence[str],
    options: SourceOptions,
    started_at: datetime,
) -> tuple[list[Subject], list[Unhashed]]:
    """The subjects of the finished scan in ``out``, and the files it met but did not read."""
    roots = [source_root(source) for source in sources]
    rows = iter_rows(out / RESULTS, ["item_id", "container", "sha256", "error_code"])
    row = next(rows, None)
    subjects: list[Subject] = []
    unhashed: list[Unhashed] = []
    for found in found_files(sources, roots, options):
        path = str(found.path)
        count, own = 0, None
        while row is not None and _belongs(row, path):
            count += 1
            if row["item_id"] == path and row["container"] is None:
                own = row
            row = next(rows, None)
        if found.problem is not None:
            unhashed.append(Unhashed(found.source, found.name, found.problem))
        elif count == 1 and own is not None:
            if own["sha256"] is None:
                reason = f"not read by the scan ({own['error_code'] or 'no digest'})"
                unhashed.append(Unhashed(found.source, found.name, reason))
            else:
                subjects.append(Subject(found.source, found.name, own["sha256"]))
        else:
            try:
                digest = file_sha256(found.path, unchanged_since=started_at)
            except OSError as exc:
                reason = f"unreadable after the scan: {exc.strerror or exc}"
                unhashed.append(Unhashed(found.source, found.name, reason))
            else:
                subjects.append(Subject(found.source, found.name, digest))
    if row is not None:
        raise AttestError(
            f"{row['item_id']} was scanned, but the file it came from is no longer where "
            "the scan found it; scan again to attest the sources as they are"
        )
    return subjects, unhashed
