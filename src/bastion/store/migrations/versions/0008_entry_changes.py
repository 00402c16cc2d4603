"""An index on entries by (bank, seq, id): a bank's changes in order, a page
at a time, without reading the other banks' changes (``bastion.banks.changes``).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_entries_bank_seq", "entries", ["bank_id", "seq", "id"])


def downgrade() -> None:
    op.drop_index("ix_entries_bank_seq", table_name="entries")
