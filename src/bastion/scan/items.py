"""What a scan source yields: one item to hash, or a row saying why not.

Every source - files, archives, webdataset shards, Parquet - turns its
input into :class:`ScanItem` values in a fixed order, so a scan that is
resumed, or run on Ray, sees the same items with the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bastion.fingerprint import ItemError


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
    skipped: str | None = None
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
