"""CyberTipline reports: each report and its files, step by step; the reporter;
uploads' context (encrypted); legal holds with an end and a reason.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("incident_type", sa.Text(), nullable=False),
        sa.Column("uploader", sa.Text()),
        sa.Column("remote_id", sa.BigInteger()),
        sa.Column("report_xml", sa.Text()),
        sa.Column("submitted_at", Timestamp),
        sa.Column("finished_at", Timestamp),
        sa.Column("retracted_at", Timestamp),
        sa.Column("error", sa.Text()),
    )
    op.create_table(
        "report_files",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "report_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("reports.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "item_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("review_items.id"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("annotations", sa.Text(), nullable=False),
        sa.Column("remote_file_id", sa.String(128)),
        sa.Column("md5", sa.String(32)),
        sa.Column("uploaded_at", Timestamp),
        sa.Column("fileinfo_xml", sa.Text()),
        sa.Column("described_at", Timestamp),
        sa.UniqueConstraint("report_id", "item_id", name="uq_report_files_item"),
    )
    op.create_index("ix_report_files_item_id", "report_files", ["item_id"])
    op.create_table(
        "report_settings",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
    )
    with op.batch_alter_table("review_uploads") as batch:
        batch.add_column(sa.Column("context_key_id", sa.String(16)))
        batch.add_column(sa.Column("context_blob", sa.LargeBinary()))
    with op.batch_alter_table("review_items") as batch:
        batch.add_column(sa.Column("hold_until", Timestamp))
        batch.add_column(sa.Column("hold_reason", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("review_items") as batch:
        batch.drop_column("hold_reason")
        batch.drop_column("hold_until")
    with op.batch_alter_table("review_uploads") as batch:
        batch.drop_column("context_blob")
        batch.drop_column("context_key_id")
    op.drop_table("report_settings")
    op.drop_index("ix_report_files_item_id", "report_files")
    op.drop_table("report_files")
    op.drop_table("reports")
