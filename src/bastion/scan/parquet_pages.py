"""The page headers of a Parquet column chunk: how large each page decodes to.

Arrow decodes a page whole, so the largest page of a column chunk is what
reading it costs, whatever the file's own size: a few kilobytes of zstd can
declare a page of gigabytes.  The file's footer gives only per-chunk totals;
the pages' sizes are in their headers, Thrift structs in the compact
protocol, which this reads (only the few fields needed) without decoding
any page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from bastion.errors import BastionError

#: PageHeader fields (parquet.thrift).
_TYPE, _UNCOMPRESSED, _COMPRESSED = 1, 2, 3
_DATA_PAGE, _DICTIONARY_PAGE, _DATA_PAGE_V2 = 5, 7, 8
_NUM_VALUES = 1
#: Compact protocol types.
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY = range(9)
_LIST, _SET, _MAP, _STRUCT = 9, 10, 11, 12
#: A header field longer than this (statistics are the only long ones) is damage.
_MAX_FIELD_BYTES = 1 << 20
_MAX_DEPTH = 16


class PageHeaderError(BastionError, ValueError):
    """A page header that cannot be read: the column chunk is damaged."""

    code = "corrupt-page-header"
    status = 422


@dataclass(frozen=True, slots=True)
class Page:
    dictionary: bool
    #: Bytes the page decodes to (before Arrow's own overhead).
    uncompressed_size: int
    #: Values (cells, nulls included) in a data page; entries of a dictionary page.
    values: int


def column_pages(file: BinaryIO, start: int, length: int) -> Iterator[Page]:
    """The pages of the column chunk at ``start`` spanning ``length`` bytes."""
    position, end = start, start + length
    while position < end:
        file.seek(position)
        reader = _Compact(file)
        header = reader.struct(0)
        compressed, uncompressed = header.get(_COMPRESSED), header.get(_UNCOMPRESSED)
        if not isinstance(compressed, int) or not isinstance(uncompressed, int) or compressed < 0:
            raise PageHeaderError(f"page header at byte {position} gives no page size")
        dictionary = header.get(_TYPE) == 2  # PageType.DICTIONARY_PAGE
        detail = header.get(_DICTIONARY_PAGE if dictionary else _DATA_PAGE)
        if detail is None:
            detail = header.get(_DATA_PAGE_V2)
        values = detail.get(_NUM_VALUES) if isinstance(detail, dict) else None
        yield Page(dictionary, uncompressed, values if isinstance(values, int) else 0)
        position += reader.consumed + compressed


class _Compact:
    """Just enough of Thrift's compact protocol to read a struct into a dict."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self.consumed = 0

    def _bytes(self, count: int) -> bytes:
        data = self._file.read(count)
        if len(data) != count:
            raise PageHeaderError("the column chunk ends inside a page header")
        self.consumed += count
        return data

    def _varint(self) -> int:
        value = shift = 0
        while True:
            byte = self._bytes(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise PageHeaderError("an over-long number in a page header")

    def _zigzag(self) -> int:
        value = self._varint()
        return (value >> 1) ^ -(value & 1)

    def struct(self, depth: int) -> dict[int, object]:
        if depth > _MAX_DEPTH:
            raise PageHeaderError("page header nested too deeply")
        fields: dict[int, object] = {}
        field_id = 0
        while True:
            head = self._bytes(1)[0]
            kind = head & 0x0F
            if kind == _STOP:
                return fields
            delta = head >> 4
            field_id = field_id + delta if delta else self._zigzag()
            if kind in (_TRUE, _FALSE):
                fields[field_id] = kind == _TRUE
            else:
                fields[field_id] = self._value(kind, depth)

    def _value(self, kind: int, depth: int) -> object:
        if kind in (_TRUE, _FALSE):  # a boolean inside a list: one byte
            return self._bytes(1)[0] == 1
        if kind == _BYTE:
            return self._bytes(1)[0]
        if kind in (_I16, _I32, _I64):
            return self._zigzag()
        if kind == _DOUBLE:
            return self._bytes(8)
        if kind == _BINARY:
            size = self._varint()
            if size > _MAX_FIELD_BYTES:
                raise PageHeaderError(f"a {size:,}-byte field in a page header")
            return self._bytes(size)
        if kind in (_LIST, _SET):
            head = self._bytes(1)[0]
            size = head >> 4 if head >> 4 != 15 else self._varint()
            return [self._value(head & 0x0F, depth + 1) for _ in range(self._bounded(size))]
        if kind == _MAP:
            size = self._bounded(self._varint())
            if not size:
                return {}
            types = self._bytes(1)[0]
            return [
                (self._value(types >> 4, depth + 1), self._value(types & 0x0F, depth + 1))
                for _ in range(size)
            ]
        if kind == _STRUCT:
            return self.struct(depth + 1)
        raise PageHeaderError(f"unknown field type {kind} in a page header")

    @staticmethod
    def _bounded(size: int) -> int:
        if size > _MAX_FIELD_BYTES:
            raise PageHeaderError(f"a list of {size:,} items in a page header")
        return size
