"""Queued items: claimed by one reviewer at a time, decided, kept, deleted.

Every state change is a conditional UPDATE, so any number of service
processes over one database hand an item to exactly one reviewer: two
claims of the same item race on ``WHERE status = 'open'`` and only one of
them changes a row.  Everything a person does to an item is written to
``review_events`` (who, what, when) and to the audit log in the same
transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from bastion import audit
from bastion.accounts import Permission, Principal
from bastion.banks.bank import BankKind, BankNotFound, Banks, as_utc
from bastion.banks.entries import add_signals
from bastion.banks.labels import InvalidLabel, normalize_label
from bastion.config import Settings
from bastion.fingerprint import Signal
from bastion.review.priority import priority, tier_order
from bastion.review.vault import Sealed, Vault
from bastion.store import Store
from bastion.store.models import LoginSession, ReviewEvent, ReviewItem, ReviewMedia, User

_CANDIDATES = 25
_SIGNALS = ("md5", "sha1", "sha256", "pdq")


class Status(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    ESCALATED = "escalated"
    DECIDED = "decided"


class Decision(StrEnum):
    CONFIRMED = "confirmed"
    FALSE_POSITIVE = "false-positive"
    ESCALATED = "escalated"
    SKIPPED = "skipped"


class Media(StrEnum):
    KEPT = "kept"
    NOT_KEPT = "not-kept"  #: no media key was configured when it was queued
    DELETED = "deleted"  #: its retention period ended


class Reveal(StrEnum):
    """How much of an image a reviewer chose to see (the default is neither)."""

    COLOUR = "colour"
    SHARP = "sharp"
    FULL = "full"


class ReviewError(ValueError):
    """A queue operation that cannot be done as asked."""


class NotFound(ReviewError):
    pass


class Forbidden(ReviewError):
    pass


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    created_at: datetime
    submitted_by: str
    name: str | None
    media_type: str
    size: int
    verdict: str
    tier: str
    priority: int
    status: str
    claimed_by: int | None
    decision: str | None
    category: str | None
    note: str | None
    decided_at: datetime | None
    retain_until: datetime | None
    legal_hold: bool
    media_state: str
    result: dict[str, Any]

    @classmethod
    def from_row(cls, row: ReviewItem) -> Item:
        return cls(
            row.id,
            as_utc(row.created_at),
            row.submitted_by,
            row.name,
            row.media_type,
            row.size,
            row.verdict,
            row.tier,
            row.priority,
            row.status,
            row.claimed_by,
            row.decision,
            row.category,
            row.note,
            as_utc(row.decided_at) if row.decided_at else None,
            as_utc(row.retain_until) if row.retain_until else None,
            row.legal_hold,
            row.media_state,
            json.loads(row.result),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "submitted_by": self.submitted_by,
            "name": self.name,
            "media_type": self.media_type,
            "size": self.size,
            "verdict": self.verdict,
            "tier": self.tier,
            "priority": self.priority,
            "status": self.status,
            "decision": self.decision,
            "category": self.category,
            "note": self.note,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "retain_until": self.retain_until.isoformat() if self.retain_until else None,
            "legal_hold": self.legal_hold,
            "media": self.media_state,
            "result": self.result,
        }


class ReviewQueue:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.vault = Vault.from_setting(settings.media_keys)
        self.order = tier_order(settings.review_priority)

    # --- in ----------------------------------------------------------------

    def enqueue(
        self, row: dict[str, Any], data: bytes, *, submitted_by: str, name: str | None
    ) -> Item:
        """Queue a scanned upload (its result row and, if a key is set, its bytes)."""
        rank = priority(row, self.order)
        with self.store.transaction() as session:
            item = ReviewItem(
                created_at=datetime.now(UTC),
                submitted_by=submitted_by,
                name=name,
                media_type=str(row.get("media_type") or "application/octet-stream"),
                size=len(data),
                sha256=row.get("sha256"),
                result=json.dumps(row, default=str),
                verdict=str(row.get("verdict") or "unknown"),
                priority=rank.value,
                tier=rank.tier,
                status=Status.OPEN.value,
                legal_hold=False,
                media_state=Media.KEPT.value if self.vault.enabled else Media.NOT_KEPT.value,
            )
            session.add(item)
            session.flush()
            if self.vault.enabled:
                sealed = self.vault.seal(item.id, data)
                session.add(ReviewMedia(item_id=item.id, key_id=sealed.key_id, blob=sealed.blob))
            audit.record(session, submitted_by, "review.enqueue", f"item:{item.id}", tier=rank.tier)
            return Item.from_row(item)

    # --- claiming ----------------------------------------------------------

    def claim(self, who: Principal) -> Item | None:
        """The reviewer's current item, or the most urgent one nobody holds."""
        self._require(who, Permission.REVIEW)
        now = datetime.now(UTC)
        stale = now - timedelta(minutes=self.settings.claim_minutes)
        with self.store.sessions() as session:
            held = session.execute(
                select(ReviewItem)
                .where(
                    ReviewItem.status == Status.CLAIMED.value,
                    ReviewItem.claimed_by == who.id,
                    ReviewItem.claimed_at > stale,
                )
                .limit(1)
            ).scalar_one_or_none()
            if held is not None:
                return Item.from_row(held)
            statuses = [Status.OPEN.value]
            if who.may(Permission.HOLD):
                statuses.append(Status.ESCALATED.value)
            claimable = or_(
                ReviewItem.status.in_(statuses),
                and_(ReviewItem.status == Status.CLAIMED.value, ReviewItem.claimed_at <= stale),
            )
            skipped = exists().where(
                ReviewEvent.item_id == ReviewItem.id,
                ReviewEvent.user_id == who.id,
                ReviewEvent.action == Decision.SKIPPED.value,
            )
            candidates = session.execute(
                select(ReviewItem.id, ReviewItem.status, ReviewItem.claimed_at)
                .where(claimable, ~skipped)
                .order_by(ReviewItem.priority.desc(), ReviewItem.id)
                .limit(_CANDIDATES)
            ).all()
        for item_id, status, claimed_at in candidates:
            with self.store.transaction() as session:
                taken = session.execute(
                    update(ReviewItem)
                    .where(
                        ReviewItem.id == item_id,
                        ReviewItem.status == status,
                        ReviewItem.claimed_at.is_(None)
                        if claimed_at is None
                        else ReviewItem.claimed_at == claimed_at,
                    )
                    .values(status=Status.CLAIMED.value, claimed_by=who.id, claimed_at=now)
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # someone else got it first
                self._event(session, item_id, who, "claim")
                audit.record(session, who.actor, "review.claim", f"item:{item_id}")
                row = session.get(ReviewItem, item_id)
                assert row is not None
                return Item.from_row(row)
        return None

    def release(self, item_id: int, who: Principal) -> None:
        """Give a claimed item back without deciding it."""
        with self.store.transaction() as session:
            self._held(session, item_id, who)
            session.execute(
                update(ReviewItem)
                .where(ReviewItem.id == item_id)
                .values(status=Status.OPEN.value, claimed_by=None, claimed_at=None)
            )
            self._event(session, item_id, who, "release")
            audit.record(session, who.actor, "review.release", f"item:{item_id}")

    # --- looking -----------------------------------------------------------

    def get(self, item_id: int, who: Principal) -> Item:
        """An item's record (not its media); the first look is recorded as a view."""
        with self.store.transaction() as session:
            row = self._visible(session, item_id, who)
            self._first_view(session, item_id, who)
            return Item.from_row(row)

    def media(self, item_id: int, who: Principal, reveal: Reveal | None) -> tuple[bytes, int]:
        """The item's bytes for display, and the reviewer's reveal count this login.

        ``reveal`` None is the protected view (the caller blurs and greys it);
        any reveal is recorded with its time before the bytes are returned.
        """
        with self.store.transaction() as session:
            row = self._visible(session, item_id, who)
            if row.media_state != Media.KEPT.value:
                raise NotFound(f"item {item_id} has no media ({row.media_state})")
            stored = session.get(ReviewMedia, item_id)
            if stored is None:
                raise NotFound(f"item {item_id} has no media")
            count = 0
            self._first_view(session, item_id, who)
            if reveal is not None:
                first = not _done(session, item_id, who, "reveal")
                self._event(session, item_id, who, "reveal", reveal.value)
                audit.record(
                    session, who.actor, "review.reveal", f"item:{item_id}", mode=reveal.value
                )
                if first:
                    count = _count_reveal(session, who)
            sealed = Sealed(stored.key_id, stored.blob)
        return self.vault.open(item_id, sealed), count

    def reveals_this_login(self, who: Principal) -> int:
        if who.session_id is None:
            return 0
        with self.store.sessions() as session:
            return int(
                session.execute(
                    select(LoginSession.reveals).where(LoginSession.id == who.session_id)
                ).scalar_one_or_none()
                or 0
            )

    def items(self, who: Principal, *, status: str | None = None, limit: int = 50) -> list[Item]:
        """Queue listing for curators and admins, most urgent first."""
        self._require(who, Permission.HOLD, person=False)
        statement = (
            select(ReviewItem).order_by(ReviewItem.priority.desc(), ReviewItem.id).limit(limit)
        )
        if status is not None:
            statement = statement.where(ReviewItem.status == Status(status).value)
        with self.store.sessions() as session:
            return [Item.from_row(row) for row in session.execute(statement).scalars()]

    def counts(self) -> dict[str, int]:
        with self.store.sessions() as session:
            found = dict(
                session.execute(
                    select(ReviewItem.status, func.count()).group_by(ReviewItem.status)
                ).all()
            )
        return {status.value: int(found.get(status.value, 0)) for status in Status}

    # --- deciding ----------------------------------------------------------

    def decide(
        self,
        item_id: int,
        who: Principal,
        decision: Decision,
        *,
        category: str | None = None,
        note: str | None = None,
    ) -> Item:
        decision = Decision(decision)
        if decision is Decision.CONFIRMED:
            if not category:
                raise ReviewError("a confirmed item needs a category (e.g. ncmec:A1)")
            try:
                category = normalize_label(category)
            except InvalidLabel as exc:
                raise ReviewError(str(exc)) from None
        now = datetime.now(UTC)
        with self.store.transaction() as session:
            row = self._held(session, item_id, who)
            if decision is Decision.SKIPPED:
                values: dict[str, Any] = {
                    "status": Status.OPEN.value,
                    "claimed_by": None,
                    "claimed_at": None,
                }
            elif decision is Decision.ESCALATED:
                values = {
                    "status": Status.ESCALATED.value,
                    "decision": decision.value,
                    "claimed_by": None,
                    "claimed_at": None,
                }
            else:
                days = (
                    self.settings.retention_confirmed_days
                    if decision is Decision.CONFIRMED
                    else self.settings.retention_other_days
                )
                values = {
                    "status": Status.DECIDED.value,
                    "decision": decision.value,
                    "category": category,
                    "decided_by": who.id,
                    "decided_at": now,
                    "retain_until": now + timedelta(days=days),
                }
            if note:
                values["note"] = note[:2000]
            session.execute(update(ReviewItem).where(ReviewItem.id == item_id).values(**values))
            self._event(session, item_id, who, decision.value, category)
            audit.record(
                session,
                who.actor,
                "review.decide",
                f"item:{item_id}",
                decision=decision.value,
                category=category,
            )
            signals = _item_signals(json.loads(row.result))
        if decision is Decision.FALSE_POSITIVE and signals:
            self._allowlist(signals, item_id, who)
        with self.store.sessions() as session:
            decided = session.get(ReviewItem, item_id)
            assert decided is not None
            return Item.from_row(decided)

    def _allowlist(self, signals: list[Signal], item_id: int, who: Principal) -> None:
        """A false positive's hashes go to the review allowlist (created on first use)."""
        name = self.settings.review_allowlist
        banks = Banks(self.store)
        try:
            banks.get(name)
        except BankNotFound:
            banks.create(
                name, kind=BankKind.ALLOWLIST, description="false positives found in review"
            )
        add_signals(
            self.store, name, signals, ["review:false-positive"], source=f"review item {item_id}"
        )
        with self.store.transaction() as session:
            audit.record(
                session,
                who.actor,
                "bank.allowlist",
                f"bank:{name}",
                item=item_id,
                signals=len(signals),
            )

    def set_hold(self, item_id: int, who: Principal, on: bool) -> Item:
        """Put an item on legal hold (its media is never deleted) or lift the hold."""
        self._require(who, Permission.HOLD, person=False)
        with self.store.transaction() as session:
            row = session.get(ReviewItem, item_id)
            if row is None:
                raise NotFound(f"no review item {item_id}")
            row.legal_hold = on
            audit.record(
                session, who.actor, "review.hold" if on else "review.unhold", f"item:{item_id}"
            )
            return Item.from_row(row)

    # --- keeping -----------------------------------------------------------

    def purge(self, now: datetime | None = None) -> list[int]:
        """Delete the media of decided items past retention (not on hold)."""
        moment = now or datetime.now(UTC)
        with self.store.transaction() as session:
            due = list(
                session.execute(
                    select(ReviewItem.id).where(
                        ReviewItem.status == Status.DECIDED.value,
                        ReviewItem.retain_until <= moment,
                        ReviewItem.legal_hold.is_(False),
                        ReviewItem.media_state == Media.KEPT.value,
                    )
                ).scalars()
            )
            if not due:
                return []
            session.execute(delete(ReviewMedia).where(ReviewMedia.item_id.in_(due)))
            session.execute(
                update(ReviewItem)
                .where(ReviewItem.id.in_(due))
                .values(media_state=Media.DELETED.value)
            )
            audit.record(session, "system:retention", "review.purge", "media", items=due)
        return due

    def report(self, item_id: int, who: Principal) -> dict[str, Any]:
        """What a hotline report needs: hashes, decision and who saw the file."""
        self._require(who, Permission.HOLD, person=False)
        with self.store.sessions() as session:
            row = session.get(ReviewItem, item_id)
            if row is None:
                raise NotFound(f"no review item {item_id}")
            events = session.execute(
                select(ReviewEvent.at, ReviewEvent.action, ReviewEvent.detail, User.name)
                .join(User, User.id == ReviewEvent.user_id)
                .where(ReviewEvent.item_id == item_id)
                .order_by(ReviewEvent.id)
            ).all()
        item = Item.from_row(row)
        reveals = [e for e in events if e.action == "reveal"]
        return {
            "item": item.id,
            "hashes": {name: item.result.get(name) for name in _SIGNALS},
            "media_type": item.media_type,
            "decision": item.decision,
            "category": item.category,
            "decided_at": item.decided_at.isoformat() if item.decided_at else None,
            # CyberTipline: whether a person at the provider viewed the file.
            "fileViewedByEsp": bool(reveals),
            "events": [
                {"at": as_utc(at).isoformat(), "user": user, "action": action, "detail": detail}
                for at, action, detail, user in events
            ],
        }

    # --- helpers -----------------------------------------------------------

    @staticmethod
    def _require(who: Principal, permission: Permission, *, person: bool = True) -> None:
        if not who.may(permission):
            raise Forbidden(f"role {who.role} may not do this ({permission})")
        if person and who.kind != "user":
            # Views and decisions are records of what a person did.
            raise Forbidden("review actions need a person logged in, not an API key")

    def _visible(self, session: Session, item_id: int, who: Principal) -> ReviewItem:
        """The item, if ``who`` holds it (or may see every item)."""
        self._require(who, Permission.REVIEW)
        row = session.get(ReviewItem, item_id)
        if row is None:
            raise NotFound(f"no review item {item_id}")
        if row.claimed_by != who.id and not who.may(Permission.HOLD):
            raise Forbidden(f"item {item_id} is not claimed by you")
        return row

    def _held(self, session: Session, item_id: int, who: Principal) -> ReviewItem:
        row = self._visible(session, item_id, who)
        if row.status != Status.CLAIMED.value or row.claimed_by != who.id:
            raise ReviewError(f"item {item_id} is {row.status}; claim it before deciding")
        return row

    def _first_view(self, session: Session, item_id: int, who: Principal) -> None:
        """Record that ``who`` saw the item (its record or its protected image) once."""
        if not _done(session, item_id, who, "view"):
            self._event(session, item_id, who, "view")
            audit.record(session, who.actor, "review.view", f"item:{item_id}")

    @staticmethod
    def _event(
        session: Session, item_id: int, who: Principal, action: str, detail: str | None = None
    ) -> None:
        session.add(
            ReviewEvent(
                item_id=item_id, user_id=who.id, at=datetime.now(UTC), action=action, detail=detail
            )
        )


def _done(session: Session, item_id: int, who: Principal, action: str) -> bool:
    return bool(
        session.execute(
            select(
                exists().where(
                    ReviewEvent.item_id == item_id,
                    ReviewEvent.user_id == who.id,
                    ReviewEvent.action == action,
                )
            )
        ).scalar_one()
    )


def _count_reveal(session: Session, who: Principal) -> int:
    if who.session_id is None:
        return 0
    return int(
        session.execute(
            update(LoginSession)
            .where(LoginSession.id == who.session_id)
            .values(reveals=LoginSession.reveals + 1)
            .returning(LoginSession.reveals)
        ).scalar_one()
    )


def _item_signals(row: dict[str, Any]) -> list[Signal]:
    return [Signal(name, row[name]) for name in _SIGNALS if row.get(name)]
