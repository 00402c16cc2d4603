"""A hostile list document stops its import with a FormatError, never a traceback."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.formats import FORMATS, get_format
from bastion.formats.records import FormatError, ReadItem, Record

MD5 = "0123456789abcdef0123456789abcdef"


def read(fmt: str, document: bytes) -> list[ReadItem]:
    return list(get_format(fmt).read(io.BytesIO(document)))


@pytest.mark.parametrize(
    ("declared", "reason"),
    [("x-unknown", "unknown encoding"), ("utf-32", "multi-byte"), ("cp932", "multi-byte")],
)
def test_xml_in_an_encoding_expat_cannot_read(declared: str, reason: str) -> None:
    document = f'<?xml version="1.0" encoding="{declared}"?><queryResult/>'.encode()
    with pytest.raises(FormatError, match=reason):
        read("ncmec", document)


def test_entry_nested_one_level_too_deep_is_still_read() -> None:
    entry = f"<image><id>7</id><fingerprints><md5>{MD5}</md5></fingerprints></image>"
    document = f"<queryResult><images><page>{entry}</page>{entry}</images></queryResult>"
    items = read("ncmec", document.encode())
    assert [
        (i.external_id, i.signal and i.signal.value) for i in items if isinstance(i, Record)
    ] == [
        ("7", MD5),
        ("7", MD5),
    ]


@pytest.mark.parametrize("bad", [b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80"])
def test_invalid_utf8_in_a_json_string(bad: bytes) -> None:
    with pytest.raises(FormatError, match="UTF-8"):
        read("vics", b'{"value": [{"MD5": "' + bad + b'"}]}')
    with pytest.raises(FormatError, match="UTF-8"):
        read("stopncii", b'[{"signalType": "' + bad + b'"}]')


def test_csv_field_over_the_csv_modules_limit_names_its_line() -> None:
    document = f"md5,{MD5}\nmd5,{'a' * 200_000}\n".encode()
    with pytest.raises(FormatError, match="line 2"):
        read("csv", document)


#: Document openings that steer random bytes into each parser's deeper states.
_PREFIXES = [
    b"",
    b'<?xml version="1.0"?><queryResult><images><image><id>1</id><fingerprints>',
    b'{"value": [{"MD5": "',
    b'{"hashRecords": [{"signalType": "ImagePDQ", "hashValue": "',
    b"signal_type,value,labels\n",
    b"pdq ",
]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(_PREFIXES), tail=st.binary(max_size=300))
def test_any_bytes_give_items_or_a_format_error(fmt: str, prefix: bytes, tail: bytes) -> None:
    with contextlib.suppress(FormatError):  # anything else fails the test
        read(fmt, prefix + tail)


@pytest.mark.parametrize(
    ("field", "reason"), [('"Tags": 5', "Tags"), ('"MediaFiles": 5', "MediaFiles")]
)
def test_vics_media_item_with_a_field_of_the_wrong_shape_is_rejected(
    field: str, reason: str
) -> None:
    document = f'{{"value": [{{"MediaID": 1, "MD5": "{MD5}", {field}}}, {{"MD5": "{MD5}"}}]}}'
    items = read("vics", document.encode())
    assert [type(item).__name__ for item in items] == ["Reject", "Record"]
    assert reason in items[0].reason  # type: ignore[union-attr]
