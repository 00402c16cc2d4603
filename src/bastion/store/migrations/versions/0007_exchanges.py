"""Exchanges: banks that follow a remote list, the lease that lets one server
fetch each at a time, and the newest version of each remote item applied.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "exchanges",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("api", sa.String(32), nullable=False),
        sa.Column(
            "bank_id",
            sa.Integer(),
            sa.ForeignKey("banks.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("credentials", sa.Text(), nullable=True),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _MOMENT, nullable=False),
        sa.Column("last_status", sa.String(16), nullable=True),
        sa.Column("last_started_at", _MOMENT, nullable=True),
        sa.Column("last_finished_at", _MOMENT, nullable=True),
        sa.Column("last_success_at", _MOMENT, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_counts", sa.Text(), nullable=True),
        sa.Column(
            "import_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("imports.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    op.create_table(
        "exchange_leases",
        sa.Column(
            "exchange_id",
            sa.Integer(),
            sa.ForeignKey("exchanges.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", _MOMENT, nullable=False),
    )
    op.create_table(
        "exchange_versions",
        sa.Column(
            "exchange_id",
            sa.Integer(),
            sa.ForeignKey("exchanges.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("exchange_versions")
    op.drop_table("exchange_leases")
    op.drop_table("exchanges")
