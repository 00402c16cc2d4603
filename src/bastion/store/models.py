"""The store's tables: banks, their entries, label sets and imports.

One model for SQLite and PostgreSQL.  Entries are never deleted by a list
update: a withdrawn entry keeps its row (a tombstone with ``withdrawn_at``)
so the history of a list stays auditable and a re-sent old list cannot
silently resurrect it without showing up as "restored".  Every change to an
entry stamps it with the store-wide change sequence ``seq``; match indices
remember the sequence they were built at and catch up from there.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: SQLite only auto-increments INTEGER PRIMARY KEY; BigInteger elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


def table(model: type[Base]) -> Table:
    """The Core table of a model, typed as one (for bulk inserts and updates)."""
    return cast(Table, model.__table__)


class Meta(Base):
    """Store-wide values: ``instance_id`` (names index snapshots) and ``seq``."""

    __tablename__ = "bastion_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ChangeCounter(Base):
    """One row holding the last change sequence number handed out.

    Writers take the next number with an UPDATE, which also serialises them:
    an index that has seen sequence N has seen every change numbered <= N.
    """

    __tablename__ = "change_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)


class Bank(Base):
    __tablename__ = "banks"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: "blocklist" or "allowlist".
    kind: Mapped[str] = mapped_column(String(16))
    pdq_threshold: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LabelSet(Base):
    """A distinct, sorted combination of labels, shared by many entries."""

    __tablename__ = "label_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: Canonical labels joined with ";" ("" for no labels).
    labels: Mapped[str] = mapped_column(Text, unique=True)


class ImportRecord(Base):
    """One import of a list into a bank: where from, which version, what changed."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))
    version: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    added: Mapped[int] = mapped_column(BigInteger, default=0)
    updated: Mapped[int] = mapped_column(BigInteger, default=0)
    restored: Mapped[int] = mapped_column(BigInteger, default=0)
    withdrawn: Mapped[int] = mapped_column(BigInteger, default=0)
    unchanged: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)


class Entry(Base):
    __tablename__ = "entries"
    __table_args__ = (
        UniqueConstraint("bank_id", "signal_type", "value", name="uq_entries_bank_signal"),
        Index("ix_entries_bank_external", "bank_id", "external_id"),
        Index("ix_entries_seq", "seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    signal_type: Mapped[str] = mapped_column(String(16))
    #: The signal's value, or for values too long for a unique index (a
    #: video's vPDQ runs to hundreds of kilobytes) a digest of it ...
    value: Mapped[str] = mapped_column(Text)
    #: ... and then the value itself here (see ``bastion.banks.stored``).
    payload: Mapped[str | None] = mapped_column(Text)
    #: The list's own id for the item (NCMEC entry id, Project VIC MediaID),
    #: which its tombstones refer to.
    external_id: Mapped[str | None] = mapped_column(Text)
    label_set_id: Mapped[int] = mapped_column(ForeignKey("label_sets.id"))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    import_id: Mapped[int | None] = mapped_column(
        ForeignKey("imports.id", ondelete="SET NULL"), index=True
    )
    seq: Mapped[int] = mapped_column(BigInteger)
