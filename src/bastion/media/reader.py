"""A raw stream that feeds every byte to a consumer exactly once, in order.

Decoders seek: JPEG reads straight through, TIFF jumps to strip offsets, PNG
skips ancillary chunks.  Crypto digests need the bytes in file order.  This
reader keeps a high-water mark of what the consumer has seen: reads past it
first catch up sequentially, re-reads behind it are not fed again, and
``finish`` feeds whatever the decoder never asked for.  So the file is read
once for decoding and hashing together, in constant memory.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import BinaryIO

CHUNK = 1 << 20


class HashingReader(io.RawIOBase):
    """Wraps a seekable binary stream; ``consume`` sees each byte once, in order."""

    def __init__(self, raw: BinaryIO, consume: Callable[[bytes | memoryview], None]) -> None:
        super().__init__()
        self._raw = raw
        self._consume = consume
        self._pos = 0  # logical position of the next read
        self._fed = 0  # bytes [0, _fed) have been given to the consumer

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self._raw.seek(0, io.SEEK_END) + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if target < 0:
            raise OSError(f"negative seek position {target}")
        self._pos = target
        return target

    def _catch_up(self, until: int | None) -> None:
        """Feed bytes from the high-water mark up to ``until`` (None: EOF)."""
        self._raw.seek(self._fed)
        while until is None or self._fed < until:
            want = CHUNK if until is None else min(CHUNK, until - self._fed)
            chunk = self._raw.read(want)
            if not chunk:
                break
            self._consume(chunk)
            self._fed += len(chunk)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._pos > self._fed:
            self._catch_up(self._pos)
            if self._pos > self._fed:  # seeked beyond EOF
                return 0
        self._raw.seek(self._pos)
        view = memoryview(buffer).cast("B")
        n = self._raw.readinto(view)  # type: ignore[attr-defined]
        if not n:
            return 0
        end = self._pos + n
        if end > self._fed:
            start = self._fed - self._pos
            self._consume(view[start:n])
            self._fed = end
        self._pos = end
        return int(n)

    def finish(self) -> int:
        """Feed the rest of the stream; returns the total number of bytes fed."""
        self._catch_up(None)
        return self._fed
