"""The one table of label schemes: codes, their order of severity, their names."""

from __future__ import annotations

import pytest

from bastion.labels import SCHEMES, InvalidLabel, normalize_label, severity
from bastion.service.ui import CATEGORIES


def test_every_scheme_code_is_a_label_and_nothing_else_is() -> None:
    for scheme in SCHEMES.values():
        for label in scheme.labels:
            assert (
                normalize_label(label.upper().replace(scheme.prefix.upper(), scheme.prefix))
                == label
            )
    with pytest.raises(InvalidLabel, match="expected one of A1, A2, B1, B2"):
        normalize_label("ncmec:C9")


def test_severity_ranks_codes_within_a_scheme_and_not_tags() -> None:
    assert severity("ncmec:A1") > severity("ncmec:A2") > severity("ncmec:B1") > severity("ncmec:B2")
    assert severity("iwf:A") > severity("iwf:B") > severity("iwf:C") > 0
    assert severity("projectvic:1") > severity("projectvic:2") > severity("projectvic:0") == 0
    assert severity("ncmec") == severity("a tag") == severity("other:A1") == 0


def test_reviewers_are_offered_every_category_of_every_scheme_by_its_name() -> None:
    assert {
        "NCMEC": ["ncmec:A1", "ncmec:A2", "ncmec:B1", "ncmec:B2"],
        "IWF": ["iwf:A", "iwf:B", "iwf:C"],
        "Project VIC": [f"projectvic:{n}" for n in range(5)],
    } == CATEGORIES
