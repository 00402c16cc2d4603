"""Other systems' hash-list languages, imported and exported as streams."""

from __future__ import annotations

from bastion.formats.csv_format import CsvFormat
from bastion.formats.detect import detect_format
from bastion.formats.ncmec import NcmecFormat
from bastion.formats.records import FormatError, ListFormat
from bastion.formats.stopncii import StopNciiFormat
from bastion.formats.te import TeFormat
from bastion.formats.vics import VicsFormat

FORMATS: dict[str, ListFormat] = {
    f.name: f for f in (CsvFormat(), TeFormat(), VicsFormat(), NcmecFormat(), StopNciiFormat())
}


def get_format(name: str) -> ListFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise FormatError(f"unknown format {name!r} (known: {', '.join(FORMATS)})") from None


__all__ = ["FORMATS", "FormatError", "ListFormat", "detect_format", "get_format"]
