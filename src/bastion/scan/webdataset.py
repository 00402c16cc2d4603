"""Webdataset shards: tar files whose members are grouped into samples by key.

``000123.jpg``, ``000123.txt`` and ``000123.json`` form sample ``000123``; the
item is the sample's image (``jpg``, ``jpeg``, ``png`` or ``webp``) and its id
is ``shard#key`` - what a data loader needs to drop the sample.  A sample
without an image is a row of its own, skipped with that reason.
"""

from __future__ import annotations

import re
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from bastion.config import Settings
from bastion.fingerprint import ItemError
from bastion.scan.items import ScanItem

#: Members hashed as a sample's media: images, and videos of video datasets.
MEDIA_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "mp4", "webm", "mkv", "mov", "avi")
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


def _split(name: str) -> tuple[str, str]:
    """Webdataset's rule: the key is the path up to the first dot of the file name."""
    folder, _, base = name.rpartition("/")
    stem, _, extension = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), extension.lower()


def iter_shard(path: Path, source: str, settings: Settings) -> Iterator[ScanItem]:
    shard = str(path)
    key: str | None = None
    #: The sample's first media member: its name and bytes (None: too large).
    image: tuple[str, bytes | None] | None = None

    def sample() -> ScanItem:
        item_id = f"{shard}#{key}"
        if image is None:
            return ScanItem(item_id, source, skipped="sample-without-image")
        if image[1] is None:
            problem = ItemError("file-too-large", f"{image[0]} is over the size limit")
            return ScanItem(item_id, source, name=image[0], error=problem)
        return ScanItem(item_id, source, data=image[1], name=image[0])

    try:
        with tarfile.open(path, mode="r|*") as archive:
            for info in archive:
                if not info.isfile():
                    continue
                member_key, extension = _split(info.name)
                if member_key != key:
                    if key is not None:
                        yield sample()
                    key, image = member_key, None
                if extension not in MEDIA_EXTENSIONS or image is not None:
                    continue
                if info.size > settings.max_file_bytes:
                    image = (info.name, None)
                    continue
                member = archive.extractfile(info)
                data = member.read() if member else b""
                if len(data) < info.size:
                    raise EOFError(f"member {info.name} is cut short")
                image = (info.name, data)
            if key is not None:
                yield sample()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        if key is not None and image is not None:
            yield sample()
        reason = f"shard ends early or is damaged after the samples above: {exc}"
        yield ScanItem(f"{shard}#", source, error=ItemError("truncated-archive", reason))
