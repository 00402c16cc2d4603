"""Hostile archives built in tests: shared zip entries, compressed tar bombs, special members."""

from __future__ import annotations

import io
import struct
import tarfile
import zlib
from pathlib import Path

from tests.scan.fixtures import add_tar_member


def shared_entry_zip(path: Path, data: bytes, entries: int) -> Path:
    """A stored zip whose ``entries`` central-directory records all point at one local entry.

    They share its name too, as zip readers check the names agree.
    """
    crc, size = zlib.crc32(data), len(data)
    name = b"shared.bin"
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, size, size, len(name), 0)
    central = b""
    for _ in range(entries):
        central += struct.pack(
            "<4s6H3L5H2L",
            b"PK\x01\x02",
            20,
            20,
            0,
            0,
            0,
            0,
            crc,
            size,
            size,
            len(name),
            0,
            0,
            0,
            0,
            0,
            0,  # every entry's local header is the one at offset 0
        )
        central += name
    start = len(local) + len(name) + size
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, entries, entries, len(central), start, 0)
    with path.open("wb") as out:
        out.write(local + name)
        out.write(data)
        out.write(central + end)
    return path


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, produced as read: a bomb's member without holding it."""

    def __init__(self, size: int) -> None:
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._left)
        buffer[:n] = bytes(n)
        self._left -= n
        return n


def zeros_tar(path: Path, size: int, mode: str, after: tuple[tuple[str, bytes], ...] = ()) -> Path:
    """A compressed tar whose first member is ``size`` zero bytes, then ``after``."""
    with tarfile.open(path, mode) as archive:
        info = tarfile.TarInfo("zeros.bin")
        info.size = size
        archive.addfile(info, io.BufferedReader(_Zeros(size), 1 << 20))
        for name, data in after:
            add_tar_member(archive, name, data)
    return path


def special_members_tar(path: Path, files: list[tuple[str, bytes]]) -> Path:
    """``files`` with a symlink, a hardlink, a FIFO and two devices between them."""
    specials = [
        ("link-to-first", tarfile.SYMTYPE),
        ("hard-link", tarfile.LNKTYPE),
        ("pipe", tarfile.FIFOTYPE),
        ("tty", tarfile.CHRTYPE),
        ("disk", tarfile.BLKTYPE),
    ]
    with tarfile.open(path, "w") as archive:
        for number, (name, data) in enumerate(files):
            add_tar_member(archive, name, data)
            if number < len(specials):
                special, kind = specials[number]
                info = tarfile.TarInfo(special)
                info.type = kind
                info.linkname = files[0][0] if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
                archive.addfile(info)
        directory = tarfile.TarInfo("folder")
        directory.type = tarfile.DIRTYPE
        archive.addfile(directory)
    return path
