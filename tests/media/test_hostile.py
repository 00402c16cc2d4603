"""Hostile media never stops a door: each item that fails becomes that item's error."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from bastion import hashing, pipeline
from bastion.cli import app
from bastion.config import Settings
from bastion.hashing import hash_bytes
from bastion.pipeline import ScanItem, Status, scan_item
from bastion.provenance import InspectOptions
from bastion.scan.engine import ScanPlan, local_engine, run_scan
from bastion.scan.sources import SourceOptions
from tests.media.hostile import unknown_codec_mp4
from tests.scan.fixtures import jpeg


def test_video_track_without_a_decoder_is_a_corrupt_video_with_its_digests() -> None:
    data = unknown_codec_mp4()
    fingerprint = hash_bytes(data)
    assert fingerprint.media_type == "video/mp4"
    assert fingerprint.error is not None
    assert fingerprint.error.code == "corrupt-video"
    assert fingerprint.md5 == hashlib.md5(data).hexdigest()


def _explode(*_: object, **__: object) -> None:
    raise RuntimeError("decoder fell over")


def test_any_exception_while_hashing_is_the_items_internal_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hashing, "decode_for_pdq", _explode)
    data = jpeg(1)
    fingerprint = hash_bytes(data)
    assert fingerprint.error is not None
    assert fingerprint.error.code == "internal"
    assert fingerprint.error.message == "RuntimeError: decoder fell over"
    assert fingerprint.sha256 == hashlib.sha256(data).hexdigest()


def test_an_exception_after_hashing_keeps_the_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "inspect_bytes", _explode)
    data = jpeg(2)
    item = ScanItem("x", "s", data=data)
    result = scan_item(item, None, Settings(), provenance=InspectOptions())
    assert result.status == Status.ERROR
    assert result.error is not None
    assert result.error.code == "internal"
    assert result.fingerprint is not None
    assert result.fingerprint.md5 == hashlib.md5(data).hexdigest()
    assert result.to_row()["error_code"] == "internal"


def test_an_exception_before_hashing_is_an_error_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "hash_bytes", _explode)
    result = scan_item(ScanItem("x", "s", data=b"abc"), None, Settings())
    assert (result.status, result.error and result.error.code) == (Status.ERROR, "internal")


def test_scan_continues_past_the_hostile_video(tmp_path: Path) -> None:
    root = tmp_path / "collection"
    root.mkdir()
    (root / "a.mp4").write_bytes(unknown_codec_mp4())
    (root / "b.jpg").write_bytes(jpeg(3))
    summary = run_scan(
        ScanPlan([str(root)], SourceOptions()),
        tmp_path / "out",
        local_engine(1),
        index=None,
        settings=Settings(home=tmp_path / "home"),
    )
    rows = {
        Path(r["item_id"]).name: r
        for r in pq.read_table(tmp_path / "out/results.parquet").to_pylist()
    }
    assert (summary["seen"], summary["errored"]) == (2, 1)
    assert rows["a.mp4"]["error_code"] == "corrupt-video"
    assert rows["b.jpg"]["status"] == "hashed"


def test_cli_hash_reports_the_hostile_video_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASTION_HOME", str(tmp_path / "home"))
    (tmp_path / "a.mp4").write_bytes(unknown_codec_mp4())
    (tmp_path / "b.jpg").write_bytes(jpeg(4))
    result = CliRunner().invoke(app, ["hash", str(tmp_path), "--format", "jsonl"])
    assert result.exit_code == 1, result.output
    assert "corrupt-video" in result.stdout
    assert result.stdout.count("\n") == 2
