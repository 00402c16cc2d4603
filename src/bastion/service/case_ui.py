"""The case UI: an investigator's case as a grid of clusters in priority order,
one cluster's members, and the analyst's claim, reveal, category and undo.

A door over :mod:`bastion.cases`: reading is :class:`CaseReader`'s, and
claims, reveals (recorded before the pixels or details leave), decisions and
undo are :class:`Analysts`'; this module only renders.  The pages follow the
review queue's: the same base template, a CSRF token on every POST, HTMX to
swap one member's picture or the metadata panel in place, keyboard shortcuts
from static JavaScript (``review.js`` clicks ``data-key`` buttons,
``cases.js`` adds the member keys), and pictures protected on the server.

The grid page reads one page of clusters per request (keyset, never the
whole case); its thumbnails, and its counts by tier, are separate requests.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bastion.accounts import Principal
from bastion.cases.building import open_case
from bastion.cases.priority import Tier
from bastion.cases.reading import ClusterDetail
from bastion.cases.records import ClusterStatus
from bastion.cases.schemes import Category
from bastion.review.items import Reveal
from bastion.service.errors import ApiError
from bastion.service.params import RowId
from bastion.service.security import Reviewer, state_of
from bastion.service.ui import render_page

router = APIRouter(prefix="/ui/cases", include_in_schema=False)

#: A case's name in a path (``CaseBuilder.create`` allows 1-64 characters).
CaseName = Annotated[str, Path(min_length=1, max_length=64)]
#: Category buttons get the digit keys 1..9 in the scheme's order (unless their codes are digits).
DIGITS = "123456789"


async def _person(who: Reviewer) -> Principal:
    """A reviewer (or above) logged in: case pages are for people, not API keys."""
    if who.kind != "user":
        raise ApiError(403, "the case pages are for a person logged in, not an API key")
    return who


Analyst = Annotated[Principal, Depends(_person)]


def case_url(name: str, *parts: object) -> str:
    """The path of a case page (the name quoted: it may hold spaces and '%')."""
    return "/".join([f"/ui/cases/{quote(name, safe='')}", *(str(part) for part in parts)])


def _jpeg_uri(picture: bytes) -> str:
    """A revealed picture inline, so the request that records the reveal delivers it."""
    return "data:image/jpeg;base64," + base64.b64encode(picture).decode()


def category_keys(categories: Sequence[Category]) -> list[tuple[str, Category]]:
    """Each category's digit key: its own code where the scheme's codes are digits
    (Project VIC's 0-4: key 1 must mean category 1, not the first button), else
    1..9 in the scheme's order (a tenth category and after have none)."""
    codes = [category.label.partition(":")[2] for category in categories]
    if len(set(codes)) == len(codes) and all(len(code) == 1 and code.isdigit() for code in codes):
        return list(zip(codes, categories, strict=True))
    return [(DIGITS[n] if n < len(DIGITS) else "", c) for n, c in enumerate(categories)]


def _is_htmx(request: Request) -> bool:
    return bool(request.headers.get("hx-request"))


# --- the cases and one case's grid ----------------------------------------------------


@router.get("")
def cases_page(request: Request, who: Analyst) -> HTMLResponse:
    """Every case; each one's counts load after the page (see :func:`summary_part`)."""
    names = state_of(request).case_reader.names()
    return render_page(request, "cases.html", who, names=names, case_url=case_url)


@router.get("/{name}")
def case_page(
    request: Request,
    who: Analyst,
    name: CaseName,
    after: Annotated[str | None, Query(max_length=64)] = None,
    undecided: bool = False,
    tier: Tier | None = None,
    none_free: bool = False,
) -> HTMLResponse:
    """One page of cluster cards in priority order: one keyset read, whatever the
    case's size; the counts by tier load after it."""
    page = state_of(request).case_reader.page(name, after=after, tier=tier, undecided=undecided)
    filters = {"tier": int(tier) if tier else None, "undecided": 1 if undecided else None}
    kept = {key: value for key, value in filters.items() if value is not None}
    more = urlencode({**kept, "after": page.after}) if page.after else None
    return render_page(
        request,
        "case.html",
        who,
        case_name=name,
        page=page,
        tiers=list(Tier),
        tier=tier,
        undecided=undecided,
        later_page=bool(after),
        filtered=urlencode(kept),
        more=more,
        none_free=none_free,
        home=case_url(name),
    )


@router.get("/{name}/summary")
def summary_part(
    request: Request, who: Analyst, name: CaseName, brief: bool = False
) -> HTMLResponse:
    """The case's counts by tier and its items not checked: a part the grid (or,
    ``brief``, the list of cases) loads once it is shown, because
    :meth:`CaseReader.summary` counts every item of the case (about a second at a
    million items on SQLite); without HTMX, a page of its own."""
    summary = state_of(request).case_reader.summary(name)
    part = _is_htmx(request)
    template = "case_summary.html" if part else "case_summary_page.html"
    return render_page(
        request, template, who, summary=summary, brief=brief and part, home=case_url(name)
    )


@router.post("/{name}/claim-next")
def claim_next(request: Request, who: Analyst, name: CaseName) -> Response:
    """Claim the first undecided cluster nobody holds, and open it."""
    cluster_id = state_of(request).cases.claim_next(name, who)
    if cluster_id is None:
        return RedirectResponse(case_url(name) + "?none_free=1", status_code=303)
    return RedirectResponse(case_url(name, "clusters", cluster_id), status_code=303)


# --- one cluster ------------------------------------------------------------------------


def _cluster(request: Request, name: str, cluster_id: int) -> ClusterDetail:
    return state_of(request).case_reader.cluster(name, cluster_id)


def _cluster_page(
    request: Request,
    who: Principal,
    name: str,
    cluster_id: int,
    *,
    member: int | None = None,
    revealed: tuple[int, str] | None = None,
    exact: dict[str, Any] | None = None,
) -> HTMLResponse:
    """The cluster page, its metadata panel on ``member`` (else the first).

    ``revealed`` is a member's picture and ``exact`` the member's metadata,
    revealed (and so recorded) by the caller through :class:`Analysts`."""
    state = state_of(request)
    detail = _cluster(request, name, cluster_id)
    card = detail.card
    chosen = member or detail.members[0].id
    metadata = exact if exact is not None else state.cases.metadata(name, chosen, who, reveal=False)
    categories = open_case(state.store, name).scheme.categories
    return render_page(
        request,
        "case_cluster.html",
        who,
        home=case_url(name),
        here=case_url(name, "clusters", cluster_id),
        card=card,
        members=detail.members,
        more_members=card.size - len(detail.members),
        held=card.status == ClusterStatus.CLAIMED and card.claimed_by == who.name,
        decided=any(m.decision_id is not None for m in detail.members),
        categories=category_keys(categories),
        revealed=dict([revealed]) if revealed else {},
        chosen_id=chosen,
        metadata=metadata,
        exact=exact is not None,
    )


@router.get("/{name}/clusters/{cluster_id}")
def cluster_page(
    request: Request,
    who: Analyst,
    name: CaseName,
    cluster_id: RowId,
    member: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> HTMLResponse:
    """The members (protected), the claim, reveals, the category and the metadata
    panel (of ``member``, else the first: withheld details until revealed)."""
    return _cluster_page(request, who, name, cluster_id, member=member)


def _back_to(name: str, cluster_id: int) -> RedirectResponse:
    return RedirectResponse(case_url(name, "clusters", cluster_id), status_code=303)


@router.post("/{name}/clusters/{cluster_id}/claim")
def claim(request: Request, who: Analyst, name: CaseName, cluster_id: RowId) -> Response:
    state_of(request).cases.claim(name, cluster_id, who)
    return _back_to(name, cluster_id)


@router.post("/{name}/clusters/{cluster_id}/release")
def release(request: Request, who: Analyst, name: CaseName, cluster_id: RowId) -> Response:
    state_of(request).cases.release(name, cluster_id, who)
    return _back_to(name, cluster_id)


@router.post("/{name}/clusters/{cluster_id}/decide")
def decide(
    request: Request,
    who: Analyst,
    name: CaseName,
    cluster_id: RowId,
    category: Annotated[str, Form(min_length=1, max_length=64)],
) -> Response:
    """Put the category on the cluster and every member (the claim ends)."""
    state_of(request).cases.decide(name, cluster_id, category, who)
    return _back_to(name, cluster_id)


@router.post("/{name}/clusters/{cluster_id}/undo")
def undo(request: Request, who: Analyst, name: CaseName, cluster_id: RowId) -> Response:
    """Take back the cluster's last decision: each member gets back what it had."""
    state_of(request).cases.undo(name, cluster_id, who)
    return _back_to(name, cluster_id)


# --- one item: its picture and its metadata ------------------------------------------


@router.get("/{name}/items/{item_id}/image")
def protected_image(request: Request, who: Analyst, name: CaseName, item_id: RowId) -> Response:
    """The item blurred and in greyscale, made on the server (a thumbnail of the grid)."""
    picture = state_of(request).cases.image(name, item_id, who, None)
    return Response(picture, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post("/{name}/items/{item_id}/reveal")
def reveal(
    request: Request,
    who: Analyst,
    name: CaseName,
    item_id: RowId,
    cluster: Annotated[int, Form(ge=1, le=2**63 - 1)],
) -> HTMLResponse:
    """The member in colour and sharp (recorded); HTMX swaps in this member's picture."""
    picture = _jpeg_uri(state_of(request).cases.image(name, item_id, who, Reveal.FULL))
    if _is_htmx(request):
        context: dict[str, Any] = {"home": case_url(name), "member_id": item_id, "image": picture}
        return render_page(request, "case_media.html", who, **context)
    return _cluster_page(request, who, name, cluster, revealed=(item_id, picture))


@router.post("/{name}/items/{item_id}/metadata")
def reveal_metadata(
    request: Request,
    who: Analyst,
    name: CaseName,
    item_id: RowId,
    cluster: Annotated[int, Form(ge=1, le=2**63 - 1)],
) -> HTMLResponse:
    """The member's exact metadata (recorded); HTMX swaps the metadata panel."""
    metadata = state_of(request).cases.metadata(name, item_id, who, reveal=True)
    if not _is_htmx(request):
        return _cluster_page(request, who, name, cluster, member=item_id, exact=metadata)
    context = {"home": case_url(name), "chosen_id": item_id, "metadata": metadata, "exact": True}
    return render_page(request, "case_metadata.html", who, **context)
