"""The same content is queued once, even when its first uploads arrive at once.

Several service processes (here: threads) may each read "nothing of this file
waits" before any of them has written; the database's unique index on the
waiting items' SHA-256 lets only one of them create the item and the others
link to it.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bastion.accounts import Accounts, Principal, Role
from bastion.config import Settings
from bastion.pipeline import ScanResult
from bastion.review.items import Decision, ReviewError, Status
from bastion.review.queue import ReviewQueue
from bastion.review.vault import new_key
from bastion.store import Store
from bastion.store.models import ReviewItem, ReviewMedia, ReviewUpload
from tests.service.scanned import scan_result

UPLOADS = 8


def _scanned(data: bytes) -> ScanResult:
    return scan_result(hashlib.sha256(data).hexdigest(), matched=[[]])


def _everyone_looks_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each upload's first look for a waiting item returns only when all have looked:
    every one of them has seen "nothing waits" before any of them writes."""
    looked = threading.Barrier(UPLOADS)
    first = threading.local()
    waiting = ReviewQueue._waiting

    def after_all_looked(session: Session, sha256: str) -> ReviewItem | None:
        found = waiting(session, sha256)
        if not getattr(first, "done", False):
            first.done = True
            looked.wait(timeout=60)
        return found

    monkeypatch.setattr(ReviewQueue, "_waiting", staticmethod(after_all_looked))


def test_simultaneous_first_uploads_of_a_file_make_one_item(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyed = replace(settings, media_keys=new_key())
    data = b"one file, uploaded by many at once"
    _everyone_looks_first(monkeypatch)
    # A store each, as each process has (one process's SQLite writers take turns).
    stores = [Store.open(settings) for _ in range(UPLOADS)]

    def upload(n: int) -> int:
        queue = ReviewQueue(stores[n], keyed)
        return queue.enqueue(_scanned(data), data, submitted_by=f"key:{n}", name=f"{n}.jpg").id

    try:
        with ThreadPoolExecutor(UPLOADS) as pool:
            ids = list(pool.map(upload, range(UPLOADS)))
    finally:
        for opened in stores:
            opened.dispose()

    with store.sessions() as session:
        items = session.execute(select(ReviewItem)).scalars().all()
        names = session.execute(select(ReviewUpload.name, ReviewUpload.item_id)).all()
        media = session.execute(select(func.count()).select_from(ReviewMedia)).scalar_one()
    assert [(item.status, item.uploads) for item in items] == [(Status.OPEN.value, UPLOADS)]
    assert set(ids) == {items[0].id}
    assert sorted(names) == sorted((f"{n}.jpg", items[0].id) for n in range(UPLOADS))
    assert media == 1


def test_undo_does_not_reopen_a_file_queued_again_since(store: Store, settings: Settings) -> None:
    """An undo would make a second waiting item of the same file: it is refused,
    and the newer item (which stands for the new upload) is the one to decide."""
    queue = ReviewQueue(store, settings)
    data = b"decided, then uploaded again"
    first = queue.enqueue(_scanned(data), data, submitted_by="key:a", name="a.jpg").id
    info = Accounts(store).add_user("ada", "reviewer", "a long test password", actor="test")
    reviewer = Principal("user", info.id, info.name, Role.REVIEWER)
    queue.claim(reviewer)
    queue.decide(first, reviewer, Decision.CONFIRMED, category="ncmec:B2")
    again = queue.enqueue(_scanned(data), data, submitted_by="key:b", name="b.jpg").id
    assert again != first
    with pytest.raises(ReviewError, match=f"item {again}"):
        queue.undo(first, reviewer)
    with store.sessions() as session:
        statuses = dict(session.execute(select(ReviewItem.id, ReviewItem.status)).all())
    assert statuses == {first: Status.DECIDED.value, again: Status.OPEN.value}
