"""Entry ids are never reused; each source keeps its own id and labels for an entry.

SQLite hands out ``max(id) + 1`` for an INTEGER PRIMARY KEY, so after a bank
is deleted its entry ids went to the next entries added, and ids kept in
results and by HMA clients silently named other entries.  AUTOINCREMENT
needs the table rebuilt (data kept).  PostgreSQL's sequences never reuse ids.

``entry_sources`` starts with one row per entry: the source of the import
that last changed it, with the entry's external id and labels.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: Source of entries whose import record is gone.
UNKNOWN_SOURCE = "(before migration 0004)"


def _rebuild_entries(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "entries", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass


def upgrade() -> None:
    # Rebuilt before entry_sources refers to it: dropping a referenced table
    # with SQLite's foreign keys on would delete the references.
    _rebuild_entries(autoincrement=True)
    op.create_table(
        "entry_sources",
        sa.Column(
            "entry_id",
            BigId,
            sa.ForeignKey("entries.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("source", sa.Text(), primary_key=True),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("label_set_id", sa.Integer(), sa.ForeignKey("label_sets.id"), nullable=False),
    )
    op.create_index("ix_entry_sources_external", "entry_sources", ["external_id"])
    op.execute(
        sa.text(
            "INSERT INTO entry_sources (entry_id, source, external_id, label_set_id) "
            "SELECT e.id, COALESCE(i.source, :unknown), e.external_id, e.label_set_id "
            "FROM entries e LEFT JOIN imports i ON i.id = e.import_id"
        ).bindparams(unknown=UNKNOWN_SOURCE)
    )


def downgrade() -> None:
    op.drop_table("entry_sources")
    _rebuild_entries(autoincrement=False)
