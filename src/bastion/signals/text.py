"""The ``text`` signal: the terms prompts and training tags are screened for.

A generator operator checks each prompt before an output leaves; a model
host screens a LoRA's training tags.  Both look for the terms of *term
banks* in free text, and whoever wants a term through spells it otherwise:
in capitals, with accents, in leetspeak (``t34p0t``), with letters repeated
(``teeeapot``), split by dots, dashes or invisible characters
(``t.e.a.p.o.t``, ``tea-pot``, ``tea<U+200B>pot``) or spaced out
(``t e a p o t``).  :func:`normalize` undoes all of these, so a text and a
term meet in one spelling: words of letters and digits, one space apart.

:func:`find_term` is the rule a term matches a text by, written as plainly
as it can be: the reference the fast screening index
(:mod:`bastion.matching.terms`) is tested against.  A term matches where the
text holds its words, in order, as whole words: exactly, or with at most
:func:`max_edits` character edits over all of them (one edit per
``CHARACTERS_PER_EDIT`` letters of the term, so none for short terms).

python-threatexchange's raw text type is the peer.  Its ``normalize_string``
lowercases, strips accents, means to collapse repeated characters and then
removes everything but letters and digits, spaces included; its
``matches_str`` compares two *whole* texts (Levenshtein within 5 % of the
signal's length).  So it cannot find a term inside a prompt, and its repeat
collapse never runs: the pattern ``"(.)(\\1)+"`` is not a raw string, so its
``\\1`` is the control character U+0001, not a back-reference
(tests/signals/test_text.py shows both on the installed package).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

#: Digits and symbols read as the letters they stand for, in a word that has
#: at least one letter (so "2024" stays a number and "r2d2" keeps its 2s).
LEETSPEAK: Mapping[str, str] = MappingProxyType(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "9": "g",
        "@": "a",
        "$": "s",
    }
)
#: Characters that join the letters on either side into one word (t.e.a.p.o.t,
#: tea-pot, tea_pot, tea'pot, tea*pot): dots, dashes, underscores,
#: apostrophes, middle dots, bullets, asterisks and tildes.  Anywhere else,
#: like every other punctuation mark and space, they separate words.
JOINERS = "._-'\u2019\u2010\u2011\u2012\u2013\u2014\u2015\u00b7\u2022*~"
#: A run of at least this many one-character words is one spaced-out word
#: ("t e a p o t"); a shorter one ("a b") stays apart.
SPACED_OUT_RUN = 3
#: A term may differ from the text in one character edit for each this many
#: of its letters and digits: floor(6 / 5) = 1 edit for "teapot" and none
#: for "tea".  ``TermIndex`` and ``TextType`` take another ratio as a parameter.
CHARACTERS_PER_EDIT = 5

#: Leetspeak symbols are word characters; other punctuation is not.
_SYMBOLS = "".join(sorted(c for c in LEETSPEAK if not c.isalnum()))
_WORD_CHAR = rf"(?:[^\W_]|[{re.escape(_SYMBOLS)}])"
_WORD = re.compile(rf"{_WORD_CHAR}+(?:[{re.escape(JOINERS)}]+{_WORD_CHAR}+)*")
_LETTER = re.compile(r"[^\W\d_]")
_REPEATED_LETTER = re.compile(r"([^\W\d_])\1+")
_LEET = str.maketrans(dict(LEETSPEAK))
_DROP_JOINERS = str.maketrans("", "", JOINERS)
_DROP_SYMBOLS = str.maketrans("", "", _SYMBOLS)
#: Unicode categories dropped outright: combining and enclosing marks (the
#: accents NFKD splits off) and format characters (zero-width spaces and
#: joiners, soft hyphens, byte-order marks), which are invisible.
_DROPPED_CATEGORIES = frozenset({"Mn", "Me", "Cf"})


class TermFind(NamedTuple):
    """Where a term is in a canonical text: ``text[start:end]`` and its edit distance."""

    start: int
    end: int
    distance: int


def normalize(text: str) -> str:
    """``text`` in canonical spelling: its words, one space apart ("" if it has none)."""
    return " ".join(
        _spaced_out_joined([w for raw in _WORD.findall(_fold(text)) if (w := _word(raw))])
    )


def _fold(text: str) -> str:
    """Case folded, compatibility-decomposed, without marks and invisible characters.

    NFKD runs twice: before case folding, so a letter that decomposes to a
    capital (U+210C, black-letter H) is folded too, and after, so a letter
    that folds to one with an accent loses the accent.
    """
    if text.isascii():
        return text.lower()
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return "".join(c for c in folded if unicodedata.category(c) not in _DROPPED_CATEGORIES)


def _word(raw: str) -> str:
    """One word as spelled in canonical text: joiners gone, leetspeak read as
    letters, each run of a repeated letter as one letter; a word without a
    letter keeps only its digits."""
    word = raw.translate(_DROP_JOINERS)
    if _LETTER.search(word) is None:
        return word.translate(_DROP_SYMBOLS)
    return _REPEATED_LETTER.sub(r"\1", word.translate(_LEET))


def _spaced_out_joined(words: list[str]) -> list[str]:
    """Runs of ``SPACED_OUT_RUN`` or more one-character words joined into one word.

    Judged after repeats are collapsed, so a word that collapses to one
    letter counts as one; the joined word is spelled again (its digits may
    be leetspeak now that it has letters, and its letters may repeat).
    """
    joined: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1:
            run.append(word)
            continue
        if len(run) >= SPACED_OUT_RUN:
            joined.append(_word("".join(run)))
        else:
            joined.extend(run)
        run = []
        if word:
            joined.append(word)
    return joined


def max_edits(term: str, characters_per_edit: int = CHARACTERS_PER_EDIT) -> int:
    """Character edits a canonical term may differ by and still match: one for
    each ``characters_per_edit`` of its letters and digits (spaces not counted)."""
    if characters_per_edit < 1:
        raise ValueError(f"characters_per_edit must be at least 1, not {characters_per_edit}")
    return (len(term) - term.count(" ")) // characters_per_edit


def levenshtein(left: str, right: str, limit: int | None = None) -> int:
    """Edit distance: insertions, deletions and substitutions of one character.

    Given a ``limit``, a distance beyond it is not worked out: the answer is
    then ``limit + 1`` (what screening needs: within the edits or not).
    """
    if left == right:
        return 0
    beyond = None if limit is None else limit + 1
    if beyond is not None and abs(len(left) - len(right)) >= beyond:
        return beyond
    previous = list(range(len(right) + 1))
    for row, a in enumerate(left, start=1):
        current = [row]
        for column, b in enumerate(right, start=1):
            current.append(
                min(previous[column] + 1, current[column - 1] + 1, previous[column - 1] + (a != b))
            )
        if beyond is not None and min(current) >= beyond:
            return beyond
        previous = current
    return previous[-1] if beyond is None else min(previous[-1], beyond)


def find_term(text: str, term: str, edits: int) -> TermFind | None:
    """Where canonical ``term`` matches canonical ``text``, by brute force.

    Every run of as many whole words of the text as the term has is
    compared word for word with the term; its distance is the sum of the
    words' edit distances.  The closest run within ``edits`` wins, the
    leftmost of equals; None when no run is within ``edits``.
    """
    words = text.split(" ") if text else []
    wanted = term.split(" ")
    starts = []
    offset = 0
    for word in words:
        starts.append(offset)
        offset += len(word) + 1
    best: TermFind | None = None
    for first in range(len(words) - len(wanted) + 1):
        run = words[first : first + len(wanted)]
        distance = sum(levenshtein(word, part) for word, part in zip(run, wanted, strict=True))
        if distance <= edits and (best is None or distance < best.distance):
            last = first + len(wanted) - 1
            best = TermFind(starts[first], starts[last] + len(words[last]), distance)
    return best
