"""Rows of results, written as a terminal table or for machines (JSONL, CSV, TE).

Machine formats stream one row at a time to stdout; only the table, meant
for a person at a terminal, waits for all rows.  Its cells are Rich
``Text``, never markup: a file named ``[bold]x.jpg`` or a label ``[v2]`` is
shown as written.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bastion.errors import ItemErrorCode
from bastion.fingerprint import Fingerprint, ItemError, Signal
from bastion.formats.te import format_signals
from bastion.matching.match import Match
from bastion.pipeline import ScanResult
from bastion.signals.pdq import DIHEDRAL_NAMES
from bastion.signals.vpdq import to_meta_text


class OutputFormat(StrEnum):
    TABLE = "table"
    JSONL = "jsonl"
    CSV = "csv"
    TE = "te"
    #: Meta's vPDQ text (``frame,quality,pdq_hex,timestamp``) of each video.
    VPDQ = "vpdq"


@dataclass(frozen=True, slots=True)
class HashRow:
    """One input item: its fingerprint, or why there is none."""

    path: str
    fingerprint: Fingerprint | None = None
    error: ItemError | None = None
    #: Bank matches, when the row comes from ``bastion match``.
    matches: tuple[Match, ...] | None = None
    #: Why the item was deliberately not hashed (an archive member that is
    #: a link, a nested archive too deep): the reason is its error code.
    skipped: ItemErrorCode | None = None

    @classmethod
    def of(cls, result: ScanResult, *, matches: bool = False) -> HashRow:
        """The row of one pipeline result (``matches``: the row shows them)."""
        return cls(
            result.item_id,
            result.fingerprint,
            result.error,
            result.matches if matches else None,
            result.skip_reason,
        )

    @property
    def problem(self) -> ItemError | None:
        if self.error is not None:
            return self.error
        if self.skipped is not None:
            return ItemError(self.skipped, "not hashed: skipped")
        return self.fingerprint.error if self.fingerprint else None

    @property
    def status(self) -> str:
        if self.skipped is not None:
            return "skipped"
        return "error" if self.problem else "ok"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "status": self.status}
        if self.fingerprint is not None:
            out.update(self.fingerprint.to_dict())
        problem = self.problem
        out["error_code"] = problem.code if problem else None
        out["error"] = problem.message if problem else None
        if self.matches is not None:
            out["matches"] = [found.to_dict() for found in self.matches]
        return out


_CSV_COLUMNS = [
    "path",
    "status",
    "media_type",
    "size",
    "width",
    "height",
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "pdq_quality",
    "low_quality",
    "video_frames",
    "video_duration",
    "error_code",
    "error",
]


class RowWriter:
    """Writes rows in one format to a text stream as they arrive."""

    def __init__(
        self,
        fmt: OutputFormat,
        out: TextIO,
        *,
        dihedral: bool = False,
        matches: bool = False,
        several: bool = False,
    ) -> None:
        self.fmt = fmt
        self.out = out
        #: Whether more than one input may be written (vpdq marks each video).
        self.several = several
        self._videos_written = 0
        self.dihedral = dihedral
        self.matches = matches
        self._table_rows: list[HashRow] = []
        self._csv: Any = None
        if fmt is OutputFormat.CSV:
            columns = _CSV_COLUMNS + (
                [f"pdq_{name}" for name in DIHEDRAL_NAMES[1:]] if dihedral else []
            )
            columns += ["matches"] if matches else []
            self._csv = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
            self._csv.writeheader()

    def write(self, row: HashRow) -> None:
        if self.fmt is OutputFormat.TABLE:
            self._table_rows.append(row)
        elif self.fmt is OutputFormat.JSONL:
            self.out.write(json.dumps(row.to_dict(), separators=(",", ":")) + "\n")
        elif self.fmt is OutputFormat.CSV:
            record = row.to_dict()
            for name, value in (record.pop("pdq_dihedral", None) or {}).items():
                record[f"pdq_{name}"] = value
            video = row.fingerprint.video if row.fingerprint else None
            if video is not None:
                record["video_frames"] = len(video.features)
                record["video_duration"] = video.duration
            if row.matches is not None:
                record["matches"] = " | ".join(_match_text(m) for m in row.matches)
            self._csv.writerow(record)
        elif self.fmt is OutputFormat.VPDQ:
            self._write_vpdq(row)
        elif row.matches is not None:
            matched = {m.signal_type for m in row.matches}
            signals = row.fingerprint.signals if row.fingerprint else ()
            for line in format_signals(s for s in signals if s.type in matched):
                self.out.write(line + "\n")
        elif row.fingerprint is not None:
            variants = [Signal("pdq", v) for v in row.fingerprint.pdq_dihedral[1:]]
            video = row.fingerprint.video
            vpdq = [Signal("vpdq", video.signal_value)] if video and video.features else []
            for line in format_signals([*row.fingerprint.signals, *variants, *vpdq]):
                self.out.write(line + "\n")

    def _write_vpdq(self, row: HashRow) -> None:
        """One video's frames in Meta's format; several videos each under a ``#`` line."""
        video = row.fingerprint.video if row.fingerprint else None
        if video is None:
            return
        if self._videos_written:
            self.out.write("\n")
        if self._videos_written or self.several:
            self.out.write(f"# {row.path}\n")
        self.out.write(to_meta_text(video.features))
        self._videos_written += 1

    def close(self) -> None:
        if self.fmt is OutputFormat.TABLE:
            Console(file=self.out).print(_table(self._table_rows, self.dihedral, self.matches))
        self.out.flush()


def _video_text(fp: Fingerprint) -> Text:
    video = fp.video
    assert video is not None
    every = f"every {video.interval:g} s" if video.interval else "every frame"
    duration = f" of {video.duration:.1f} s" if video.duration else ""
    line = Text(f"vpdq   {len(video.features)} frames{duration} ({every}, {video.codec})")
    if video.stopped:
        line.append(f" {video.stopped}", style="yellow")
    return line


def _match_text(found: Match) -> str:
    labels = ",".join(found.labels) or "-"
    text = f"{found.bank}/{found.entry_id} {found.signal_type} d={found.distance} [{labels}]"
    if found.query_percent is not None:
        text += f" {found.query_percent:.0f}% of frames, {found.entry_percent or 0:.0f}% of entry"
    if found.query_ranges:
        text += " at " + _ranges_text(found.query_ranges)
    if found.entry_ranges:
        text += " (entry " + _ranges_text(found.entry_ranges) + ")"
    return text


def _ranges_text(ranges: tuple[tuple[float, float], ...]) -> str:
    shown = [f"{a:g}s" if a == b else f"{a:g}-{b:g}s" for a, b in ranges[:5]]
    more = f" +{len(ranges) - 5} more" if len(ranges) > 5 else ""
    return ", ".join(shown) + more


def _table(rows: Iterable[HashRow], dihedral: bool, matches: bool) -> Table:
    table = Table(show_lines=True, expand=False)
    table.add_column("file", overflow="fold")
    table.add_column("type")
    table.add_column("hashes", overflow="fold", no_wrap=False)
    table.add_column("pdq quality", justify="right")
    if matches:
        table.add_column("matches (bank/entry signal distance [labels])", overflow="fold")
    for row in rows:
        fp = row.fingerprint
        problem = row.problem
        lines = [Text(f"{s.type:<6} {s.value}") for s in fp.signals] if fp else []
        if fp and fp.video is not None:
            lines.append(_video_text(fp))
        if fp and dihedral:
            lines += [
                Text(f"{n:<10} {v}")
                for n, v in zip(DIHEDRAL_NAMES[1:], fp.pdq_dihedral[1:], strict=True)
            ]
        if problem:
            lines.append(Text.assemble((problem.code, "red"), f": {problem.message}"))
        quality = Text()
        if fp and fp.pdq_quality is not None:
            quality.append(f"{fp.pdq_quality}")
            if fp.low_quality:
                quality.append(" (low)", style="yellow")
        cells = [Text(row.path), Text(fp.media_type if fp else ""), Text("\n").join(lines), quality]
        if matches:
            found = [Text(_match_text(m)) for m in row.matches or ()]
            cells.append(Text("\n").join(found) if found else Text("none", style="dim"))
        table.add_row(*cells)
    return table
