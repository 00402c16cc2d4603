"""Which queued item a reviewer sees first.

Items fall into tiers - a hit in a known bank ("bank"), evidence of AI
generation ("ai"), everything else ("other") - ordered by the operator
(``BASTION_REVIEW_PRIORITY``, default ``bank,ai,other``).  Within the bank
tier, the most severe category any matched entry carries comes first;
within the AI tier, verified evidence before declared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bastion.config import ConfigError

TIERS = ("bank", "ai", "other")

#: Rank of each list's category codes, highest first (codes only: what the
#: codes mean is defined by each list, see ``bastion.labels``).
SEVERITY: Mapping[str, int] = {
    "ncmec:A1": 4,
    "ncmec:A2": 3,
    "ncmec:B1": 2,
    "ncmec:B2": 1,
    "iwf:A": 3,
    "iwf:B": 2,
    "iwf:C": 1,
    "projectvic:1": 3,
    "projectvic:2": 2,
}


@dataclass(frozen=True, slots=True)
class Priority:
    value: int
    tier: str


def tier_order(setting: str) -> tuple[str, ...]:
    """The tiers, most urgent first, as ``BASTION_REVIEW_PRIORITY`` names them."""
    order = tuple(part.strip() for part in setting.split(",") if part.strip())
    if sorted(order) != sorted(TIERS):
        raise ConfigError(
            f"BASTION_REVIEW_PRIORITY={setting!r} must name each of {', '.join(TIERS)} once"
        )
    return order


def priority(row: Mapping[str, Any], order: tuple[str, ...]) -> Priority:
    """The priority of a scan result row (``ScanResult.to_row()``)."""
    matches = row.get("matches") or []
    level = str(row.get("provenance") or "")
    if matches:
        tier = "bank"
        within = max(
            (SEVERITY.get(label, 0) for match in matches for label in match.get("labels", ())),
            default=0,
        )
    elif level.startswith(("ai-generated", "ai-edited")):
        tier = "ai"
        within = 2 if level.endswith("verified") else 1
    else:
        tier = "other"
        within = 0
    rank = len(order) - order.index(tier)
    return Priority(rank * 100 + within, tier)
