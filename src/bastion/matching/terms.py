"""Screening text for the terms of term banks, fast.

A term matches a text where the text holds the term's words, in order, as
whole words, at most ``max_edits(term)`` character edits apart in all
(:func:`bastion.signals.text.find_term`, the brute-force rule).  Comparing
each text with every term that way costs terms x words; this index finds
the same matches looking up each word of the text a few times:

- **Terms allowed no edit** (short ones): every run of the text's words as
  long as some such term is looked up whole in a dict of them (token
  hashing).
- **Terms allowed edits**: if a term of ``m`` words is within ``e`` edits
  of a run of ``m`` words, one of its words is within ``e // m`` edits of
  the run's word in its place (pigeonhole: were each word further, the sum
  would exceed ``e``).  Two words are within ``k`` edits only if deleting at
  most ``k`` characters from each leaves the same string, so each word of
  each term is indexed under every string its deletions to depth ``e // m``
  leave (SymSpell's deletion neighbourhood).  A word of the text looks up
  its own deletions, to the largest depth any term word of a near length
  needs; each key found names a term and the place of the word in it, so a
  place in the text where the term may start, and that run is then checked
  word by word with the edits left.  What a word of the text finds is
  remembered: prompts reuse their words.

Both ways see every run the brute force accepts, and check each exactly, so
the results are the brute force's (tests/banks/test_term_index.py checks it
with hypothesis).  ``TermMatcher`` does this over canonical strings;
``TermIndex`` adds the banks and entries that hold each term.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

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


def deletions(word: str, depth: int) -> set[str]:
    """Every string left after deleting at most ``depth`` characters of ``word``."""
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


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
                self._index_words(number, words, self._edits[number] // len(words))
        self._postings = dict(self._postings)
        self._candidates: dict[str, tuple[_Posting, ...]] = {}

    def _index_words(self, number: int, words: tuple[str, ...], depth: int) -> None:
        for place, word in enumerate(words):
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
            for number, place in self._candidates_of(word):
                first = position - place
                last = first + len(self._words[number]) - 1
                if first < 0 or last >= len(words) or (number, first) in checked:
                    continue
                checked.add((number, first))
                distance = self._distance(words[first : last + 1], number)
                if distance is None:
                    continue
                place_found = TermFind(starts[first], starts[last] + len(words[last]), distance)
                best = found.get(number)
                # The closest place, the leftmost of equals (a later word may
                # name an earlier start: it is the place of a later word of the term).
                if best is None or (distance, place_found.start) < (best.distance, best.start):
                    found[number] = place_found
        return found

    def _candidates_of(self, word: str) -> tuple[_Posting, ...]:
        remembered = self._candidates.get(word)
        if remembered is not None:
            return remembered
        depth = self._depth[len(word)] if len(word) < len(self._depth) else -1
        found: set[_Posting] = set()
        if depth >= 0:
            for key in deletions(word, depth):
                found.update(self._postings.get(key, ()))
        if len(self._candidates) >= REMEMBERED_WORDS:
            self._candidates.clear()
        candidates = self._candidates[word] = tuple(sorted(found))
        return candidates

    def _distance(self, run: list[str], number: int) -> int | None:
        """Summed edit distance of a run of words to term ``number``, if within its edits."""
        left = self._edits[number]
        total = 0
        for word, part in zip(run, self._words[number], strict=True):
            total += levenshtein(word, part, left - total)
            if total > left:
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
        return sorted(hits)


def _screens_by_default(row: BankRow) -> bool:
    """A bank screened when none are named: a blocklist that is switched on."""
    return row.kind == BankKind.BLOCKLIST.value and row.matching_enabled_ratio > 0


__all__ = ["TermEntry", "TermHit", "TermIndex", "TermMatcher", "deletions"]
