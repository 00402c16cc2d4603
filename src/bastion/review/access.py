"""Who may see or act on a queued item, and the record of what a person did.

``ItemAccess`` is the base of the queue's parts (``bastion.review.queue``
puts them together): the store, settings and media vault they share, the
permission checks every operation starts with, and the ``review_events``
row each action adds.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bastion.accounts import Permission, Principal
from bastion.config import Settings
from bastion.review.items import Forbidden, Item, NotFound, ReviewError, Status
from bastion.review.vault import Vault
from bastion.store import Store
from bastion.store.models import ReviewEvent, ReviewItem


class ItemAccess:
    store: Store
    settings: Settings
    vault: Vault

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

    @staticmethod
    def _waiting(session: Session, sha256: str) -> ReviewItem | None:
        """The undecided item of this file, if there is one (locked on PostgreSQL);
        a unique index keeps it at most one."""
        return session.execute(
            select(ReviewItem)
            .where(ReviewItem.sha256 == sha256, ReviewItem.status != Status.DECIDED.value)
            .with_for_update()
        ).scalar_one_or_none()

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
