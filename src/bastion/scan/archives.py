"""Zip and tar archives, read in place: members are streamed, never extracted.

Members come out as in-memory items in archive order, every member a row:
links, FIFOs and devices in a tar are skipped rows saying so.  Hostile
archives are contained: a member's size is capped (``max_file_bytes``), as
is its expansion ratio (``max_compression_ratio``, for zip members and for
members of a compressed tar alike) and the archive's total expansion
(``max_archive_bytes``); zip entries that share or overlap each other's
data are refused; nested archives are opened down to ``max_archive_depth``.
Members are read a chunk at a time, so a refused one never sits whole in
memory.  Member names - ``../../etc/passwd``, absolute paths, duplicates -
are only ever used as labels in the item id.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, cast

from bastion.config import Settings
from bastion.errors import BastionError, ItemErrorCode
from bastion.fingerprint import ItemError
from bastion.media.sniff import sniff
from bastion.pipeline import ScanItem

ARCHIVE_MIMES = {
    "application/zip",
    "application/x-tar",
    "application/gzip",
    "application/x-bzip2",
    "application/x-xz",
}


#: Errors of a damaged tar or of its compression.
_TAR_DAMAGE = (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError)

#: Errors reading one zip member that leave the rest of the archive readable
#: (and, opening a zip, those of a damaged central directory).
_ZIP_MEMBER_DAMAGE = (
    zipfile.BadZipFile,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    zlib.error,
    lzma.LZMAError,
)


class ArchiveBomb(BastionError):
    """A member or an archive expanding beyond the configured limits."""

    code = ItemErrorCode.ARCHIVE_BOMB
    status = 422


def is_archive(head: bytes) -> bool:
    return sniff(head).mime in ARCHIVE_MIMES


#: Bytes read from a member at a time: what a refused member may cost.
_CHUNK = 1 << 20
#: Compressed bytes a tar member is credited with at least: the decompressor
#: reads ahead, so a small member may seem to have consumed nothing.
_RATIO_FLOOR = 64 << 10
#: General purpose flag bit of an encrypted zip entry.
_ZIP_ENCRYPTED = 0x1
#: The fixed part of a zip local file header, before its name and extra field.
_ZIP_LOCAL_HEADER = 30


def _read_capped(
    stream: IO[bytes], limit: int, expanded_too_far: Callable[[int], bool] | None = None
) -> bytes:
    """The member's bytes, read a chunk at a time; ArchiveBomb once over a limit."""
    data = bytearray()
    while chunk := stream.read(min(_CHUNK, limit + 1 - len(data))):
        data += chunk
        if len(data) > limit:
            raise ArchiveBomb(f"expands beyond {limit:,} bytes")
        if expanded_too_far is not None and expanded_too_far(len(data)):
            raise ArchiveBomb(f"expands to over {len(data):,} bytes")
    return bytes(data)


def _decompressor(raw: _CountingReader, mime: str) -> IO[bytes] | None:
    """The tar inside a compressed stream, None for an uncompressed one.

    Decompressing here rather than in tarfile's stream mode keeps skipping a
    refused member cheap: tarfile re-slices its whole output buffer for every
    block it reads, minutes for a gigabyte of zeros.
    """
    opened: object = None
    if mime == "application/gzip":
        opened = gzip.GzipFile(fileobj=raw, mode="rb")
    elif mime == "application/x-bzip2":
        opened = bz2.BZ2File(raw)
    elif mime == "application/x-xz":
        opened = lzma.LZMAFile(raw)  # noqa: SIM115 (the caller closes it)
    return cast(IO[bytes] | None, opened)


class _CountingReader:
    """A stream that counts the bytes read from it: a compressed tar's input."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.consumed += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def _overlapping(infos: list[zipfile.ZipInfo]) -> dict[int, str]:
    """Entries whose data lies inside an earlier entry's, by ``id``, with that entry's name.

    Honest archives never share bytes between entries; a zip whose central
    directory points many entries at one local entry expands many times
    over without any one entry breaking a limit.  An entry ends at least a
    local header and its compressed size after its offset.
    """
    found: dict[int, str] = {}
    reach, owner = -1, ""
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset < reach:
            found[id(info)] = owner
            continue
        reach = info.header_offset + _ZIP_LOCAL_HEADER + info.compress_size
        owner = info.filename
    return found


def iter_archive(
    stream: IO[bytes], archive_id: str, source: str, settings: Settings
) -> Iterator[ScanItem]:
    """Items of the zip or tar(.gz) archive in ``stream`` (seekable for zip).

    An exception nobody foresaw (zipfile and tarfile raise many kinds on
    hostile input) ends the archive with an ``internal`` row after the
    members already given, rather than the scan.
    """
    try:
        yield from _ArchiveWalk(source, settings).members(stream, archive_id, depth=0)
    except Exception as exc:  # noqa: BLE001 - one archive's failure must not stop the scan
        yield ScanItem(f"{archive_id}!", source, error=ItemError.internal(exc))


def expand(item: ScanItem, settings: Settings) -> Iterator[ScanItem]:
    """The item itself or, when it is an archive and archives are opened
    (``max_archive_depth`` > 0), one item per member.

    Every door that takes files - ``bastion scan``, ``bastion match``,
    ``/v1/scan``, ``/v1/match/upload`` - opens archives here, so a zip gets
    the same member rows through each.  An item that cannot be read is given
    back as it is: hashing reports it with the OS's own reason.
    """
    if item.error is not None or item.skipped is not None or settings.max_archive_depth == 0:
        yield item
        return
    try:
        with _open(item) as stream:
            if not is_archive(stream.read(512)):
                yield item
                return
            stream.seek(0)
            yield from iter_archive(stream, item.item_id, item.source, settings)
    except OSError:
        yield item


def _open(item: ScanItem) -> IO[bytes]:
    if item.path is not None:
        return item.path.open("rb")
    return io.BytesIO(item.data or b"")


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

    def _row(
        self,
        archive_id: str,
        name: str,
        *,
        error: ItemError | None = None,
        skipped: ItemErrorCode | None = None,
    ) -> ScanItem:
        """The row of a member that is not read: an error or a skip."""
        item_id = self.unique(f"{archive_id}!{name}")
        return ScanItem(item_id, self.source, name=name, error=error, skipped=skipped)

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
        expanded_too_far: Callable[[int], bool] | None = None,
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
            if stated_size is not None and stated_size > limit:
                raise ArchiveBomb(f"declares {stated_size:,} bytes, over {limit:,}")
            data = _read_capped(member, limit, expanded_too_far)
        except ArchiveBomb as exc:
            problem = ItemError(
                ItemErrorCode.ARCHIVE_BOMB, f"member {exc} (limits: size, ratio, total)"
            )
            yield ScanItem(item_id, self.source, name=name, error=problem)
            return
        except damage as exc:
            problem = ItemError(
                ItemErrorCode.CORRUPT_ARCHIVE_MEMBER, str(exc) or type(exc).__name__
            )
            yield ScanItem(item_id, self.source, name=name, error=problem)
            return
        if stated_size is not None and len(data) < stated_size:
            raise EOFError(f"member {name} is cut short")
        self.remaining -= len(data)
        if not is_archive(data[:512]):
            yield ScanItem(item_id, self.source, data=data, name=name)
        elif depth + 2 > self.settings.max_archive_depth:  # depth 0 is archive level 1
            yield ScanItem(
                item_id, self.source, name=name, skipped=ItemErrorCode.NESTED_ARCHIVE_TOO_DEEP
            )
        else:
            yield from self.members(io.BytesIO(data), item_id, depth + 1)

    def _zip(self, stream: IO[bytes], archive_id: str, depth: int) -> Iterator[ScanItem]:
        try:
            archive = zipfile.ZipFile(stream)
        except _ZIP_MEMBER_DAMAGE as exc:  # NotImplementedError: a made-up zip version
            yield ScanItem(
                archive_id, self.source, error=ItemError(ItemErrorCode.CORRUPT_ARCHIVE, str(exc))
            )
            return
        ratio = self.settings.max_compression_ratio
        with archive:
            overlaps = _overlapping(archive.infolist())
            for info in archive.infolist():
                if info.filename.endswith("/"):  # a folder (is_dir() fails on an empty name)
                    continue
                if id(info) in overlaps:
                    reason = f"member shares its data with {overlaps[id(info)]!r}; not read"
                    problem = ItemError(ItemErrorCode.ARCHIVE_BOMB, reason)
                    yield self._row(archive_id, info.filename, error=problem)
                    continue
                if info.flag_bits & _ZIP_ENCRYPTED:
                    problem = ItemError(
                        ItemErrorCode.ENCRYPTED, "the member is encrypted; not read"
                    )
                    yield self._row(archive_id, info.filename, error=problem)
                    continue
                try:
                    member = archive.open(info)
                except _ZIP_MEMBER_DAMAGE as exc:
                    problem = ItemError(
                        ItemErrorCode.CORRUPT_ARCHIVE_MEMBER, str(exc) or type(exc).__name__
                    )
                    yield self._row(archive_id, info.filename, error=problem)
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
        counted = _CountingReader(stream)
        decompressed = _decompressor(counted, sniff(stream.read(512)).mime)
        stream.seek(0)
        plain = decompressed or cast(IO[bytes], counted)
        try:
            archive = tarfile.open(fileobj=plain, mode="r|")  # noqa: SIM115 (closed in finally)
        except _TAR_DAMAGE as exc:
            yield ScanItem(
                archive_id, self.source, error=ItemError(ItemErrorCode.CORRUPT_ARCHIVE, str(exc))
            )
            return
        ratio = self.settings.max_compression_ratio
        try:
            for info in archive:
                if info.isdir():
                    continue
                skipped = unreadable_member(info)
                if skipped is not None:
                    yield self._row(archive_id, info.name, skipped=skipped)
                    continue
                member = archive.extractfile(info)
                assert member is not None, "a regular member always opens"
                start = counted.consumed

                def too_far(expanded: int, start: int = start) -> bool:
                    return expanded > max(counted.consumed - start, _RATIO_FLOOR) * ratio

                yield from self._member(
                    member,
                    archive_id,
                    info.name,
                    depth,
                    expanded_too_far=too_far,
                    stated_size=info.size,
                )
        except _TAR_DAMAGE as exc:
            reason = f"archive ends early or is damaged after the members above: {exc}"
            problem = ItemError(ItemErrorCode.TRUNCATED_ARCHIVE, reason)
            yield ScanItem(f"{archive_id}!", self.source, error=problem)
        finally:
            archive.close()
            if decompressed is not None:  # the stream itself is the caller's to close
                decompressed.close()


def unreadable_member(info: tarfile.TarInfo) -> ItemErrorCode | None:
    """Why a tar member has no content of its own to hash, or None for a file."""
    if info.isfile():
        return None
    if info.issym() or info.islnk():
        return ItemErrorCode.LINK
    return ItemErrorCode.SPECIAL_FILE  # FIFO, character or block device, unknown type
