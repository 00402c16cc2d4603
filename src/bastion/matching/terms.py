"""Screening text for the terms of term banks, fast.

A term matches a text where the text holds the term's words, in order, as
whole words, at most ``max_edits(term)`` character edits apart in all
(:func:`bastion.signals.text.find_term`, the brute-force rule).  Comparing
each text with every term that way costs terms x words; this index finds
the same matches looking up each word of the text a few times:

- **Terms allowed no edit** (short ones): every run of the text's words as
  long as some such term is looked up whole in a dict of them (token
  hashing).
- **Terms allowed edits**: two words are within ``k`` edits only if
  deleting at most ``k`` characters from each leaves the same string, so a
  word is indexed under every string its deletions to depth ``k`` leave
  (SymSpell's deletion neighbourhood).  A one-word term is indexed so at
  depth ``e``, its edits.  A term of several words within ``e`` edits of a
  run of words has a word within ``q`` edits of the run's word in its
  place, for any depths ``q`` of some of its words that add up (plus one
  each) to more than ``e`` (pigeonhole: :func:`anchor_depths` picks its
  longest words).  A word of the text looks up its own deletions, to the
  largest depth any indexed word of a near length has; each key found names
  a term and the place of the word in it, so a place in the text where the
  term may start, and that run is then checked word by word with the edits
  left.  What a word of the text finds is remembered: prompts reuse their
  words.

Both ways see every run the brute force accepts, and check each exactly, so
the results are the brute force's (tests/banks/test_term_index.py checks it
with hypothesis).  ``TermMatcher`` does this over canonical strings;
``TermIndex`` adds the banks and entries that hold each term.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter

from sqlalchemy import select

from bastion.banks.bank import BankKind, BankNotFound
from bastion.banks.stored import read_value
from bastion.signals.text import (
    CHARACTERS_PER_EDIT,
    TermFind,
    levenshtein,
    max_edits,
    normalize,
)
from bastion.signals.types import signal_type
from bastion.store import Store
from bastion.store.models import Bank as BankRow
from bastion.store.models import Entry

#: Words of texts whose candidates are remembered, at most; then forgotten at once.
REMEMBERED_WORDS = 200_000

#: A term (by number) and the place of one of its words.
_Posting = tuple[int, int]
#: ... and the edit distance of a text's word to that word of the term.
_Candidate = tuple[int, int, int]


def deletions(word: str, depth: int) -> set[str]:
    """Every string left after deleting at most ``depth`` characters of ``word``."""
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


def anchor_depths(words: tuple[str, ...], edits: int) -> dict[int, int]:
    """The words of a term it is indexed under (by place), each with its deletion depth.

    If a run of words is within ``edits`` of the term, and words ``j`` are
    indexed at depths ``q_j`` with ``sum(q_j + 1) > edits``, one of them is
    within its ``q_j`` of the run's word (were every one further, the edits
    would add up to more).  The longest words are chosen - the rarest, and
    a short common word ("the") would make every text a candidate - each at
    most a third of its letters deep, so the keys stay distinctive.  Only a
    term of many short words needs more, and gets it on its longest word.
    """
    needed = edits + 1
    depths: dict[int, int] = {}
    by_length = sorted(range(len(words)), key=lambda place: (-len(words[place]), place))
    for place in by_length:
        if needed <= 0:
            break
        depths[place] = min(needed - 1, len(words[place]) // 3)
        needed -= depths[place] + 1
    if needed > 0:
        depths[by_length[0]] += needed
    return depths


def _word_starts(words: list[str]) -> list[int]:
    starts = []
    offset = 0
    for word in words:
        starts.append(offset)
        offset += len(word) + 1
    return starts


class TermMatcher:
    """Finds canonical terms in canonical texts, as ``find_term`` over each term does."""

    def __init__(
        self, terms: Iterable[str], characters_per_edit: int = CHARACTERS_PER_EDIT
    ) -> None:
        #: Distinct terms; a term's number is its place here.
        self.terms = list(dict.fromkeys(terms))
        self._words = [tuple(term.split(" ")) for term in self.terms]
        self._edits = [max_edits(term, characters_per_edit) for term in self.terms]
        #: Terms allowed no edit, by their text, and how many words they have.
        self._exact = {term: n for n, term in enumerate(self.terms) if self._edits[n] == 0}
        self._exact_lengths = sorted({len(self._words[n]) for n in self._exact.values()})
        #: Deletion key -> (term, word place) of the term words it is a deletion of.
        self._postings: dict[str, list[_Posting]] = defaultdict(list)
        #: Deletion depth a text word of each length looks up (-1: no term word is near).
        self._depth: list[int] = []
        for number, words in enumerate(self._words):
            if self._edits[number]:
                self._index_words(number, anchor_depths(words, self._edits[number]))
        self._postings = dict(self._postings)
        self._candidates: dict[str, tuple[_Candidate, ...]] = {}

    def _index_words(self, number: int, depths: dict[int, int]) -> None:
        for place, depth in depths.items():
            word = self._words[number][place]
            for key in deletions(word, depth):
                self._postings[key].append((number, place))
            longest = len(word) + depth
            if len(self._depth) <= longest:
                self._depth.extend([-1] * (longest + 1 - len(self._depth)))
            for length in range(max(len(word) - depth, 0), longest + 1):
                self._depth[length] = max(self._depth[length], depth)

    def find(self, text: str) -> dict[int, TermFind]:
        """Each term found in canonical ``text`` (by number) and its best place."""
        words = text.split(" ") if text else []
        starts = _word_starts(words)
        found: dict[int, TermFind] = {}
        for count in self._exact_lengths:
            for first in range(len(words) - count + 1):
                last = first + count - 1
                number = self._exact.get(text[starts[first] : starts[last] + len(words[last])])
                if number is not None and number not in found:
                    found[number] = TermFind(starts[first], starts[last] + len(words[last]), 0)
        checked: set[_Posting] = set()
        for position, word in enumerate(words):
            for number, place, distance in self._candidates_of(word):
                first = position - place
                last = first + len(self._words[number]) - 1
                if first < 0 or last >= len(words) or (number, first) in checked:
                    continue
                checked.add((number, first))
                if last > first:
                    total = self._distance(words[first : last + 1], number, place, distance)
                    if total is None:
                        continue
                    distance = total
                place_found = TermFind(starts[first], starts[last] + len(words[last]), distance)
                best = found.get(number)
                # The closest place, the leftmost of equals (a later word may
                # name an earlier start: it is the place of a later word of the term).
                if best is None or (distance, place_found.start) < (best.distance, best.start):
                    found[number] = place_found
        return found

    def _candidates_of(self, word: str) -> tuple[_Candidate, ...]:
        """The term words a text word is near: (term, place, edit distance),
        within the term's edits; worked out once per word and remembered."""
        remembered = self._candidates.get(word)
        if remembered is not None:
            return remembered
        depth = self._depth[len(word)] if len(word) < len(self._depth) else -1
        postings: set[_Posting] = set()
        if depth >= 0:
            for key in deletions(word, depth):
                postings.update(self._postings.get(key, ()))
        near = []
        for number, place in sorted(postings):
            edits = self._edits[number]
            distance = levenshtein(word, self._words[number][place], edits)
            if distance <= edits:
                near.append((number, place, distance))
        if len(self._candidates) >= REMEMBERED_WORDS:
            self._candidates.clear()
        candidates = self._candidates[word] = tuple(near)
        return candidates

    def _distance(self, run: list[str], number: int, anchor: int, known: int) -> int | None:
        """Summed edit distance of a run of words to term ``number``, if within
        its edits; the word at ``anchor`` is ``known`` edits from its own."""
        edits = self._edits[number]
        total = known
        for place, (word, part) in enumerate(zip(run, self._words[number], strict=True)):
            if place != anchor:
                total += levenshtein(word, part, edits - total)
                if total > edits:
                    return None
        return total


@dataclass(frozen=True, slots=True)
class TermEntry:
    """A banked term: its canonical text, its bank and its entry id."""

    term: str
    bank: str
    entry_id: int


@dataclass(frozen=True, slots=True, order=True)
class TermHit:
    """A banked term found in a text: where in the canonical text, and how."""

    start: int
    end: int
    term: str
    bank: str
    entry_id: int
    #: The words of the canonical text it matched: ``text[start:end]``.
    found: str
    #: Character edits between the term and ``found``: 0 is an exact match.
    distance: int

    @property
    def exact(self) -> bool:
        return self.distance == 0


class TermIndex:
    """The terms of some banks, ready to screen texts; see the module's docstring."""

    def __init__(
        self, entries: Iterable[TermEntry], *, characters_per_edit: int = CHARACTERS_PER_EDIT
    ) -> None:
        by_term: dict[str, list[TermEntry]] = defaultdict(list)
        for entry in entries:
            by_term[entry.term].append(entry)
        self.characters_per_edit = characters_per_edit
        self.matcher = TermMatcher(by_term, characters_per_edit)
        self._entries = [by_term[term] for term in self.matcher.terms]

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._entries)

    @classmethod
    def from_terms(
        cls,
        terms: Iterable[str],
        *,
        bank: str = "terms",
        characters_per_edit: int = CHARACTERS_PER_EDIT,
    ) -> TermIndex:
        """An index of plain terms (in any spelling), numbered from 1 in one bank."""
        text = signal_type("text")
        entries = [TermEntry(text.validate(term), bank, n) for n, term in enumerate(terms, 1)]
        return cls(entries, characters_per_edit=characters_per_edit)

    @classmethod
    def from_store(
        cls,
        store: Store,
        banks: Iterable[str] | None = None,
        *,
        characters_per_edit: int = CHARACTERS_PER_EDIT,
    ) -> TermIndex:
        """The live ``text`` entries of the named banks (default: every
        blocklist that matches), as the store holds them now."""
        names = None if banks is None else set(banks)
        with store.sessions() as session:
            rows = session.execute(select(BankRow)).scalars().all()
            known = {row.name for row in rows}
            if names is not None and names - known:
                missing = sorted(names - known)[0]
                raise BankNotFound(f"no bank named {missing!r} (see `bastion bank list`)")
            chosen = {
                row.id: row.name
                for row in rows
                if (row.name in names if names is not None else _screens_by_default(row))
            }
            statement = (
                select(Entry.id, Entry.bank_id, Entry.value, Entry.payload)
                .where(
                    Entry.signal_type == "text",
                    Entry.withdrawn_at.is_(None),
                    Entry.bank_id.in_(chosen),
                )
                .order_by(Entry.id)
            )
            entries = [
                TermEntry(read_value(value, payload), chosen[bank_id], entry_id)
                for entry_id, bank_id, value, payload in session.execute(statement)
            ]
        return cls(entries, characters_per_edit=characters_per_edit)

    def screen(self, text: str) -> list[TermHit]:
        """Every banked term found in ``text``, once per entry at its best place,
        in the order of the text."""
        canonical = normalize(text)
        hits = [
            TermHit(
                place.start,
                place.end,
                entry.term,
                entry.bank,
                entry.entry_id,
                canonical[place.start : place.end],
                place.distance,
            )
            for number, place in self.matcher.find(canonical).items()
            for entry in self._entries[number]
        ]
        return sorted(hits, key=_HIT_ORDER)


#: TermHit's own order (its fields in turn), read without a call per comparison.
_HIT_ORDER = attrgetter("start", "end", "term", "bank", "entry_id")


def _screens_by_default(row: BankRow) -> bool:
    """A bank screened when none are named: a blocklist that is switched on."""
    return row.kind == BankKind.BLOCKLIST.value and row.matching_enabled_ratio > 0


__all__ = ["TermEntry", "TermHit", "TermIndex", "TermMatcher", "anchor_depths", "deletions"]
