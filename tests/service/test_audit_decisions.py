"""A review decision and what it implies commit together (SQLite and PostgreSQL).

A worker killed between writing a decision and allowlisting what it
implies must leave neither: here a subprocess deciding (or undoing) is
SIGKILLed by a hook on its database connection at the moment it has
written both halves, or has written one and committed it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

from bastion import audit
from bastion.accounts import Accounts, Principal, Role
from bastion.banks.bank import Banks
from bastion.config import Settings
from bastion.fingerprint import Fingerprint, Signal
from bastion.matching.match import Match
from bastion.pipeline import ScanResult
from bastion.pipeline import Status as ScanStatus
from bastion.review.items import Decision, Status
from bastion.review.queue import ReviewQueue
from bastion.store import Store
from bastion.store.models import ReviewItem

PDQ = "f" * 16 + "0" * 48
ALLOWLIST = "review-false-positives"

#: Decides (or undoes) an item; killed by SIGKILL right after a statement that
#: leaves both given kinds of statement executed.
_WORKER = textwrap.dedent(
    """
    import os, signal, sys
    from sqlalchemy import event
    from bastion.accounts import Principal, Role
    from bastion.config import Settings
    from bastion.review.items import Decision
    from bastion.review.queue import ReviewQueue
    from bastion.store import Store

    url, action, item, user, first, second = sys.argv[1:]
    store = Store.from_url(url)
    seen = set()

    def kill_when_both_written(conn, cursor, statement, parameters, context, executemany):
        seen.update(p for p in (first, second) if statement.startswith(p))
        if len(seen) == 2:
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(store.engine, "after_cursor_execute", kill_when_both_written)
    queue = ReviewQueue(store, Settings(database_url=url))
    who = Principal("user", int(user), "cora", Role.CURATOR)
    if action == "decide":
        queue.decide(int(item), who, Decision.FALSE_POSITIVE)
    else:
        queue.undo(int(item), who)
    """
)


def _killed_while(store: Store, action: str, item: int, who: Principal, *both: str) -> None:
    url = store.engine.url.render_as_string(hide_password=False)
    worker = subprocess.run(
        [sys.executable, "-c", _WORKER, url, action, str(item), str(who.id), *both],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == -signal.SIGKILL, worker.stderr


def _perceptual_item(store: Store, settings: Settings) -> tuple[ReviewQueue, int, Principal]:
    """A claimed item whose only match is on its PDQ, and the curator holding it."""
    Banks(store, actor="test:setup").create("known")
    Banks(store, actor="test:setup").add_signals("known", [Signal("pdq", PDQ)])
    queue = ReviewQueue(store, settings)
    scanned = ScanResult(
        "upload",
        "test",
        ScanStatus.HASHED,
        Fingerprint("image/jpeg", 1, (Signal("pdq", PDQ),)),
        (Match("known", 1, "pdq", 0),),
    )
    item = queue.enqueue(scanned, b"x", submitted_by="t", name=None).id
    info = Accounts(store).add_user("cora", "curator", "a long test password", actor="test")
    curator = Principal("user", info.id, info.name, Role.CURATOR)
    assert queue.claim(curator) is not None
    return queue, item, curator


def _status(store: Store, item: int) -> tuple[str, str | None]:
    """The item's status and decision, read without recording a view."""
    with store.sessions() as session:
        row = session.get(ReviewItem, item)
        assert row is not None
        return row.status, row.decision


def _allowlisted(store: Store) -> int:
    banks = Banks(store, actor="test:check")
    if ALLOWLIST not in {bank.name for bank in banks.list()}:
        return 0
    return banks.stats(ALLOWLIST).active


def test_a_decision_killed_before_its_allowlisting_leaves_neither(
    store: Store, settings: Settings
) -> None:
    queue, item, curator = _perceptual_item(store, settings)
    records = audit.verify(store).records
    _killed_while(store, "decide", item, curator, "UPDATE review_items", "INSERT INTO entries")
    assert _status(store, item) == (Status.CLAIMED, None)
    assert _allowlisted(store) == 0
    assert audit.verify(store).records == records
    # Decided again, undisturbed: the decision and its allowlisting are there.
    decided = queue.decide(item, curator, Decision.FALSE_POSITIVE)
    assert decided.status == Status.DECIDED
    assert _allowlisted(store) == 1
    assert audit.verify(store).ok


def test_an_undo_killed_before_its_withdrawal_leaves_neither(
    store: Store, settings: Settings
) -> None:
    queue, item, curator = _perceptual_item(store, settings)
    queue.decide(item, curator, Decision.FALSE_POSITIVE)
    assert _allowlisted(store) == 1
    records = audit.verify(store).records
    _killed_while(store, "undo", item, curator, "UPDATE review_items", "UPDATE entries")
    assert _status(store, item) == (Status.DECIDED, Decision.FALSE_POSITIVE)
    assert _allowlisted(store) == 1
    assert audit.verify(store).records == records
    undone = queue.undo(item, curator)
    assert undone.status == Status.CLAIMED
    assert _allowlisted(store) == 0
    assert audit.verify(store).ok
