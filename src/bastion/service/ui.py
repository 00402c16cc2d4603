"""The review UI: log in, claim, look (protected), reveal on purpose, decide;
and the exchanges page (curators read it, admins sync from it).

Server-rendered Jinja2 pages that work as plain HTML forms; HTMX swaps the
image panel in place and a few lines of static JavaScript map keys to
buttons.  Pages are served with a strict Content-Security-Policy (no inline
script or style, no eval), ``no-store`` caching and no framing.
"""

from __future__ import annotations

import base64
import re
import secrets
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bastion.accounts import Principal
from bastion.exchanges.lease import ExchangeBusy
from bastion.exchanges.registry import ExchangeInfo, Exchanges
from bastion.labels import SCHEMES
from bastion.review.decisions import UNDO_SECONDS
from bastion.review.items import DISPUTES, Decision, Item, Media, Reveal
from bastion.review.render import NotAnImage, render_item
from bastion.service.errors import ApiError
from bastion.service.exchanges import run_sync, start_sync
from bastion.service.pages import templates
from bastion.service.params import RowId
from bastion.service.security import (
    SESSION_COOKIE,
    Admin,
    Curator,
    Reviewer,
    client_address,
    login_wait,
    state_of,
)

router = APIRouter(prefix="/ui", include_in_schema=False)

LOGIN_CSRF_COOKIE = "bastion_login_csrf"
#: Category codes offered when confirming, by scheme (any valid label is accepted);
#: nothing is preselected: the reviewer chooses.
CATEGORIES = {scheme.title: scheme.labels for scheme in SCHEMES.values()}
#: The choice that decides "not abusive / other" instead of confirming a category.
NOT_ABUSIVE = Decision.NOT_ABUSIVE.value
VIEWS = {"protected": None, "colour": Reveal.COLOUR, "sharp": Reveal.SHARP, "full": Reveal.FULL}


def render_page(request: Request, name: str, who: Principal | None, **context: Any) -> HTMLResponse:
    state = state_of(request)
    reveals = state.queue.reveals_this_login(who) if who is not None else 0
    return templates.TemplateResponse(
        request,
        name,
        {
            "who": who,
            "csrf": getattr(request.state, "csrf_token", ""),
            "reveals": reveals,
            "break_after": state.settings.break_after_reveals,
            **context,
        },
    )


#: A path on this server: printable ASCII without spaces or backslashes, not
#: starting "//" (browsers read "//host", "/\\host" and "/\t/host" as another host).
LOCAL_PATH = re.compile(r"/(?!/)[!-\[\]-~]*")


def _local(target: str) -> str:
    """``target`` if it is a path on this server, else the queue (no open redirect)."""
    return target if LOCAL_PATH.fullmatch(target) else "/ui/"


@router.get("/login")
def login_form(
    request: Request,
    problem: str | None = None,
    next: Annotated[str, Query(max_length=512)] = "/ui/",
) -> HTMLResponse:
    """The login form; ``next`` is where a successful login goes (e.g. ``/docs``)."""
    token = secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {"who": None, "login_csrf": token, "problem": problem, "next": _local(next)},
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/ui/login"
    )
    return response


@router.post("/login")
def log_in(
    request: Request,
    name: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=128)],
    next: Annotated[str, Form(max_length=512)] = "/ui/",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not secrets.compare_digest(expected.encode(), csrf_token.encode()):
        raise ApiError(403, "the login form expired: reload it and try again")
    wait = login_wait(request, name)
    if wait:
        refused = login_form(request, problem="Too many attempts; wait a minute.", next=next)
        refused.status_code = 429
        refused.headers["Retry-After"] = str(max(1, round(wait)))
        return refused
    state = state_of(request)
    login = state.accounts.open_session(
        name, password, hours=state.settings.session_hours, address=client_address(request)
    )
    if login is None:
        return login_form(request, problem="Wrong name or password.", next=next)
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        login.token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=state.settings.session_hours * 3600,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui/login")
    return response


@router.post("/logout")
def log_out(request: Request, who: Reviewer) -> Response:
    state_of(request).accounts.close_session(who)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/")
def queue_page(
    request: Request, who: Reviewer, empty: bool = False, decided: int | None = None
) -> HTMLResponse:
    """The queue; after a decision, what was decided and a moment to undo it."""
    state = state_of(request)
    done = state.queue.undoable(decided, who) if decided is not None else None
    return render_page(
        request,
        "queue.html",
        who,
        counts=state.queue.counts(),
        empty=empty,
        done=done,
        undo_seconds=UNDO_SECONDS,
    )


@router.post("/claim")
def claim(request: Request, who: Reviewer) -> Response:
    item = state_of(request).queue.claim(who)
    target = f"/ui/items/{item.id}" if item is not None else "/ui/?empty=true"
    return RedirectResponse(target, status_code=303)


def _shown(request: Request, who: Principal, item: Item, view: str) -> dict[str, Any]:
    """The image panel's context: the picture inline (so the reveal is recorded in
    the same request that delivers its pixels), or why there is none."""
    state = state_of(request)
    context: dict[str, Any] = {"item": item, "view": view, "image": None, "problem": None}
    if item.media_state != Media.KEPT.value:
        context["problem"] = f"No media: {item.media_state}."
        return context
    data, _ = state.queue.media(item.id, who, VIEWS[view])
    try:
        picture = render_item(data, item.media_type, item.result, VIEWS[view], state.settings)
    except NotAnImage as exc:
        context["problem"] = f"No preview ({exc}); see its hashes and matches."
        return context
    context["image"] = "data:image/jpeg;base64," + base64.b64encode(picture).decode()
    return context


def item_page_for(
    request: Request,
    who: Principal,
    item: Item,
    view: str,
    exif: dict[str, str] | None = None,
) -> HTMLResponse:
    """The item page; ``exif`` the fields a recorded EXIF reveal just showed."""
    shown = _shown(request, who, item, view)
    state = state_of(request)
    known = state.queue.context(item.id, who)
    return render_page(
        request,
        "item.html",
        who,
        categories=CATEGORIES,
        not_abusive=NOT_ABUSIVE,
        reporting=state.reports.panel(item.id, who),
        exif=exif,
        **known,
        **shown,
    )


@router.get("/items/{item_id}")
def item_page(request: Request, who: Reviewer, item_id: RowId) -> HTMLResponse:
    item = state_of(request).queue.get(item_id, who)
    return item_page_for(request, who, item, "protected")


@router.post("/items/{item_id}/reveal")
def reveal(
    request: Request,
    who: Reviewer,
    item_id: RowId,
    view: Annotated[Literal["protected", "colour", "sharp", "full"], Form()],
) -> HTMLResponse:
    """Show the image as asked; anything but ``protected`` is a recorded reveal."""
    item = state_of(request).queue.get(item_id, who)
    shown = _shown(request, who, item, view)
    if request.headers.get("hx-request"):
        return render_page(request, "_media.html", who, oob=True, **shown)
    return item_page_for(request, who, item, view)


@router.post("/items/{item_id}/decide")
def decide(
    request: Request,
    who: Reviewer,
    item_id: RowId,
    decision: Annotated[Decision, Form()],
    category: Annotated[str | None, Form(max_length=64)] = None,
    note: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    state = state_of(request)
    if decision is Decision.CONFIRMED and category == NOT_ABUSIVE:
        decision, category = Decision.NOT_ABUSIVE, None
    state.queue.decide(item_id, who, decision, category=category or None, note=note or None)
    if decision in DISPUTES:
        state.refresh_now()
    return RedirectResponse(f"/ui/?decided={item_id}", status_code=303)


@router.post("/items/{item_id}/undo")
def undo(request: Request, who: Reviewer, item_id: RowId) -> Response:
    """Take the decision back (within ``UNDO_SECONDS``): the item is yours again."""
    state = state_of(request)
    state.queue.undo(item_id, who)
    state.refresh_now()
    return RedirectResponse(f"/ui/items/{item_id}", status_code=303)


@router.post("/items/{item_id}/release")
def release(request: Request, who: Reviewer, item_id: RowId) -> Response:
    state_of(request).queue.release(item_id, who)
    return RedirectResponse("/ui/", status_code=303)


# --- exchanges ----------------------------------------------------------------------

#: The counts of an exchange's last sync the page shows, in this order.
EXCHANGE_COUNTS = ("fetched", "added", "updated", "withdrawn", "restored", "rejected")


def _exchange_row(
    request: Request, who: Principal, info: ExchangeInfo, problem: str | None = None
) -> HTMLResponse:
    return render_page(
        request, "_exchange_row.html", who, info=info, counts=EXCHANGE_COUNTS, problem=problem
    )


@router.get("/exchanges")
def exchanges_page(request: Request, who: Curator) -> HTMLResponse:
    """Every exchange: its API and bank, how its last sync ended, and (admins) sync now."""
    found = Exchanges(state_of(request).store, actor=who.actor).list()
    return render_page(request, "exchanges.html", who, exchanges=found, counts=EXCHANGE_COUNTS)


@router.get("/exchanges/{name}/row")
def exchange_row_part(request: Request, who: Curator, name: str) -> HTMLResponse:
    """One exchange's row (the page polls it while a sync runs)."""
    info = Exchanges(state_of(request).store, actor=who.actor).get(name)
    return _exchange_row(request, who, info)


@router.post("/exchanges/{name}/sync")
def exchange_sync(request: Request, who: Admin, name: str, background: BackgroundTasks) -> Response:
    """Start a sync in the background; the row shows it running, then how it ended."""
    state = state_of(request)
    problem = None
    try:
        holder = start_sync(state, name)
    except ExchangeBusy:
        problem = "A sync of this exchange is already running."
    else:
        background.add_task(run_sync, state, name, holder)
    if not request.headers.get("hx-request"):
        return RedirectResponse("/ui/exchanges", status_code=303)
    info = Exchanges(state.store, actor=who.actor).get(name)
    return _exchange_row(request, who, info, problem)
