"""Parquet datasets with the image bytes in a column (LAION-style, Hugging Face style).

Rows are read a record batch at a time.  The image column may hold bytes, or
a struct with a ``bytes`` field (what ``datasets`` writes).  Ids come from
``--id-column`` (``file#<id>``) or the row number (``file#<row>``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bastion.fingerprint import ItemError
from bastion.scan.items import ScanItem

BATCH_ROWS = 256


def parquet_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*.parquet") if p.is_file())
    return [path]


def count_rows(path: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in parquet_files(path))


def _image_bytes(value: Any) -> bytes | None:
    if isinstance(value, dict):
        value = value.get("bytes")
    return value if isinstance(value, bytes) else None


def iter_parquet(
    path: Path, source: str, image_column: str, id_column: str | None
) -> Iterator[ScanItem]:
    for file in parquet_files(path):
        try:
            table = pq.ParquetFile(file)
            names = table.schema_arrow.names
        except (pa.ArrowException, OSError) as exc:
            yield ScanItem(str(file), source, error=ItemError("corrupt-parquet", str(exc)))
            continue
        missing = [c for c in (image_column, id_column) if c and c not in names]
        if missing:
            reason = f"no column {missing[0]!r} (columns: {', '.join(names)})"
            yield ScanItem(str(file), source, error=ItemError("missing-column", reason))
            continue
        columns = [image_column] + ([id_column] if id_column else [])
        row = 0
        try:
            for batch in table.iter_batches(batch_size=BATCH_ROWS, columns=columns):
                images = batch.column(image_column).to_pylist()
                ids = batch.column(id_column).to_pylist() if id_column else None
                for offset, value in enumerate(images):
                    label = ids[offset] if ids is not None else row
                    item_id = f"{file}#{label}"
                    data = _image_bytes(value)
                    if data is None:
                        problem = ItemError("missing-image", "the image column is empty here")
                        yield ScanItem(item_id, source, error=problem)
                    else:
                        yield ScanItem(item_id, source, data=data, expect_image=True)
                    row += 1
        except (pa.ArrowException, OSError) as exc:
            reason = f"file ends early or is damaged after row {row}: {exc}"
            yield ScanItem(f"{file}#", source, error=ItemError("corrupt-parquet", reason))
