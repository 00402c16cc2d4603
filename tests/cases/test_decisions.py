"""Analysts on a case: claims, decisions on whole clusters, undo, recorded reveals."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from bastion.cases.analysts import Analysts
from bastion.cases.priority import Tier
from bastion.cases.reading import CaseReader
from bastion.cases.records import CaseConflict, CaseForbidden, CaseNotFound
from bastion.review.items import Reveal
from bastion.store.models import AuditRecord, CaseEvent
from tests.cases.conftest import Built, analyst


def _camera_cluster(built: Built) -> int:
    first = CaseReader(built.store).page(built.case.name, limit=1).clusters[0]
    assert first.size == 3
    return first.id


def test_a_decision_applies_to_every_member_and_says_so(built: Built) -> None:
    alice = analyst(built.store, "alice")
    work = Analysts(built.store, built.settings)
    cluster = _camera_cluster(built)
    work.claim(built.case.name, cluster, alice)
    decided = work.decide(built.case.name, cluster, "1", alice)
    assert decided.category == "projectvic:1"
    assert decided.members == 3
    detail = CaseReader(built.store).cluster(built.case.name, cluster)
    assert {m.category for m in detail.members} == {"projectvic:1"}
    assert {m.decision_id for m in detail.members} == {decided.decision_id}
    assert detail.card.status == "decided"
    assert detail.card.category_title == "CSAM"
    with built.store.sessions() as session:
        actions = session.execute(select(AuditRecord.action)).scalars().all()
    assert "case.decide" in actions


def test_deciding_needs_the_claim(built: Built) -> None:
    alice = analyst(built.store, "alice")
    work = Analysts(built.store, built.settings)
    with pytest.raises(CaseConflict):
        work.decide(built.case.name, _camera_cluster(built), "1", alice)


def test_undo_restores_what_each_member_had(built: Built) -> None:
    alice = analyst(built.store, "alice")
    work = Analysts(built.store, built.settings)
    cluster = _camera_cluster(built)
    work.claim(built.case.name, cluster, alice)
    first = work.decide(built.case.name, cluster, "projectvic:2", alice)
    work.claim(built.case.name, cluster, alice)
    work.decide(built.case.name, cluster, "CSAM", alice)
    work.undo(built.case.name, cluster, alice)
    members = CaseReader(built.store).cluster(built.case.name, cluster).members
    assert {m.category for m in members} == {"projectvic:2"}
    assert {m.decision_id for m in members} == {first.decision_id}
    work.undo(built.case.name, cluster, alice)
    card = CaseReader(built.store).cluster(built.case.name, cluster).card
    assert card.status == "open"
    assert card.category is None
    members = CaseReader(built.store).cluster(built.case.name, cluster).members
    assert {m.category for m in members} == {None}
    with pytest.raises(CaseConflict):
        work.undo(built.case.name, cluster, alice)


def test_a_known_cluster_moves_to_known_and_categorised_when_decided(built: Built) -> None:
    alice = analyst(built.store, "alice")
    work = Analysts(built.store, built.settings)
    reader = CaseReader(built.store)
    known = reader.page(built.case.name, tier=Tier.KNOWN_UNCATEGORISED).clusters[0]
    work.claim(built.case.name, known.id, alice)
    work.decide(built.case.name, known.id, "2", alice)
    assert reader.cluster(built.case.name, known.id).card.tier is Tier.KNOWN_CATEGORISED
    work.undo(built.case.name, known.id, alice)
    assert reader.cluster(built.case.name, known.id).card.tier is Tier.KNOWN_UNCATEGORISED


def test_two_analysts_never_hold_one_cluster(built: Built) -> None:
    people = [analyst(built.store, f"analyst{n}") for n in range(4)]
    work = Analysts(built.store, built.settings)
    cluster = _camera_cluster(built)

    def grab(who):  # type: ignore[no-untyped-def]
        try:
            work.claim(built.case.name, cluster, who)
            return who.name
        except CaseConflict:
            return None

    with ThreadPoolExecutor(4) as pool:
        holders = [name for name in pool.map(grab, people) if name]
    assert len(holders) == 1
    holder = next(p for p in people if p.name == holders[0])
    other = next(p for p in people if p.name != holders[0])
    with pytest.raises(CaseConflict):
        work.decide(built.case.name, cluster, "1", other)
    # Claiming "the next one" skips what another analyst holds.
    taken = {work.claim_next(built.case.name, p) for p in people if p != holder}
    assert cluster not in taken
    assert len(taken) == 3


def test_reveals_are_recorded_and_need_the_claim(built: Built) -> None:
    alice = analyst(built.store, "alice")
    work = Analysts(built.store, built.settings)
    cluster = _camera_cluster(built)
    item = CaseReader(built.store).cluster(built.case.name, cluster).members[0].id
    protected = work.image(built.case.name, item, alice, None)
    assert protected[:2] == b"\xff\xd8"
    with pytest.raises(CaseConflict):
        work.image(built.case.name, item, alice, Reveal.FULL)
    work.claim(built.case.name, cluster, alice)
    revealed = work.image(built.case.name, item, alice, Reveal.FULL)
    assert revealed != protected
    with built.store.sessions() as session:
        events = session.execute(select(CaseEvent.action, CaseEvent.item_id)).all()
    assert ("reveal", item) in events


def test_metadata_is_coarse_until_revealed(built: Built) -> None:
    alice = analyst(built.store, "alice")
    work = Analysts(built.store, built.settings)
    cluster = _camera_cluster(built)
    members = CaseReader(built.store).cluster(built.case.name, cluster).members
    camera = next(m for m in members if m.item_id == str(built.evidence.camera))
    shown = work.metadata(built.case.name, camera.id, alice, reveal=False)
    assert shown["gps"].startswith("51.5,-0.1")
    assert shown["serial"] == "(reveal to see)"
    work.claim(built.case.name, cluster, alice)
    exact = work.metadata(built.case.name, camera.id, alice, reveal=True)
    assert exact["serial"] == "SN-0001"
    assert exact["captured_at"] == "2019:07:14 10:20:30"
    assert exact["gps"] == "51.500000,-0.125000"
    with built.store.sessions() as session:
        actions = session.execute(select(AuditRecord.action, AuditRecord.detail)).all()
    assert any(action == "case.reveal-metadata" for action, _ in actions)
    assert not any("SN-0001" in detail for _, detail in actions)
    assert json.dumps(exact)  # plain JSON for the door


def test_clients_and_strangers_cannot_work_a_case(built: Built) -> None:
    client = analyst(built.store, "machine", role="client")
    work = Analysts(built.store, built.settings)
    with pytest.raises(CaseForbidden):
        work.claim(built.case.name, _camera_cluster(built), client)
    with pytest.raises(CaseNotFound):
        work.claim("no-such-case", 1, analyst(built.store, "alice"))


def test_the_metadata_panel_names_the_generator_and_the_signer(built: Built) -> None:
    alice = analyst(built.store, "alice")
    work = Analysts(built.store, built.settings)
    reader = CaseReader(built.store)
    generated = reader.page(built.case.name, tier=Tier.GENERATED).clusters
    details = [
        work.metadata(built.case.name, card.first_item, alice, reveal=False) for card in generated
    ]
    assert details[0]["signer"]["common_name"] == "Case tests Signer"
    assert details[1]["generator"] == "AUTOMATIC1111"
    assert any("placeholder" in text for text in details[1]["provenance"]) is False
