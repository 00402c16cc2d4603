"""Neutral placeholder words for the text tests: pronounceable nonsense, and typos of it."""

from __future__ import annotations

import random

from bastion.signals.text import normalize

ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "pl", "tr")
VOWELS = ("a", "e", "i", "o", "u", "ai", "ou")


def placeholder_word(rng: random.Random, syllables: tuple[int, int] = (1, 4)) -> str:
    """A made-up word in canonical spelling, such as "bralomi"."""
    count = rng.randint(*syllables)
    return normalize("".join(rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(count)))


def placeholder_text(rng: random.Random, words: tuple[int, int] = (1, 3)) -> str:
    """Some made-up words, one space apart (canonical)."""
    return normalize(" ".join(placeholder_word(rng) for _ in range(rng.randint(*words))))


def with_typos(text: str, count: int, rng: random.Random) -> str:
    """``text`` with ``count`` random letters inserted, deleted or replaced
    (canonical again afterwards, so it may come out closer still)."""
    letters = list(text)
    for _ in range(count):
        where = rng.randrange(len(letters) + 1)
        edit = rng.choice(("insert", "delete", "replace"))
        if edit == "insert" or where == len(letters):
            letters.insert(where, rng.choice("abcdefghijklmnopqrstuvwxyz"))
        elif edit == "delete" and len(letters) > 1:
            del letters[where]
        else:
            letters[where] = rng.choice("abcdefghijklmnopqrstuvwxyz")
    return normalize("".join(letters)) or text
