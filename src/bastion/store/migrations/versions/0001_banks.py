"""Banks, entries, label sets, imports and the change counter.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bastion_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "change_counter",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "banks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("pdq_threshold", sa.Integer(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "label_sets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("labels", sa.Text(), nullable=False, unique=True),
    )
    op.create_table(
        "imports",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "bank_id", sa.Integer(), sa.ForeignKey("banks.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("version", sa.Text(), nullable=True),
        sa.Column("started_at", Timestamp, nullable=False),
        sa.Column("finished_at", Timestamp, nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in ("added", "updated", "restored", "withdrawn", "unchanged", "rejected")
        ),
    )
    op.create_index("ix_imports_bank_id", "imports", ["bank_id"])
    op.create_table(
        "entries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "bank_id", sa.Integer(), sa.ForeignKey("banks.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("signal_type", sa.String(16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("label_set_id", sa.Integer(), sa.ForeignKey("label_sets.id"), nullable=False),
        sa.Column("added_at", Timestamp, nullable=False),
        sa.Column("withdrawn_at", Timestamp, nullable=True),
        sa.Column(
            "import_id", BigId, sa.ForeignKey("imports.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("bank_id", "signal_type", "value", name="uq_entries_bank_signal"),
    )
    op.create_index("ix_entries_bank_external", "entries", ["bank_id", "external_id"])
    op.create_index("ix_entries_seq", "entries", ["seq"])
    op.create_index("ix_entries_import_id", "entries", ["import_id"])


def downgrade() -> None:
    for table in ("entries", "imports", "label_sets", "banks", "change_counter", "bastion_meta"):
        op.drop_table(table)
