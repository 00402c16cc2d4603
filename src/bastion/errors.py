"""Bastion's errors: one tree of exceptions, and the codes of item errors.

Every exception Bastion raises on purpose derives from :class:`BastionError`
and carries a stable ``code`` (short kebab-case, for machines and the docs)
and an HTTP ``status``.  The CLI and the service both render an error from
these attributes, so no layer keeps its own map of class -> status; the
table of codes is in ``docs/exit-codes.md``.  This is the lowest layer: it
imports nothing from ``bastion``, so any module may raise from it.

The tree (defined where they are raised)::

    BastionError
    ├── AccountError               bastion.accounts
    ├── AttestError                bastion.attest.errors
    │   ├── AttestKeyError
    │   └── AttestationInvalid
    ├── BankError                  bastion.banks.bank
    │   └── BankNotFound
    ├── InvalidLabel               bastion.banks.labels
    ├── ConfigError                bastion.config
    ├── FormatError                bastion.formats.records
    ├── NotARegularFile            bastion.hashing
    ├── MediaError                 bastion.media.errors
    │   ├── NotAnImage
    │   ├── UnsupportedImage
    │   ├── TooManyPixels
    │   ├── FileTooLarge
    │   ├── TruncatedImage
    │   ├── CorruptImage
    │   ├── NoVideoStream
    │   ├── CorruptVideo
    │   ├── TruncatedVideo
    │   ├── NoFrames
    │   └── TimeBudgetExceeded
    ├── ExchangeError              bastion.exchanges.errors
    │   ├── ExchangeConfigError
    │   ├── ExchangeAuthError
    │   ├── ExchangeUnavailable
    │   ├── ExchangeProtocolError
    │   ├── ExchangeBusy           bastion.exchanges.lease
    │   └── ExchangeNotFound       bastion.exchanges.registry
    ├── DetectorError              bastion.provenance.detector
    ├── WatermarkError             bastion.provenance.watermark_embed
    ├── NotParameters              bastion.provenance.generators.a1111
    ├── Unreadable                 bastion.provenance.generators.record
    ├── ReportError                bastion.reports.errors
    │   ├── ReportNotFound
    │   └── ReportForbidden
    ├── CyberTipError              bastion.reports.errors
    │   ├── CyberTipRefused
    │   └── CyberTipUnavailable
    ├── ReviewError                bastion.review.items
    │   ├── NotFound
    │   ├── Forbidden
    │   └── ContextError           bastion.review.context
    ├── NotAnImage                 bastion.review.render (not the media one)
    ├── VaultError                 bastion.review.vault
    ├── ArchiveBomb                bastion.scan.archives
    ├── ScanError                  bastion.scan.engine
    ├── FilterError                bastion.scan.filter
    ├── PageHeaderError            bastion.scan.parquet_pages
    ├── NotReady                   bastion.service.state
    ├── InvalidSignal              bastion.signals.types
    ├── StampError                 bastion.stamping.stamper
    ├── InvalidVpdq                bastion.signals.vpdq
    └── StoreError                 bastion.store.database

Most of them also keep the built-in base they had (``ValueError``,
``RuntimeError``, ``OSError``), so code catching those still catches them.
"""

from __future__ import annotations

import enum
from http import HTTPStatus
from typing import ClassVar


class BastionError(Exception):
    """An error Bastion raises on purpose; its message is written for a person."""

    #: Stable and short, for machines: the ``code`` of a service error body.
    code: ClassVar[str] = "error"
    #: The HTTP status the service answers this error with.
    status: ClassVar[int] = 500


def http_status_code(status: int) -> str:
    """The code of an error that is only an HTTP status (a refusal of the
    service's HTTP layer): the status's name, e.g. ``not-found``."""
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "-")
    except ValueError:
        return BastionError.code


class ItemErrorCode(enum.StrEnum):
    """Why one item (file, archive member, Parquet row ...) was not checked fully.

    The ``error_code`` column of results: a decode or read error, or the
    reason a row was skipped.  Values are stable; the docs list each one.
    """

    # An item whose handling raised an exception nobody foresaw (a bug, or
    # hostile input a decoder trips on): that item's error, not a crash.
    INTERNAL = "internal"
    # Reading the item
    UNREADABLE = "unreadable"
    NOT_FOUND = "not-found"
    NOT_A_FILE = "not-a-file"
    SYMLINK_LOOP = "symlink-loop"
    DUPLICATE = "duplicate"
    EMPTY = "empty"
    FILE_TOO_LARGE = "file-too-large"
    # Decoding it
    MEDIA_ERROR = "media-error"
    NOT_AN_IMAGE = "not-an-image"
    UNSUPPORTED = "unsupported"
    TOO_MANY_PIXELS = "too-many-pixels"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    NO_VIDEO_STREAM = "no-video-stream"
    CORRUPT_VIDEO = "corrupt-video"
    NO_FRAMES = "no-frames"
    TIME_BUDGET = "time-budget"
    # Archives and shards
    ARCHIVE_BOMB = "archive-bomb"
    CORRUPT_ARCHIVE = "corrupt-archive"
    CORRUPT_ARCHIVE_MEMBER = "corrupt-archive-member"
    TRUNCATED_ARCHIVE = "truncated-archive"
    ENCRYPTED = "encrypted"
    # Parquet
    CORRUPT_PARQUET = "corrupt-parquet"
    MISSING_COLUMN = "missing-column"
    NULL_ID = "null-id"
    MISSING_IMAGE = "missing-image"
    DUPLICATE_ID = "duplicate-id"
    # Skip reasons: rows with nothing of their own to hash
    LINK = "link"
    SPECIAL_FILE = "special-file"
    NESTED_ARCHIVE_TOO_DEEP = "nested-archive-too-deep"
    SAMPLE_WITHOUT_IMAGE = "sample-without-image"
