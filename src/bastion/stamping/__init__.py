"""Stamping generated images: an invisible watermark and a signed C2PA manifest.

``bastion.stamp(...)`` is the Python door; ``bastion stamp`` and
``POST /v1/stamp`` call the same :class:`Stamper`.
"""

from __future__ import annotations

from pathlib import Path

from bastion.config import Settings
from bastion.stamping.stamper import Stamped, Stamper, StampError, StampOptions

__all__ = ["StampError", "StampOptions", "Stamped", "Stamper", "stamp"]


def stamp(
    image: bytes | str | Path,
    *,
    c2pa: bool = True,
    watermark: bool = True,
    generator: str = "unnamed generator",
    model_sha256: str | None = None,
    settings: Settings | None = None,
) -> bytes:
    """The image (bytes or a path) stamped; the signer comes from ``BASTION_STAMP_*``.

    For many images, make one :class:`Stamper` and call its ``stamp``: the
    signer is then loaded once.
    """
    data = image if isinstance(image, bytes) else Path(image).read_bytes()
    options = StampOptions(c2pa, watermark, generator, model_sha256)
    return Stamper(settings or Settings.from_env()).stamp(data, options).data
