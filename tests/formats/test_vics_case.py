"""A case's VICS 2.0 export: read back by Bastion, shaped like the case files other tools write."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.fingerprint import Signal
from bastion.formats.detect import detect_format
from bastion.formats.records import DocumentVersion, FormatError, ReadItem, Record
from bastion.formats.vics import CaseMedia, VicsFormat, write_case_media
from bastion.labels import normalize_labels
from tests.formats.samples import rand_hex

MD5_A, MD5_B, MD5_C = rand_hex(32), rand_hex(32), rand_hex(32)
SHA1_A, SHA1_C = rand_hex(40), rand_hex(40)

# Case files written from the VICS 2.0 data model: a case in `value`, its
# Media nested with each file they were found as under MediaFiles; Category an
# integer, flags JSON booleans, Tags one comma-separated string.
CASE_DOCUMENTS = [
    f"""{{
  "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Cases",
  "value": [{{
    "CaseID": "0b7c5d2e-7f1a-4c3e-9a51-3f2d1e0c9b8a",
    "CaseNumber": "placeholder-case-7",
    "SourceApplicationName": "placeholder-app",
    "SourceApplicationVersion": "4.2",
    "Media": [
      {{"MediaID": 1, "Category": 2, "MD5": "{MD5_A.upper()}", "SHA1": "{SHA1_A.upper()}",
        "MediaSize": 48213, "RelativeFilePath": "Evidence\\\\DCIM\\\\IMG_0001.jpg",
        "IsDistributed": true, "VictimIdentified": false, "Series": "placeholder-series",
        "IsPrecategorized": true, "Tags": "alpha,beta gamma", "Comments": "seen twice",
        "MimeType": "image/jpeg", "DateUpdated": "2026-03-01T10:00:00Z",
        "MediaFiles": [
          {{"MD5": "{MD5_A.upper()}", "FileName": "IMG_0001.jpg",
            "FilePath": "Evidence\\\\DCIM\\\\IMG_0001.jpg", "Created": "2025-12-24T08:00:00Z",
            "Unallocated": false}},
          {{"MD5": "{MD5_A.upper()}", "FileName": "copy.jpg", "FilePath": "Evidence\\\\copy.jpg"}}
        ]}},
      {{"MediaID": 2, "MD5": "{MD5_B.upper()}", "MediaSize": 1200,
        "RelativeFilePath": "Evidence\\\\Downloads\\\\b.png", "IsDistributed": false,
        "MediaFiles": [{{"MD5": "{MD5_B.upper()}", "FileName": "b.png",
                        "FilePath": "Evidence\\\\Downloads\\\\b.png"}}]}}
    ]
  }}]
}}""",
    f"""{{
  "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases",
  "value": [{{
    "CaseNumber": "placeholder-case-8",
    "Media": [
      {{"MediaID": 30, "Category": 0, "MD5": "{MD5_C}", "SHA1": "{SHA1_C}", "MediaSize": 7,
        "RelativeFilePath": "Карта/фото.jpg", "VictimIdentified": true, "Tags": "δ",
        "MediaFiles": [{{"MD5": "{MD5_C}", "FileName": "фото.jpg", "FilePath": "Карта/фото.jpg"}}]}}
    ],
    "SourceApplicationName": "placeholder-app"
  }}]
}}""",
]


def read(document: bytes) -> list[ReadItem]:
    return list(VicsFormat().read(io.BytesIO(document)))


def by_item(items: list[ReadItem]) -> dict[str | None, set[tuple[Signal | None, tuple[str, ...]]]]:
    found: dict[str | None, set[tuple[Signal | None, tuple[str, ...]]]] = defaultdict(set)
    for item in items:
        if isinstance(item, Record):
            found[item.external_id].add((item.signal, item.labels))
    return dict(found)


def export(media: list[CaseMedia], case_name: str | None = "case-1") -> bytes:
    out = io.BytesIO()
    assert write_case_media(media, out, case_name=case_name) == len(media)
    return out.getvalue()


def test_hand_written_case_files_read_once_per_hash() -> None:
    first, second = (read(doc.encode()) for doc in CASE_DOCUMENTS)
    assert not [item for item in first + second if not isinstance(item, Record | DocumentVersion)]
    labels_1 = ("alpha", "beta gamma", "projectvic:2", "series:placeholder-series")
    assert by_item(first) == {
        # Each file of a Media repeats its MD5: one record per hash, not per file.
        "1": {(Signal("md5", MD5_A), labels_1), (Signal("sha1", SHA1_A), labels_1)},
        "2": {(Signal("md5", MD5_B), ())},
    }
    labels_30 = ("projectvic:0", "victim-identified", "δ")
    assert by_item(second) == {
        "30": {(Signal("md5", MD5_C), labels_30), (Signal("sha1", SHA1_C), labels_30)}
    }
    assert sum(isinstance(item, Record) for item in first) == 3


def _types(objects: list[dict[str, Any]]) -> dict[str, set[type]]:
    types: dict[str, set[type]] = defaultdict(set)
    for obj in objects:
        for key, value in obj.items():
            types[key].add(type(value))
    return dict(types)


def _shape(document: dict[str, Any]) -> tuple[list[dict[str, Any]], ...]:
    """(top level, cases, media, media files) of a case file."""
    cases = document["value"]
    media = [item for case in cases for item in case["Media"]]
    files = [copy for item in media for copy in item["MediaFiles"]]
    return [document], cases, media, files


def test_export_has_the_keys_and_types_of_hand_written_case_files() -> None:
    exported = json.loads(
        export(
            [
                CaseMedia(
                    1,
                    MD5_A,
                    SHA1_A,
                    2,
                    48213,
                    "DCIM/IMG_0001.jpg",
                    "IMG_0001.jpg",
                    True,
                    ("alpha", "beta gamma"),
                    victim_identified=False,
                    series="s",
                    is_precategorized=True,
                    comments="seen twice",
                ),
                CaseMedia(2, MD5_B, None, None, None, "b.png", "b.png", None),
            ]
        )
    )
    spec = [_shape(json.loads(doc)) for doc in CASE_DOCUMENTS]
    for level, got in enumerate(_shape(exported)):
        expected = _types([obj for document in spec for obj in document[level]])
        got_types = _types(got)
        assert set(got_types) <= set(expected), f"level {level}: keys not in VICS case files"
        for key, types in got_types.items():
            assert types <= expected[key], f"level {level}: {key} is {types}, not {expected[key]}"
    media = exported["value"][0]["Media"]
    assert "Category" not in media[1]  # not categorised is not "0 Uncategorized"
    assert media[0]["Tags"] == "alpha,beta gamma"
    assert exported["value"][0]["CaseNumber"] == "case-1"


def test_an_empty_case_is_a_valid_case_file() -> None:
    for case_name in (None, "empty"):
        document = export([], case_name)
        parsed = json.loads(document)
        assert parsed["value"][0]["Media"] == []
        assert ("CaseNumber" in parsed["value"][0]) == (case_name is not None)
        items = read(document)
        assert items == [DocumentVersion(parsed["@odata.context"])]
        assert detect_format(document) == "vics"


# Tags of any characters a label may hold, but the separators (";" between
# Bastion's labels, "," between VICS tags) and ":" (which would make some of
# them category labels of a known scheme).
_TAG_TEXT = st.text(
    st.characters(exclude_categories=("Cs", "Cc"), exclude_characters=";,:"),
    min_size=1,
    max_size=30,
).filter(lambda tag: bool(tag.strip()) and tag.strip() != "victim-identified")
_PATH_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60)


def _hex(digits: int) -> st.SearchStrategy[str]:
    return st.text("0123456789abcdef", min_size=digits, max_size=digits)


@st.composite
def case_media(draw: st.DrawFn, media_id: int) -> CaseMedia:
    has_md5, has_sha1 = draw(st.sampled_from([(True, False), (False, True), (True, True)]))
    md5 = draw(_hex(32)) if has_md5 else None
    sha1 = draw(_hex(40)) if has_sha1 else None
    series = draw(st.none() | _TAG_TEXT.map(str.strip))
    return CaseMedia(
        media_id=media_id,
        md5=md5.upper() if md5 and draw(st.booleans()) else md5,
        sha1=sha1,
        category=draw(st.none() | st.integers(0, 4)),
        media_size=draw(st.none() | st.integers(0, 2**40)),
        relative_file_path=draw(_PATH_TEXT),
        file_name=draw(_PATH_TEXT),
        is_distributed=draw(st.none() | st.booleans()),
        tags=tuple(draw(st.lists(_TAG_TEXT, max_size=4))),
        victim_identified=draw(st.none() | st.booleans()),
        series=series,
        comments=draw(st.none() | _PATH_TEXT),
    )


cases = st.integers(0, 12).flatmap(
    lambda n: st.tuples(*(case_media(media_id) for media_id in range(1, n + 1)))
)


def _labels(media: CaseMedia) -> tuple[str, ...]:
    fields = [
        f"projectvic:{media.category}" if media.category is not None else "",
        "victim-identified" if media.victim_identified else "",
        f"series:{media.series}" if media.series else "",
    ]
    return normalize_labels([*media.tags, *fields])


@settings(max_examples=60, deadline=None)
@given(cases)
def test_round_trip_through_the_reader(media: tuple[CaseMedia, ...]) -> None:
    document = export(list(media))
    expected = {
        str(item.media_id): {
            (Signal(kind, value.lower()), _labels(item))
            for kind, value in (("md5", item.md5), ("sha1", item.sha1))
            if value is not None
        }
        for item in media
    }
    assert by_item(read(document)) == expected
    written = json.loads(document)["value"][0]["Media"]
    assert [(m["RelativeFilePath"], m["MediaFiles"][0]["FileName"]) for m in written] == [
        (item.relative_file_path, item.file_name) for item in media
    ]
    assert [m.get("Comments") for m in written] == [item.comments for item in media]
    assert [m.get("MediaSize") for m in written] == [item.media_size for item in media]


def test_items_are_written_as_they_come() -> None:
    out = io.BytesIO()

    def items() -> Iterator[CaseMedia]:
        for media_id in range(1, 4):
            if media_id > 1:
                # The previous item is already out before the next is asked for.
                assert f'"MediaID": {media_id - 1},'.encode() in out.getvalue()
            yield CaseMedia(media_id, rand_hex(32), None, 1, 10, f"{media_id}.jpg", "x.jpg", None)

    assert write_case_media(items(), out) == 3


def _media(**changes: Any) -> CaseMedia:
    fields: dict[str, Any] = {
        "media_id": 9,
        "md5": MD5_A,
        "sha1": None,
        "category": 1,
        "media_size": 10,
        "relative_file_path": "a/b.jpg",
        "file_name": "b.jpg",
        "is_distributed": None,
    }
    return CaseMedia(**(fields | changes))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"md5": None}, "neither an MD5 nor a SHA1"),
        ({"md5": MD5_A[:30]}, "32 hex digits"),
        ({"sha1": "z" * 40}, "not hexadecimal"),
        ({"category": 5}, "Project VIC's scale"),
        ({"media_size": -1}, "negative"),
        ({"tags": ("one, two",)}, "contains a comma"),
        ({"tags": ("a;b",)}, "without ';'"),
        ({"tags": (" ",)}, "1-200 characters"),
        ({"tags": ("ProjectVIC:3",)}, "a VICS field of its own"),
        ({"tags": ("victim-identified",)}, "a VICS field of its own"),
        ({"tags": ("series:x",)}, "a VICS field of its own"),
        ({"tags": ("ncmec:Z9",)}, "unknown ncmec category"),
        ({"series": "a;b"}, "series:"),
        ({"relative_file_path": "a/\udcff.jpg"}, "undecodable bytes"),
    ],
)
def test_what_vics_cannot_express_is_refused_naming_the_item(
    changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(FormatError, match="case item 9") as raised:
        _media(**changes)
    assert reason in str(raised.value)


def test_a_case_name_that_is_not_text_is_refused() -> None:
    with pytest.raises(FormatError, match="undecodable"):
        write_case_media([_media()], io.BytesIO(), case_name="case-\udcff")
