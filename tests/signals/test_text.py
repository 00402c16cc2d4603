"""The ``text`` signal: its normalisation, the rule a term matches by, and the peer's.

Every word here is a neutral placeholder (teapot, marmalade, bluebird ...).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from threatexchange.common import normalize_string
from threatexchange.signal_type.raw_text import RawTextSignal

from bastion.signals.text import (
    CHARACTERS_PER_EDIT,
    TermFind,
    find_term,
    levenshtein,
    max_edits,
    normalize,
)
from bastion.signals.types import InvalidSignal, signal_type

TEXT = signal_type("text")


@pytest.mark.parametrize(
    "spelling",
    [
        "teapot",
        "TEAPOT",
        "TeApOt",
        "téapöt",  # accents
        "\uff54\uff45\uff41\uff50\uff4f\uff54",  # fullwidth letters (NFKD)
        "t34p0t",  # leetspeak
        "te@pot",
        "teeeeapooot",  # repeated letters
        "t.e.a.p.o.t",  # dots between letters
        "tea-pot",
        "tea_pot",
        "tea\u2014pot",  # an em dash
        "tea\u200bpot",  # a zero-width space
        "tea\u00adpot",  # a soft hyphen
        "t e a p o t",  # spaced out
        "t 3 a p 0 t",
        "  teapot!!  ",
    ],
)
def test_spellings_of_one_word_meet(spelling: str) -> None:
    assert normalize(spelling) == "teapot"


def test_words_stay_apart_and_punctuation_separates_them() -> None:
    assert normalize("A teapot, the MARMALADE; and (bluebirds)?") == (
        "a teapot the marmalade and bluebirds"
    )
    assert normalize("tea pot") == "tea pot"
    assert normalize("tea/pot") == "tea pot"
    assert normalize("teapot.") == "teapot"


def test_numbers_stay_numbers_and_leetspeak_needs_a_letter() -> None:
    assert normalize("2024 and 1000 teapots") == "2024 and 1000 teapots"
    assert normalize("r2d2") == "r2d2"  # 2 stands for no letter
    assert normalize("$5 @ noon") == "5 non"  # symbols alone are no word; noon collapses


def test_short_runs_of_single_letters_stay_words() -> None:
    assert normalize("a b teapot") == "a b teapot"
    assert normalize("i a m") == "iam"


@given(st.text())
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@given(st.text())
def test_canonical_text_is_words_separated_by_single_spaces(text: str) -> None:
    canonical = normalize(text)
    if canonical:
        assert all(word and word.isalnum() for word in canonical.split(" "))


def test_validate_gives_the_canonical_spelling() -> None:
    assert TEXT.validate("  The T3APOT  ") == "the teapot"


@pytest.mark.parametrize("bad", ["", "   ", "!!! ...", "\u200b", "x" * 100_001])
def test_validate_refuses_text_without_words_or_too_long(bad: str) -> None:
    with pytest.raises(InvalidSignal):
        TEXT.validate(bad)


def test_edits_allowed_grow_with_the_terms_length() -> None:
    assert max_edits("tea") == 0
    assert max_edits("teapot") == 1
    assert max_edits("marmalade jar") == 2  # 12 letters; the space is not counted
    assert max_edits("marmalade jar", characters_per_edit=4) == 3
    assert CHARACTERS_PER_EDIT == 5


def test_levenshtein() -> None:
    assert levenshtein("teapot", "teapot") == 0
    assert levenshtein("teapot", "teapots") == 1
    assert levenshtein("teapot", "taepot") == 2
    assert levenshtein("", "tea") == 3


def test_a_term_is_found_as_whole_words() -> None:
    text = normalize("The old teapot sat by the marmalade jar")
    assert find_term(text, "teapot", 0) == TermFind(8, 14, 0)
    assert find_term(text, "marmalade jar", 0) == TermFind(26, 39, 0)
    assert find_term(text, "pot", 0) is None  # inside a word is not a word
    assert find_term(text, "sat by", 0) == TermFind(15, 21, 0)


def test_a_term_is_found_within_its_edits_the_closest_then_leftmost() -> None:
    text = "a teapots and a taepot and a teapot"
    assert find_term(text, "teapot", 1) == TermFind(29, 35, 0)
    assert find_term("a teapots and a teapots", "teapot", 1) == TermFind(2, 9, 1)
    assert find_term("a taepot", "teapot", 1) is None  # two edits
    # The words line up one for one: a split word is not the term.
    assert find_term("tea pot", "teapot", 1) is None


def test_compare_takes_the_smaller_of_the_threshold_and_the_length_rule() -> None:
    assert TEXT.compare("a teapots", "teapot", 31).matched
    assert TEXT.compare("a teapots", "teapot", 31).distance == 1
    assert not TEXT.compare("a teapots", "teapot", 0).matched
    assert TEXT.compare("a teapot", "teapot", 0).distance == 0
    assert TEXT.compare("a bluebird", "teapot", 31).distance is None


# python-threatexchange, the peer --------------------------------------------


def test_threatexchange_never_collapses_repeats() -> None:
    """Its ``re.sub("(.)(\\1)+", "\\1\\1", s)`` is not a raw string: ``\\1`` is the
    control character U+0001, so the pattern looks for a character followed by
    U+0001s and repeats go through untouched (its own comment promises
    ``w0000000t => w00t``)."""
    assert normalize_string("w0000000t") == "w0000000t"
    assert normalize_string("teeeeapot") == "teeeeapot"
    # What the pattern really does: a character followed by U+0001 becomes two
    # U+0001s, which the next step (drop non-alphanumerics) removes.
    assert normalize_string("tea\x01\x01pot") == "tepot"
    # So its matching misses a repeat-padded spelling that Bastion's meets.
    assert not RawTextSignal.matches_str("teapot", "teeeeeeeapot").match
    assert normalize("teeeeeeeapot") == "teapot"


def test_threatexchange_compares_whole_texts_not_terms_in_them() -> None:
    """Its raw text drops spaces and compares the two whole strings, so a term in
    a prompt is not found: the peer's matching is a different question."""
    assert normalize_string("a Teapot, here") == "ateapothere"
    assert RawTextSignal.matches_str("teapot", "teapot").match
    assert not RawTextSignal.matches_str("teapot", "a teapot on the shelf").match
    assert find_term(normalize("a teapot on the shelf"), "teapot", 0) == TermFind(2, 8, 0)


@given(st.text("abc", max_size=8), st.text("abc", max_size=8), st.integers(0, 9))
def test_levenshtein_with_a_limit_says_only_whether_it_is_within(
    left: str, right: str, limit: int
) -> None:
    exact = levenshtein(left, right)
    assert levenshtein(left, right, limit) == min(exact, limit + 1)
