"""ThreatExchange / Hasher-Matcher-Actioner text format: ``<signal type> <value>``.

One signal per line, the way ``threatexchange hash`` prints and HMA imports
them, so Bastion output can be piped straight into Meta's tools.  On import,
words after the value are taken as labels; ``#`` starts a comment.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from bastion.fingerprint import Signal
from bastion.formats.records import ExportEntry, ExportReport, ReadItem, Reject, make_record

#: What a line of this format cannot hold in a value: its separators.
_UNCARRIED = re.compile(r"[\s#]")


def format_signals(signals: Iterable[Signal]) -> Iterator[str]:
    """Lines ``"pdq <hex>"``, ``"md5 <hex>"`` ... without trailing newlines."""
    for signal in signals:
        yield f"{signal.type} {signal.value}"


class TeFormat:
    name = "te"
    description = "ThreatExchange/HMA text: '<signal type> <value>' per line (labels not kept)"

    def read(self, stream: BinaryIO) -> Iterator[ReadItem]:
        text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace")
        for number, line in enumerate(text, start=1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            location = f"line {number}"
            if len(words) < 2:
                yield Reject(location, "expected '<signal type> <value>'")
                continue
            yield make_record(location, words[0], words[1], words[2:])

    def write(self, entries: Iterable[ExportEntry], out: BinaryIO) -> ExportReport:
        report = ExportReport()
        for entry in entries:
            if entry.withdrawn:
                report.skip("withdrawn")
                continue
            if _UNCARRIED.search(entry.signal.value):
                # Read back, the words after the first would become labels.
                report.skip("value holds whitespace or '#' (use csv)")
                continue
            out.write(f"{entry.signal.type} {entry.signal.value}\n".encode())
            report.written += 1
        return report
