"""The documented route for videos: ``bank add`` the mp4, ``match`` a re-edit of it.

Meta's reference clips ``chair-19`` and ``chair-20`` are two edits of one
clip and must match; ``doorknob`` and ``pattern`` must not match them
(../shared/testdata/README.md).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from bastion.signals.vpdq import parse_vpdq


def stored_frames(bastion, bank: str) -> int:  # type: ignore[no-untyped-def]
    exported = bastion("bank", "export", bank, "-f", "csv")
    [value] = [
        r["value"]
        for r in csv.DictReader(io.StringIO(exported.stdout))
        if r["signal_type"] == "vpdq"
    ]
    return len(parse_vpdq(value))


def test_a_banked_video_matches_its_re_edit(  # type: ignore[no-untyped-def]
    bastion,
    testdata: Path,
) -> None:
    clips = testdata / "vpdq"
    bastion("bank", "create", "videos")
    added = bastion("bank", "add", "videos", str(clips / "chair-19-sd-bar.mp4"))
    assert added.exit_code == 0, added.output
    assert stored_frames(bastion, "videos") == 564  # every frame, as Meta's reference
    result = bastion(
        "match",
        "-f",
        "jsonl",
        str(clips / "chair-20-sd-bar.mp4"),
        str(clips / "doorknob-hd-no-bar.mp4"),
        str(clips / "pattern-sd-grey-bar.mp4"),
    )
    assert result.exit_code == 0, result.output
    rows = {Path(r["path"]).stem: r["matches"] for r in map(json.loads, result.stdout.splitlines())}
    [match] = rows["chair-20-sd-bar"]
    assert (match["bank"], match["signal_type"]) == ("videos", "vpdq")
    assert match["query_percent"] >= 80
    assert rows["doorknob-hd-no-bar"] == rows["pattern-sd-grey-bar"] == []


def test_bank_add_takes_the_video_options(  # type: ignore[no-untyped-def]
    bastion,
    testdata: Path,
) -> None:
    clip = str(testdata / "vpdq" / "chair-19-sd-bar.mp4")
    bastion("bank", "create", "sampled")
    added = bastion("bank", "add", "sampled", clip, "--frame-interval", "2")
    assert added.exit_code == 0, added.output
    assert stored_frames(bastion, "sampled") == 10  # 18.8 s at one frame every 2 s
    bastion("bank", "create", "keyframes")
    assert bastion("bank", "add", "keyframes", clip, "--keyframes").exit_code == 0
    assert stored_frames(bastion, "keyframes") < 564
