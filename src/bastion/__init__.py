"""Bastion: find known abuse imagery by its hashes, recognise AI-generated
media by its provenance, and route what is found to the people who act on it.

The stable Python API starts here::

    from bastion import hash_file, hash_bytes
    fingerprint = hash_file("photo.jpg")
    fingerprint.pdq, fingerprint.pdq_quality, fingerprint.md5
"""

from importlib.metadata import PackageNotFoundError, version

from bastion.fingerprint import Fingerprint, ItemError, Signal
from bastion.hashing import hash_bytes, hash_file, hash_stream

try:
    __version__ = version("bastion")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "Fingerprint",
    "ItemError",
    "Signal",
    "__version__",
    "hash_bytes",
    "hash_file",
    "hash_stream",
]
