"""Inputs fuzzing (or an issue) found that once broke a parser, each run through its fuzz target.

``tests/fuzz/corpus/<target>/`` holds small benign-but-malformed files, made
from generated images and placeholder text; ``make fuzz`` also starts from
them.  A target raises when a parser lets an unexpected exception escape.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz.targets import TARGETS

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(CORPUS.glob("*/*"))


def test_every_corpus_folder_names_a_target() -> None:
    assert CASES
    assert {case.parent.name for case in CASES} <= set(TARGETS)


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.parent.name}/{case.name}")
def test_corpus_input_passes_its_target(case: Path) -> None:
    TARGETS[case.parent.name](case.read_bytes())
