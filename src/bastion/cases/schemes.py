"""The category scales a case is worked in: Project VIC, NCMEC, or the case's own.

A case's categories are stored as labels, the same words a bank entry
carries (``projectvic:1``, ``ncmec:A1``), so that a category decided in a
case can be published to a bank and recognised by the next case, and a bank
entry's category is recognised in a case.  A custom scheme's categories are
free tags, most severe first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bastion.errors import BastionError
from bastion.labels import InvalidLabel, normalize_label


class SchemeError(BastionError, ValueError):
    """A category scheme or category that a case does not have."""

    code = "case-scheme"
    status = 400


@dataclass(frozen=True, slots=True)
class Category:
    label: str
    title: str
    #: Higher is more severe; a bank's labels give an item the most severe one.
    severity: int
    #: Published to a bank by default: material a bank should know, not
    #: "uncategorized" or comparison images (a blocklist entry is a match).
    publish: bool = True


@dataclass(frozen=True, slots=True)
class CaseScheme:
    name: str
    categories: tuple[Category, ...]

    def category(self, text: str) -> Category:
        """The category ``text`` names: its label, its code alone or its title."""
        wanted = text.strip()
        for category in self.categories:
            code = category.label.partition(":")[2] or category.label
            if wanted.lower() in (category.label.lower(), code.lower(), category.title.lower()):
                return category
        choices = ", ".join(f"{c.label} ({c.title})" for c in self.categories)
        raise SchemeError(f"{text!r} is not a category of scheme {self.name}: {choices}")

    def title(self, label: str | None) -> str:
        if label is None:
            return "uncategorised"
        for category in self.categories:
            if category.label == label:
                return category.title
        return label

    def of_labels(self, labels: Iterable[str]) -> str | None:
        """The most severe category of this scheme among a bank entry's labels."""
        known = {category.label: category for category in self.categories}
        found = [known[label] for label in labels if label in known]
        return max(found, key=lambda c: c.severity).label if found else None

    def most_severe(self, labels: Iterable[str | None]) -> str | None:
        return self.of_labels(label for label in labels if label is not None)


PROJECT_VIC = CaseScheme(
    "projectvic",
    (
        Category("projectvic:0", "Uncategorized", 0, publish=False),
        Category("projectvic:1", "CSAM", 4),
        Category("projectvic:2", "Child Exploitive", 3),
        Category("projectvic:3", "CGI/Animation", 2),
        Category("projectvic:4", "Comparison", 1, publish=False),
    ),
)
NCMEC = CaseScheme(
    "ncmec",
    (
        Category("ncmec:A1", "A1", 4),
        Category("ncmec:A2", "A2", 3),
        Category("ncmec:B1", "B1", 2),
        Category("ncmec:B2", "B2", 1),
    ),
)
SCHEMES = {scheme.name: scheme for scheme in (PROJECT_VIC, NCMEC)}


def case_scheme(name: str, custom: Sequence[str] = ()) -> CaseScheme:
    """The scheme a case is created with; ``custom`` names a custom one's
    categories, most severe first."""
    if name == "custom":
        if not custom:
            raise SchemeError(
                "a custom scheme needs its categories (--category, most severe first)"
            )
        try:
            labels = [normalize_label(text) for text in custom]
        except InvalidLabel as exc:
            raise SchemeError(str(exc)) from None
        if len(set(labels)) != len(labels):
            raise SchemeError("a custom scheme names each category once")
        ranked = [Category(label, label, len(labels) - n) for n, label in enumerate(labels)]
        return CaseScheme("custom", tuple(ranked))
    if custom:
        raise SchemeError(f"--category is for --scheme custom, not {name}")
    if name not in SCHEMES:
        raise SchemeError(f"unknown scheme {name!r}: projectvic, ncmec or custom")
    return SCHEMES[name]
