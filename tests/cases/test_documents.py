"""A case's VICS export round-trips through Bastion's VICS importer; its report renders."""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser
from pathlib import Path

from bastion.cases.analysts import Analysts
from bastion.cases.documents import ExportCounts, case_media, report_data
from bastion.cases.reading import CaseReader
from bastion.cases.report import render_report
from bastion.formats.records import Record
from bastion.formats.vics import VicsFormat, write_case_media
from tests.cases.conftest import Built, analyst
from tests.cases.evidence import new_case, scan_into_case


def _decide_first(built: Built, category: str) -> int:
    alice = analyst(built.store, "alice")
    work = Analysts(built.store, built.settings)
    cluster = CaseReader(built.store).page(built.case.name, limit=1).clusters[0].id
    work.claim(built.case.name, cluster, alice)
    work.decide(built.case.name, cluster, category, alice)
    return cluster


def test_vics_export_round_trips_through_the_importer(built: Built) -> None:
    cluster = _decide_first(built, "2")
    counts = ExportCounts()
    out = io.BytesIO()
    written = write_case_media(case_media(built.store, built.case.name, counts), out, case_name="x")
    assert written == counts.written == 10  # the broken file has digests too
    assert counts.left_out == {}
    document = json.loads(out.getvalue())
    media = document["value"][0]["Media"]
    by_path = {m["RelativeFilePath"]: m for m in media}
    assert by_path["camera.jpg"]["Category"] == 2
    assert by_path["copies/camera-copy.jpg"]["Category"] == 2
    assert by_path["known-1.jpg"]["Category"] == 1
    assert by_path["known-1.jpg"]["IsPrecategorized"] is True
    assert "Category" not in by_path["plain.jpg"]
    assert by_path["camera.jpg"]["MediaSize"] == built.evidence.camera.stat().st_size
    records = [r for r in VicsFormat().read(io.BytesIO(out.getvalue())) if isinstance(r, Record)]
    camera = [r for r in records if r.external_id == str(by_path["camera.jpg"]["MediaID"])]
    assert {r.signal.type for r in camera} == {"md5", "sha1"}
    for record in camera:
        assert "projectvic:2" in record.labels
        assert f"cluster:{cluster}" in record.labels
    assert {r.signal.type for r in records} == {"md5", "sha1"}
    assert len({r.external_id for r in records}) == 10


def test_an_ncmec_case_keeps_its_categories_as_tags(built: Built, tmp_path: Path) -> None:
    case = new_case(built.store, tmp_path, "op-ncmec", scheme="ncmec")
    scan_into_case(built.store, built.settings, case, [built.evidence.camera])
    alice = analyst(built.store, "bob")
    work = Analysts(built.store, built.settings)
    cluster = CaseReader(built.store).page("op-ncmec").clusters[0].id
    work.claim("op-ncmec", cluster, alice)
    work.decide("op-ncmec", cluster, "A2", alice)
    out = io.BytesIO()
    write_case_media(case_media(built.store, "op-ncmec", ExportCounts()), out)
    media = json.loads(out.getvalue())["value"][0]["Media"][0]
    assert "Category" not in media
    assert "ncmec:A2" in media["Tags"]


class _Sections(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_report_renders_counts_decisions_and_no_images(built: Built) -> None:
    _decide_first(built, "1")
    data = report_data(built.store, built.case.name)
    assert data.capture_months == [("2019-07", 2)]  # the resized copy lost its EXIF
    assert ("corrupt", 1) in data.unchecked
    assert [d.action for d in data.decisions] == ["categorised"]
    assert {bank.name for bank in data.banks} == {"vic", "other"}
    html = render_report(data)
    parsed = _Sections()
    parsed.feed(html)
    text = " ".join(parsed.text)
    assert "img" not in parsed.tags
    assert "svg" in parsed.tags
    assert "possibly a real child, not yet known" in text
    assert "alice" in text
    assert "corrupt" in text
