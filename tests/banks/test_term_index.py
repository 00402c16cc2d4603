"""TermIndex: screening text for banked terms finds what the brute-force rule finds.

Every term here is a neutral placeholder word (teapot, marmalade ...) or
made-up nonsense.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import settings as run_settings
from hypothesis import strategies as st

from bastion.banks import BankNotFound, Banks
from bastion.fingerprint import Signal
from bastion.matching.terms import (
    TermEntry,
    TermHit,
    TermIndex,
    TermMatcher,
    anchor_depths,
    deletions,
)
from bastion.signals.text import CHARACTERS_PER_EDIT, find_term, max_edits, normalize
from bastion.signals.types import InvalidSignal
from bastion.store import Store
from tests.signals.words import placeholder_text, placeholder_word, with_typos


def brute_force(
    entries: list[TermEntry], text: str, characters_per_edit: int = CHARACTERS_PER_EDIT
) -> list[TermHit]:
    """The reference: ``find_term`` over every entry's term."""
    canonical = normalize(text)
    hits = []
    for entry in entries:
        found = find_term(canonical, entry.term, max_edits(entry.term, characters_per_edit))
        if found is not None:
            start, end, distance = found
            hits.append(
                TermHit(
                    start=start,
                    end=end,
                    term=entry.term,
                    bank=entry.bank,
                    entry_id=entry.entry_id,
                    found=canonical[start:end],
                    distance=distance,
                )
            )
    return sorted(hits)


def test_screening_finds_terms_as_whole_words_exactly_or_within_their_edits() -> None:
    index = TermIndex.from_terms(["teapot", "marmalade jar", "tea", "bluebird"])
    hits = index.screen("A T3APOT by the Marmalade Jars, and some teas.")
    assert [(h.term, h.found, h.distance, h.exact) for h in hits] == [
        ("teapot", "teapot", 0, True),
        ("marmalade jar", "marmalade jars", 1, False),
    ]
    assert (hits[0].start, hits[0].end) == (2, 8)
    assert hits[0].bank == "terms"
    assert [h.entry_id for h in hits] == [1, 2]


def test_a_term_in_two_banks_is_two_hits() -> None:
    index = TermIndex(
        [TermEntry("teapot", "kitchen", 7), TermEntry("teapot", "shelf", 9)],
    )
    assert [(h.bank, h.entry_id) for h in index.screen("a teapot")] == [
        ("kitchen", 7),
        ("shelf", 9),
    ]


def test_the_ratio_is_a_parameter() -> None:
    strict = TermIndex.from_terms(["teapot"], characters_per_edit=10)
    loose = TermIndex.from_terms(["teapot"], characters_per_edit=3)
    assert strict.screen("a teapots") == []
    assert loose.screen("a taepots") == []  # three edits; six letters allow two
    assert [h.distance for h in loose.screen("a taepot")] == [2]


def test_a_text_without_words_has_no_hits() -> None:
    assert TermIndex.from_terms(["teapot"]).screen("?!  ...") == []
    assert TermIndex([]).screen("a teapot") == []


def test_terms_are_validated() -> None:
    with pytest.raises(InvalidSignal, match="no letters or digits"):
        TermIndex.from_terms(["teapot", "!!"])


def test_deletion_neighbourhood() -> None:
    assert deletions("tea", 0) == {"tea"}
    assert deletions("tea", 1) == {"tea", "ea", "ta", "te"}
    assert deletions("tea", 2) == {"tea", "ea", "ta", "te", "a", "e", "t"}


@given(
    st.lists(st.text("abcdef", min_size=1, max_size=9), min_size=1, max_size=5), st.integers(0, 9)
)
def test_anchor_depths_cover_the_edits(words: list[str], edits: int) -> None:
    """Indexed words whose depths (plus one each) exceed the edits: one of them
    is within its depth of its place in any run within the edits."""
    depths = anchor_depths(tuple(words), edits)
    assert sum(depth + 1 for depth in depths.values()) > edits
    assert all(0 <= place < len(words) and depth >= 0 for place, depth in depths.items())


def test_a_phrase_is_indexed_under_its_longest_word() -> None:
    assert anchor_depths(("the", "teapot"), 1) == {1: 1}
    assert anchor_depths(("marmalade", "jar"), 2) == {0: 2}
    # Short words are a third of their letters deep (none), so all are taken,
    # and the longest deepened when even that is short of the edits.
    assert anchor_depths(("a", "b", "c"), 2) == {0: 0, 1: 0, 2: 0}
    assert anchor_depths(("ab", "c"), 3) == {0: 2, 1: 0}


def test_matcher_gives_each_term_its_best_place() -> None:
    matcher = TermMatcher(["teapot", "jam jar"])
    found = matcher.find("a teapots a teapot the jam jars and jam jar")
    assert found == {
        0: find_term("a teapots a teapot the jam jars and jam jar", "teapot", 1),
        1: find_term("a teapots a teapot the jam jars and jam jar", "jam jar", 1),
    }
    assert found[0].distance == 0


# --- the fast index equals the brute-force rule --------------------------------


def _vocabulary(seed: int) -> list[str]:
    rng = random.Random(seed)
    return [placeholder_text(rng, (1, 3)) for _ in range(40)]


@st.composite
def screenings(draw: st.DrawFn) -> tuple[list[TermEntry], str, int]:
    """Placeholder terms, a text holding some of them (exact, with typos, spaced
    out, in capitals) among other words, and an edit ratio."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    terms = _vocabulary(seed)[: draw(st.integers(1, 40))]
    # Short words too, and words shared between terms, so runs overlap.
    terms += [placeholder_word(rng, (1, 1)) for _ in range(draw(st.integers(0, 5)))]
    terms += [f"{terms[0]} {placeholder_word(rng)}"]
    entries = [TermEntry(term, rng.choice(("red", "blue")), n) for n, term in enumerate(terms)]
    pieces = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(("filler", "term", "typo", "typos", "spaced", "caps")))
        term = rng.choice(terms)
        if kind == "filler":
            pieces.append(placeholder_text(rng, (1, 4)))
        elif kind == "term":
            pieces.append(term)
        elif kind in ("typo", "typos"):
            pieces.append(with_typos(term, 1 if kind == "typo" else rng.randint(2, 4), rng))
        elif kind == "spaced":
            pieces.append(" ".join(term.replace(" ", "")))
        else:
            pieces.append(term.upper())
    ratio = draw(st.sampled_from((CHARACTERS_PER_EDIT, 2, 3, 8)))
    return entries, " ".join(pieces), ratio


@run_settings(max_examples=300, deadline=None)
@given(screenings())
def test_index_equals_brute_force(case: tuple[list[TermEntry], str, int]) -> None:
    entries, text, ratio = case
    index = TermIndex(entries, characters_per_edit=ratio)
    assert sorted(index.screen(text)) == brute_force(entries, text, ratio)


@run_settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text("abet ", min_size=1, max_size=12), min_size=1, max_size=8),
    st.text("abet .", max_size=60),
)
def test_index_equals_brute_force_on_a_tiny_alphabet(raw_terms: list[str], text: str) -> None:
    """Few letters: words collide, repeat and nearly match everywhere."""
    terms = [term for term in map(normalize, raw_terms) if term]
    entries = [TermEntry(term, "b", n) for n, term in enumerate(terms)]
    for ratio in (1, 2, 5):
        index = TermIndex(entries, characters_per_edit=ratio)
        assert sorted(index.screen(text)) == brute_force(entries, text, ratio)


# --- from the store ------------------------------------------------------------


def test_from_store_takes_live_text_entries_of_the_chosen_banks(store: Store) -> None:
    banks = Banks(store, actor="test")
    banks.create("kitchen")
    banks.create("shelf")
    banks.create("fine", kind="allowlist")
    banks.add_signals("kitchen", [Signal("text", "teapot"), Signal("text", "Marmalade Jar")])
    banks.add_signals("kitchen", [Signal("md5", "0" * 32)])
    banks.add_signals("shelf", [Signal("text", "bluebird"), Signal("text", "teacup")])
    banks.add_signals("fine", [Signal("text", "teapot")])
    banks.withdraw_signals("shelf", [Signal("text", "teacup")])
    text = "a teapot, a marmalade jar, a bluebird and a teacup"

    every = TermIndex.from_store(store)
    assert sorted((h.bank, h.term) for h in every.screen(text)) == [
        ("kitchen", "marmalade jar"),
        ("kitchen", "teapot"),
        ("shelf", "bluebird"),
    ]
    shelf = TermIndex.from_store(store, banks=["shelf"])
    assert [(h.bank, h.term) for h in shelf.screen(text)] == [("shelf", "bluebird")]
    with pytest.raises(BankNotFound):
        TermIndex.from_store(store, banks=["cupboard"])
