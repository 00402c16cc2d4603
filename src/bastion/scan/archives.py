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


#: Errors reading one zip member that leave the rest of the archive readable.
_ZIP_MEMBER_DAMAGE = (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError)


class ArchiveBomb(Exception):
    """A member or an archive expanding beyond the configured limits."""


def is_archive(head: bytes) -> bool:
    return sniff(head).mime in ARCHIVE_MIMES


def _read_capped(stream: IO[bytes], limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ArchiveBomb(f"expands beyond {limit:,} bytes")
    return data


def iter_archive(
    stream: IO[bytes], archive_id: str, source: str, settings: Settings
) -> Iterator[ScanItem]:
    """Items of the zip or tar(.gz) archive in ``stream`` (seekable for zip)."""
    yield from _ArchiveWalk(source, settings).members(stream, archive_id, depth=0)


@dataclass
class _ArchiveWalk:
    """One top-level archive and everything nested in it: shared limits and names."""

    source: str
    settings: Settings
    #: Bytes the archive tree may still expand to.
    remaining: int = -1
    names: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.remaining = self.settings.max_archive_bytes

    def unique(self, item_id: str) -> str:
        """``item_id``, made unique when an archive repeats a member name."""
        count = self.names.get(item_id, 0) + 1
        self.names[item_id] = count
        return item_id if count == 1 else f"{item_id}#{count}"

    def members(self, stream: IO[bytes], archive_id: str, depth: int) -> Iterator[ScanItem]:
        head = stream.read(512)
        stream.seek(0)
        if sniff(head).mime == "application/zip":
            yield from self._zip(stream, archive_id, depth)
        else:
            yield from self._tar(stream, archive_id, depth)

    def _member(
        self,
        member: IO[bytes],
        archive_id: str,
        name: str,
        depth: int,
        *,
        ratio_limit: int | None = None,
        stated_size: int | None = None,
        damage: tuple[type[Exception], ...] = (),
    ) -> Iterator[ScanItem]:
        """One member read under every limit: an item, a nested archive's items, or a bomb.

        ``damage`` are the errors that spoil only this member (a zip CRC
        error); others end the archive, such as EOFError when a member is
        shorter than its header said (a truncated tar).
        """
        item_id = self.unique(f"{archive_id}!{name}")
        limit = min(self.settings.max_file_bytes, self.remaining)
        if ratio_limit is not None:
            limit = min(limit, ratio_limit)
        try:
            data = _read_capped(member, limit)
        except ArchiveBomb as exc:
            problem = ItemError("archive-bomb", f"member {exc} (limits: size, ratio, total)")
            yield ScanItem(item_id, self.source, name=name, error=problem)
            return
        except damage as exc:
            problem = ItemError("corrupt-archive-member", str(exc) or type(exc).__name__)
            yield ScanItem(item_id, self.source, name=name, error=problem)
            return
        if stated_size is not None and len(data) < stated_size:
            raise EOFError(f"member {name} is cut short")
        self.remaining -= len(data)
        if not is_archive(data[:512]):
            yield ScanItem(item_id, self.source, data=data, name=name)
        elif depth + 2 > self.settings.max_archive_depth:  # depth 0 is archive level 1
            yield ScanItem(item_id, self.source, name=name, skipped="nested-archive-too-deep")
        else:
            yield from self.members(io.BytesIO(data), item_id, depth + 1)

    def _zip(self, stream: IO[bytes], archive_id: str, depth: int) -> Iterator[ScanItem]:
        try:
            archive = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            yield ScanItem(archive_id, self.source, error=ItemError("corrupt-archive", str(exc)))
            return
        ratio = self.settings.max_compression_ratio
        with archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                try:
                    member = archive.open(info)
                except _ZIP_MEMBER_DAMAGE as exc:
                    problem = ItemError("corrupt-archive-member", str(exc) or type(exc).__name__)
                    item_id = self.unique(f"{archive_id}!{info.filename}")
                    yield ScanItem(item_id, self.source, name=info.filename, error=problem)
                    continue
                with member:
                    yield from self._member(
                        member,
                        archive_id,
                        info.filename,
                        depth,
                        ratio_limit=max(info.compress_size, 1) * ratio,
                        damage=_ZIP_MEMBER_DAMAGE,
                    )

    def _tar(self, stream: IO[bytes], archive_id: str, depth: int) -> Iterator[ScanItem]:
        try:
            archive = tarfile.open(fileobj=stream, mode="r|*")  # noqa: SIM115 (closed in finally)
        except (tarfile.TarError, OSError, EOFError) as exc:
            yield ScanItem(archive_id, self.source, error=ItemError("corrupt-archive", str(exc)))
            return
        try:
            for info in archive:
                member = archive.extractfile(info) if info.isfile() else None
                if member is not None:
                    yield from self._member(
                        member, archive_id, info.name, depth, stated_size=info.size
                    )
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            reason = f"archive ends early or is damaged after the members above: {exc}"
            problem = ItemError("truncated-archive", reason)
            yield ScanItem(f"{archive_id}!", self.source, error=problem)
        finally:
            archive.close()
