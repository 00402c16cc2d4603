"""Parquet datasets with the image bytes in a column (LAION-style, Hugging Face style).

Rows are read a record batch at a time.  The image column may hold bytes, or
a struct with a ``bytes`` field (what ``datasets`` writes).  Ids come from
``--id-column`` (``file#<id>``) or the row number (``file#<row>``).  A file
of several row groups is scanned as one unit per group, so workers share it.

A few kilobytes of Parquet can stand for gigabytes of cells, so what a row
group costs is checked before it is read: a page that decodes to more than
``max_file_bytes`` makes its row group's rows error rows; the image column
stays dictionary-encoded (one stored value shared by many rows is held
once); batches hold about ``BATCH_BYTES`` of stored cells; and cells become
bytes one row at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bastion.config import Settings
from bastion.errors import ItemErrorCode
from bastion.fingerprint import ItemError
from bastion.hashing import default_settings
from bastion.media.errors import FileTooLarge
from bastion.pipeline import ScanItem
from bastion.scan.parquet_pages import PageHeaderError, column_pages

BATCH_ROWS = 256
#: Stored image bytes a record batch is sized to hold (at least one row).
BATCH_BYTES = 64 << 20


def parquet_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*.parquet") if p.is_file())
    return [path]


def count_rows(path: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in parquet_files(path))


def splittable_row_groups(file: Path, image_column: str, id_column: str | None) -> int | None:
    """How many row groups to scan as separate units, or None to scan the file whole.

    Splitting lets workers share one big file.  A file that cannot be opened
    or lacks a column stays whole, so its one error row is reported once.
    """
    try:
        parquet = pq.ParquetFile(file)
        names = parquet.schema_arrow.names
    except (pa.ArrowException, OSError):
        return None
    if any(c and c not in names for c in (image_column, id_column)):
        return None
    groups = parquet.metadata.num_row_groups
    return groups if groups > 1 else None


def iter_parquet(
    file: Path,
    source: str,
    image_column: str,
    id_column: str | None,
    row_group: int | None = None,
    *,
    settings: Settings | None = None,
) -> Iterator[ScanItem]:
    """The rows of one Parquet file (or of one of its row groups) as items."""
    try:
        table = pq.ParquetFile(file)
        names = table.schema_arrow.names
    except (pa.ArrowException, OSError) as exc:
        yield ScanItem(str(file), source, error=ItemError(ItemErrorCode.CORRUPT_PARQUET, str(exc)))
        return
    missing = [c for c in (image_column, id_column) if c and c not in names]
    if missing:
        reason = f"no column {missing[0]!r} (columns: {', '.join(names)})"
        yield ScanItem(str(file), source, error=ItemError(ItemErrorCode.MISSING_COLUMN, reason))
        return
    rows = _Rows(file, source, image_column, id_column, settings or default_settings())
    groups = range(table.metadata.num_row_groups) if row_group is None else [row_group]
    rows.number = 0 if row_group is None else _rows_before(table, row_group)
    try:
        with pq.ParquetFile(file, read_dictionary=rows.leaves(table)) as reader:
            for group in groups:
                yield from rows.group(reader, group)
    except (pa.ArrowException, OSError) as exc:
        where = "" if row_group is None else f"row group {row_group}, "
        reason = f"file ends early or is damaged after row {rows.number} ({where}{exc})"
        place = "" if row_group is None else f"group{row_group}"
        yield ScanItem(
            f"{file}#{place}", source, error=ItemError(ItemErrorCode.CORRUPT_PARQUET, reason)
        )


class _Rows:
    """Reads row groups of one file into items, under the size limits."""

    def __init__(
        self,
        file: Path,
        source: str,
        image_column: str,
        id_column: str | None,
        settings: Settings,
    ) -> None:
        self.file, self.source = file, source
        self.image_column, self.id_column = image_column, id_column
        self.limit = settings.max_file_bytes
        #: Rows of the file before the next one read.
        self.number = 0

    def leaves(self, table: pq.ParquetFile) -> list[str]:
        """Stored columns holding the image bytes: the column, or its ``bytes`` field."""
        wanted = {self.image_column, f"{self.image_column}.bytes"}
        schema = table.metadata.schema
        return [
            schema.column(i).path for i in range(len(schema)) if schema.column(i).path in wanted
        ]

    def group(self, reader: pq.ParquetFile, group: int) -> Iterator[ScanItem]:
        meta = reader.metadata.row_group(group)
        chunks = [
            meta.column(i)
            for i in range(meta.num_columns)
            if meta.column(i).path_in_schema in self.leaves(reader)
        ]
        problem = self._oversized_page(chunks)
        if problem is not None:
            yield from self._refused(reader, group, meta.num_rows, problem)
            return
        stored = sum(chunk.total_uncompressed_size for chunk in chunks)
        per_row = max(1, stored // max(meta.num_rows, 1))
        batch_rows = max(1, min(BATCH_ROWS, BATCH_BYTES // per_row))
        columns = [self.image_column] + ([self.id_column] if self.id_column else [])
        for batch in reader.iter_batches(batch_rows, row_groups=[group], columns=columns):
            images = batch.column(self.image_column)
            ids = batch.column(self.id_column).to_pylist() if self.id_column else None
            for offset in range(batch.num_rows):
                label = ids[offset] if ids is not None else self.number
                yield self._item(self._row(label), images[offset])
                self.number += 1

    def _oversized_page(self, chunks: list[pq.ColumnChunkMetaData]) -> ItemError | None:
        """Why the row group's image pages cannot be decoded within the limit, if so."""
        try:
            with self.file.open("rb") as raw:
                for chunk in chunks:
                    start = chunk.data_page_offset
                    if chunk.has_dictionary_page and chunk.dictionary_page_offset:
                        start = min(start, chunk.dictionary_page_offset)
                    for page in column_pages(raw, start, chunk.total_compressed_size):
                        if page.uncompressed_size > self.limit:
                            kind = "dictionary page" if page.dictionary else "page"
                            return ItemError(
                                FileTooLarge.code,
                                f"a {kind} of {page.values:,} image cells decodes to "
                                f"{page.uncompressed_size:,} bytes, over the limit of "
                                f"{self.limit:,} (BASTION_MAX_FILE_BYTES); its row group "
                                "was not read",
                            )
        except PageHeaderError as exc:
            return ItemError(ItemErrorCode.CORRUPT_PARQUET, f"the image column's pages: {exc}")
        return None

    def _refused(
        self, reader: pq.ParquetFile, group: int, count: int, problem: ItemError
    ) -> Iterator[ScanItem]:
        """An error row for every row of a row group that is not read."""
        labels: list[object] = list(range(self.number, self.number + count))
        if self.id_column:
            labels = reader.read_row_group(group, columns=[self.id_column]).column(0).to_pylist()
        for label in labels:
            here = self._row(label)
            yield here if here.error else replace(here, error=problem)
            self.number += 1

    def _row(self, label: object) -> ScanItem:
        """The row's place (file, id, position), or its ``null-id`` error.

        A row without an id cannot be dropped by any loader going by id, so
        it is never passed as checked (``bastion filter`` goes by position).
        """
        here = ScanItem(
            f"{self.file}#{label}",
            self.source,
            container=str(self.file),
            key=str(label),
            position=self.number,
        )
        if label is None:
            problem = ItemError(
                ItemErrorCode.NULL_ID, f"row {self.number} has no {self.id_column!r}"
            )
            return replace(
                here, item_id=f"{self.file}#<row {self.number}>", key=None, error=problem
            )
        return here

    def _item(self, here: ScanItem, cell: pa.Scalar) -> ScanItem:
        """The row's image bytes as an item (copied out of the batch one row at a time)."""
        if here.error:
            return here
        if isinstance(cell, pa.StructScalar):
            cell = cell["bytes"] if "bytes" in cell else pa.scalar(None)
        if isinstance(cell, pa.DictionaryScalar):
            cell = cell.value if cell.is_valid else pa.scalar(None)
        if not cell.is_valid or not isinstance(cell, pa.BinaryScalar | pa.LargeBinaryScalar):
            problem = ItemError(ItemErrorCode.MISSING_IMAGE, "the image column is empty here")
            return replace(here, error=problem)
        # No cell is larger than its page, which was checked against the limit.
        return replace(here, data=cell.as_py(), expect_image=True)


def _rows_before(table: pq.ParquetFile, row_group: int) -> int:
    return sum(table.metadata.row_group(g).num_rows for g in range(row_group))
