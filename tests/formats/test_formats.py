"""Each list format reads hand-written sample documents and round-trips Bastion's exports."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.fingerprint import Signal
from bastion.formats import FORMATS, get_format
from bastion.formats.records import (
    DocumentVersion,
    ExportEntry,
    FormatError,
    ReadItem,
    Record,
    Reject,
)
from tests.formats import samples as s


def read(fmt: str, document: str | bytes) -> list[ReadItem]:
    raw = document.encode() if isinstance(document, str) else document
    return list(get_format(fmt).read(io.BytesIO(raw)))


def records(items: list[ReadItem]) -> list[Record]:
    return [item for item in items if isinstance(item, Record)]


def rejects(items: list[ReadItem]) -> dict[str, str]:
    return {item.location: item.reason for item in items if isinstance(item, Reject)}


def test_csv_sample() -> None:
    items = read("csv", s.CSV_DOC)
    got = [(r.signal, r.labels) for r in records(items)]
    assert got == [
        (Signal("pdq", s.PDQ_A), ("ncmec:A1", "placeholder tag")),
        (Signal("md5", s.MD5_A), ("iwf:B",)),
        (Signal("sha1", s.SHA1_A), ()),
        (Signal("pdq", s.PDQ_A), ()),  # duplicates are the importer's business
    ]
    problems = rejects(items)
    assert "unknown signal type 'bogus'" in problems["line 6"]
    assert "32 hex digits, got 30" in problems["line 7"]
    assert "unknown ncmec category 'Z9'" in problems["line 9"]


def test_csv_without_header_and_with_too_many_fields() -> None:
    items = read("csv", f"md5,{s.MD5_A},,id-1\nmd5,{s.MD5_B},,id-2,extra\n")
    assert records(items)[0].external_id == "id-1"
    assert "5 fields" in rejects(items)["line 2"]


def test_te_sample() -> None:
    items = read("te", s.TE_DOC)
    assert [(r.signal, r.labels) for r in records(items)] == [
        (Signal("pdq", s.PDQ_A), ()),
        (Signal("md5", s.MD5_A), ("placeholder",)),
    ]
    problems = rejects(items)
    assert "not hexadecimal" in problems["line 4"]
    assert "expected '<signal type> <value>'" in problems["line 6"]


def test_ncmec_sample() -> None:
    items = read("ncmec", s.NCMEC_XML)
    by_location = {r.location: r for r in records(items)}
    # NCMEC's entry ids are unique only per member: the member is part of the key.
    image1 = [r for r in records(items) if r.external_id == "42/image1"]
    assert {r.signal for r in image1} == {
        Signal("md5", s.MD5_A),
        Signal("sha1", s.SHA1_A),
        Signal("pdq", s.PDQ_A),
        Signal("photodna", s.PHOTODNA_A),
    }
    assert all(r.labels == ("ncmec:A1",) for r in image1)
    video = by_location["video[0] id=video1 md5"]
    assert video.signal == Signal("video_md5", s.MD5_V)
    assert video.labels == ("ncmec:A2",)
    tombstone = by_location["deletedImage[0] id=image4"]
    assert (tombstone.signal, tombstone.external_id, tombstone.withdrawn) == (
        None,
        "43/image4",
        True,
    )
    problems = rejects(items)
    assert "'netclean' is not supported" in problems["image[1] id=image2 netclean"]
    assert "'tmk-pdqf' sent only as a link" in problems["video[0] id=video1"]
    assert DocumentVersion("maxTimestamp=2026-10-24T15:20:00Z") in items


def test_vics_2_0_hash_set_keeps_going_past_unknown_fields() -> None:
    items = read("vics", s.VICS_2_0)
    first = [r for r in records(items) if r.external_id == "1"]
    assert {r.signal for r in first} == {Signal("md5", s.MD5_A), Signal("sha1", s.SHA1_A)}
    assert first[0].labels == (
        "alpha",
        "beta",
        "projectvic:1",
        "series:placeholder-series",
        "victim-identified",
    )
    second = {r.signal for r in records(items) if r.external_id == "2"}
    assert second == {Signal("md5", s.MD5_B), Signal("photodna", s.PHOTODNA_A)}
    problems = rejects(items)
    assert "unknown projectvic category '9'" in problems["value[2].MD5"]
    assert "has no MD5, SHA1 or PhotoDNA" in problems["value[3]"]
    assert isinstance(items[0], DocumentVersion)
    assert "2.0.xml" in items[0].value


def test_vics_1_3_case_file_with_nested_media() -> None:
    items = read("vics", s.VICS_1_3_CASE)
    got = {(r.location, r.signal, r.external_id) for r in records(items)}
    assert got == {
        ("value[0].Media[0].MD5", Signal("md5", s.MD5_A), "10"),
        ("value[0].Media[0].SHA1", Signal("sha1", s.SHA1_A), "10"),
        ("value[0].Media[1].MD5", Signal("md5", s.MD5_B), "11"),
    }
    assert not rejects(items)


def test_stopncii_sample() -> None:
    items = read("stopncii", s.STOPNCII_JSON)
    got = [(r.signal, r.withdrawn) for r in records(items)]
    assert got == [
        (Signal("pdq", s.PDQ_A), False),
        (Signal("video_md5", s.MD5_V), False),
        (Signal("pdq", s.PDQ_B), True),
    ]
    assert "'VideoTMK' is not supported" in rejects(items)["hashRecords[3]"]
    assert DocumentVersion("nextSetTimestamp=1795000000") in items


def test_stopncii_bare_array() -> None:
    doc = f'[{{"signalType": "ImagePDQ", "hashValue": "{s.PDQ_A}", "hashStatus": "Deleted"}}]'
    assert [(r.signal, r.withdrawn) for r in records(read("stopncii", doc))] == [
        (Signal("pdq", s.PDQ_A), True)
    ]


@pytest.mark.parametrize(
    ("fmt", "document"),
    [
        ("vics", s.VICS_2_0[: len(s.VICS_2_0) // 2]),
        ("vics", s.VICS_1_3_CASE[:-3]),
        ("stopncii", s.STOPNCII_JSON[:-20]),
        ("stopncii", "{not json"),
        ("ncmec", s.NCMEC_XML[: len(s.NCMEC_XML) // 2]),
        ("ncmec", "<queryResult><images></queryResult>"),
        ("ncmec", '<!DOCTYPE x [<!ENTITY a "aaaa">]><queryResult>&a;</queryResult>'),
    ],
)
def test_broken_documents_are_a_format_error(fmt: str, document: str) -> None:
    with pytest.raises(FormatError):
        read(fmt, document)


class _FailsAfter(io.RawIOBase):
    """A stream that breaks after ``limit`` bytes: readers must have yielded by then."""

    def __init__(self, data: bytes, limit: int) -> None:
        self.data = io.BytesIO(data)
        self.limit = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.data.tell() >= self.limit:
            raise OSError("stream broke")
        chunk = self.data.read(min(len(buffer), 4096))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _big_document(fmt: str, count: int) -> bytes:
    signal_type, digits = ("pdq", 64) if fmt == "stopncii" else ("md5", 32)
    entries = (ExportEntry(Signal(signal_type, f"{i:0{digits}x}")) for i in range(count))
    out = io.BytesIO()
    get_format(fmt).write(entries, out)
    return out.getvalue()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_readers_stream(fmt: str) -> None:
    """The first records arrive long before the document has been read."""
    document = _big_document(fmt, 20_000)
    stream = io.BufferedReader(_FailsAfter(document, len(document) // 4))
    items: Iterator[ReadItem] = get_format(fmt).read(stream)  # type: ignore[arg-type]
    first = [next(items) for _ in range(100)]
    assert sum(isinstance(item, Record) for item in first) >= 99  # VICS states its version first


entries_strategy = st.lists(
    st.builds(
        ExportEntry,
        signal=st.one_of(
            st.builds(
                Signal, st.just("pdq"), st.text("0123456789abcdef", min_size=64, max_size=64)
            ),
            st.builds(
                Signal, st.just("md5"), st.text("0123456789abcdef", min_size=32, max_size=32)
            ),
            st.builds(
                Signal, st.just("sha1"), st.text("0123456789abcdef", min_size=40, max_size=40)
            ),
        ),
        labels=st.sampled_from([(), ("ncmec:A1",), ("iwf:C", "placeholder")]),
        external_id=st.none(),
    ),
    max_size=30,
    unique_by=lambda e: (e.signal.type, e.signal.value),
)


def _round_trip(fmt: str, entries: list[ExportEntry]) -> tuple[list[Record], BinaryIO]:
    out = io.BytesIO()
    report = get_format(fmt).write(entries, out)
    assert report.written + sum(report.skipped.values()) == len(entries)
    out.seek(0)
    return records(list(get_format(fmt).read(out))), out


@settings(max_examples=40, deadline=None)
@given(entries_strategy)
def test_csv_round_trip(entries: list[ExportEntry]) -> None:
    got, _ = _round_trip("csv", entries)
    assert [(r.signal, r.labels) for r in got] == [(e.signal, e.labels) for e in entries]


@settings(max_examples=40, deadline=None)
@given(entries_strategy)
def test_te_round_trip_keeps_signals(entries: list[ExportEntry]) -> None:
    got, _ = _round_trip("te", entries)
    assert [r.signal for r in got] == [e.signal for e in entries]


@settings(max_examples=40, deadline=None)
@given(entries_strategy)
def test_ncmec_round_trip(entries: list[ExportEntry]) -> None:
    got, _ = _round_trip("ncmec", entries)
    expected = {(e.signal, tuple(x for x in e.labels if x.startswith("ncmec:"))) for e in entries}
    assert {(r.signal, r.labels) for r in got} == expected


@settings(max_examples=40, deadline=None)
@given(entries_strategy)
def test_vics_round_trip(entries: list[ExportEntry]) -> None:
    got, _ = _round_trip("vics", entries)
    expected = {(e.signal, e.labels) for e in entries if e.signal.type != "pdq"}
    assert {(r.signal, r.labels) for r in got} == expected


@settings(max_examples=40, deadline=None)
@given(entries_strategy, st.lists(st.booleans(), min_size=30, max_size=30))
def test_stopncii_round_trip_with_tombstones(
    entries: list[ExportEntry], withdrawn: list[bool]
) -> None:
    marked = [ExportEntry(e.signal, (), None, w) for e, w in zip(entries, withdrawn, strict=False)]
    got, _ = _round_trip("stopncii", marked)
    expected = [(e.signal, e.withdrawn) for e in marked if e.signal.type == "pdq"]
    assert [(r.signal, r.withdrawn) for r in got] == expected


def test_ncmec_export_writes_tombstones_and_groups_by_entry_id() -> None:
    entries = [
        ExportEntry(Signal("md5", s.MD5_A), ("ncmec:B1",), "e1"),
        ExportEntry(Signal("pdq", s.PDQ_A), ("ncmec:B1",), "e1"),
        ExportEntry(Signal("video_md5", s.MD5_V), (), "v1"),
        ExportEntry(Signal("md5", s.MD5_B), (), "gone", withdrawn=True),
    ]
    got, out = _round_trip("ncmec", entries)
    text = out.getvalue().decode()  # type: ignore[attr-defined]
    assert text.count("<image>") == 1
    assert "<deletedImage><id>gone</id>" in text
    assert "<video>" in text
    assert {(r.signal, r.external_id, r.withdrawn) for r in got} == {
        (Signal("md5", s.MD5_A), "e1", False),
        (Signal("pdq", s.PDQ_A), "e1", False),
        (Signal("video_md5", s.MD5_V), "v1", False),
        (None, "gone", True),
    }


def test_te_skips_a_term_it_cannot_carry_instead_of_mangling_it() -> None:
    entries = [
        ExportEntry(Signal("text", "marmalade jar"), (), None),
        ExportEntry(Signal("text", "teapot"), (), None),
        ExportEntry(Signal("text", "a#b"), (), None),
    ]
    got, _ = _round_trip("te", entries)
    assert [r.signal for r in got] == [Signal("text", "teapot")]
    report = get_format("te").write(entries, io.BytesIO())
    assert report.skipped == {"value holds whitespace or '#' (use csv)": 2}
