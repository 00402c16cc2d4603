"""Video matching through the banks: Meta's rule on one PDQ index, on both stores."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image

from bastion.banks import BankKind, Banks
from bastion.banks.entries import export_entries
from bastion.config import Settings
from bastion.fingerprint import Signal
from bastion.hashing import hash_bytes, hash_file
from bastion.matching import Index, match_outcome, match_signals
from bastion.samples import encode_video, panning_frames
from bastion.signals.vpdq import VpdqFeature, match_percentages, parse_vpdq, to_signal_value
from bastion.store import Store
from tests.banks.helpers import flip_bits
from tests.images import encode


def random_pdq(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


@pytest.fixture
def banks(store: Store) -> Banks:
    banks = Banks(store, actor="test")
    banks.create("videos")
    banks.create("images")
    banks.create("cleared", kind=BankKind.ALLOWLIST)
    return banks


def reference_value(testdata: Path, name: str) -> Signal:
    return Signal("vpdq", (testdata / "vpdq" / f"{name}.vpdq.txt").read_text())


def test_edited_clip_matches_banked_reference_with_time_ranges(
    banks: Banks, settings: Settings, testdata: Path
) -> None:
    banks.add_signals("videos", [reference_value(testdata, "chair-19-sd-bar")], ["clip:a"])
    index = Index.open(banks.store, settings)
    query = hash_file(testdata / "vpdq" / "chair-20-sd-bar.mp4")  # one frame a second
    found = match_outcome(query, index).matches
    assert len(found) == 1
    video = found[0]
    assert (video.bank, video.signal_type, video.labels) == ("videos", "vpdq", ("clip:a",))
    assert video.query_percent is not None
    assert video.query_percent >= 80
    assert video.entry_percent is not None
    assert 0 < video.entry_percent <= 100
    assert 0 <= video.query_ranges[0][0] < video.query_ranges[-1][1] <= 20.5
    assert video.entry_ranges
    for other in ("doorknob-hd-no-bar", "pattern-sd-grey-bar"):
        assert match_outcome(hash_file(testdata / "vpdq" / f"{other}.mp4"), index).matches == ()


def test_indexed_percentages_equal_brute_force(
    banks: Banks, settings: Settings, testdata: Path
) -> None:
    names = ["chair-19-sd-bar", "chair-20-sd-bar", "doorknob-hd-no-bar", "pattern-sd-grey-bar"]
    for name in names:
        banks.create(name)
        banks.add_signals(name, [reference_value(testdata, name)])
    index = Index.open(banks.store, settings)
    query = hash_file(testdata / "vpdq" / "chair-19-sd-bar.mp4")
    assert query.video is not None
    outcome = match_signals([Signal("vpdq", query.video.signal_value)], index)
    found = {m.bank: m for m in outcome.matches}
    for name in names:
        brute = match_percentages(
            query.video.features, parse_vpdq(reference_value(testdata, name).value)
        )
        assert (name in found) == brute.matches()
        if name in found:
            assert found[name].query_percent == pytest.approx(brute.query_percent)
            assert found[name].entry_percent == pytest.approx(brute.compared_percent)
    assert set(found) == {"chair-19-sd-bar", "chair-20-sd-bar"}


def test_one_index_lookup_per_query_not_per_banked_video(
    banks: Banks, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(3)
    for _ in range(50):
        frames = [VpdqFeature(i, 100, random_pdq(rng), float(i)) for i in range(20)]
        banks.add_signals("videos", [Signal("vpdq", to_signal_value(frames))])
    index = Index.open(banks.store, settings)
    calls: list[int] = []
    original = index.lookup_pdq

    def counted(hexes: list[str], *, radius: int | None = None) -> list:  # type: ignore[type-arg]
        calls.append(len(hexes))
        return original(hexes, radius=radius)

    monkeypatch.setattr(index, "lookup_pdq", counted)
    query = [VpdqFeature(i, 100, random_pdq(rng), float(i)) for i in range(30)]
    match_signals([Signal("vpdq", to_signal_value(query))], index)
    assert calls == [30]


def test_long_video_value_is_stored_and_exported_whole(banks: Banks, settings: Settings) -> None:
    # Two hours at one frame a second: far beyond a PostgreSQL index row.
    rng = random.Random(7)
    frames = [VpdqFeature(i, 90, random_pdq(rng), float(i)) for i in range(7200)]
    value = to_signal_value(frames)
    assert len(value) > 500_000
    report = banks.add_signals("videos", [Signal("vpdq", value)])
    assert report.added == 1
    again = banks.add_signals("videos", [Signal("vpdq", value)], ["relabelled"])
    assert again.added == 0
    assert again.updated == 1
    [entry] = list(export_entries(banks.store, "videos"))
    assert entry.signal == Signal("vpdq", value)
    index = Index.open(banks.store, settings)
    part = frames[3000:3010]
    found = match_signals([Signal("vpdq", to_signal_value(part))], index).matches
    assert len(found) == 1
    assert found[0].entry_ranges == ((3000.0, 3009.0),)
    assert found[0].entry_percent == pytest.approx(100 * 10 / 7200)
    assert banks.withdraw_signals("videos", [Signal("vpdq", value)]) == 1
    index.refresh()
    assert match_signals([Signal("vpdq", to_signal_value(part))], index).matches == ()


def test_known_image_is_found_inside_a_long_video(banks: Banks, settings: Settings) -> None:
    frames = list(panning_frames(320, 240, 10 * 60, fps=10, scene_seconds=6, seed=40))
    video = encode_video(frames, fps=10)
    still = frames[10 * 33]  # a moment in the 6th scene
    image = hash_bytes(encode(Image.fromarray(still), "PNG"))
    assert image.pdq is not None
    banks.add_signals("images", [Signal("pdq", image.pdq)], ["still"])
    index = Index.open(banks.store, settings)
    found = match_outcome(hash_bytes(video), index).matches
    assert [(m.bank, m.signal_type, m.labels) for m in found] == [("images", "pdq", ("still",))]
    [(start, end)] = found[0].query_ranges
    assert start <= 33 <= end
    assert end - start <= 6


def test_image_matching_a_banked_video_frame_reports_its_time(
    banks: Banks, settings: Settings
) -> None:
    rng = random.Random(11)
    frames = [VpdqFeature(i, 100, random_pdq(rng), float(i)) for i in range(10)]
    banks.add_signals("videos", [Signal("vpdq", to_signal_value(frames))])
    index = Index.open(banks.store, settings)
    [found] = match_signals([Signal("pdq", flip_bits(frames[7].hex, 3))], index).matches
    assert (found.signal_type, found.distance, found.entry_ranges) == ("vpdq", 3, ((7.0, 7.0),))


def test_allowlisted_video_suppresses_the_video_match(
    banks: Banks, settings: Settings, testdata: Path
) -> None:
    banks.add_signals("videos", [reference_value(testdata, "chair-19-sd-bar")])
    banks.add_signals("cleared", [reference_value(testdata, "chair-20-sd-bar")])
    index = Index.open(banks.store, settings)
    outcome = match_outcome(hash_file(testdata / "vpdq" / "chair-20-sd-bar.mp4"), index)
    assert outcome.matches == ()
    assert [m.bank for m in outcome.suppressed] == ["videos"]
    assert [m.bank for m in outcome.allowlisted] == ["cleared"]


def test_video_md5_on_a_list_matches_the_file(
    banks: Banks, settings: Settings, testdata: Path
) -> None:
    path = testdata / "vpdq" / "doorknob-hd-no-bar.mp4"
    fingerprint = hash_file(path)
    assert fingerprint.md5 is not None
    banks.add_signals("videos", [Signal("video_md5", fingerprint.md5.upper())])
    index = Index.open(banks.store, settings)
    assert [m.signal_type for m in match_outcome(fingerprint, index).matches] == ["video_md5"]


@hypothesis_settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_rule_thresholds_follow_the_percentages(data: st.DataObject) -> None:
    rng = random.Random(data.draw(st.integers(0, 10**6)))
    base = [VpdqFeature(i, 100, random_pdq(rng), float(i)) for i in range(10)]
    shared = data.draw(st.integers(0, 10))
    query = base[:shared] + [
        VpdqFeature(i, 100, random_pdq(rng), float(i)) for i in range(shared, 10)
    ]
    result = match_percentages(query, base)
    assert result.query_percent == pytest.approx(10 * shared, abs=10)
    assert result.matches() == (result.query_percent >= 80)


def test_scan_hashes_and_matches_videos_in_folders_and_archives(
    banks: Banks, settings: Settings, testdata: Path, tmp_path: Path
) -> None:
    import io
    import tarfile
    import zipfile

    import pyarrow.parquet as pq

    from bastion.scan.engine import ScanPlan, local_engine, run_scan
    from bastion.scan.sources import SourceOptions

    banks.add_signals("videos", [reference_value(testdata, "chair-19-sd-bar")], ["clip"])
    collection = tmp_path / "collection"
    collection.mkdir()
    chair = (testdata / "vpdq" / "chair-20-sd-bar.mp4").read_bytes()
    (collection / "renamed.dat").write_bytes(chair)
    with zipfile.ZipFile(collection / "bundle.zip", "w") as archive:
        archive.writestr("inner/clip.mp4", chair)
        archive.writestr("inner/broken.mp4", chair[:5000])
    shard = io.BytesIO()
    with tarfile.open(fileobj=shard, mode="w") as tar:
        info = tarfile.TarInfo("000001.mp4")
        info.size = len(chair)
        tar.addfile(info, io.BytesIO(chair))
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "part-000000.tar").write_bytes(shard.getvalue())
    index = Index.open(banks.store, settings)
    plan = ScanPlan([str(collection), str(shards / "part-000000.tar")], SourceOptions())
    out = tmp_path / "out"
    summary = run_scan(plan, out, local_engine(1), index=index, settings=settings)
    rows = {r["item_id"]: r for r in pq.read_table(out / "results.parquet").to_pylist()}
    assert summary["seen"] == 4
    matched = {item for item, row in rows.items() if row["matched"]}
    assert len(matched) == 3
    broken = next(row for item, row in rows.items() if item.endswith("broken.mp4"))
    assert broken["status"] == "error"
    assert broken["error_code"] in {"truncated", "no-frames"}
    assert "cut short" in broken["error"] or "ends at" in broken["error"]
    for item in matched:
        row = rows[item]
        assert row["video_frames"] == 21
        assert row["matches"][0]["signal_type"] == "vpdq"
        assert parse_vpdq(row["vpdq"])[0].hex
    removal = (out / "removal-list.txt").read_text().split()
    assert sorted(removal) == sorted(matched)
