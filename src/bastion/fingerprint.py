"""The values every door of Bastion passes around: signals and fingerprints.

Frozen, JSON-serialisable dataclasses: a fingerprint computed by the CLI, the
HTTP service or a Ray worker is the same value and serialises the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bastion.errors import ItemErrorCode
from bastion.signals.pdq import DIHEDRAL_NAMES

# Signal is defined with the signal types, the layer below, and passed around from here.
from bastion.signals.types import Signal
from bastion.signals.vpdq import VideoHash

__all__ = ["Fingerprint", "ItemError", "Signal"]


@dataclass(frozen=True, slots=True)
class ItemError:
    """Why an item was not (fully) processed: a stable code and a message."""

    code: ItemErrorCode
    message: str

    @classmethod
    def internal(cls, exc: BaseException) -> ItemError:
        """The error of an item whose handling raised ``exc`` unexpectedly."""
        return cls(ItemErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}")

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """All signals of one media item.

    Crypto digests are present whenever the bytes could be read - even for a
    corrupt or non-image file, whose MD5 may still be on a hash list.  ``pdq``
    is present when the item decoded as an image; ``error`` says why not
    when it should have.
    """

    media_type: str
    size: int
    signals: tuple[Signal, ...] = ()
    pdq_quality: int | None = None
    #: True when the PDQ quality is under the configured threshold: the hash
    #: describes a nearly flat image and matches on it are not to be trusted.
    low_quality: bool = False
    width: int | None = None
    height: int | None = None
    #: The 8 dihedral PDQ variants (``DIHEDRAL_NAMES`` order) when asked for.
    pdq_dihedral: tuple[str, ...] = ()
    #: Frame hashes of a video (vPDQ), when the item decoded as one.
    video: VideoHash | None = None
    error: ItemError | None = None

    def get(self, signal_type: str) -> str | None:
        """Value of the first signal of ``signal_type``, or None."""
        for signal in self.signals:
            if signal.type == signal_type:
                return signal.value
        return None

    @property
    def md5(self) -> str | None:
        return self.get("md5")

    @property
    def sha1(self) -> str | None:
        return self.get("sha1")

    @property
    def sha256(self) -> str | None:
        return self.get("sha256")

    @property
    def pdq(self) -> str | None:
        return self.get("pdq")

    def to_dict(self) -> dict[str, Any]:
        """Flat, JSON-ready view: one key per signal type."""
        out: dict[str, Any] = {"media_type": self.media_type, "size": self.size}
        out["width"], out["height"] = self.width, self.height
        for signal_type in ("md5", "sha1", "sha256", "pdq"):
            out[signal_type] = self.get(signal_type)
        out["pdq_quality"] = self.pdq_quality
        out["low_quality"] = self.low_quality
        if self.video is not None:
            out["video"] = self.video.summary()
            out["vpdq"] = [feature.to_list() for feature in self.video.features]
        if self.pdq_dihedral:
            out["pdq_dihedral"] = dict(zip(DIHEDRAL_NAMES, self.pdq_dihedral, strict=True))
        out["error_code"] = self.error.code if self.error else None
        out["error"] = self.error.message if self.error else None
        return out
