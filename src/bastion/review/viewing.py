"""What a reviewer sees of an item: its record and its media, each look recorded.

The first look at an item is a ``view`` event; every reveal of its image
(in colour, sharp, or both) is a ``reveal`` event with its time, written
before the bytes leave, and the first reveal of an item counts towards the
reviewer's break suggestion for this login.
"""

from __future__ import annotations

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from bastion import audit
from bastion.accounts import Principal
from bastion.provenance.carriers import find_carriers
from bastion.provenance.exif import parse_exif
from bastion.review.access import ItemAccess
from bastion.review.items import Item, Media, NotFound, Reveal
from bastion.review.vault import Sealed
from bastion.store.models import LoginSession, ReviewEvent, ReviewMedia

#: The review event of a person revealing an item's EXIF metadata (apart from
#: its image): a CyberTipline report says ``exifViewedByEsp`` from it.
EXIF_EVENT = "exif"


class Viewing(ItemAccess):
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
            stored = self._kept_media(session, item_id, who)
            count = 0
            self._first_view(session, item_id, who)
            if reveal is not None:
                first = not _done(session, item_id, who, "reveal")
                self._event(session, item_id, who, "reveal", reveal.value)
                audit.record(
                    session, who.actor, "review.reveal", f"item:{item_id}", mode=reveal.value
                )
                if first:
                    count = count_reveal(session, who)
            sealed = Sealed(stored.key_id, stored.blob)
        return self.vault.open(item_id, sealed), count

    def exif(self, item_id: int, who: Principal) -> dict[str, str]:
        """The EXIF fields of the item's media, a recorded reveal of its own
        (seeing metadata is not seeing the image, and a report says which)."""
        with self.store.transaction() as session:
            stored = self._kept_media(session, item_id, who)
            data = self.vault.open(item_id, Sealed(stored.key_id, stored.blob))
            self._event(session, item_id, who, EXIF_EVENT)
            audit.record(session, who.actor, "review.reveal-exif", f"item:{item_id}")
        return parse_exif(find_carriers(data, self.settings.max_metadata_bytes)).values

    def _kept_media(self, session: Session, item_id: int, who: Principal) -> ReviewMedia:
        """The item's sealed media, if ``who`` may see the item and it was kept."""
        row = self._visible(session, item_id, who)
        if row.media_state != Media.KEPT.value:
            raise NotFound(f"item {item_id} has no media ({row.media_state})")
        stored = session.get(ReviewMedia, item_id)
        if stored is None:
            raise NotFound(f"item {item_id} has no media")
        return stored

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

    def _first_view(self, session: Session, item_id: int, who: Principal) -> None:
        """Record that ``who`` saw the item (its record or its protected image) once."""
        if not _done(session, item_id, who, "view"):
            self._event(session, item_id, who, "view")
            audit.record(session, who.actor, "review.view", f"item:{item_id}")


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


def count_reveal(session: Session, who: Principal) -> int:
    """One more image revealed this login (the break suggestion counts them,
    whether revealed in the review queue or in a case); the new count."""
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
