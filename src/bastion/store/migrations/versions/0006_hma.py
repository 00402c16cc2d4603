"""HMA's bank switch: a bank's share of lookups it answers in (0 disables it);
HMA's metadata and note of a banked item.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (see 0005): existing banks keep matching.
    op.add_column(
        "banks",
        sa.Column("matching_enabled_ratio", sa.Float(), nullable=False, server_default="1"),
    )
    op.create_table(
        "content_notes",
        sa.Column(
            "bank_id",
            sa.Integer(),
            sa.ForeignKey("banks.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("external_id", sa.String(64), primary_key=True),
        sa.Column("content_metadata", sa.Text(), nullable=True),
        sa.Column("note", sa.String(255), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("content_notes")
    with op.batch_alter_table("banks") as batch:
        batch.drop_column("matching_enabled_ratio")
