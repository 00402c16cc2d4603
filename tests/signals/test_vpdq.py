"""vPDQ values: both spellings, validation, pruning, time ranges, Meta's rule."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.signals.vpdq import (
    InvalidVpdq,
    VpdqFeature,
    match_percentages,
    matchable,
    parse_vpdq,
    prune,
    time_ranges,
    to_meta_text,
    to_signal_value,
)

hexes = st.text("0123456789abcdef", min_size=64, max_size=64)
features = st.lists(
    st.builds(
        VpdqFeature,
        frame=st.just(0),
        quality=st.integers(0, 100),
        hex=hexes,
        timestamp=st.integers(0, 10**7).map(lambda ms: ms / 1000),
    ),
    min_size=1,
    max_size=20,
).map(lambda fs: tuple(VpdqFeature(n, f.quality, f.hex, f.timestamp) for n, f in enumerate(fs)))


@given(features)
def test_both_spellings_round_trip(value: tuple[VpdqFeature, ...]) -> None:
    assert parse_vpdq(to_meta_text(value)) == value
    assert parse_vpdq(to_signal_value(value)) == value


def test_signal_value_is_hmas_list_without_spaces() -> None:
    value = to_signal_value([VpdqFeature(0, 100, "a" * 64, 1.5)])
    assert json.loads(value) == ["a" * 64 + ",100,1.500"]
    assert " " not in value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "at least one frame"),
        ("[]", "at least one frame"),
        ("[1, 2]", "JSON list"),
        ("[not json", "not a JSON list"),
        ('["abc,100,0.0"]', "64 hex digits"),
        (f'["{"a" * 64},101,0.0"]', "outside 0-100"),
        (f'["{"a" * 64},100,-1"]', "not a time"),
        (f'["{"a" * 64},100,nan"]', "not a time"),
        (f"0,100,{'a' * 64}", "expected 'frame,quality"),
        (f"x,100,{'a' * 64},0.0", "frame number"),
    ],
)
def test_invalid_values_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidVpdq, match=message):
        parse_vpdq(text)


def test_matchable_drops_low_quality_and_repeats() -> None:
    a, b = "a" * 64, "b" * 64
    frames = [VpdqFeature(0, 100, a, 0), VpdqFeature(1, 49, b, 1), VpdqFeature(2, 90, a, 2)]
    assert matchable(frames) == [frames[0]]


def test_prune_keeps_frames_that_change() -> None:
    a, near, far = "0" * 64, "0" * 63 + "f", "f" * 64
    frames = [VpdqFeature(n, 100, h, n) for n, h in enumerate([a, near, far, far, a])]
    assert [f.frame for f in prune(frames, 4)] == [0, 2, 4]
    assert [f.frame for f in prune(frames, 0)] == [0, 1, 2, 4]


def test_time_ranges_merge_neighbours() -> None:
    assert time_ranges([0, 1, 2, 5, 6, 9], gap=1.5) == ((0, 2), (5, 6), (9, 9))
    assert time_ranges([], gap=1) == ()


def test_match_percentages_count_each_side() -> None:
    zero, one_bit, far = "0" * 64, "0" * 63 + "1", "f" * 64
    query = [VpdqFeature(n, 100, h, n) for n, h in enumerate([zero, far])]
    target = [VpdqFeature(0, 100, one_bit, 0)]
    result = match_percentages(query, target)
    assert (result.query_percent, result.compared_percent) == (50.0, 100.0)
    assert not result.matches()
    assert result.matches(query_percent=50)
    assert match_percentages(query, []).query_percent == 0
