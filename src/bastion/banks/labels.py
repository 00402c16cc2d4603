"""Labels on bank entries: category codes from a named scheme, or free tags.

Lists classify what they carry in their own schemes; Bastion keeps the code
and the scheme together (``ncmec:A1``, ``iwf:B``, ``projectvic:1``) so a
reviewer and a report know which scale a category belongs to.  A label
without a known scheme prefix is a free tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bastion.errors import BastionError

#: Category codes each scheme defines; anything else is a typo or a new scale.
SCHEMES: dict[str, tuple[str, ...]] = {
    "ncmec": ("A1", "A2", "B1", "B2"),
    "iwf": ("A", "B", "C"),
    "projectvic": ("0", "1", "2", "3", "4"),
}
#: Separates labels in one text field (CSV column, database row).
SEPARATOR = ";"

_TAG = re.compile(r"[^\x00-\x1f;]{1,200}")


class InvalidLabel(BastionError, ValueError):
    """A label that is not a known category code nor a usable tag."""

    code = "invalid-label"
    status = 400


def normalize_label(text: str) -> str:
    """``"NCMEC:a1"`` -> ``"ncmec:A1"``; free tags are kept as written (trimmed)."""
    label = text.strip()
    scheme, found, code = label.partition(":")
    codes = SCHEMES.get(scheme.strip().lower()) if found else None
    if codes is not None:
        canonical = code.strip().upper()
        if canonical not in codes:
            raise InvalidLabel(
                f"unknown {scheme.strip().lower()} category {code.strip()!r} "
                f"(expected one of {', '.join(codes)})"
            )
        return f"{scheme.strip().lower()}:{canonical}"
    if not _TAG.fullmatch(label):
        raise InvalidLabel(
            f"tag {label[:40]!r} must be 1-200 characters without ';' or control characters"
        )
    return label


def normalize_labels(labels: Iterable[str]) -> tuple[str, ...]:
    """Sorted, de-duplicated canonical labels (empty strings dropped)."""
    return tuple(sorted({normalize_label(label) for label in labels if label.strip()}))


def format_labels(labels: Iterable[str]) -> str:
    return SEPARATOR.join(labels)


def parse_stored_labels(field: str) -> tuple[str, ...]:
    """Labels as the store keeps them: already canonical, joined by ``;``."""
    return tuple(field.split(SEPARATOR)) if field else ()
