"""Queued items: claimed by one reviewer at a time, decided, kept, deleted.

Every state change is a conditional UPDATE, so any number of service
processes over one database hand an item to exactly one reviewer: two
claims of the same item race on ``WHERE status = 'open'`` and only one of
them changes a row.  Everything a person does to an item is written to
``review_events`` (who, what, when) and to the audit log in the same
transaction.

A decision never takes known material off a list on one person's word: a
false positive on an exact digest hit is recorded and routed to the list's
curator as feedback; a perceptual-only hit is allowlisted (its perceptual
hash alone) by a curator, or when a second, different reviewer agrees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from bastion import audit
from bastion.accounts import Permission, Principal
from bastion.banks.bank import DEFAULT_PDQ_THRESHOLD, BankKind, BankNotFound, Banks, as_utc
from bastion.banks.entries import add_signals, withdraw_signals
from bastion.banks.labels import InvalidLabel, normalize_label
from bastion.config import Settings
from bastion.fingerprint import Signal
from bastion.review.priority import priority, tier_order
from bastion.review.vault import Sealed, Vault
from bastion.signals.pdq import hamming
from bastion.signals.types import SignalKind, signal_type
from bastion.store import Store
from bastion.store.models import (
    ListFeedback,
    LoginSession,
    ReviewEvent,
    ReviewItem,
    ReviewMedia,
    ReviewUpload,
    User,
)

_CANDIDATES = 25
_SIGNALS = ("md5", "sha1", "sha256", "pdq")
#: Seconds in which the reviewer who decided an item may take the decision back.
UNDO_SECONDS = 30
#: The event recorded when a reviewer calls a perceptual match a false positive
#: and a second reviewer's agreement is needed.
PROPOSED = "proposed-false-positive"
_PERCEPTUAL = frozenset({SignalKind.PDQ, SignalKind.VPDQ})


class Status(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    ESCALATED = "escalated"
    DECIDED = "decided"


class Decision(StrEnum):
    CONFIRMED = "confirmed"
    FALSE_POSITIVE = "false-positive"
    NOT_ABUSIVE = "not-abusive"  #: "not abusive / other": nothing to report
    ESCALATED = "escalated"
    SKIPPED = "skipped"


#: Decisions that, on an item that matched a list, say the list is wrong about it.
DISPUTES = frozenset({Decision.FALSE_POSITIVE, Decision.NOT_ABUSIVE})


class Media(StrEnum):
    KEPT = "kept"
    NOT_KEPT = "not-kept"  #: no media key was configured when it was queued
    DELETED = "deleted"  #: its retention period ended

    @property
    def note(self) -> str:
        """What API answers say of the media (an operator reads why it is missing)."""
        return _MEDIA_NOTES[self]


_MEDIA_NOTES = {
    Media.KEPT: "kept (encrypted)",
    Media.NOT_KEPT: "not kept (BASTION_MEDIA_KEYS unset)",
    Media.DELETED: "deleted (retention period ended)",
}


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
    #: Uploads of the same file this item stands for.
    uploads: int
    #: A reviewer's false-positive call that waits for a second reviewer.
    proposed_by: int | None

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
            row.uploads,
            row.proposed_by if row.status != Status.DECIDED.value else None,
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
            "media": Media(self.media_state).note,
            "media_state": self.media_state,
            "uploads": self.uploads,
            "awaiting_agreement": self.proposed_by is not None,
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
        """Queue a scanned upload (its result row and, if a key is set, its bytes).

        An upload of a file that already waits for a decision (same SHA-256)
        is linked to that item, with its own record, instead of queued again:
        one file, one decision.
        """
        rank = priority(row, self.order)
        now = datetime.now(UTC)
        sha256 = row.get("sha256")
        with self.store.transaction() as session:
            waiting = self._waiting(session, sha256) if sha256 else None
            if waiting is not None:
                return self._link(session, waiting, row, rank.value, rank.tier, submitted_by, name)
            item = ReviewItem(
                created_at=now,
                submitted_by=submitted_by,
                name=name,
                media_type=str(row.get("media_type") or "application/octet-stream"),
                size=len(data),
                sha256=sha256,
                pdq=row.get("pdq"),
                uploads=1,
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
            session.add(_upload(item.id, row, submitted_by, name, now))
            if self.vault.enabled:
                sealed = self.vault.seal(item.id, data)
                session.add(ReviewMedia(item_id=item.id, key_id=sealed.key_id, blob=sealed.blob))
            audit.record(session, submitted_by, "review.enqueue", f"item:{item.id}", tier=rank.tier)
            return Item.from_row(item)

    @staticmethod
    def _waiting(session: Session, sha256: str) -> ReviewItem | None:
        """The undecided item of this file, if there is one (locked on PostgreSQL)."""
        return session.execute(
            select(ReviewItem)
            .where(ReviewItem.sha256 == sha256, ReviewItem.status != Status.DECIDED.value)
            .order_by(ReviewItem.id)
            .limit(1)
            .with_for_update()
        ).scalar_one_or_none()

    @staticmethod
    def _link(
        session: Session,
        item: ReviewItem,
        row: dict[str, Any],
        rank: int,
        tier: str,
        submitted_by: str,
        name: str | None,
    ) -> Item:
        values: dict[str, Any] = {"uploads": ReviewItem.uploads + 1}
        if rank > item.priority:
            # The newer scan found more (a bank changed): the item says so and moves up.
            values.update(
                priority=rank,
                tier=tier,
                verdict=str(row.get("verdict") or "unknown"),
                result=json.dumps(row, default=str),
            )
        session.execute(update(ReviewItem).where(ReviewItem.id == item.id).values(**values))
        session.add(_upload(item.id, row, submitted_by, name, datetime.now(UTC)))
        audit.record(session, submitted_by, "review.link", f"item:{item.id}", name=name)
        session.refresh(item)
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
            lapsed = and_(ReviewItem.status == Status.CLAIMED.value, ReviewItem.claimed_at <= stale)
            if who.may(Permission.HOLD):
                statuses.append(Status.ESCALATED.value)
            else:
                # A lapsed claim on an escalated item stays with curators and admins.
                lapsed = and_(lapsed, ~_escalated())
            claimable = or_(ReviewItem.status.in_(statuses), lapsed)
            skipped = exists().where(
                ReviewEvent.item_id == ReviewItem.id,
                ReviewEvent.user_id == who.id,
                ReviewEvent.action == Decision.SKIPPED.value,
            )
            # Whoever proposed a false positive is not the second reviewer of it.
            proposed = ReviewItem.proposed_by == who.id
            candidates = session.execute(
                select(ReviewItem.id, ReviewItem.status, ReviewItem.claimed_at)
                .where(claimable, ~skipped, or_(ReviewItem.proposed_by.is_(None), ~proposed))
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
            row = self._held(session, item_id, who)
            session.execute(
                update(ReviewItem)
                .where(ReviewItem.id == item_id)
                .values(status=_unclaimed(row), claimed_by=None, claimed_at=None)
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
        """Record a decision; what it does to lists follows the rules above.

        A false positive (or "not abusive") on a perceptual-only hit by a
        plain reviewer is a proposal: the item goes back to the queue for a
        second, different reviewer.  The reviewer may undo any decision for
        ``UNDO_SECONDS``.
        """
        decision = Decision(decision)
        category = _category(decision, category)
        now = datetime.now(UTC)
        with self.store.transaction() as session:
            row = self._held(session, item_id, who)
            before = _before(row)
            outcome = self._outcome(session, row, who, decision, category, now)
            if note:
                outcome.values["note"] = note[:2000]
            feedback = [
                ListFeedback(
                    at=now,
                    item_id=item_id,
                    user_id=who.id,
                    bank=str(match.get("bank")),
                    entry_id=int(match.get("entry_id") or 0),
                    signal_type=str(match.get("signal_type")),
                    decision=decision.value,
                    note=note[:2000] if note else None,
                )
                for match in outcome.feedback
            ]
            session.add_all(feedback)
            session.flush()
            undo = {
                "user": who.id,
                "at": now.isoformat(),
                "action": outcome.action,
                "status": outcome.values["status"],
                "before": before,
                "feedback": [record.id for record in feedback],
                "allowlisted": None,
            }
            outcome.values["undo"] = json.dumps(undo)
            session.execute(
                update(ReviewItem).where(ReviewItem.id == item_id).values(**outcome.values)
            )
            self._event(session, item_id, who, outcome.action, category)
            audit.record(
                session,
                who.actor,
                "review.decide",
                f"item:{item_id}",
                decision=outcome.action,
                category=category,
                feedback=len(feedback),
            )
        if outcome.allowlist is not None and self._allowlist(outcome.allowlist, item_id, who):
            undo["allowlisted"] = [outcome.allowlist.type, outcome.allowlist.value]
            with self.store.transaction() as session:
                session.execute(
                    update(ReviewItem).where(ReviewItem.id == item_id).values(undo=json.dumps(undo))
                )
        return self._fresh(item_id)

    def _outcome(
        self,
        session: Session,
        row: ReviewItem,
        who: Principal,
        decision: Decision,
        category: str | None,
        now: datetime,
    ) -> _Outcome:
        """The item's new values, the list feedback and the allowlisting a decision makes."""
        unclaimed: dict[str, Any] = {"claimed_by": None, "claimed_at": None}
        if decision is Decision.SKIPPED:
            return _Outcome(decision.value, {"status": _unclaimed(row), **unclaimed})
        if decision is Decision.ESCALATED:
            values: dict[str, Any] = {
                "status": Status.ESCALATED.value,
                "decision": decision.value,
                **unclaimed,
            }
            return _Outcome(decision.value, values)
        matches = _matches(session, row) if decision in DISPUTES else []
        allowlist = None
        if matches and all(_perceptual(match) for match in matches):
            allowlist = _perceptual_hash(json.loads(row.result))
            agreed = row.proposed_by is not None and row.proposed_by != who.id
            if allowlist is not None and not (who.may(Permission.HOLD) or agreed):
                values = {
                    "status": _unclaimed(row),
                    "proposed_by": who.id,
                    "proposed_at": now,
                    **unclaimed,
                }
                return _Outcome(PROPOSED, values)
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
        return _Outcome(decision.value, values, matches, allowlist)

    def _allowlist(self, signal: Signal, item_id: int, who: Principal) -> bool:
        """Put the matched perceptual hash on the review allowlist (created on first use);
        True when this decision added it (so an undo takes it off again)."""
        name = self.settings.review_allowlist
        banks = Banks(self.store)
        try:
            banks.get(name)
        except BankNotFound:
            banks.create(
                name, kind=BankKind.ALLOWLIST, description="false positives found in review"
            )
        report = add_signals(
            self.store, name, [signal], ["review:false-positive"], source=f"review item {item_id}"
        )
        with self.store.transaction() as session:
            audit.record(
                session,
                who.actor,
                "bank.allowlist",
                f"bank:{name}",
                item=item_id,
                signal_type=signal.type,
            )
        return bool(report.added or report.restored)

    def undo(self, item_id: int, who: Principal) -> Item:
        """Take back one's own last decision on an item within ``UNDO_SECONDS``:
        the item is claimed by them again, its feedback and allowlisting withdrawn."""
        self._require(who, Permission.REVIEW)
        now = datetime.now(UTC)
        with self.store.transaction() as session:
            row = session.get(ReviewItem, item_id)
            if row is None:
                raise NotFound(f"no review item {item_id}")
            if not row.undo:
                raise ReviewError(f"item {item_id} has no decision to undo")
            record = json.loads(row.undo)
            if record["user"] != who.id:
                raise Forbidden(f"only the reviewer who decided item {item_id} may undo it")
            if now > datetime.fromisoformat(record["at"]) + timedelta(seconds=UNDO_SECONDS):
                raise ReviewError(
                    f"the {UNDO_SECONDS} s to undo the decision on item {item_id} have passed"
                )
            before = record["before"]
            restored = session.execute(
                update(ReviewItem)
                .where(
                    ReviewItem.id == item_id,
                    ReviewItem.status == record["status"],
                    ReviewItem.undo == row.undo,
                )
                .values(
                    status=Status.CLAIMED.value,
                    claimed_by=who.id,
                    claimed_at=now,
                    decided_by=None,
                    decided_at=None,
                    retain_until=None,
                    undo=None,
                    decision=before["decision"],
                    category=before["category"],
                    note=before["note"],
                    proposed_by=before["proposed_by"],
                    proposed_at=_moment(before["proposed_at"]),
                )
                .execution_options(synchronize_session=False)
            )
            if restored.rowcount != 1:  # type: ignore[attr-defined]
                raise ReviewError(f"item {item_id} was taken by someone else since; it stays")
            if record["feedback"]:
                session.execute(delete(ListFeedback).where(ListFeedback.id.in_(record["feedback"])))
            self._event(session, item_id, who, "undo", record["action"])
            audit.record(
                session, who.actor, "review.undo", f"item:{item_id}", decision=record["action"]
            )
        if record["allowlisted"]:
            name = self.settings.review_allowlist
            kind, value = record["allowlisted"]
            withdrawn = withdraw_signals(self.store, name, [Signal(kind, value)])
            with self.store.transaction() as session:
                audit.record(
                    session,
                    who.actor,
                    "bank.withdraw",
                    f"bank:{name}",
                    item=item_id,
                    withdrawn=withdrawn,
                )
        return self._fresh(item_id)

    def undoable(self, item_id: int, who: Principal) -> tuple[Item, str] | None:
        """The item and what ``who`` decided on it, while they may still undo it."""
        with self.store.sessions() as session:
            row = session.get(ReviewItem, item_id)
            if row is None or not row.undo:
                return None
            record = json.loads(row.undo)
        due = datetime.fromisoformat(record["at"]) + timedelta(seconds=UNDO_SECONDS)
        if record["user"] != who.id or datetime.now(UTC) > due:
            return None
        return Item.from_row(row), str(record["action"])

    # --- what else is known of an item ----------------------------------------

    def context(self, item_id: int, who: Principal) -> dict[str, Any]:
        """Each upload the item stands for, a proposal waiting for agreement, and
        earlier decisions on the same file (SHA-256) or a near image (PDQ)."""
        with self.store.sessions() as session:
            row = self._visible(session, item_id, who)
            uploads = session.execute(
                select(ReviewUpload)
                .where(ReviewUpload.item_id == item_id)
                .order_by(ReviewUpload.id)
            ).scalars()
            upload_log = [
                {
                    "at": as_utc(upload.at).isoformat(),
                    "submitted_by": upload.submitted_by,
                    "name": upload.name,
                    "verdict": upload.verdict,
                    "matches": json.loads(upload.matches),
                }
                for upload in uploads
            ]
            proposals = []
            if row.proposed_by is not None and row.status != Status.DECIDED.value:
                proposer = session.get(User, row.proposed_by)
                proposals.append(
                    {
                        "user": proposer.name if proposer else None,
                        "at": as_utc(row.proposed_at).isoformat() if row.proposed_at else None,
                        "decision": Decision.FALSE_POSITIVE.value,
                    }
                )
            earlier = _earlier(session, row)
        return {"upload_log": upload_log, "proposals": proposals, "earlier": earlier}

    def feedback(
        self, who: Principal, *, bank: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Reviewers' disagreements with list entries, newest first, for curators."""
        self._require(who, Permission.HOLD, person=False)
        statement = (
            select(ListFeedback, User.name)
            .join(User, User.id == ListFeedback.user_id)
            .order_by(ListFeedback.id.desc())
            .limit(limit)
        )
        if bank is not None:
            statement = statement.where(ListFeedback.bank == bank)
        with self.store.sessions() as session:
            return [
                {
                    "id": record.id,
                    "at": as_utc(record.at).isoformat(),
                    "item": record.item_id,
                    "bank": record.bank,
                    "entry_id": record.entry_id,
                    "signal_type": record.signal_type,
                    "decision": record.decision,
                    "note": record.note,
                    "user": name,
                }
                for record, name in session.execute(statement).all()
            ]

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

    def _fresh(self, item_id: int) -> Item:
        with self.store.sessions() as session:
            row = session.get(ReviewItem, item_id)
            assert row is not None
            return Item.from_row(row)

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


@dataclass(slots=True)
class _Outcome:
    action: str
    values: dict[str, Any]
    #: Matches the decision disputes: feedback for their lists' curators.
    feedback: list[dict[str, Any]] = field(default_factory=list)
    allowlist: Signal | None = None


def _category(decision: Decision, category: str | None) -> str | None:
    if decision is not Decision.CONFIRMED:
        return None
    if not category:
        raise ReviewError("a confirmed item needs a category (e.g. ncmec:A1 or projectvic:1)")
    try:
        return normalize_label(category)
    except InvalidLabel as exc:
        raise ReviewError(str(exc)) from None


def _escalated() -> Any:
    return and_(ReviewItem.decision.is_not(None), ReviewItem.decision == Decision.ESCALATED.value)


def _unclaimed(row: ReviewItem) -> str:
    """Where a claimed item goes back to: escalated items stay escalated."""
    return Status.ESCALATED.value if row.decision == Decision.ESCALATED.value else Status.OPEN.value


def _before(row: ReviewItem) -> dict[str, Any]:
    """What an undo restores."""
    return {
        "decision": row.decision,
        "category": row.category,
        "note": row.note,
        "proposed_by": row.proposed_by,
        "proposed_at": as_utc(row.proposed_at).isoformat() if row.proposed_at else None,
    }


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _upload(
    item_id: int, row: dict[str, Any], submitted_by: str, name: str | None, at: datetime
) -> ReviewUpload:
    return ReviewUpload(
        item_id=item_id,
        at=at,
        submitted_by=submitted_by,
        name=name,
        verdict=str(row.get("verdict") or "unknown"),
        matches=json.dumps(row.get("matches") or [], default=str),
    )


def _matches(session: Session, row: ReviewItem) -> list[dict[str, Any]]:
    """Every list entry any upload of the item matched (one per bank and entry)."""
    found = {
        (match.get("bank"), match.get("entry_id")): match
        for match in json.loads(row.result).get("matches") or []
    }
    for text in session.execute(
        select(ReviewUpload.matches).where(ReviewUpload.item_id == row.id)
    ).scalars():
        for match in json.loads(text):
            found.setdefault((match.get("bank"), match.get("entry_id")), match)
    return list(found.values())


def _perceptual(match: dict[str, Any]) -> bool:
    return signal_type(str(match.get("signal_type"))).kind in _PERCEPTUAL


def _perceptual_hash(result: dict[str, Any]) -> Signal | None:
    """The item's own perceptual hash, which is what matched: a video's vPDQ, an image's PDQ."""
    if result.get("vpdq"):
        return Signal("vpdq", str(result["vpdq"]))
    if result.get("pdq"):
        return Signal("pdq", str(result["pdq"]))
    return None


def _earlier(session: Session, row: ReviewItem) -> list[dict[str, Any]]:
    """Decided items of the same file, or of an image within the PDQ threshold."""
    decided = and_(ReviewItem.status == Status.DECIDED.value, ReviewItem.id != row.id)
    same: dict[int, tuple[str, int]] = {}
    if row.sha256:
        for item_id in session.execute(
            select(ReviewItem.id).where(decided, ReviewItem.sha256 == row.sha256)
        ).scalars():
            same[item_id] = ("sha256", 0)
    if row.pdq:
        for item_id, pdq in session.execute(
            select(ReviewItem.id, ReviewItem.pdq).where(decided, ReviewItem.pdq.is_not(None))
        ).all():
            distance = hamming(row.pdq, str(pdq))
            if item_id not in same and distance <= DEFAULT_PDQ_THRESHOLD:
                same[item_id] = ("pdq", distance)
    if not same:
        return []
    rows = session.execute(
        select(ReviewItem, User.name)
        .outerjoin(User, User.id == ReviewItem.decided_by)
        .where(ReviewItem.id.in_(same))
        .order_by(ReviewItem.decided_at.desc(), ReviewItem.id.desc())
    ).all()
    return [
        {
            "item": item.id,
            "same": same[item.id][0],
            "distance": same[item.id][1],
            "decision": item.decision,
            "category": item.category,
            "decided_at": as_utc(item.decided_at).isoformat() if item.decided_at else None,
            "decided_by": name,
        }
        for item, name in rows
    ]
