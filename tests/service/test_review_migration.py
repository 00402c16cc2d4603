"""Migration 0005 on a store with items queued before it: their PDQ and first
upload are filled in, so earlier decisions and upload logs cover them too."""

from __future__ import annotations

import json

from alembic import command
from sqlalchemy import text

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
