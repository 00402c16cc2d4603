"""The one function every door calls: an item in, a result out.

``scan_item`` hashes an item (a file in place, or bytes from a container),
matches it against the banks and says what happened.  The CLI, the scan
engines (local processes, Ray) and the service all call it, so a row means
the same wherever it was produced.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bastion.banks.index import Index
from bastion.banks.match import Match, match_outcome
from bastion.config import Settings
from bastion.fingerprint import Fingerprint, ItemError
from bastion.hashing import hash_bytes, hash_file
from bastion.scan.items import ScanItem


class Status:
    HASHED = "hashed"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class ScanResult:
    item_id: str
    source: str
    status: str
    fingerprint: Fingerprint | None = None
    matches: tuple[Match, ...] = ()
    error: ItemError | None = None
    skip_reason: str | None = None

    def to_row(self) -> dict[str, Any]:
        """The flat row written to results.parquet / results.jsonl."""
        fp = self.fingerprint
        return {
            "item_id": self.item_id,
            "source": self.source,
            "status": self.status,
            "size": fp.size if fp else None,
            "media_type": fp.media_type if fp else None,
            "width": fp.width if fp else None,
            "height": fp.height if fp else None,
            "md5": fp.md5 if fp else None,
            "sha1": fp.sha1 if fp else None,
            "sha256": fp.sha256 if fp else None,
            "pdq": fp.pdq if fp else None,
            "pdq_quality": fp.pdq_quality if fp else None,
            "matched": bool(self.matches),
            "matches": [m.to_dict() for m in self.matches],
            "error_code": self.error.code if self.error else self.skip_reason,
            "error": self.error.message if self.error else None,
        }


def scan_item(
    item: ScanItem,
    index: Index | None,
    settings: Settings,
    *,
    include_low_quality: bool = False,
) -> ScanResult:
    """Hash and match one item; never raises for a bad item."""
    if item.skipped is not None:
        return ScanResult(item.item_id, item.source, Status.SKIPPED, skip_reason=item.skipped)
    if item.error is not None:
        return ScanResult(item.item_id, item.source, Status.ERROR, error=item.error)
    try:
        if item.path is not None:
            fingerprint = hash_file(item.path, settings=settings)
        else:
            fingerprint = hash_bytes(item.data or b"", name=item.name, settings=settings)
    except OSError as exc:
        problem = ItemError("unreadable", exc.strerror or str(exc))
        return ScanResult(item.item_id, item.source, Status.ERROR, error=problem)
    if item.expect_image and fingerprint.error is None and fingerprint.pdq is None:
        problem = ItemError("not-an-image", f"expected an image, found {fingerprint.media_type}")
        fingerprint = replace(fingerprint, error=problem)
    matches: tuple[Match, ...] = ()
    if index is not None:
        outcome = match_outcome(fingerprint, index, include_low_quality=include_low_quality)
        matches = outcome.matches
    # A file whose bytes were read but not decoded still has its digests
    # matched; its row carries the decoding error.
    status = Status.ERROR if fingerprint.error else Status.HASHED
    return ScanResult(
        item.item_id, item.source, status, fingerprint, matches, error=fingerprint.error
    )
