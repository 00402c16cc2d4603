"""Review decisions that never unlist known material: a second reviewer's
agreement, list feedback, linked uploads of the same file (one waiting item
per SHA-256, enforced by a partial unique index), undo.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ADD COLUMNs, not a batch rebuild: on SQLite a rebuild drops the old
    # table, and with foreign keys on that deletes every queued item's media and
    # events (who saw it) by their ON DELETE CASCADE.
    op.add_column("review_items", sa.Column("pdq", sa.String(64), nullable=True))
    op.add_column(
        "review_items", sa.Column("uploads", sa.Integer(), nullable=False, server_default="1")
    )
    op.add_column(
        "review_items",
        sa.Column("proposed_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        inline_references=True,
    )
    op.add_column("review_items", sa.Column("proposed_at", Timestamp, nullable=True))
    op.add_column("review_items", sa.Column("undo", sa.Text(), nullable=True))
    op.create_table(
        "review_uploads",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "item_id",
            BigId,
            sa.ForeignKey("review_items.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("submitted_by", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("matches", sa.Text(), nullable=False),
    )
    op.create_table(
        "list_feedback",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column(
            "item_id",
            BigId,
            sa.ForeignKey("review_items.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("bank", sa.String(64), nullable=False, index=True),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("signal_type", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
    )
    _backfill()
    _link_waiting_copies()
    op.create_index(
        "ix_review_items_waiting_sha256",
        "review_items",
        ["sha256"],
        unique=True,
        sqlite_where=sa.text("status <> 'decided'"),
        postgresql_where=sa.text("status <> 'decided'"),
    )


def _backfill() -> None:
    """Items queued before: their PDQ, and their first upload as one upload record."""
    connection = op.get_bind()
    items = sa.table(
        "review_items",
        sa.column("id"),
        sa.column("pdq"),
        sa.column("result"),
        sa.column("created_at"),
        sa.column("submitted_by"),
        sa.column("name"),
        sa.column("verdict"),
    )
    uploads = sa.table(
        "review_uploads",
        sa.column("item_id"),
        sa.column("at"),
        sa.column("submitted_by"),
        sa.column("name"),
        sa.column("verdict"),
        sa.column("matches"),
    )
    rows = connection.execute(
        sa.select(
            items.c.id,
            items.c.result,
            items.c.created_at,
            items.c.submitted_by,
            items.c.name,
            items.c.verdict,
        )
    ).all()
    for item_id, result, created_at, submitted_by, name, verdict in rows:
        row = json.loads(result)
        if row.get("pdq"):
            connection.execute(sa.update(items).where(items.c.id == item_id).values(pdq=row["pdq"]))
        connection.execute(
            sa.insert(uploads).values(
                item_id=item_id,
                at=created_at,
                submitted_by=submitted_by,
                name=name,
                verdict=verdict,
                matches=json.dumps(row.get("matches") or []),
            )
        )


def _link_waiting_copies() -> None:
    """Items queued before that wait for a decision on the same file become one.

    The oldest item (the oldest whose media is kept, if any: media is sealed to
    its item) stands for all their uploads and takes over what was recorded of
    the others (uploads, views, reveals, claims), the most urgent result and
    any escalation; the others, and their copies of the media, are removed.
    """
    connection = op.get_bind()
    items = sa.table(
        "review_items",
        sa.column("id"),
        sa.column("sha256"),
        sa.column("status"),
        sa.column("decision"),
        sa.column("uploads"),
        sa.column("priority"),
        sa.column("tier"),
        sa.column("verdict"),
        sa.column("result"),
        sa.column("media_state"),
    )
    waiting = items.c.status != "decided"
    copied = connection.execute(
        sa.select(items.c.sha256)
        .where(waiting, items.c.sha256.is_not(None))
        .group_by(items.c.sha256)
        .having(sa.func.count() > 1)
    ).scalars()
    for sha256 in list(copied):
        rows = connection.execute(
            sa.select(items).where(waiting, items.c.sha256 == sha256).order_by(items.c.id)
        ).all()
        keep = next((row for row in rows if row.media_state == "kept"), rows[0])
        others = [row.id for row in rows if row.id != keep.id]
        for child in ("review_uploads", "review_events"):
            records = sa.table(child, sa.column("item_id"))
            connection.execute(
                sa.update(records).where(records.c.item_id.in_(others)).values(item_id=keep.id)
            )
        values = {"uploads": sum(row.uploads for row in rows)}
        urgent = max(rows, key=lambda row: (row.priority, row.id == keep.id))
        values.update(
            priority=urgent.priority, tier=urgent.tier, verdict=urgent.verdict, result=urgent.result
        )
        if any("escalated" in (row.status, row.decision) for row in rows):
            values.update(
                decision="escalated", status="claimed" if keep.status == "claimed" else "escalated"
            )
        media = sa.table("review_media", sa.column("item_id"))
        connection.execute(sa.delete(media).where(media.c.item_id.in_(others)))
        connection.execute(sa.delete(items).where(items.c.id.in_(others)))
        connection.execute(sa.update(items).where(items.c.id == keep.id).values(**values))


def downgrade() -> None:
    op.drop_index("ix_review_items_waiting_sha256", table_name="review_items")
    op.drop_table("list_feedback")
    op.drop_table("review_uploads")
    with op.batch_alter_table("review_items") as batch:
        for name in ("undo", "proposed_at", "proposed_by", "uploads", "pdq"):
            batch.drop_column(name)
