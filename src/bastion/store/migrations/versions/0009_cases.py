"""Investigators' cases: evidence, items, clusters, decisions and who saw what.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def _case_id() -> sa.Column[int]:
    return sa.Column(
        "case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("scheme", sa.String(16), nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("banks", sa.Text(), nullable=False),
        sa.Column("pdq_threshold", sa.Integer(), nullable=False),
        sa.Column("folder", sa.Text(), nullable=False),
    )
    op.create_table(
        "case_sources",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _case_id(),
        sa.Column("paths", sa.Text(), nullable=False),
        sa.Column("scan_folder", sa.Text(), nullable=False),
        sa.Column("added_at", Timestamp, nullable=False),
        sa.Column("added_by", sa.String(128), nullable=False),
        sa.Column("items", sa.BigInteger(), nullable=False),
        sa.Column("unchecked", sa.Text(), nullable=False),
        sa.Column("bank_versions", sa.Text(), nullable=False),
    )
    op.create_index("ix_case_sources_case_id", "case_sources", ["case_id"])
    op.create_table(
        "case_items",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _case_id(),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column(
            "source_id",
            sa.Integer(),
            sa.ForeignKey("case_sources.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("item_id", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error", sa.Text()),
        sa.Column("media_type", sa.String(64)),
        sa.Column("size", sa.BigInteger()),
        sa.Column("md5", sa.String(32)),
        sa.Column("sha1", sa.String(40)),
        sa.Column("sha256", sa.String(64)),
        sa.Column("pdq", sa.String(64)),
        sa.Column("low_quality", sa.Boolean(), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("matches", sa.Text(), nullable=False),
        sa.Column("bank_category", sa.String(64)),
        sa.Column("generation", sa.String(16)),
        sa.Column("edited", sa.Boolean(), nullable=False),
        sa.Column("camera", sa.Text()),
        sa.Column("provenance", sa.Text()),
        sa.Column("captured_at", sa.String(32)),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("cluster_id", sa.BigInteger()),
        sa.Column("category", sa.String(64)),
        sa.Column("decision_id", sa.BigInteger()),
        sa.UniqueConstraint("case_id", "number", name="uq_case_items_number"),
    )
    op.create_index("ix_case_items_cluster", "case_items", ["cluster_id", "number"])
    op.create_table(
        "case_clusters",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _case_id(),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("first_item", sa.BigInteger(), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("sort_key", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("bank_category", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claimed_by", sa.Integer(), sa.ForeignKey("users.id")),
        sa.Column("claimed_at", Timestamp),
        sa.Column("category", sa.String(64)),
        sa.Column("decision_id", sa.BigInteger()),
    )
    op.create_index("ix_case_clusters_order", "case_clusters", ["case_id", "sort_key", "id"])
    op.create_table(
        "case_decisions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _case_id(),
        sa.Column("cluster_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("members", sa.BigInteger(), nullable=False),
        sa.Column("previous_id", sa.BigInteger()),
        sa.Column("exceptions", sa.Text(), nullable=False),
        sa.Column("undone_at", Timestamp),
        sa.Column("undone_by", sa.Integer(), sa.ForeignKey("users.id")),
    )
    op.create_index("ix_case_decisions_case_id", "case_decisions", ["case_id"])
    op.create_index("ix_case_decisions_cluster_id", "case_decisions", ["cluster_id"])
    op.create_table(
        "case_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _case_id(),
        sa.Column("cluster_id", sa.BigInteger()),
        sa.Column("item_id", sa.BigInteger()),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text()),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])


def downgrade() -> None:
    for name in ("case_events", "case_decisions", "case_clusters", "case_items"):
        op.drop_table(name)
    op.drop_table("case_sources")
    op.drop_table("cases")
