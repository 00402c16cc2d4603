"""Deciding an item, what a decision does to lists, and taking it back.

A decision never takes known material off a list on one person's word: a
false positive on an exact digest hit is recorded and routed to the list's
curator as feedback; a perceptual-only hit is allowlisted (its perceptual
hash alone) by a curator, or when a second, different reviewer agrees.
The reviewer who decided may undo it for ``UNDO_SECONDS``: the item is
theirs again and its feedback and allowlisting are withdrawn.

A decision and everything it implies (feedback, allowlisting, the record
of how to undo it, the audit records) are one transaction, as is an undo
and all it takes back: a worker killed half-way leaves neither half.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bastion import audit
from bastion.accounts import Permission, Principal
from bastion.banks.bank import BankKind, BankNotFound, Banks
from bastion.fingerprint import Signal
from bastion.labels import InvalidLabel, normalize_label
from bastion.review.access import ItemAccess
from bastion.review.items import (
    DISPUTES,
    Decision,
    Forbidden,
    Item,
    NotFound,
    ReviewError,
    Status,
    unclaimed_status,
)
from bastion.signals.types import SignalKind, signal_type
from bastion.store import as_utc
from bastion.store.models import ListFeedback, ReviewItem, ReviewUpload

#: Seconds in which the reviewer who decided an item may take the decision back.
UNDO_SECONDS = 30
#: The event recorded when a reviewer calls a perceptual match a false positive
#: and a second reviewer's agreement is needed.
PROPOSED = "proposed-false-positive"
_PERCEPTUAL = frozenset({SignalKind.PDQ, SignalKind.VPDQ})


class Decisions(ItemAccess):
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
            allowlisted = None
            signal = outcome.allowlist
            if signal is not None and self._allowlist(session, signal, item_id, who):
                allowlisted = [signal.type, signal.value]
            undo = {
                "user": who.id,
                "at": now.isoformat(),
                "action": outcome.action,
                "status": outcome.values["status"],
                "before": before,
                "feedback": [record.id for record in feedback],
                "allowlisted": allowlisted,
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
            return _Outcome(decision.value, {"status": unclaimed_status(row), **unclaimed})
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
                    "status": unclaimed_status(row),
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

    def _allowlist(self, session: Session, signal: Signal, item_id: int, who: Principal) -> bool:
        """Put the matched perceptual hash on the review allowlist (created on first use),
        in the decision's transaction; True when this decision added it (so an undo
        takes it off again)."""
        name = self.settings.review_allowlist
        banks = Banks(self.store, actor=who.actor, session=session)
        try:
            banks.get(name)
        except BankNotFound:
            banks.create(
                name, kind=BankKind.ALLOWLIST, description="false positives found in review"
            )
        report = banks.add_signals(
            name, [signal], ["review:false-positive"], source=f"review item {item_id}"
        )
        return bool(report.added or report.restored)

    def undo(self, item_id: int, who: Principal) -> Item:
        """Take back one's own last decision on an item within ``UNDO_SECONDS``:
        the item is claimed by them again, its feedback and allowlisting withdrawn."""
        self._require(who, Permission.REVIEW)
        now = datetime.now(UTC)
        try:
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
                    session.execute(
                        delete(ListFeedback).where(ListFeedback.id.in_(record["feedback"]))
                    )
                if record["allowlisted"]:
                    kind, value = record["allowlisted"]
                    Banks(self.store, actor=who.actor, session=session).withdraw_signals(
                        self.settings.review_allowlist, [Signal(kind, value)]
                    )
                self._event(session, item_id, who, "undo", record["action"])
                audit.record(
                    session, who.actor, "review.undo", f"item:{item_id}", decision=record["action"]
                )
        except IntegrityError:
            # Only one item of a file may wait for a decision (a unique index).
            raise ReviewError(self._queued_again(item_id)) from None
        return self._fresh(item_id)

    def _queued_again(self, item_id: int) -> str:
        """Why an undo cannot reopen an item: its file was queued again since."""
        with self.store.sessions() as session:
            row = session.get(ReviewItem, item_id)
            again = self._waiting(session, row.sha256) if row and row.sha256 else None
        newer = f"item {again.id}" if again else "a newer item"
        return (
            f"the same file was queued again since, as {newer}: decide that one"
            f" (item {item_id} keeps its decision)"
        )

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
