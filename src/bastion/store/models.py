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
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
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
    #: HMA's share of lookups the bank answers in: 0 disables it, 1 always.
    matching_enabled_ratio: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")


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
        # A bank's changes in order (``bastion.banks.changes``).
        Index("ix_entries_bank_seq", "bank_id", "seq", "id"),
        # Ids are never handed out twice, even after a bank is deleted: results
        # and HMA clients keep entry ids (PostgreSQL sequences never reuse).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    signal_type: Mapped[str] = mapped_column(String(16))
    #: The signal's value, or for values too long for a unique index (a
    #: video's vPDQ runs to hundreds of kilobytes) a digest of it ...
    value: Mapped[str] = mapped_column(Text)
    #: ... and then the value itself here (see ``bastion.banks.stored``).
    payload: Mapped[str | None] = mapped_column(Text)
    #: The latest list's own id for the item (NCMEC entry id, Project VIC
    #: MediaID); every source's own id is kept in ``entry_sources``.
    external_id: Mapped[str | None] = mapped_column(Text)
    label_set_id: Mapped[int] = mapped_column(ForeignKey("label_sets.id"))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    import_id: Mapped[int | None] = mapped_column(
        ForeignKey("imports.id", ondelete="SET NULL"), index=True
    )
    seq: Mapped[int] = mapped_column(BigInteger)


class EntrySource(Base):
    """What one source (a list, a person, an HMA client) says of an entry.

    Lists that share a hash each keep their own id for the item and their own
    labels; the entry's labels are the union over its sources, so one list
    never wipes another's labels, and a list's tombstone finds the entry by
    its own id.
    """

    __tablename__ = "entry_sources"
    __table_args__ = (Index("ix_entry_sources_external", "external_id"),)

    entry_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True
    )
    #: The import's source (``--source``, by default the list's file name).
    source: Mapped[str] = mapped_column(Text, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(Text)
    label_set_id: Mapped[int] = mapped_column(ForeignKey("label_sets.id"))


class ContentNote(Base):
    """What a curator said of one banked item (entries sharing an external id)
    through the HMA routes: HMA's metadata (JSON) and a short note."""

    __tablename__ = "content_notes"

    bank_id: Mapped[int] = mapped_column(
        ForeignKey("banks.id", ondelete="CASCADE"), primary_key=True
    )
    external_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: HMA's ``metadata`` object as JSON text, if given.
    content_metadata: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(String(255))


# --- exchanges: banks that follow a remote list ------------------------------


class Exchange(Base):
    """A remote hash list (NCMEC, StopNCII, ...) that one bank follows.

    The secret is never stored: ``credentials`` names the file (or
    ``env:VAR``) it is read from at each sync.  ``checkpoint`` is the API's
    own JSON; it moves only in the transaction that commits what was
    fetched up to it.
    """

    __tablename__ = "exchanges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    api: Mapped[str] = mapped_column(String(32))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    credentials: Mapped[str | None] = mapped_column(Text)
    #: The API's options (an environment's name, a privacy group), JSON.
    options: Mapped[str] = mapped_column(Text, default="{}")
    checkpoint: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: "running" from a sync's start until it ends as "ok" or "error".
    last_status: Mapped[str | None] = mapped_column(String(16))
    last_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    #: What the last (or the running) sync fetched and changed, JSON.
    last_counts: Mapped[str | None] = mapped_column(Text)
    #: The import record the running sync adds its changes to.
    import_id: Mapped[int | None] = mapped_column(
        ForeignKey("imports.id", ondelete="SET NULL"), nullable=True
    )


class ExchangeLease(Base):
    """Who is syncing an exchange, until when: one fetcher among many servers."""

    __tablename__ = "exchange_leases"

    exchange_id: Mapped[int] = mapped_column(
        ForeignKey("exchanges.id", ondelete="CASCADE"), primary_key=True
    )
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ExchangeVersion(Base):
    """The newest version of each remote item applied: a late-arriving older
    record of an item (NCMEC does not send entries in time order) is then
    recognised and ignored, even a creation after its deletion."""

    __tablename__ = "exchange_versions"

    exchange_id: Mapped[int] = mapped_column(
        ForeignKey("exchanges.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


# --- people, keys and what they did (the service) ---------------------------


class User(Base):
    """A person who logs in to the review UI (or administers Bastion)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    #: "admin", "curator", "reviewer" or "client" (see ``bastion.accounts``).
    role: Mapped[str] = mapped_column(String(16))
    #: Argon2id hash of the password (never the password).
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """A client's key: looked up by its public prefix, checked by its digest."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    #: SHA-256 of the secret part (keys are random, so no slow KDF is needed).
    digest: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginSession(Base):
    """A reviewer's login: the cookie holds a token, the store its digest."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Images revealed during this login (the reviewer's break counter).
    reveals: Mapped[int] = mapped_column(Integer, default=0)


class ReviewItem(Base):
    """One upload waiting for, or having had, a person's decision."""

    __tablename__ = "review_items"
    __table_args__ = (
        Index("ix_review_items_queue", "status", "priority", "id"),
        # One file waits for one decision: later uploads link to the item, and
        # simultaneous first uploads cannot both create one.
        Index(
            "ix_review_items_waiting_sha256",
            "sha256",
            unique=True,
            sqlite_where=text("status <> 'decided'"),
            postgresql_where=text("status <> 'decided'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: Who sent it (API key name) and the upload's own name.
    submitted_by: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(Text)
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    #: The image's PDQ (earlier decisions on near copies are found by it).
    pdq: Mapped[str | None] = mapped_column(String(64))
    #: How many uploads of this content the item stands for (see ``ReviewUpload``).
    uploads: Mapped[int] = mapped_column(Integer, default=1)
    #: The scan result row (hashes, matches, provenance) as JSON.
    result: Mapped[str] = mapped_column(Text)
    verdict: Mapped[str] = mapped_column(String(32))
    #: Higher is reviewed first; ``tier`` names why ("bank", "ai", "other").
    priority: Mapped[int] = mapped_column(Integer)
    tier: Mapped[str] = mapped_column(String(16))
    #: "open", "claimed", "escalated" or "decided".
    status: Mapped[str] = mapped_column(String(16))
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: "confirmed", "false-positive", "escalated" (until decided again).
    decision: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Media is deleted after this (unless on legal hold).
    retain_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    legal_hold: Mapped[bool] = mapped_column(default=False)
    #: Why the item has no media: never kept (no key configured) or deleted.
    media_state: Mapped[str] = mapped_column(String(16))
    #: A reviewer who called a perceptual match a false positive; a second,
    #: different reviewer must agree before anything is allowlisted.
    proposed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The last decision's undo record (JSON: who, until when, what it changed).
    undo: Mapped[str | None] = mapped_column(Text)
    #: A hold with an end (a finished CyberTipline report preserves its items
    #: for a year): the media is kept until then, whatever ``retain_until`` says.
    hold_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hold_reason: Mapped[str | None] = mapped_column(Text)


class ReviewUpload(Base):
    """One upload an item stands for: the first, and each later copy of the same file."""

    __tablename__ = "review_uploads"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("review_items.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    submitted_by: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(Text)
    #: What the scan of this upload said (banks may have changed since the first).
    verdict: Mapped[str] = mapped_column(String(32))
    matches: Mapped[str] = mapped_column(Text)
    #: What the platform said of the upload (uploader, IP events, URL), as
    #: JSON encrypted with the media keys; kept and purged with the media.
    context_key_id: Mapped[str | None] = mapped_column(String(16))
    context_blob: Mapped[bytes | None] = mapped_column(LargeBinary)


class ListFeedback(Base):
    """A reviewer's disagreement with a list entry, for the list's curator.

    A review decision never takes an exact digest off a list; it is recorded
    here, where curators (and later the exchange feedback outbox) find it.
    """

    __tablename__ = "list_feedback"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    item_id: Mapped[int] = mapped_column(
        ForeignKey("review_items.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    bank: Mapped[str] = mapped_column(String(64), index=True)
    entry_id: Mapped[int] = mapped_column(BigInteger)
    signal_type: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)


class ReviewMedia(Base):
    """The encrypted bytes of a queued upload, kept apart from its record."""

    __tablename__ = "review_media"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("review_items.id", ondelete="CASCADE"), primary_key=True
    )
    #: Which configured key encrypted it (a digest of the key, not the key).
    key_id: Mapped[str] = mapped_column(String(16))
    blob: Mapped[bytes] = mapped_column(LargeBinary)


class ReviewEvent(Base):
    """Who saw an item and what they did: viewed, revealed, decided ...

    This is the record behind ``fileViewedByEsp`` in hotline reports.
    """

    __tablename__ = "review_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("review_items.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)


class AuditHead(Base):
    """The newest audit record's number and hash; writers take it with an UPDATE,
    which serialises them, and a deleted tail shows as a mismatch with it."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64))


class AuditRecord(Base):
    """One security-relevant action; ``digest`` covers it and the previous digest."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)
    previous: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))


# --- investigators' cases -----------------------------------------------------


class Case(Base):
    """A seized collection under investigation: its evidence, clusters and decisions."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(128))
    #: "projectvic", "ncmec" or "custom"; ``categories`` lists the custom ones (JSON).
    scheme: Mapped[str] = mapped_column(String(16))
    categories: Mapped[str] = mapped_column(Text, default="[]")
    #: The banks every piece of evidence is matched against (JSON list of names).
    banks: Mapped[str] = mapped_column(Text)
    #: PDQ distance within which two images are near-duplicates.
    pdq_threshold: Mapped[int] = mapped_column(Integer)
    #: Where the scans of the evidence (Parquet) are kept.
    folder: Mapped[str] = mapped_column(Text)


class CaseSource(Base):
    """One piece of evidence added to a case, and the scan that read it."""

    __tablename__ = "case_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    #: The paths given (JSON list), and the scan's folder under the case's.
    paths: Mapped[str] = mapped_column(Text)
    scan_folder: Mapped[str] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    added_by: Mapped[str] = mapped_column(String(128))
    items: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Items that were not checked (errors, skipped members), by reason (JSON).
    unchecked: Mapped[str] = mapped_column(Text, default="{}")
    #: What each bank held when this evidence was matched (the scan summary's banks, JSON).
    bank_versions: Mapped[str] = mapped_column(Text, default="{}")


class CaseItem(Base):
    """One file of the evidence: its hashes, what the scan found, its cluster and category."""

    __tablename__ = "case_items"
    __table_args__ = (
        UniqueConstraint("case_id", "number", name="uq_case_items_number"),
        Index("ix_case_items_cluster", "cluster_id", "number"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    #: The item's place in the case (the row of its scan, scans in the order added).
    number: Mapped[int] = mapped_column(BigInteger)
    source_id: Mapped[int] = mapped_column(ForeignKey("case_sources.id", ondelete="CASCADE"))
    #: The scan's item id (a path; ``archive!member`` inside archives).
    item_id: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    media_type: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    md5: Mapped[str | None] = mapped_column(String(32))
    sha1: Mapped[str | None] = mapped_column(String(40))
    sha256: Mapped[str | None] = mapped_column(String(64))
    pdq: Mapped[str | None] = mapped_column(String(64))
    low_quality: Mapped[bool] = mapped_column(Boolean, default=False)
    verdict: Mapped[str] = mapped_column(String(32))
    #: Blocklist matches (JSON list of {bank, entry_id, signal_type, distance, labels}).
    matches: Mapped[str] = mapped_column(Text, default="[]")
    #: The category the banks' labels give it in the case's scheme, if any.
    bank_category: Mapped[str | None] = mapped_column(String(64))
    #: "verified" or "declared" evidence of generation; None when there is none.
    generation: Mapped[str | None] = mapped_column(String(16))
    #: An AI edit is evidence, but not of generation: a real photo may be underneath.
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Evidence of a camera, in words (EXIF make/model/serial/capture time, or
    #: a C2PA digitalCapture); None when there is none.
    camera: Mapped[str | None] = mapped_column(Text)
    provenance: Mapped[str | None] = mapped_column(Text)
    #: Capture time as the file gives it (ISO 8601), for the report's timeline.
    captured_at: Mapped[str | None] = mapped_column(String(32))
    #: Camera, software, GPS and generator details (JSON); shown only on a recorded reveal.
    details: Mapped[str] = mapped_column(Text, default="{}")
    cluster_id: Mapped[int | None] = mapped_column(BigInteger)
    #: The analyst's category and the decision that set it (the member's record of it).
    category: Mapped[str | None] = mapped_column(String(64))
    decision_id: Mapped[int | None] = mapped_column(BigInteger)


class CaseCluster(Base):
    """Near-duplicate items of a case, decided as one, and its place in the order."""

    __tablename__ = "case_clusters"
    __table_args__ = (Index("ix_case_clusters_order", "case_id", "sort_key", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    size: Mapped[int] = mapped_column(BigInteger)
    #: The member shown for the cluster (its first item).
    first_item: Mapped[int] = mapped_column(BigInteger)
    #: 1 (possibly a real child, not yet known) .. 5 (known and categorised).
    tier: Mapped[int] = mapped_column(Integer)
    #: Tier, then verified before declared, then size: the order analysts work in.
    sort_key: Mapped[int] = mapped_column(BigInteger)
    #: Why the cluster sits where it does, in words.
    reason: Mapped[str] = mapped_column(Text)
    #: The highest-severity bank category of its members, if any.
    bank_category: Mapped[str | None] = mapped_column(String(64))
    #: "open", "claimed" or "decided" (every member categorised).
    status: Mapped[str] = mapped_column(String(16))
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    category: Mapped[str | None] = mapped_column(String(64))
    decision_id: Mapped[int | None] = mapped_column(BigInteger)


class CaseDecision(Base):
    """An analyst's category for a cluster; undone decisions stay, marked."""

    __tablename__ = "case_decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    cluster_id: Mapped[int] = mapped_column(BigInteger, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    category: Mapped[str] = mapped_column(String(64))
    members: Mapped[int] = mapped_column(BigInteger)
    #: The cluster's decision before this one, and members whose own was another (JSON).
    previous_id: Mapped[int | None] = mapped_column(BigInteger)
    exceptions: Mapped[str] = mapped_column(Text, default="{}")
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    undone_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CaseEvent(Base):
    """Who looked at what in a case: views, reveals of images and of metadata, claims."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    cluster_id: Mapped[int | None] = mapped_column(BigInteger)
    item_id: Mapped[int | None] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)


# --- CyberTipline reports ----------------------------------------------------


class Report(Base):
    """A CyberTipline report of confirmed items, and how far sending it got.

    Each step's answer is written before the next step starts, so a report
    whose sender was killed resumes where it stopped.
    """

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(128))
    #: "new", "submitted", "finished", "retracted" or "failed".
    state: Mapped[str] = mapped_column(String(16))
    #: The CyberTipline base URL it was (or is being) sent to.
    endpoint: Mapped[str] = mapped_column(Text)
    incident_type: Mapped[str] = mapped_column(Text)
    #: The uploader's id on the platform that the report's files share.
    uploader: Mapped[str | None] = mapped_column(Text)
    #: NCMEC's ``reportId``, once ``/submit`` answered.
    remote_id: Mapped[int | None] = mapped_column(BigInteger)
    #: The exact ``<report>`` document sent.
    report_xml: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retracted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)


class ReportFile(Base):
    """One item's file in a report: its upload's ``fileId`` and its ``fileDetails``."""

    __tablename__ = "report_files"
    __table_args__ = (UniqueConstraint("report_id", "item_id", name="uq_report_files_item"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    #: The file annotations the reporter chose (JSON list of names).
    annotations: Mapped[str] = mapped_column(Text)
    remote_file_id: Mapped[str | None] = mapped_column(String(128))
    #: The MD5 NCMEC said it received (checked against the file's own).
    md5: Mapped[str | None] = mapped_column(String(32))
    uploaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The exact ``<fileDetails>`` document sent.
    fileinfo_xml: Mapped[str | None] = mapped_column(Text)
    described_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReportSetting(Base):
    """Set-once report settings (the reporter block), as JSON, with who set them."""

    __tablename__ = "report_settings"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(128))
