"""A list's format is told from its first bytes; a document that fits none is refused."""

from __future__ import annotations

import io

import pytest

from bastion.fingerprint import Signal
from bastion.formats import FORMATS, detect_format
from bastion.formats.records import ExportEntry, FormatError
from tests.formats import samples as s

STOPNCII_ARRAY = f'[{{"signalType": "ImagePDQ", "hashValue": "{s.PDQ_A}"}}]'
STOPNCII_COUNT_FIRST = '{"count": 1, "nextPageToken": null, "hashRecords": []}'


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (s.NCMEC_XML, "ncmec"),
        (s.NCMEC_XML.split("\n", 1)[1], "ncmec"),  # no XML declaration
        ("<!-- a comment -->\n<ns:queryResult xmlns:ns='x'/>", "ncmec"),
        (s.VICS_2_0, "vics"),
        (s.VICS_1_3_CASE, "vics"),
        (s.STOPNCII_JSON, "stopncii"),
        (STOPNCII_ARRAY, "stopncii"),
        (STOPNCII_COUNT_FIRST, "stopncii"),
        (s.CSV_DOC, "csv"),
        (f"\ufeff# made by hand\nmd5,{s.MD5_A},iwf:A\n", "csv"),
        (f'"signal_type","value"\nmd5,{s.MD5_A}\n', "csv"),
        (s.TE_DOC, "te"),
        (f"PDQ {s.PDQ_A} tag,with,commas\n", "te"),
    ],
)
def test_samples_are_recognised(document: str, expected: str) -> None:
    assert detect_format(document.encode()) == expected


def test_only_the_head_is_needed() -> None:
    assert detect_format(s.VICS_2_0.encode()[:40]) == "vics"
    assert detect_format(s.STOPNCII_JSON.encode()[:60]) == "stopncii"


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_export_is_recognised_as_its_format(name: str) -> None:
    entries = [
        ExportEntry(Signal("md5", s.MD5_A), ("ncmec:A1",), "item-1"),
        ExportEntry(Signal("pdq", s.PDQ_A), (), "item-1"),
    ]
    out = io.BytesIO()
    FORMATS[name].write(entries, out)
    assert detect_format(out.getvalue()) == name


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("", "empty"),
        ("  \n\n", "empty"),
        ("<html><body>not a list</body></html>", "root element <html>"),
        ('{"results": [1, 2]}', "keys seen 'results'"),
        ("[1, 2, 3]", "keys seen none"),
        ("hello world\n", "first row 'hello world'"),
        ("name,size\nphoto.jpg,12\n", "first row 'name,size'"),
    ],
)
def test_unknown_documents_are_refused_with_the_reason(document: str, reason: str) -> None:
    with pytest.raises(FormatError) as error:
        detect_format(document.encode())
    assert reason in str(error.value)
