"""CSV: ``signal_type,value,labels[,external_id]``, labels separated by ``;``.

The simplest list to write by hand or from a spreadsheet.  A header row is
optional; with one, columns may come in any order.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from bastion.formats.records import (
    ExportEntry,
    ExportReport,
    FormatError,
    ReadItem,
    Reject,
    make_record,
)
from bastion.labels import format_labels

COLUMNS = ("signal_type", "value", "labels", "external_id")


class CsvFormat:
    name = "csv"
    description = "signal_type,value,labels,external_id (labels separated by ';')"

    def read(self, stream: BinaryIO) -> Iterator[ReadItem]:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
        columns: tuple[str, ...] = COLUMNS
        for line, row in _numbered_rows(text):
            location = f"line {line}"
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if line == 1 and row[0].strip().lower() == "signal_type":
                columns = tuple(cell.strip().lower() for cell in row)
                missing = {"signal_type", "value"} - set(columns)
                if missing:
                    yield Reject(location, f"header lacks {', '.join(sorted(missing))}")
                    return
                continue
            if len(row) > len(columns):
                yield Reject(location, f"{len(row)} fields, at most {len(columns)} expected")
                continue
            cells = dict(zip(columns, (cell.strip() for cell in row), strict=False))
            if not cells.get("value"):
                yield Reject(location, "no value")
                continue
            yield make_record(
                location,
                cells.get("signal_type", ""),
                cells["value"],
                cells.get("labels", "").split(";"),
                external_id=cells.get("external_id") or None,
            )

    def write(self, entries: Iterable[ExportEntry], out: BinaryIO) -> ExportReport:
        report = ExportReport()
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(COLUMNS)
        for entry in entries:
            if entry.withdrawn:
                report.skip("withdrawn")
                continue
            writer.writerow(
                (
                    entry.signal.type,
                    entry.signal.value,
                    format_labels(entry.labels),
                    entry.external_id or "",
                )
            )
            report.written += 1
        text.flush()
        text.detach()
        return report


def _numbered_rows(text: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """``(line number, row)``; a row the csv module refuses ends the document."""
    rows = csv.reader(text)
    try:
        for row in rows:
            yield rows.line_num, row
    except csv.Error as exc:
        # A field over csv.field_size_limit() (no hash is that long), a NUL
        # byte ...: no row after it can be trusted to start where it should.
        raise FormatError(f"not a readable CSV file at line {rows.line_num}: {exc}") from None
