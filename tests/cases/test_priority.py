"""The order clusters are worked in, from benign evidence: camera first, generated late."""

from __future__ import annotations

from bastion.cases.priority import Tier
from bastion.cases.reading import CaseReader
from tests.cases.conftest import Built


def _by_path(built: Built) -> dict[str, tuple[Tier, str, int]]:
    reader = CaseReader(built.store)
    placed: dict[str, tuple[Tier, str, int]] = {}
    page = reader.page(built.case.name, limit=1000)
    for card in page.clusters:
        for member in reader.cluster(built.case.name, card.id).members:
            placed[member.item_id] = (card.tier, card.reason, card.size)
    return placed


def test_priority_order_of_benign_evidence(built: Built) -> None:
    placed = _by_path(built)
    evidence = built.evidence

    def tier(path: object) -> Tier:
        return placed[str(path)][0]

    assert tier(evidence.camera) is Tier.POSSIBLY_REAL_NEW
    assert tier(evidence.capture) is Tier.POSSIBLY_REAL_NEW
    assert "digitalCapture" in placed[str(evidence.capture)][1]
    assert tier(evidence.plain) is Tier.NOT_KNOWN
    assert tier(evidence.known_uncategorised) is Tier.KNOWN_UNCATEGORISED
    assert tier(evidence.verified) is Tier.GENERATED
    assert tier(evidence.declared) is Tier.GENERATED
    assert tier(evidence.known_categorised) is Tier.KNOWN_CATEGORISED
    assert "CSAM" in placed[str(evidence.known_categorised)][1]
    # The unreadable file is its own cluster, said to be not checked.
    assert tier(evidence.broken) is Tier.NOT_KNOWN
    assert "NOT CHECKED" in placed[str(evidence.broken)][1]


def test_exact_and_near_copies_are_one_cluster_and_the_largest_comes_first(built: Built) -> None:
    placed = _by_path(built)
    evidence = built.evidence
    camera = placed[str(evidence.camera)]
    assert camera == placed[str(evidence.camera_copy)] == placed[str(evidence.camera_resized)]
    assert camera[2] == 3
    first = CaseReader(built.store).page(built.case.name, limit=1).clusters[0]
    assert first.tier is Tier.POSSIBLY_REAL_NEW
    assert first.size == 3


def test_verified_generation_comes_before_declared(built: Built) -> None:
    order = [
        card.id
        for card in CaseReader(built.store).page(built.case.name, limit=1000).clusters
        if card.tier is Tier.GENERATED
    ]
    reasons = [CaseReader(built.store).cluster(built.case.name, c).card.reason for c in order]
    assert "trusted signature" in reasons[0]
    assert "declared" in reasons[1]


def test_summary_counts_tiers_and_the_unchecked(built: Built) -> None:
    summary = CaseReader(built.store).summary(built.case.name)
    assert summary.items == 10
    assert sum(summary.unchecked.values()) == 1
    items = {tier: count for tier, _, count, _ in summary.tiers}
    assert items[Tier.POSSIBLY_REAL_NEW] == 4
    assert sum(items.values()) == 10
