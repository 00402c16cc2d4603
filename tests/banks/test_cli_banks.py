"""``bastion bank ...`` and ``bastion match`` end to end (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.banks.helpers import flip_bits
from tests.formats import samples as s
from tests.images import encode, photo_like


def test_bank_lifecycle(bastion, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert bastion("bank", "create", "known", "--description", "placeholder").exit_code == 0
    assert bastion("bank", "create", "fp", "--allowlist", "--pdq-threshold", "10").exit_code == 0
    listing = bastion("bank", "list", "--json")
    assert [json.loads(line)["kind"] for line in listing.stdout.splitlines()] == [
        "allowlist",
        "blocklist",
    ]
    fp = json.loads(listing.stdout.splitlines()[0])
    assert fp == {**fp, "name": "fp", "description": "", "pdq_threshold": 10}
    assert list(fp) == ["name", "kind", "description", "pdq_threshold", "created_at", "active"]

    doc = tmp_path / "list.csv"
    doc.write_text(s.CSV_DOC)
    rejects = tmp_path / "rejects.csv"
    result = bastion("bank", "import", "known", str(doc), "--rejects", str(rejects))
    assert result.exit_code == 1, result.output  # rows were rejected
    assert "3 added" in result.stderr
    assert "4 rejected" in result.stderr
    rows = list(csv.DictReader(rejects.open()))
    assert sorted(r["location"] for r in rows) == ["line 6", "line 7", "line 8", "line 9"]

    again = bastion("bank", "import", "known", str(doc), "--dry-run")
    assert "0 added" in again.stderr
    assert "dry run" in again.stderr

    shown = json.loads(bastion("bank", "show", "known", "--json").stdout)
    assert shown["active"] == 3
    assert shown["by_signal_type"] == {"md5": 1, "pdq": 1, "sha1": 1}
    assert shown["last_import"]["source"] == "list.csv"

    exported = bastion("bank", "export", "known", "--format", "te")
    assert exported.exit_code == 0
    assert f"pdq {s.PDQ_A}" in exported.stdout.splitlines()

    assert bastion("bank", "remove", "known", f"md5:{s.MD5_A}").exit_code == 0
    assert bastion("bank", "remove", "known", f"md5:{s.MD5_A}").exit_code == 1
    assert bastion("bank", "delete", "known", input="n\n").exit_code == 1
    assert bastion("bank", "delete", "known", "--yes").exit_code == 0
    assert "no bank named 'known'" in bastion("bank", "show", "known").stderr


def test_clear_errors(bastion, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad_name = bastion("bank", "create", "../escape")
    assert bad_name.exit_code == 2
    assert "invalid bank name" in bad_name.stderr
    doc = tmp_path / "broken.xml"
    doc.write_text(s.NCMEC_XML[:300])
    bastion("bank", "create", "known")
    broken = bastion("bank", "import", "known", str(doc), "--format", "ncmec")
    assert broken.exit_code == 2
    assert "not a well-formed NCMEC XML" in broken.stderr
    assert "0 active entries" in bastion("bank", "show", "known").stdout
    unknown = bastion("bank", "import", "known", str(doc), "--format", "nope")
    assert unknown.exit_code == 2
    assert "unknown format 'nope'" in unknown.stderr
    bad_hash = bastion("match", "--hash", "pdq:1234")
    assert bad_hash.exit_code == 2
    assert "64 hex digits" in bad_hash.stderr


def test_match_files_and_hashes(bastion, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    image = tmp_path / "photo.jpg"
    image.write_bytes(encode(photo_like(320, 240, 4), "JPEG"))
    other = tmp_path / "other.png"
    other.write_bytes(encode(photo_like(320, 240, 5), "PNG"))
    bastion("bank", "create", "known")
    added = bastion("bank", "add", "known", str(image), "--label", "ncmec:A2")
    assert added.exit_code == 0, added.output
    assert "4 added" in added.stderr  # md5, sha1, sha256, pdq

    result = bastion("match", "-f", "jsonl", str(image), str(other))
    assert result.exit_code == 0, result.output
    rows = {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    matched = rows["photo.jpg"]["matches"]
    assert {m["signal_type"] for m in matched} == {"md5", "sha1", "sha256", "pdq"}
    assert all(m["bank"] == "known" and m["labels"] == ["ncmec:A2"] for m in matched)
    assert rows["other.png"]["matches"] == []

    pdq = rows["photo.jpg"]["pdq"]
    near = bastion("match", "-f", "jsonl", "--hash", f"pdq:{flip_bits(pdq, 12)}")
    [row] = map(json.loads, near.stdout.splitlines())
    assert [(m["signal_type"], m["distance"]) for m in row["matches"]] == [("pdq", 12)]

    table = bastion("match", str(image))
    assert "known/" in table.stdout
    assert "d=0" in table.stdout

    as_csv = bastion("match", "-f", "csv", str(image))
    [record] = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert record["matches"].count("known/") == 4

    bastion("bank", "create", "fp", "--allowlist")
    bastion("bank", "add", "fp", f"sha256:{rows['photo.jpg']['sha256']}")
    suppressed = bastion("match", "-f", "jsonl", str(image))
    assert json.loads(suppressed.stdout)["matches"] == []
    assert "4 matches suppressed by allowlist" in suppressed.stderr


@pytest.mark.parametrize(
    ("name", "document", "expected"),
    [
        ("feed.xml", s.NCMEC_XML, "ncmec"),
        ("set.json", s.VICS_2_0, "vics"),
        ("records.json", s.STOPNCII_JSON, "stopncii"),
        ("hashes.txt", s.TE_DOC, "te"),
        ("list.csv", s.CSV_DOC, "csv"),
    ],
)
def test_import_infers_the_format(  # type: ignore[no-untyped-def]
    bastion, tmp_path: Path, name: str, document: str, expected: str
) -> None:
    bastion("bank", "create", "known")
    path = tmp_path / name
    path.write_text(document)
    result = bastion("bank", "import", "known", str(path))
    assert f"format: {expected} (detected" in result.stderr
    assert result.exit_code == 1, result.output  # every sample has a rejected row
    shown = json.loads(bastion("bank", "show", "known", "--json").stdout)
    assert shown["last_import"]["format"] == expected
    assert shown["active"] > 0


def test_import_exit_codes(bastion, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bastion("bank", "create", "known")
    clean = tmp_path / "clean.txt"
    clean.write_text(f"md5 {s.MD5_A}\npdq {s.PDQ_A}\n")
    assert bastion("bank", "import", "known", str(clean)).exit_code == 0
    unknown = tmp_path / "notes.txt"
    unknown.write_text("dear diary\n")
    refused = bastion("bank", "import", "known", str(unknown))
    assert refused.exit_code == 2
    assert "cannot tell the list format" in refused.stderr
    useless = tmp_path / "useless.txt"
    useless.write_text("md5 xyz\nmd5 123\n")
    failed = bastion("bank", "import", "known", str(useless))
    assert failed.exit_code == 2
    assert "none of its 2 rows could be used as te" in failed.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text("signal_type,value\n")
    assert bastion("bank", "import", "known", str(empty), "-f", "csv").exit_code == 2
    shown = json.loads(bastion("bank", "show", "known", "--json").stdout)
    assert (shown["imports"], shown["last_import"]["source"]) == (1, "clean.txt")


def test_import_merges_labels_per_source(  # type: ignore[no-untyped-def]
    bastion, tmp_path: Path
) -> None:
    bastion("bank", "create", "known")
    first = tmp_path / "feed-day1.csv"
    first.write_text(f"md5,{s.MD5_A},ncmec:A1\n")
    other = tmp_path / "other.csv"
    other.write_text(f"md5,{s.MD5_A},iwf:B\n")
    second = tmp_path / "feed-day2.csv"
    second.write_text(f"md5,{s.MD5_A},ncmec:A2\n")
    assert bastion("bank", "import", "known", str(first), "--source", "feed").exit_code == 0
    dry = bastion("bank", "import", "known", str(other), "--dry-run")
    assert "line 1: ncmec:A1 -> iwf:B;ncmec:A1" in dry.stderr
    assert "1 relabelled" in dry.stderr
    assert bastion("bank", "import", "known", str(other)).exit_code == 0
    assert bastion("bank", "import", "known", str(second), "--source", "feed").exit_code == 0
    by_label = json.loads(bastion("bank", "show", "known", "--json").stdout)["by_label"]
    assert by_label == {"iwf:B": 1, "ncmec:A2": 1}
    replaced = bastion("bank", "import", "known", str(first), "--replace-labels")
    assert replaced.exit_code == 0
    by_label = json.loads(bastion("bank", "show", "known", "--json").stdout)["by_label"]
    assert by_label == {"ncmec:A1": 1}
