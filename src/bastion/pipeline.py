"""The one function every door calls: an item in, a result out.

``scan_item`` hashes an item (a file in place, or bytes from a container),
matches it against the banks and says what happened.  The CLI, the scan
engines (local processes, Ray) and the service all call it, so a row means
the same wherever it was produced.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from bastion.config import Settings
from bastion.errors import ItemErrorCode
from bastion.fingerprint import Fingerprint, ItemError
from bastion.hashing import hash_bytes, hash_file
from bastion.matching.index import Index
from bastion.matching.match import Match, MatchOutcome, VideoRule, match_outcome, match_signals
from bastion.media.video import VideoOptions
from bastion.provenance import Assessment, InspectOptions, inspect_bytes
from bastion.provenance.evidence import Origin
from bastion.provenance.models import model_signals

#: Files up to this size are read into memory once, for hashing and for
#: provenance; larger ones (long videos) are hashed as a stream, and their
#: provenance is not read.
IN_MEMORY_BYTES = 256 << 20
NOT_INSPECTED = "not inspected"


@dataclass(frozen=True, slots=True)
class ScanItem:
    """One item: a file to hash in place, bytes read from a container, or a problem."""

    #: Stable id: a path, ``archive!member``, ``shard#key`` or ``file.parquet#id``.
    item_id: str
    #: The SOURCE argument the item came from.
    source: str
    path: Path | None = None
    data: bytes | None = None
    #: The member's name, used like a file extension when sniffing.
    name: str | None = None
    #: The item exists but could not be read.
    error: ItemError | None = None
    #: The item was deliberately not hashed, and why.
    skipped: ItemErrorCode | None = None
    #: The container says this is an image (a dataset's image column), so
    #: anything else is an error rather than a file of another type.
    expect_image: bool = False
    #: Dataset items: the webdataset shard or Parquet file the item is in,
    #: and the key a loader knows it by (a sample's key, a row's id).
    container: str | None = None
    key: str | None = None
    #: Parquet items: the row's position in its file, which ``bastion
    #: filter`` goes by (ids may be missing or repeated).
    position: int | None = None

    @property
    def sample_id(self) -> str:
        """What a loader drops when this item matches: ``shard#key`` for every
        member of a webdataset sample, else the item's own id."""
        if self.container is None or self.key is None:
            return self.item_id
        return f"{self.container}#{self.key}"


class Status(StrEnum):
    """Whether an item was hashed, could not be, or was deliberately not."""

    HASHED = "hashed"
    ERROR = "error"
    SKIPPED = "skipped"


class Verdict(StrEnum):
    """What an item is, in one word, for whoever acts on it first."""

    KNOWN = "known"  #: matched a blocklist entry
    AI_GENERATED = "ai-generated"  #: provenance evidence of generation
    AI_EDITED = "ai-edited"
    #: Nothing known, no evidence of generation: never reported as "real".
    UNKNOWN = "unknown"
    ERROR = "error"
    SKIPPED = "skipped"


#: Verdicts, most urgent first: what a person must look at before the rest.
_URGENCY = (
    Verdict.KNOWN,
    Verdict.AI_GENERATED,
    Verdict.AI_EDITED,
    Verdict.ERROR,
    Verdict.SKIPPED,
    Verdict.UNKNOWN,
)


def most_urgent(verdicts: list[Verdict]) -> Verdict:
    """The verdict of several items together (an archive's members): the most
    urgent of theirs, so one known member makes the archive known."""
    return min(verdicts, key=_URGENCY.index, default=Verdict.UNKNOWN)


@dataclass(frozen=True, slots=True)
class ScanResult:
    item_id: str
    source: str
    status: Status
    fingerprint: Fingerprint | None = None
    matches: tuple[Match, ...] = ()
    error: ItemError | None = None
    skip_reason: ItemErrorCode | None = None
    provenance: Assessment | None = None
    #: Blocklist matches an allowlist entry suppressed: not matches, but the
    #: item was not checked against those entries either.
    suppressed: tuple[Match, ...] = ()
    #: The allowlist entries that did the suppressing.
    allowlisted: tuple[Match, ...] = ()

    @property
    def verdict(self) -> Verdict:
        if self.status is Status.SKIPPED:
            return Verdict.SKIPPED
        if self.matches:
            return Verdict.KNOWN
        origin = self.provenance.origin if self.provenance else None
        if origin is Origin.AI_GENERATED:
            return Verdict.AI_GENERATED
        if origin is Origin.AI_EDITED:
            return Verdict.AI_EDITED
        return Verdict.ERROR if self.status is Status.ERROR else Verdict.UNKNOWN

    def fully_checked(self, *, include_low_quality: bool = False) -> bool:
        """Whether every signal of the item was matched: not an error or a
        skip, no PDQ too flat to match, no match an allowlist suppressed."""
        flat = bool(self.fingerprint and self.fingerprint.low_quality) and not include_low_quality
        return self.status is Status.HASHED and not flat and not self.suppressed

    def to_row(self) -> dict[str, Any]:
        """The flat row written to results.parquet / results.jsonl."""
        fp = self.fingerprint
        video = fp.video if fp else None
        return {
            "item_id": self.item_id,
            "source": self.source,
            "status": str(self.status),
            "size": fp.size if fp else None,
            "media_type": fp.media_type if fp else None,
            "width": fp.width if fp else None,
            "height": fp.height if fp else None,
            "md5": fp.md5 if fp else None,
            "sha1": fp.sha1 if fp else None,
            "sha256": fp.sha256 if fp else None,
            "pdq": fp.pdq if fp else None,
            "pdq_quality": fp.pdq_quality if fp else None,
            "low_quality": fp.low_quality if fp else None,
            "video_frames": len(video.features) if video else None,
            "video_duration": video.duration if video else None,
            "vpdq": video.signal_value if video and video.features else None,
            "video_note": video.stopped if video else None,
            "matched": bool(self.matches),
            "matches": [m.to_dict() for m in self.matches],
            "suppressed": [m.to_dict() for m in self.suppressed],
            "provenance": self.provenance.level if self.provenance else None,
            "provenance_summary": self.provenance.summary if self.provenance else None,
            "provenance_evidence": json.dumps(
                [e.to_dict() for e in self.provenance.evidence] if self.provenance else []
            ),
            "verdict": str(self.verdict),
            "error_code": self.error.code if self.error else self.skip_reason,
            "error": self.error.message if self.error else None,
        }


def scan_item(
    item: ScanItem,
    index: Index | None,
    settings: Settings,
    *,
    include_low_quality: bool = False,
    provenance: InspectOptions | None = None,
    video: VideoOptions | None = None,
    dihedral: bool = False,
    video_rule: VideoRule | None = None,
) -> ScanResult:
    """Hash, match and assess one item; never raises for a bad item.

    Each stage is an option here, so no door re-implements one:
    ``provenance`` None skips the provenance readers (``bastion scan
    --no-provenance``), and with them the models the metadata names;
    ``video`` says which frames of a video are hashed; ``dihedral`` matches
    rotated and flipped copies too; ``video_rule`` says when a video matches
    a banked one; ``include_low_quality`` matches a PDQ below the quality
    threshold.  Allowlists always apply.  Archives are opened before this,
    by :func:`bastion.scan.archives.expand`, into one item per member.
    """
    if item.skipped is not None:
        return ScanResult(item.item_id, item.source, Status.SKIPPED, skip_reason=item.skipped)
    if item.error is not None:
        return ScanResult(item.item_id, item.source, Status.ERROR, error=item.error)
    try:
        data = _in_memory(item, settings)
        if data is None and item.path is not None:
            fingerprint = hash_file(item.path, settings=settings, dihedral=dihedral, video=video)
        else:
            name = item.name or (item.path.name if item.path else None)
            fingerprint = hash_bytes(
                data or b"", name=name, settings=settings, dihedral=dihedral, video=video
            )
    except OSError as exc:
        problem = ItemError(ItemErrorCode.UNREADABLE, exc.strerror or str(exc))
        return ScanResult(item.item_id, item.source, Status.ERROR, error=problem)
    except Exception as exc:  # noqa: BLE001 - one item's failure must not stop the others
        return ScanResult(item.item_id, item.source, Status.ERROR, error=ItemError.internal(exc))
    if item.expect_image and fingerprint.error is None and fingerprint.pdq is None:
        problem = ItemError(
            ItemErrorCode.NOT_AN_IMAGE, f"expected an image, found {fingerprint.media_type}"
        )
        fingerprint = replace(fingerprint, error=problem)
    try:
        assessment, outcome = _assess_and_match(
            data, fingerprint, index, settings, include_low_quality, provenance, video_rule
        )
    except Exception as exc:  # noqa: BLE001 - the digests are kept, the row says what failed
        problem = ItemError.internal(exc)
        return ScanResult(
            item.item_id,
            item.source,
            Status.ERROR,
            replace(fingerprint, error=problem),
            error=problem,
        )
    # A file whose bytes were read but not decoded still has its digests
    # matched; its row carries the decoding error.
    status = Status.ERROR if fingerprint.error else Status.HASHED
    return ScanResult(
        item.item_id,
        item.source,
        status,
        fingerprint,
        outcome.matches,
        error=fingerprint.error,
        provenance=assessment,
        suppressed=outcome.suppressed,
        allowlisted=outcome.allowlisted,
    )


def _assess_and_match(
    data: bytes | None,
    fingerprint: Fingerprint,
    index: Index | None,
    settings: Settings,
    include_low_quality: bool,
    provenance: InspectOptions | None,
    video_rule: VideoRule | None,
) -> tuple[Assessment | None, MatchOutcome]:
    """The item's provenance (when asked for), and its matches in the banks:
    its own signals', then those of the models its metadata names by hash."""
    assessment = None
    if provenance is not None:
        assessment = _assess(data, fingerprint.media_type, settings, provenance)
    if index is None:
        return assessment, MatchOutcome()
    outcome = match_outcome(
        fingerprint, index, include_low_quality=include_low_quality, video_rule=video_rule
    )
    if assessment is not None and (named := model_signals(list(assessment.evidence))):
        models = match_signals(named, index)
        outcome = MatchOutcome(
            _new(outcome.matches, models.matches),
            _new(outcome.suppressed, models.suppressed),
            _new(outcome.allowlisted, models.allowlisted),
        )
    return assessment, outcome


def _new(found: tuple[Match, ...], more: tuple[Match, ...]) -> tuple[Match, ...]:
    """``found`` and the matches of ``more`` to entries not already in it."""
    known = {m.entry_id for m in found}
    return found + tuple(m for m in more if m.entry_id not in known)


def _in_memory(item: ScanItem, settings: Settings) -> bytes | None:
    """The item's bytes when they fit in memory (a file is then read once)."""
    if item.path is None:
        return item.data or b""
    info = item.path.stat()
    limit = min(IN_MEMORY_BYTES, settings.max_file_bytes)
    if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
        return None
    return item.path.read_bytes()


def _assess(
    data: bytes | None, mime: str, settings: Settings, options: InspectOptions
) -> Assessment:
    """The item's assessment; ``mime`` as hashing sniffed it (not sniffed twice)."""
    if data is None:
        reason = "file too large to read whole: provenance not read"
        return Assessment(NOT_INSPECTED, reason)
    return inspect_bytes(data, mime, settings, options)
