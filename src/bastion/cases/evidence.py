"""An item's bytes, read back from the evidence for display.

A case keeps no copy of the evidence: the analyst's machine holds it (an
export of a seized drive, an archive), and an item is read back from where
the scan found it - a file, or a member of an archive (``archive!member``,
nested archives too), found by opening the archive the same way the scan did.
"""

from __future__ import annotations

from pathlib import Path

from bastion.config import Settings
from bastion.errors import BastionError
from bastion.pipeline import ScanItem
from bastion.scan.archives import expand

#: Separates an archive from its member in an item id (``scan.archives``).
MEMBER = "!"


class EvidenceMissing(BastionError, FileNotFoundError):
    """The evidence an item was scanned from is no longer where it was."""

    code = "evidence-missing"
    status = 404


def read_item(item_id: str, settings: Settings) -> bytes:
    """The bytes of the item the scan called ``item_id``."""
    path = Path(item_id)
    if path.is_file():
        if path.stat().st_size > settings.max_file_bytes:
            raise EvidenceMissing(f"{item_id} is larger than BASTION_MAX_FILE_BYTES")
        return path.read_bytes()
    archive = _archive_of(item_id)
    if archive is None:
        raise EvidenceMissing(f"{item_id} is not where the scan found it")
    top = ScanItem(str(archive), str(archive), path=archive)
    for member in expand(top, settings):
        if member.item_id == item_id:
            if member.data is None:
                raise EvidenceMissing(f"{item_id} could not be read from its archive")
            return member.data
    raise EvidenceMissing(f"{item_id} is no longer in {archive}")


def _archive_of(item_id: str) -> Path | None:
    """The file an archive member's id starts with (names may hold '!' too)."""
    position = item_id.find(MEMBER)
    while position != -1:
        candidate = Path(item_id[:position])
        if candidate.is_file():
            return candidate
        position = item_id.find(MEMBER, position + 1)
    return None
