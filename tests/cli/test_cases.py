"""``bastion case``: create, add, show, list, clusters, publish; exit codes as for scans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.cases.evidence import camera_exif, jpeg, picture
from tests.cli.conftest import Invoke
from tests.images import encode


@pytest.fixture
def disk(tmp_path: Path) -> Path:
    root = tmp_path / "disk1"
    (root / "dcim").mkdir(parents=True)
    (root / "dcim" / "a.jpg").write_bytes(jpeg(picture(11), camera_exif()))
    (root / "dcim" / "a-copy.jpg").write_bytes(jpeg(picture(11), camera_exif()))
    (root / "b.jpg").write_bytes(jpeg(picture(12)))
    (root / "flat.png").write_bytes(encode(Image.new("RGB", (200, 200), (90, 90, 90)), "PNG"))
    (root / "notes.jpg").write_text("plain words\n")
    return root


@pytest.fixture
def banked(bastion: Invoke, disk: Path) -> Path:
    assert bastion("bank", "create", "vic").exit_code == 0
    added = bastion("bank", "add", "vic", "--label", "projectvic:1", str(disk / "b.jpg"))
    assert added.exit_code == 0, added.output
    return disk


def test_create_show_list_and_clusters(bastion: Invoke, banked: Path, tmp_path: Path) -> None:
    created = bastion("case", "create", "op-lighthouse", str(banked), "--bank", "vic")
    # The unreadable file and the flat image were not fully checked: status 1, counted.
    assert created.exit_code == 1, created.output
    summary = json.loads(created.stdout)
    assert summary["items"] == 5
    assert summary["unchecked_by_reason"] == {"not-an-image": 1, "low-quality PDQ": 1}
    assert summary["tiers"][0]["title"] == "possibly a real child, not yet known"
    assert "not checked" in created.stderr
    shown = bastion("case", "show", "op-lighthouse")
    assert shown.exit_code == 0
    assert json.loads(shown.stdout) == summary
    assert bastion("case", "list").stdout.split() == ["op-lighthouse"]
    lines = [
        json.loads(line)
        for line in bastion("case", "clusters", "op-lighthouse").stdout.split("\n")
        if line
    ]
    assert [line["tier"] for line in lines] == sorted(line["tier"] for line in lines)
    assert lines[0]["size"] == 2
    assert lines[-1]["priority"] == "known and categorised"


def test_add_more_evidence(bastion: Invoke, banked: Path, tmp_path: Path) -> None:
    bastion("case", "create", "op", str(banked / "dcim"), "--bank", "vic")
    more = tmp_path / "disk2"
    more.mkdir()
    (more / "again.jpg").write_bytes((banked / "dcim" / "a.jpg").read_bytes())
    added = bastion("case", "add", "op", str(more))
    assert added.exit_code == 0, added.output
    summary = json.loads(added.stdout)
    assert summary["items"] == 3
    assert summary["tiers"][0]["items"] == 3
    assert len(summary["sources"]) == 2


def test_refusals_are_one_line_and_status_2(bastion: Invoke, banked: Path) -> None:
    missing_bank = bastion("case", "create", "op", str(banked), "--bank", "nope")
    assert missing_bank.exit_code == 2
    assert "no bank named 'nope'" in missing_bank.stderr
    assert bastion("case", "create", "op", str(banked / "dcim"), "--bank", "vic").exit_code == 0
    again = bastion("case", "create", "op", str(banked), "--bank", "vic")
    assert again.exit_code == 2
    assert "exists" in again.stderr
    unknown = bastion("case", "show", "other")
    assert unknown.exit_code == 2
    assert "no case named 'other'" in unknown.stderr
    scheme = bastion("case", "create", "x", str(banked), "--scheme", "nope")
    assert scheme.exit_code == 2
    assert "unknown scheme" in scheme.stderr
    publish = bastion("case", "publish", "op", "--bank", "absent")
    assert publish.exit_code == 2
    assert "absent" in publish.stderr
    for result in (missing_bank, again, unknown, scheme, publish):
        assert "Traceback" not in result.output


def test_export_and_report_files(bastion: Invoke, banked: Path, tmp_path: Path) -> None:
    bastion("case", "create", "op", str(banked), "--bank", "vic")
    out = tmp_path / "op.json"
    exported = bastion("case", "export", "op", "--format", "vics", "--out", str(out))
    assert exported.exit_code == 0, exported.output
    media = json.loads(out.read_text())["value"][0]["Media"]
    assert len(media) == 5
    assert next(m for m in media if m["RelativeFilePath"] == "b.jpg")["Category"] == 1
    report = tmp_path / "report.html"
    written = bastion("case", "report", "op", "--out", str(report))
    assert written.exit_code == 0, written.output
    assert "<svg" in report.read_text()
    wrong = bastion("case", "export", "op", "--format", "csv", "--out", str(out))
    assert wrong.exit_code == 2
    unwritable = bastion("case", "report", "op", "--out", str(tmp_path / "no" / "such" / "r.html"))
    assert unwritable.exit_code == 2
    assert "cannot write" in unwritable.stderr
    assert not list(tmp_path.glob("**/.*.partial"))
