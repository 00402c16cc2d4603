"""Webdataset shards: tar files whose members are grouped into samples by key.

``000123.jpg``, ``000123.txt`` and ``000123.json`` form sample ``000123``.
*Every* media member of a sample is hashed, each as an item of its own
(``shard#000123.jpg``): hashing only the first would let a banked ``.png``
hide beside a benign ``.jpg``.  All members of a sample share its sample id
``shard#000123``, which is what a loader drops, so the sample goes if any
member matches.

A member is media when its last extension says so (``000123.seg.jpg`` too)
or when its bytes sniff as an image or video (an image stored as ``.bin``).
A key that comes back later in the shard (non-contiguous keys) is still one
sample.  A link, FIFO or device member is a skipped row of its own (``link``,
``special-file``), as in any archive.  A sample with no media member at all
is one row, skipped with that reason, after the shard's media rows (only
the shard's end shows it had none).
"""

from __future__ import annotations

import re
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from bastion.config import Settings
from bastion.errors import ItemErrorCode
from bastion.fingerprint import ItemError
from bastion.media.sniff import SNIFF_BYTES, MediaKind, sniff
from bastion.pipeline import ScanItem
from bastion.scan.archives import unreadable_member

#: Extensions of images: a member so named must decode as one.
IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")
#: Members hashed as a sample's media: images, and videos of video datasets.
MEDIA_EXTENSIONS = (*IMAGE_EXTENSIONS, "mp4", "webm", "mkv", "mov", "avi")
_MEDIA_KINDS = (MediaKind.IMAGE, MediaKind.VIDEO)
_BRACES = re.compile(r"\{(\d+)\.\.(\d+)\}")


def expand_shards(pattern: str) -> list[str]:
    """``data-{000000..000099}.tar`` -> the 100 names, zero padding kept."""
    match = _BRACES.search(pattern)
    if match is None:
        return [pattern]
    first, last = match.group(1), match.group(2)
    width = len(first) if first.startswith("0") else 0
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [
        name
        for number in range(int(first), int(last) + 1)
        for name in expand_shards(f"{head}{number:0{width}d}{tail}")
    ]


def split_key(name: str) -> tuple[str, str]:
    """Webdataset's rule: the key is the path up to the first dot of the file name.

    ``dir/0002.seg.jpg`` -> (``dir/0002``, ``seg.jpg``).
    """
    folder, _, base = name.rpartition("/")
    stem, _, extension = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), extension.lower()


def iter_shard(path: Path, source: str, settings: Settings) -> Iterator[ScanItem]:
    """One item per media member of the shard, then one per sample without media."""
    shard = str(path)
    seen: dict[str, int] = {}  # member names, to tell repeated ones apart
    keys: dict[str, bool] = {}  # every key in order of appearance: has it media?

    def without_media() -> Iterator[ScanItem]:
        for key in (key for key, media in keys.items() if not media):
            yield ScanItem(
                f"{shard}#{key}",
                source,
                skipped=ItemErrorCode.SAMPLE_WITHOUT_IMAGE,
                container=shard,
                key=key,
            )

    try:
        with _open_shard(path) as archive:
            for info in archive:
                if info.isdir():
                    continue
                key, extension = split_key(info.name)
                count = seen[info.name] = seen.get(info.name, 0) + 1
                item_id = f"{shard}#{info.name}" + ("" if count == 1 else f"#{count}")
                skipped = unreadable_member(info)
                if skipped is not None:
                    # Its own row stands for the sample: never passed over as clean.
                    keys[key] = True
                    yield ScanItem(
                        item_id, source, name=info.name, skipped=skipped, container=shard, key=key
                    )
                    continue
                item = _media_item(
                    archive,
                    info,
                    extension,
                    ScanItem(item_id, source, container=shard, key=key),
                    settings,
                )
                if item is None:
                    keys.setdefault(key, False)
                    continue
                keys[key] = True
                yield item
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        yield from without_media()
        reason = f"shard ends early or is damaged after the samples above: {exc}"
        yield ScanItem(
            f"{shard}#", source, error=ItemError(ItemErrorCode.TRUNCATED_ARCHIVE, reason)
        )
        return
    yield from without_media()


def _open_shard(path: Path) -> tarfile.TarFile:
    """A shard on disk is read in random-access mode: stream mode costs a
    quarter more per member (it re-buffers every block it reads); a pipe
    can only be streamed."""
    if path.is_file():
        return tarfile.open(path, "r:*")
    return tarfile.open(path, "r|*")


def _media_item(
    archive: tarfile.TarFile,
    info: tarfile.TarInfo,
    extension: str,
    where: ScanItem,
    settings: Settings,
) -> ScanItem | None:
    """The member as an item, with its bytes, or None when it is not media;
    ``where`` gives its id, source, shard and key (one new item is made, not
    copies: this runs for every member of every shard)."""
    last = extension.rpartition(".")[2]
    member = archive.extractfile(info)
    head = _read(member, SNIFF_BYTES)
    if last not in MEDIA_EXTENSIONS and sniff(head).kind not in _MEDIA_KINDS:
        return None
    data: bytes | None = None
    problem = None
    if info.size > settings.max_file_bytes:
        problem = ItemError(ItemErrorCode.FILE_TOO_LARGE, f"{info.name} is over the size limit")
    else:
        data = head + _read(member, info.size - len(head))
        if len(data) < info.size:
            raise EOFError(f"member {info.name} is cut short")
    return ScanItem(
        where.item_id,
        where.source,
        data=data,
        name=info.name,
        error=problem,
        expect_image=last in IMAGE_EXTENSIONS,
        container=where.container,
        key=where.key,
    )


def _read(member: IO[bytes] | None, size: int) -> bytes:
    return member.read(size) if member is not None and size > 0 else b""
