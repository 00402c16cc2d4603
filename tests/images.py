"""Test image helpers (the generator lives in bastion.samples, shared with the demo)."""

from bastion.samples import encode, photo_like

__all__ = ["encode", "photo_like"]
