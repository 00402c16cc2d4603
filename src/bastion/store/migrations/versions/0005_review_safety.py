"""Review decisions that never unlist known material: a second reviewer's
agreement, list feedback, linked uploads of the same file, undo.

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
    with op.batch_alter_table("review_items") as batch:
        batch.add_column(sa.Column("pdq", sa.String(64), nullable=True))
        batch.add_column(sa.Column("uploads", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(
            sa.Column(
                "proposed_by",
                sa.Integer(),
                sa.ForeignKey("users.id", name="fk_review_items_proposed_by"),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("proposed_at", Timestamp, nullable=True))
        batch.add_column(sa.Column("undo", sa.Text(), nullable=True))
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


def downgrade() -> None:
    op.drop_table("list_feedback")
    op.drop_table("review_uploads")
    with op.batch_alter_table("review_items") as batch:
        for name in ("undo", "proposed_at", "proposed_by", "uploads", "pdq"):
            batch.drop_column(name)
