"""The case UI over a case built from benign evidence, on SQLite and PostgreSQL:
the grid in priority order, protected thumbnails, claims, recorded reveals,
categories on every member, undo, and refusals that are pages, not tracebacks."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from bastion import audit
from bastion.cases.priority import Tier
from bastion.cases.reading import CaseReader, ClusterCard
from bastion.cases.schemes import NCMEC, PROJECT_VIC, case_scheme
from bastion.review.vault import new_key
from bastion.service.case_ui import category_keys
from bastion.store.models import CaseEvent, LoginSession, User
from tests.cases.conftest import Built, built, ca, case_settings  # noqa: F401 (fixtures)
from tests.service.conftest import Service, csrf_in, start_service

HTML = {"accept": "text/html"}
HTMX = {"hx-request": "true"}
INLINE_JPEG = re.compile(r'src="data:image/jpeg;base64,([^"]+)"')


@dataclass
class CaseUI:
    """A service over a built case, and the way into it."""

    service: Service
    built: Built

    @property
    def url(self) -> str:
        return f"/ui/cases/{self.built.case.name}"

    def analyst(self, name: str) -> tuple[TestClient, str]:
        self.service.add_user(name)
        return self.service.log_in(name)

    def cards(self) -> list[ClusterCard]:
        return CaseReader(self.built.store).page(self.built.case.name, limit=1000).clusters

    def card_of(self, path: object) -> ClusterCard:
        reader = CaseReader(self.built.store)
        for card in self.cards():
            if any(
                m.item_id == str(path)
                for m in reader.cluster(self.built.case.name, card.id).members
            ):
                return card
        raise AssertionError(f"no cluster holds {path}")


@pytest.fixture
def case_ui(built: Built) -> Iterator[CaseUI]:  # noqa: F811 (the fixture imported above)
    settings = replace(built.settings, media_keys=new_key(), index_refresh_seconds=1)
    for service in start_service(settings):
        yield CaseUI(service, built)


def _sharpness(image: Image.Image) -> float:
    grey = np.asarray(image.convert("L"), dtype=np.float64)
    return float(np.abs(np.diff(grey, axis=1)).mean())


def _revealed(html: str) -> Image.Image:
    found = INLINE_JPEG.search(html)
    assert found, "no revealed picture in the answer"
    return Image.open(io.BytesIO(base64.b64decode(found.group(1))))


def _events(case_ui: CaseUI) -> list[tuple[str, str, int | None]]:
    with case_ui.built.store.sessions() as session:
        rows = session.execute(
            select(User.name, CaseEvent.action, CaseEvent.item_id)
            .join(User, User.id == CaseEvent.user_id)
            .order_by(CaseEvent.id)
        ).all()
    return [(name, action, item) for name, action, item in rows]


def test_the_grid_lists_clusters_in_priority_order_with_their_reasons(case_ui: CaseUI) -> None:
    client, _ = case_ui.analyst("ana")
    page = client.get(case_ui.url)
    assert page.status_code == 200
    cards = case_ui.cards()
    shown = [int(n) for n in re.findall(rf'href="{case_ui.url}/clusters/(\d+)"', page.text)]
    assert shown == [card.id for card in cards]
    assert cards[0].tier is Tier.POSSIBLY_REAL_NEW
    for card in cards:
        assert card.reason in page.text
        assert f'src="{case_ui.url}/items/{card.first_item}/image"' in page.text
    assert Tier.GENERATED.title in page.text
    assert "Next page" not in page.text  # ten items: one page
    assert f'hx-get="{case_ui.url}/summary"' in page.text  # the counts come next


def test_the_counts_by_tier_say_what_was_not_checked(case_ui: CaseUI) -> None:
    client, _ = case_ui.analyst("ana")
    part = client.get(f"{case_ui.url}/summary", headers=HTMX)
    assert part.text.lstrip().startswith('<div id="summary">')
    undecided = re.findall(r'<td id="undecided-(\d)">(\d+)</td>', part.text)
    assert [(int(tier), int(count)) for tier, count in undecided] == [
        (1, 2),
        (2, 2),
        (3, 1),
        (4, 2),
        (5, 1),
    ]
    assert "Not checked: 1 item" in part.text  # the unreadable file is said, not hidden
    page = client.get(f"{case_ui.url}/summary")
    assert "<h1>Case op-test: counts</h1>" in page.text
    assert "Not checked: 1 item" in page.text
    listing = client.get("/ui/cases")
    assert f'href="{case_ui.url}"' in listing.text
    brief = client.get(f"{case_ui.url}/summary", params={"brief": 1}, headers=HTMX).text
    assert "10 items · <strong" in brief
    assert "8 of 8 clusters undecided" in brief


def test_pages_follow_the_cursor_and_the_filters(case_ui: CaseUI) -> None:
    client, _ = case_ui.analyst("ana")
    cards = case_ui.cards()
    reader = CaseReader(case_ui.built.store)
    first = reader.page(case_ui.built.case.name, limit=2)
    assert first.after is not None
    later = client.get(case_ui.url, params={"after": first.after})
    shown = [int(n) for n in re.findall(rf'href="{case_ui.url}/clusters/(\d+)"', later.text)]
    assert shown == [card.id for card in cards[2:]]
    generated = client.get(case_ui.url, params={"tier": 4, "undecided": 1})
    shown = [int(n) for n in re.findall(rf'href="{case_ui.url}/clusters/(\d+)"', generated.text)]
    assert shown == [card.id for card in cards if card.tier is Tier.GENERATED]
    assert client.get(case_ui.url, params={"after": "nonsense"}, headers=HTML).status_code == 400


def test_the_thumbnail_is_grey_and_blurred_and_never_cached(case_ui: CaseUI) -> None:
    client, token = case_ui.analyst("ana")
    card = case_ui.cards()[0]
    answer = client.get(f"{case_ui.url}/items/{card.first_item}/image")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.headers["cache-control"] == "no-store"
    protected = Image.open(io.BytesIO(answer.content))
    assert protected.mode == "L"
    client.post(f"{case_ui.url}/clusters/{card.id}/claim", data={"csrf_token": token})
    revealed = _revealed(
        client.post(
            f"{case_ui.url}/items/{card.first_item}/reveal",
            data={"csrf_token": token, "cluster": card.id},
        ).text
    )
    assert revealed.mode == "RGB"
    # The generated pictures are smooth to begin with: blurring halves what detail they have.
    assert _sharpness(protected) < _sharpness(revealed) / 2


def test_a_reveal_without_a_claim_is_refused_and_not_recorded(case_ui: CaseUI) -> None:
    client, token = case_ui.analyst("ana")
    card = case_ui.cards()[0]
    page = client.get(f"{case_ui.url}/clusters/{card.id}")
    assert "Reveal <kbd>r</kbd>" not in page.text  # offered only to the holder
    for what in ("reveal", "metadata"):
        refused = client.post(
            f"{case_ui.url}/items/{card.first_item}/{what}",
            data={"csrf_token": token, "cluster": card.id},
            headers=HTML,
        )
        assert refused.status_code == 409
        assert "claim it first" in refused.text
        assert "<h1>" in refused.text  # a page, not a traceback
    assert [action for _, action, _ in _events(case_ui)] == []


def test_claim_then_reveal_is_recorded(case_ui: CaseUI) -> None:
    client, token = case_ui.analyst("ana")
    card = case_ui.card_of(case_ui.built.evidence.camera)
    claimed = client.post(f"{case_ui.url}/clusters/{card.id}/claim", data={"csrf_token": token})
    assert claimed.status_code == 200  # followed to the cluster page
    assert "held by ana" in claimed.text
    members = CaseReader(case_ui.built.store).cluster(case_ui.built.case.name, card.id).members
    camera = next(m for m in members if m.item_id == str(case_ui.built.evidence.camera))

    part = client.post(
        f"{case_ui.url}/items/{camera.id}/reveal",
        data={"csrf_token": token, "cluster": card.id},
        headers=HTMX,
    )
    assert part.status_code == 200
    assert part.text.lstrip().startswith(f'<div id="media-{camera.id}"')  # one member's part
    assert _revealed(part.text).mode == "RGB"
    again = client.post(
        f"{case_ui.url}/items/{camera.id}/reveal",
        data={"csrf_token": token, "cluster": card.id},
        headers=HTMX,
    )
    assert again.status_code == 200
    with case_ui.built.store.sessions() as session:
        counted = session.execute(select(LoginSession.reveals)).scalars().all()
    assert counted == [1]  # one image revealed this login, towards the break suggestion

    coarse = client.get(f"{case_ui.url}/clusters/{card.id}", params={"member": camera.id})
    assert "SN-0001" not in coarse.text
    assert "approximate; reveal for exact" in coarse.text
    exact = client.post(
        f"{case_ui.url}/items/{camera.id}/metadata",
        data={"csrf_token": token, "cluster": card.id},
        headers=HTMX,
    )
    assert exact.text.lstrip().startswith('<div id="metadata"')
    assert "SN-0001" in exact.text

    assert _events(case_ui) == [
        ("ana", "claim", None),
        ("ana", "reveal", camera.id),
        ("ana", "reveal", camera.id),
        ("ana", "reveal-metadata", camera.id),
    ]
    logged = [(r.actor, r.action, r.target) for r in audit.recent(case_ui.built.store)]
    name = case_ui.built.case.name
    assert ("user:ana", "case.reveal", f"case:{name}/item:{camera.id}") in logged
    assert ("user:ana", "case.reveal-metadata", f"case:{name}/item:{camera.id}") in logged


def test_a_reveal_without_htmx_shows_the_cluster_with_that_member_revealed(
    case_ui: CaseUI,
) -> None:
    client, token = case_ui.analyst("ana")
    card = case_ui.cards()[0]
    client.post(f"{case_ui.url}/clusters/{card.id}/claim", data={"csrf_token": token})
    page = client.post(
        f"{case_ui.url}/items/{card.first_item}/reveal",
        data={"csrf_token": token, "cluster": card.id},
    )
    assert page.status_code == 200
    assert f"Cluster {card.id}" in page.text
    assert len(INLINE_JPEG.findall(page.text)) == 1  # that member only; the others protected
    assert page.text.count("blurred and in greyscale") == card.size - 1


def test_a_decision_categorises_every_member_and_undo_restores(case_ui: CaseUI) -> None:
    client, token = case_ui.analyst("ana")
    card = case_ui.card_of(case_ui.built.evidence.camera)
    reader = CaseReader(case_ui.built.store)
    name = case_ui.built.case.name
    held = client.post(f"{case_ui.url}/clusters/{card.id}/claim", data={"csrf_token": token})
    assert 'value="projectvic:2" data-key="2"' in held.text  # Project VIC's codes are the keys
    decided = client.post(
        f"{case_ui.url}/clusters/{card.id}/decide",
        data={"csrf_token": token, "category": "projectvic:2"},
    )
    assert decided.status_code == 200
    assert "Child Exploitive" in decided.text
    detail = reader.cluster(name, card.id)
    assert detail.card.status == "decided"
    assert len(detail.members) == 3
    assert {m.category for m in detail.members} == {"projectvic:2"}

    undone = client.post(f"{case_ui.url}/clusters/{card.id}/undo", data={"csrf_token": token})
    assert undone.status_code == 200
    detail = reader.cluster(name, card.id)
    assert detail.card.status == "open"
    assert {m.category for m in detail.members} == {None}
    assert "Undo the last decision" not in undone.text


def test_digit_keys_are_the_codes_of_project_vic_else_positions() -> None:
    assert [key for key, _ in category_keys(PROJECT_VIC.categories)] == list("01234")
    assert [key for key, _ in category_keys(NCMEC.categories)] == list("1234")
    custom = case_scheme("custom", [f"tag-{n}" for n in range(11)]).categories
    assert [key for key, _ in category_keys(custom)] == [*"123456789", "", ""]


def test_an_unknown_category_is_refused(case_ui: CaseUI) -> None:
    client, token = case_ui.analyst("ana")
    card = case_ui.cards()[0]
    client.post(f"{case_ui.url}/clusters/{card.id}/claim", data={"csrf_token": token})
    refused = client.post(
        f"{case_ui.url}/clusters/{card.id}/decide",
        data={"csrf_token": token, "category": "ncmec:A1"},
        headers=HTML,
    )
    assert refused.status_code == 400
    assert "not a category of scheme projectvic" in refused.text


def test_a_second_analyst_cannot_take_a_held_cluster(case_ui: CaseUI) -> None:
    first, first_token = case_ui.analyst("ana")
    second, second_token = case_ui.analyst("ben")
    card = case_ui.cards()[0]
    taken = first.post(f"{case_ui.url}/claim-next", data={"csrf_token": first_token})
    assert str(taken.url).endswith(f"/clusters/{card.id}")
    page = second.get(f"{case_ui.url}/clusters/{card.id}")
    assert "held by ana" in page.text
    for action, data in (("claim", {}), ("decide", {"category": "projectvic:1"})):
        refused = second.post(
            f"{case_ui.url}/clusters/{card.id}/{action}",
            data={"csrf_token": second_token, **data},
            headers=HTML,
        )
        assert refused.status_code == 409, action
        assert "held by another analyst" in refused.text or "not claimed by you" in refused.text
    refused = second.post(
        f"{case_ui.url}/items/{card.first_item}/reveal",
        data={"csrf_token": second_token, "cluster": card.id},
        headers=HTML,
    )
    assert refused.status_code == 409
    # The next free cluster goes to the second analyst instead.
    other = second.post(f"{case_ui.url}/claim-next", data={"csrf_token": second_token})
    assert str(other.url).endswith(f"/clusters/{case_ui.cards()[1].id}")
    assert (
        CaseReader(case_ui.built.store).cluster(case_ui.built.case.name, card.id).card.claimed_by
        == "ana"
    )


def test_claim_next_says_when_nothing_is_free(case_ui: CaseUI) -> None:
    client, token = case_ui.analyst("ana")
    for card in case_ui.cards():
        client.post(f"{case_ui.url}/clusters/{card.id}/claim", data={"csrf_token": token})
        client.post(
            f"{case_ui.url}/clusters/{card.id}/decide",
            data={"csrf_token": token, "category": "projectvic:0"},
        )
    answer = client.post(f"{case_ui.url}/claim-next", data={"csrf_token": token})
    assert str(answer.url).endswith(f"{case_ui.url}?none_free=1")
    assert "No undecided cluster is free" in answer.text


def test_unknown_cases_clusters_and_items_are_not_found(case_ui: CaseUI) -> None:
    client, token = case_ui.analyst("ana")
    for path in (
        "/ui/cases/no-such-case",
        f"{case_ui.url}/clusters/999999",
        f"{case_ui.url}/items/999999/image",
    ):
        answer = client.get(path, headers=HTML)
        assert answer.status_code == 404, path
        assert "Not found" in answer.text
    answer = client.post(
        f"{case_ui.url}/clusters/999999/claim", data={"csrf_token": token}, headers=HTML
    )
    assert answer.status_code == 404


def test_an_api_key_cannot_use_the_case_pages(case_ui: CaseUI) -> None:
    card = case_ui.cards()[0]
    keyed = case_ui.service.auth("reviewer")
    for path in ("/ui/cases", case_ui.url, f"{case_ui.url}/items/{card.first_item}/image"):
        answer = case_ui.service.client.get(path, headers=keyed)
        assert answer.status_code == 403, path
        assert "not an API key" in answer.json()["message"]
    claim = case_ui.service.client.post(f"{case_ui.url}/clusters/{card.id}/claim", headers=keyed)
    assert claim.status_code == 403


def test_without_a_session_or_a_csrf_token_nothing_happens(case_ui: CaseUI) -> None:
    anonymous = TestClient(case_ui.service.client.app)
    answer = anonymous.get(case_ui.url, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login"
    client, _ = case_ui.analyst("ana")
    card = case_ui.cards()[0]
    forged = client.post(f"{case_ui.url}/clusters/{card.id}/claim", data={"csrf_token": "x"})
    assert forged.status_code == 403
    assert _events(case_ui) == []


def test_missing_or_unreadable_evidence_is_a_clear_error(case_ui: CaseUI) -> None:
    client, _ = case_ui.analyst("ana")
    evidence = case_ui.built.evidence
    plain = case_ui.card_of(evidence.plain)
    evidence.plain.unlink()
    missing = client.get(f"{case_ui.url}/items/{plain.first_item}/image", headers=HTML)
    assert missing.status_code == 404
    assert "is not where the scan found it" in missing.text
    broken = case_ui.card_of(evidence.broken)
    unreadable = client.get(f"{case_ui.url}/items/{broken.first_item}/image")
    assert unreadable.status_code == 422
    assert unreadable.json()["code"] == "cannot-render"
    # The grid and the cluster page still answer: only the picture is missing.
    assert client.get(case_ui.url).status_code == 200
    assert client.get(f"{case_ui.url}/clusters/{plain.id}").status_code == 200


def test_the_pages_link_the_cases_and_load_no_inline_script(case_ui: CaseUI) -> None:
    client, _ = case_ui.analyst("ana")
    card = case_ui.cards()[0]
    for path in ("/ui/", "/ui/cases", case_ui.url, f"{case_ui.url}/clusters/{card.id}"):
        page = client.get(path).text
        assert '<a href="/ui/cases">Cases</a>' in page
        assert "<script>" not in page
        assert "style=" not in page
    assert csrf_in(client.get(f"{case_ui.url}/clusters/{card.id}").text)
