"""Zip and tar archives, read in place: members are streamed, never extracted.

Members come out as in-memory items in archive order.  Hostile archives are
contained: a member's size is capped (``max_file_bytes``), as is its
expansion ratio (``max_compression_ratio``) and the archive's total expansion
(``max_archive_bytes``); nested archives are opened down to
``max_archive_depth``.  Member names - ``../../etc/passwd``, absolute paths,
duplicates - are only ever used as labels in the item id.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from bastion.config import Settings
from bastion.fingerprint import ItemError
from bastion.media.sniff import sniff
from bastion.scan.items import ScanItem

ARCHIVE_MIMES = {
    "application/zip",
    "application/x-tar",
    "application/gzip",
    "application/x-bzip2",
    "application/x-xz",
}


class ArchiveBomb(Exception):
    """A member or an archive expanding beyond the configured limits."""


@dataclass
class _Budget:
    """Bytes an archive tree may still expand to."""

    remaining: int
    names: dict[str, int] = field(default_factory=dict)

    def unique(self, item_id: str) -> str:
        """``item_id``, made unique when an archive repeats a member name."""
        count = self.names.get(item_id, 0) + 1
        self.names[item_id] = count
        return item_id if count == 1 else f"{item_id}#{count}"


def is_archive(head: bytes) -> bool:
    return sniff(head).mime in ARCHIVE_MIMES


def _read_capped(stream: IO[bytes], limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ArchiveBomb(f"expands beyond {limit:,} bytes")
    return data


def iter_archive(
    stream: IO[bytes], archive_id: str, source: str, settings: Settings, depth: int = 0
) -> Iterator[ScanItem]:
    """Items of the zip or tar(.gz) archive in ``stream`` (seekable for zip)."""
    budget = _Budget(settings.max_archive_bytes)
    yield from _members(stream, archive_id, source, settings, depth, budget)


def _members(
    stream: IO[bytes],
    archive_id: str,
    source: str,
    settings: Settings,
    depth: int,
    budget: _Budget,
) -> Iterator[ScanItem]:
    head = stream.read(512)
    stream.seek(0)
    if sniff(head).mime == "application/zip":
        yield from _zip_members(stream, archive_id, source, settings, depth, budget)
    else:
        yield from _tar_members(stream, archive_id, source, settings, depth, budget)


def _member_item(
    data: bytes,
    item_id: str,
    name: str,
    source: str,
    settings: Settings,
    depth: int,
    budget: _Budget,
) -> Iterator[ScanItem]:
    if is_archive(data[:512]):
        if depth + 2 > settings.max_archive_depth:  # depth 0 is archive level 1
            yield ScanItem(item_id, source, name=name, skipped="nested-archive-too-deep")
            return
        yield from _members(io.BytesIO(data), item_id, source, settings, depth + 1, budget)
        return
    yield ScanItem(item_id, source, data=data, name=name)


def _zip_members(
    stream: IO[bytes],
    archive_id: str,
    source: str,
    settings: Settings,
    depth: int,
    budget: _Budget,
) -> Iterator[ScanItem]:
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        yield ScanItem(archive_id, source, error=ItemError("corrupt-archive", str(exc)))
        return
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            item_id = budget.unique(f"{archive_id}!{info.filename}")
            limit = min(
                settings.max_file_bytes,
                budget.remaining,
                max(info.compress_size, 1) * settings.max_compression_ratio,
            )
            try:
                with archive.open(info) as member:
                    data = _read_capped(member, limit)
            except ArchiveBomb as exc:
                problem = ItemError("archive-bomb", f"member {exc} (limits: size, ratio, total)")
                yield ScanItem(item_id, source, name=info.filename, error=problem)
                continue
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
                problem = ItemError("corrupt-archive-member", str(e) or type(e).__name__)
                yield ScanItem(item_id, source, name=info.filename, error=problem)
                continue
            budget.remaining -= len(data)
            yield from _member_item(data, item_id, info.filename, source, settings, depth, budget)


def _tar_members(
    stream: IO[bytes],
    archive_id: str,
    source: str,
    settings: Settings,
    depth: int,
    budget: _Budget,
) -> Iterator[ScanItem]:
    try:
        archive = tarfile.open(fileobj=stream, mode="r|*")  # noqa: SIM115 (closed in finally)
    except (tarfile.TarError, OSError, EOFError) as exc:
        yield ScanItem(archive_id, source, error=ItemError("corrupt-archive", str(exc)))
        return
    try:
        for info in archive:
            if not info.isfile():
                continue
            item_id = budget.unique(f"{archive_id}!{info.name}")
            member = archive.extractfile(info)
            if member is None:
                continue
            limit = min(settings.max_file_bytes, budget.remaining)
            try:
                data = _read_capped(member, limit)
            except ArchiveBomb as exc:
                problem = ItemError("archive-bomb", f"member {exc}")
                yield ScanItem(item_id, source, name=info.name, error=problem)
                continue
            if len(data) < info.size:
                raise EOFError(f"member {info.name} is cut short")
            budget.remaining -= len(data)
            yield from _member_item(data, item_id, info.name, source, settings, depth, budget)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        reason = f"archive ends early or is damaged after the members above: {exc}"
        yield ScanItem(f"{archive_id}!", source, error=ItemError("truncated-archive", reason))
    finally:
        archive.close()
