"""Screening prompts for banked terms: Bastion's TermIndex vs python-threatexchange.

Usage:  python bench/terms.py [--terms 10000] [--prompts 100000]
            [--tx-sample 200] [--bare 1000] [--seed 1]

All words are made up (pronounceable nonsense from syllables), so the
vocabulary is neutral.  --terms terms (85 % one word of 2-4 syllables, 15 %
two words of 1-3) and --prompts prompts of 10-60 words drawn from 5,000 other
made-up words (of other syllables); a third of the prompts have one or two terms planted, each
as it is (half), or in leetspeak, split by separators (dots, dashes,
zero-width spaces), with letters repeated, or with one typo.  Measured in
one run, one process:

  bastion  TermIndex.from_terms (built once, timed apart) and .screen of
           every prompt: normalisation, exact terms by token hashing, the
           others by the per-word deletion neighbourhood.
  tx       python-threatexchange's raw text index (LevenshteinLinearSearch,
           what its raw text type matches with): every term added, then
           .query of each prompt, which runs RawTextSignal.matches_str of
           every term against the prompt.  It takes about a second per
           prompt, so a random sample of --tx-sample prompts is timed and
           the time scaled to all prompts (the report says so).

Then the matches are compared: on the sampled prompts, and on --bare
queries that are each one term alone (spelled in the same ways), which is
where threatexchange's rule can match at all: it compares the whole
(space-less) text with the whole term, within 5 % of the term's length.
Every difference is counted by the spelling it came from, with the reason.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from threatexchange.common import normalize_string
from threatexchange.signal_type.raw_text import LevenshteinLinearSearch, RawTextSignal

from bastion.matching.terms import TermIndex
from bastion.signals.text import normalize

#: Terms and the other words of prompts are made of different syllables (as a
#: list's terms are not the everyday words around them), so other words are
#: rarely within a term's edits by chance.
TERM_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st")
FILLER_ONSETS = ("c", "h", "j", "w", "y", "ch", "sh", "th", "wh", "qu", "sc", "tw")
VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ou")
#: Syllables of terms may close on a consonant (fewer terms a typo apart).
TERM_CODAS = ("", "", "", "n", "r", "l", "m", "k", "s")
FILLER_WORDS = 5_000
PLANTED_SHARE = 1 / 3
#: How a planted term is spelled, and how often.
SPELLINGS = {"plain": 0.5, "leet": 0.125, "separators": 0.125, "repeats": 0.125, "typo": 0.125}
LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
SEPARATORS = (".", "-", "_", "\u200b")
#: Why Bastion finds a planted term threatexchange does not, by its spelling.
REASONS = {
    "leet": "threatexchange keeps digits: t34p0t is not teapot to it",
    "repeats": "threatexchange's repeat collapse never runs (its pattern is not a raw string)",
    "typo": "threatexchange allows edits within 5 % of the term's length (none under 20 "
    "letters), Bastion one per 5 letters",
    "unplanted": "another term within the edits of what was planted",
}
WHOLE_TEXTS = (
    "threatexchange compares the whole prompt with the whole term, so a term among "
    "other words is never found"
)


def made_up_word(
    rng: random.Random,
    syllables: tuple[int, int],
    onsets: tuple[str, ...] = TERM_ONSETS,
    codas: tuple[str, ...] = TERM_CODAS,
) -> str:
    return "".join(
        rng.choice(onsets) + rng.choice(VOWELS) + rng.choice(codas)
        for _ in range(rng.randint(*syllables))
    )


def make_terms(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct canonical terms."""
    terms: dict[str, None] = {}
    while len(terms) < count:
        words = 2 if rng.random() < 0.15 else 1
        syllables = (1, 3) if words == 2 else (2, 4)
        term = normalize(" ".join(made_up_word(rng, syllables) for _ in range(words)))
        terms.setdefault(term)
    return list(terms)


def spell(term: str, spelling: str, rng: random.Random) -> str:
    """``term`` as someone getting it past a filter might write it."""
    letters = list(term)
    if spelling == "leet":
        return "".join(LEET.get(c, c) if rng.random() < 0.6 else c for c in letters)
    if spelling == "separators":
        separator = rng.choice(SEPARATORS)
        return " ".join(separator.join(word) for word in term.split(" "))
    if spelling == "repeats":
        where = rng.choice([n for n, c in enumerate(letters) if c != " "])
        letters[where] *= rng.randint(3, 6)
        return "".join(letters)
    if spelling == "typo":
        where = rng.choice([n for n, c in enumerate(letters) if c != " "])
        letters[where] = rng.choice([c for c in "bdgkmnprstz" if c != letters[where]])
        return "".join(letters)
    return term.upper() if rng.random() < 0.2 else term


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    #: (term, spelling) planted in it.
    planted: tuple[tuple[str, str], ...]


def make_prompts(count: int, terms: list[str], rng: random.Random) -> list[Query]:
    filler = [made_up_word(rng, (1, 3), FILLER_ONSETS, ("",)) for _ in range(FILLER_WORDS)]
    kinds, weights = list(SPELLINGS), list(SPELLINGS.values())
    queries = []
    for _ in range(count):
        words = rng.choices(filler, k=rng.randint(10, 60))
        planted = []
        if rng.random() < PLANTED_SHARE:
            for _ in range(rng.randint(1, 2)):
                term, spelling = rng.choice(terms), rng.choices(kinds, weights)[0]
                words.insert(rng.randrange(len(words) + 1), spell(term, spelling, rng))
                planted.append((term, spelling))
        queries.append(Query(" ".join(words), tuple(planted)))
    return queries


def make_bare(count: int, terms: list[str], rng: random.Random) -> list[Query]:
    """Queries that are one term alone, spelled each way in turn."""
    kinds = list(SPELLINGS)
    queries = []
    for n in range(count):
        term, spelling = rng.choice(terms), kinds[n % len(kinds)]
        queries.append(Query(spell(term, spelling, rng), ((term, spelling),)))
    return queries


Pairs = set[tuple[int, str]]


def timed(work: Callable[[], Pairs]) -> tuple[Pairs, float]:
    started = time.perf_counter()
    found = work()
    return found, time.perf_counter() - started


def bastion_pairs(index: TermIndex, queries: list[Query]) -> Pairs:
    return {(n, hit.term) for n, query in enumerate(queries) for hit in index.screen(query.text)}


def tx_pairs(tx: LevenshteinLinearSearch, queries: list[Query], numbers: list[int]) -> Pairs:
    return {(n, match.metadata) for n in numbers for match in tx.query(queries[n].text)}


def compare(
    title: str, queries: list[Query], numbers: list[int], ours: Pairs, theirs: Pairs
) -> None:
    """Agreement of the two answers on ``numbers``, by the spelling of what was
    planted, with why they differ; every pair only threatexchange found is shown."""
    chosen = set(numbers)
    ours = {pair for pair in ours if pair[0] in chosen}
    spelled = {(n, term): spelling for n in numbers for term, spelling in queries[n].planted}
    rows: dict[str, Counter[str]] = {kind: Counter() for kind in [*SPELLINGS, "unplanted"]}
    for spelling in spelled.values():
        rows[spelling]["planted"] += 1
    for pair in ours | theirs:
        row = rows[spelled.get(pair, "unplanted")]
        row["bastion"] += pair in ours
        row["tx"] += pair in theirs
        row["both"] += pair in ours and pair in theirs
        row["tx only"] += pair in theirs and pair not in ours
        row["bastion only"] += pair in ours and pair not in theirs
    columns = ("planted", "bastion", "tx", "both", "tx only", "bastion only")
    print(f"\n{title}: {len(numbers):,} queries")
    print(f"{'spelling':<11}" + "".join(f"{c:>13}" for c in columns))
    for kind, counts in rows.items():
        print(f"{kind:<11}" + "".join(f"{counts[c]:>13,}" for c in columns))
    whole = any(len(queries[n].text.split()) > 2 for n in numbers)
    for kind, counts in rows.items():
        if counts["bastion only"]:
            reason = WHOLE_TEXTS if whole and kind != "unplanted" else REASONS.get(kind, "")
            print(f"  bastion only, {kind}: {reason}")
    for n, term in sorted(theirs - ours):
        seen = normalize_string(queries[n].text)
        print(
            f"  tx only: {queries[n].text[:60]!r} ~ {term!r}: threatexchange compares "
            f"{seen[:40]!r} with {normalize_string(term)!r} (spaces dropped, "
            f"{RawTextSignal.matches_str(term, queries[n].text).distance.pretty_str()} alike); "
            f"Bastion's words line up one for one"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terms", type=int, default=10_000)
    parser.add_argument("--prompts", type=int, default=100_000)
    parser.add_argument("--tx-sample", type=int, default=200)
    parser.add_argument("--bare", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    terms = make_terms(args.terms, rng)
    prompts = make_prompts(args.prompts, terms, rng)
    bare = make_bare(args.bare, terms, rng)
    words = statistics.mean(len(q.text.split()) for q in prompts)
    print(
        f"{len(terms):,} terms, {len(prompts):,} prompts ({words:.0f} words on average), "
        f"{sum(len(q.planted) for q in prompts):,} terms planted; python {sys.version.split()[0]}"
    )

    started = time.perf_counter()
    index = TermIndex.from_terms(terms)
    build = time.perf_counter() - started
    ours, ours_seconds = timed(lambda: bastion_pairs(index, prompts))

    tx = LevenshteinLinearSearch()
    started = time.perf_counter()
    for term in terms:
        tx.add(term, term)
    tx_build = time.perf_counter() - started
    sample = sorted(random.Random(args.seed + 1).sample(range(len(prompts)), args.tx_sample))
    theirs, tx_seconds = timed(lambda: tx_pairs(tx, prompts, sample))
    tx_scaled = tx_seconds / len(sample) * len(prompts)

    ours_rate, tx_rate = len(prompts) / ours_seconds, len(sample) / tx_seconds
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\n{'method':<9}{'build s':>9}{'prompts':>10}{'seconds':>10}{'prompts/s':>11}"
        f"{'ms/prompt':>11}"
    )
    print(
        f"{'bastion':<9}{build:>9.2f}{len(prompts):>10,}{ours_seconds:>10.1f}{ours_rate:>11,.0f}"
        f"{1000 / ours_rate:>11.3f}"
    )
    print(
        f"{'tx':<9}{tx_build:>9.2f}{len(sample):>10,}{tx_seconds:>10.1f}{tx_rate:>11,.1f}"
        f"{1000 / tx_rate:>11.1f}"
    )
    print(
        f"tx on all {len(prompts):,} prompts, scaled from its {len(sample)}-prompt sample: "
        f"{tx_scaled:,.0f} s"
    )
    print(
        f"bastion/tx: {tx_scaled / ours_seconds:,.0f}x (required: 20x); peak memory {peak:,.0f} MB"
    )

    found = Counter(
        spelling
        for n, query in enumerate(prompts)
        for term, spelling in query.planted
        if (n, term) in ours
    )
    planted = Counter(spelling for query in prompts for _, spelling in query.planted)
    print(
        "\nplanted terms bastion found, by spelling: "
        + ", ".join(f"{kind} {found[kind]:,}/{planted[kind]:,}" for kind in SPELLINGS)
    )
    compare("prompts tx was timed on", prompts, sample, ours, theirs)
    bare_ours = bastion_pairs(index, bare)
    bare_theirs = tx_pairs(tx, bare, list(range(len(bare))))
    compare("one-term queries", bare, list(range(len(bare))), bare_ours, bare_theirs)


if __name__ == "__main__":
    main()
