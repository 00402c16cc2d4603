"""Test image helpers (the generator lives in bastion.samples, shared with the demo)."""

from bastion.samples import encode, photo_like


def pdqhash_hex(bits: object) -> str:
    """pdqhash's bit vector (most significant first) as Bastion's 64-digit hex."""
    return f"{int(''.join(map(str, bits)), 2):064x}"


__all__ = ["encode", "pdqhash_hex", "photo_like"]
