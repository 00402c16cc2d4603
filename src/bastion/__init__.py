"""Bastion: find known abuse imagery by its hashes, recognise AI-generated
media by its provenance, and route what is found to the people who act on it.

The stable Python API starts here::

    from bastion import hash_file, hash_bytes
    fingerprint = hash_file("photo.jpg")
    fingerprint.pdq, fingerprint.pdq_quality, fingerprint.md5

    from bastion import stamp             # generator operators
    signed = stamp(png_bytes, generator="my-model", model_sha256=digest)
"""

from typing import Any

from bastion.about import __version__
from bastion.fingerprint import Fingerprint, ItemError, Signal
from bastion.hashing import hash_bytes, hash_file, hash_stream

__all__ = [
    "Fingerprint",
    "ItemError",
    "Signal",
    "__version__",
    "hash_bytes",
    "hash_file",
    "hash_stream",
    "stamp",
]


def __getattr__(name: str) -> Any:
    """``bastion.stamp``, imported on first use: stamping loads C2PA and the
    wavelet code, which hashing alone never needs."""
    if name == "stamp":
        from bastion.stamping import stamp

        return stamp
    raise AttributeError(f"module 'bastion' has no attribute {name!r}")
