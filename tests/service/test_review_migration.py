"""Migration 0005 on a store with items queued before it: their PDQ and first
upload are filled in, so earlier decisions and upload logs cover them too, and
waiting copies of one file become one item before one-item-per-file is enforced."""

from __future__ import annotations

import json
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from bastion.store import Store
from bastion.store.database import _alembic_config, make_engine


def test_items_queued_before_get_their_pdq_and_first_upload(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        connection.execute(
            text(
                "INSERT INTO review_items (created_at, submitted_by, name, media_type, size,"
                " sha256, result, verdict, priority, tier, status, legal_hold, media_state)"
                " VALUES (CURRENT_TIMESTAMP, 'key:old', 'old.jpg', 'image/jpeg', 3, :sha,"
                " :result, 'known', 300, 'bank', 'open', false, 'not-kept')"
            ),
            {
                "sha": "cd" * 32,
                "result": json.dumps({"pdq": "ab" * 32, "matches": [{"bank": "b", "entry_id": 1}]}),
            },
        )
    engine.dispose()
    store = Store.from_url(database_url)
    with store.engine.connect() as connection:
        pdq, uploads = connection.execute(text("SELECT pdq, uploads FROM review_items")).one()
        upload = connection.execute(
            text("SELECT submitted_by, name, verdict, matches FROM review_uploads")
        ).one()
    store.dispose()
    assert pdq == "ab" * 32
    assert uploads == 1
    assert upload[:3] == ("key:old", "old.jpg", "known")
    assert json.loads(upload[3]) == [{"bank": "b", "entry_id": 1}]


_ITEM = text(
    "INSERT INTO review_items (created_at, submitted_by, name, media_type, size, sha256,"
    " result, verdict, priority, tier, status, decision, legal_hold, media_state)"
    " VALUES (CURRENT_TIMESTAMP, 'key:old', :name, 'image/jpeg', 3, :sha, :result,"
    " :verdict, :priority, :tier, :status, :decision, false, :media)"
)


def _old_item(connection: Connection, name: str, sha: str, **values: Any) -> int:
    row = {
        "name": name,
        "sha": sha,
        "result": json.dumps({"matches": []}),
        "verdict": "unknown",
        "priority": 100,
        "tier": "other",
        "status": "open",
        "decision": None,
        "media": "not-kept",
    }
    connection.execute(_ITEM, {**row, **values})
    item: int = connection.execute(
        text("SELECT id FROM review_items WHERE name = :name"), {"name": name}
    ).scalar_one()
    return item


def test_waiting_copies_of_a_file_become_one_item(database_url: str) -> None:
    """Before 0005 every upload was its own item; the copies still waiting are
    linked to one (which keeps their uploads, events, urgency, escalation and
    media) so the unique index on waiting items' SHA-256 can be created."""
    same, other = "aa" * 32, "bb" * 32
    engine = make_engine(database_url)
    with engine.begin() as connection:
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
        first = _old_item(connection, "first.jpg", same)
        kept = _old_item(
            connection,
            "kept.jpg",
            same,
            verdict="known",
            priority=300,
            tier="bank",
            status="escalated",
            decision="escalated",
            media="kept",
        )
        viewed = _old_item(connection, "viewed.jpg", same)
        decided = _old_item(connection, "decided.jpg", same, status="decided", decision="confirmed")
        oldest = _old_item(connection, "oldest.jpg", other)
        _old_item(connection, "urgent.jpg", other, priority=250, tier="bank")
        connection.execute(
            text("INSERT INTO review_media (item_id, key_id, blob) VALUES (:item, 'k', :blob)"),
            [{"item": item, "blob": b"sealed"} for item in (first, kept)],
        )
        connection.execute(
            text(
                "INSERT INTO users (name, role, password_hash, created_at)"
                " VALUES ('vic', 'reviewer', 'x', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO review_events (item_id, user_id, at, action)"
                " SELECT :item, id, CURRENT_TIMESTAMP, 'reveal' FROM users"
            ),
            {"item": viewed},
        )
    engine.dispose()
    store = Store.from_url(database_url)
    with store.engine.connect() as connection:
        items = {
            row.id: tuple(row)[1:]
            for row in connection.execute(
                text(
                    "SELECT id, status, decision, uploads, priority, tier, media_state"
                    " FROM review_items"
                )
            )
        }
        uploads = connection.execute(
            text("SELECT item_id, name FROM review_uploads ORDER BY name")
        ).all()
        events = connection.execute(text("SELECT item_id, action FROM review_events")).all()
        media = connection.execute(text("SELECT item_id FROM review_media")).scalars().all()
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        _old_item(connection, "again.jpg", same)  # one waiting item per file from now on
    store.dispose()
    # The media is sealed to its item, so the copy whose media is kept stands for the file.
    assert items == {
        kept: ("escalated", "escalated", 3, 300, "bank", "kept"),
        decided: ("decided", "confirmed", 1, 100, "other", "not-kept"),
        oldest: ("open", None, 2, 250, "bank", "not-kept"),
    }
    assert [(item, name) for item, name in uploads] == [
        (decided, "decided.jpg"),
        (kept, "first.jpg"),
        (kept, "kept.jpg"),
        (oldest, "oldest.jpg"),
        (oldest, "urgent.jpg"),
        (kept, "viewed.jpg"),
    ]
    assert [tuple(event) for event in events] == [(kept, "reveal")]
    assert media == [kept]
