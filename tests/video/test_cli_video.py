"""``bastion hash``, ``bank add`` and ``match`` on videos, end to end."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli import app
from bastion.config import Settings
from bastion.signals.pdq import hamming
from bastion.signals.vpdq import parse_vpdq

runner = CliRunner()


@pytest.fixture
def bastion(settings: Settings, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BASTION_HOME", str(settings.home))
    monkeypatch.setenv("BASTION_DATABASE_URL", settings.store_url)

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args))

    return invoke


def test_hash_writes_metas_vpdq_text(testdata: Path) -> None:
    video = testdata / "vpdq" / "pattern-sd-grey-bar.mp4"
    result = runner.invoke(app, ["hash", "--format", "vpdq", "--every-frame", str(video)])
    assert result.exit_code == 0, result.output
    ours = parse_vpdq(result.stdout)
    theirs = parse_vpdq((testdata / "vpdq" / "pattern-sd-grey-bar.vpdq.txt").read_text())
    assert len(ours) == len(theirs) == 206
    assert all(hamming(a.hex, b.hex) <= 31 for a, b in zip(ours, theirs, strict=True))
    assert result.stdout.splitlines()[1].startswith("1,")


def test_hash_several_videos_marks_each(testdata: Path) -> None:
    videos = [
        str(testdata / "vpdq" / f"{n}.mp4") for n in ("doorknob-hd-no-bar", "chair-19-sd-bar")
    ]
    result = runner.invoke(app, ["hash", "-f", "vpdq", *videos])
    blocks = result.stdout.strip().split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == [f"# {v}" for v in videos]
    assert len(parse_vpdq("\n".join(blocks[1].splitlines()[1:]))) == 19


def test_hash_jsonl_and_csv_describe_the_video(testdata: Path) -> None:
    video = str(testdata / "vpdq" / "doorknob-hd-no-bar.mp4")
    row = json.loads(
        runner.invoke(app, ["hash", "-f", "jsonl", "--frame-interval", "2", video]).stdout
    )
    assert row["video"]["frames_hashed"] == 2
    assert row["video"]["fps"] == 30.0
    assert [frame[0] for frame in row["vpdq"]] == [0, 60]
    table = list(
        csv.DictReader(io.StringIO(runner.invoke(app, ["hash", "-f", "csv", video]).stdout))
    )
    assert table[0]["video_frames"] == "4"
    assert table[0]["video_duration"] == "4.0"
    te = runner.invoke(app, ["hash", "-f", "te", video]).stdout.splitlines()
    assert te[-1].startswith('vpdq ["')


def test_hash_reports_a_broken_video_and_goes_on(testdata: Path, tmp_path: Path) -> None:
    good = testdata / "vpdq" / "doorknob-hd-no-bar.mp4"
    (tmp_path / "cut.mp4").write_bytes(good.read_bytes()[:3000])
    (tmp_path / "good.mp4").write_bytes(good.read_bytes())
    result = runner.invoke(app, ["hash", "-f", "jsonl", str(tmp_path)])
    assert result.exit_code == 1
    rows = {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert rows["good.mp4"]["status"] == "ok"
    assert rows["cut.mp4"]["status"] == "error"
    assert rows["cut.mp4"]["md5"]


def test_bank_add_and_match_videos(bastion, testdata: Path) -> None:  # type: ignore[no-untyped-def]
    folder = testdata / "vpdq"
    assert bastion("bank", "create", "videos").exit_code == 0
    added = bastion("bank", "add", "videos", str(folder / "chair-19-sd-bar.vpdq.txt"), "-l", "x")
    assert added.exit_code == 0, added.output
    assert bastion("bank", "add", "videos", str(folder / "doorknob-hd-no-bar.mp4")).exit_code == 0
    result = bastion(
        "match",
        "-f",
        "jsonl",
        str(folder / "chair-20-sd-bar.mp4"),
        str(folder / "pattern-sd-grey-bar.mp4"),
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    [chair] = rows[0]["matches"]
    assert chair["signal_type"] == "vpdq"
    assert chair["labels"] == ["x"]
    assert chair["query_percent"] >= 80
    assert chair["query_ranges"]
    assert rows[1]["matches"] == []
    strict = bastion(
        "match", "-f", "jsonl", "--video-query-percent", "100", str(folder / "chair-20-sd-bar.mp4")
    )
    assert json.loads(strict.stdout)["matches"] == []
    # The doorknob was added as a file: its MD5 and its vPDQ.
    door = bastion("match", "-f", "jsonl", str(folder / "doorknob-hd-no-bar.mp4"))
    types = sorted(m["signal_type"] for m in json.loads(door.stdout)["matches"])
    assert types == ["md5", "sha1", "sha256", "vpdq"]
    exported = bastion("bank", "export", "videos", "--format", "te")
    assert exported.stdout.count("vpdq [") == 2
