"""Which queued item a reviewer sees first.

Items fall into tiers - a hit in a known bank ("bank"), evidence of AI
generation ("ai"), everything else ("other") - ordered by the operator
(``BASTION_REVIEW_PRIORITY``, default ``bank,ai,other``).  Within the bank
tier, the most severe category any matched entry carries comes first (the
ranks are in the schemes' table, ``bastion.labels``); within the AI
tier, verified evidence before declared.
"""

from __future__ import annotations

from dataclasses import dataclass

from bastion.config import ConfigError
from bastion.labels import severity
from bastion.pipeline import ScanResult
from bastion.provenance.evidence import Origin, Strength

TIERS = ("bank", "ai", "other")
#: Origins that put an item in the AI tier.
_AI = frozenset({Origin.AI_GENERATED, Origin.AI_EDITED})


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


def priority(result: ScanResult, order: tuple[str, ...]) -> Priority:
    """The priority of a scan's result: its matches' labels, else its provenance."""
    provenance = result.provenance
    if result.matches:
        tier = "bank"
        within = max(
            (severity(label) for match in result.matches for label in match.labels),
            default=0,
        )
    elif provenance is not None and provenance.origin in _AI:
        tier = "ai"
        within = 2 if provenance.strength is Strength.VERIFIED else 1
    else:
        tier = "other"
        within = 0
    rank = len(order) - order.index(tier)
    return Priority(rank * 100 + within, tier)
