"""Labels on bank entries: category codes from a named scheme, or free tags.

Lists classify what they carry in their own schemes; Bastion keeps the code
and the scheme together (``ncmec:A1``, ``iwf:B``, ``projectvic:1``) so a
reviewer and a report know which scale a category belongs to.  A label
without a known scheme prefix is a free tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from bastion.errors import BastionError


@dataclass(frozen=True, slots=True)
class Scheme:
    """A list's category scale: its label prefix, the name people know it by,
    and each code with its severity rank (higher is reviewed first; 0 none)."""

    prefix: str
    title: str
    codes: Mapping[str, int]

    @property
    def labels(self) -> list[str]:
        """Every category of the scheme as a label, ``ncmec:A1`` first."""
        return [f"{self.prefix}:{code}" for code in self.codes]


#: The category codes each scheme defines (anything else is a typo or a new
#: scale) and their severity ranks.  Ranks are codes' order within a scheme,
#: comparable across schemes only roughly: what the codes mean is defined by
#: each list.
SCHEMES: dict[str, Scheme] = {
    scheme.prefix: scheme
    for scheme in (
        Scheme("ncmec", "NCMEC", {"A1": 4, "A2": 3, "B1": 2, "B2": 1}),
        Scheme("iwf", "IWF", {"A": 3, "B": 2, "C": 1}),
        Scheme("projectvic", "Project VIC", {"0": 0, "1": 3, "2": 2, "3": 0, "4": 0}),
    )
}
#: Separates labels in one text field (CSV column, database row).
SEPARATOR = ";"

_TAG = re.compile(r"[^\x00-\x1f;]{1,200}")


class InvalidLabel(BastionError, ValueError):
    """A label that is not a known category code nor a usable tag."""

    code = "invalid-label"
    status = 400


@lru_cache(maxsize=4096)
def normalize_label(text: str) -> str:
    """``"NCMEC:a1"`` -> ``"ncmec:A1"``; free tags are kept as written (trimmed).

    Cached: a list of millions of rows repeats a handful of labels."""
    label = text.strip()
    scheme, found, code = label.partition(":")
    known = SCHEMES.get(scheme.strip().lower()) if found else None
    if known is not None:
        canonical = code.strip().upper()
        if canonical not in known.codes:
            raise InvalidLabel(
                f"unknown {known.prefix} category {code.strip()!r} "
                f"(expected one of {', '.join(known.codes)})"
            )
        return f"{scheme.strip().lower()}:{canonical}"
    if not _TAG.fullmatch(label):
        raise InvalidLabel(
            f"tag {label[:40]!r} must be 1-200 characters without ';' or control characters"
        )
    return label


def severity(label: str) -> int:
    """The severity rank of a canonical label (0 for a free tag or an unranked code)."""
    scheme, _, code = label.partition(":")
    known = SCHEMES.get(scheme)
    return known.codes.get(code, 0) if known else 0


def normalize_labels(labels: Iterable[str]) -> tuple[str, ...]:
    """Sorted, de-duplicated canonical labels (empty strings dropped)."""
    return tuple(sorted({normalize_label(label) for label in labels if label.strip()}))


def format_labels(labels: Iterable[str]) -> str:
    return SEPARATOR.join(labels)


def parse_stored_labels(field: str) -> tuple[str, ...]:
    """Labels as the store keeps them: already canonical, joined by ``;``."""
    return tuple(field.split(SEPARATOR)) if field else ()
