"""The signal types a bank can hold, and how their values are written.

Every value entering Bastion - from a hash list, a CLI argument or an API
call - passes through :func:`normalize_signal`, so one hash is always spelled
one way (lowercase hex) and an exact lookup never misses on case or spacing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bastion.errors import BastionError
from bastion.fingerprint import Signal
from bastion.signals.vpdq import InvalidVpdq, parse_vpdq, to_signal_value


class SignalKind(StrEnum):
    #: A cryptographic digest: matches only when identical.
    DIGEST = "digest"
    #: A PDQ hash: matches within a Hamming distance.
    PDQ = "pdq"
    #: A value Bastion cannot compute or compare, only look up (PhotoDNA).
    OPAQUE = "opaque"
    #: A video's frame hashes (vPDQ): matches by the share of frames in common.
    VPDQ = "vpdq"


class InvalidSignal(BastionError, ValueError):
    """A signal type or value that cannot be stored or matched."""

    code = "invalid-signal"
    status = 400


@dataclass(frozen=True, slots=True)
class SignalType:
    name: str
    kind: SignalKind
    #: Length in hex digits for digests and PDQ; None for opaque values.
    hex_length: int | None
    #: Signals of one family are the same function of the file's bytes:
    #: a video's MD5 on a list matches the MD5 Bastion computes for any file.
    family: str
    description: str


_TYPES = (
    SignalType("md5", SignalKind.DIGEST, 32, "md5", "MD5 of the file"),
    SignalType("sha1", SignalKind.DIGEST, 40, "sha1", "SHA-1 of the file"),
    SignalType("sha256", SignalKind.DIGEST, 64, "sha256", "SHA-256 of the file"),
    SignalType("video_md5", SignalKind.DIGEST, 32, "md5", "MD5 of a video file"),
    SignalType("pdq", SignalKind.PDQ, 64, "pdq", "Meta's PDQ perceptual hash"),
    SignalType("vpdq", SignalKind.VPDQ, None, "vpdq", "Meta's vPDQ: PDQ hashes of video frames"),
    SignalType("photodna", SignalKind.OPAQUE, None, "photodna", "PhotoDNA, exact value only"),
    # A model file's SHA-256 is the SHA-256 of the file, so it shares that family.
    SignalType("model_sha256", SignalKind.DIGEST, 64, "sha256", "SHA-256 of a model file"),
    SignalType(
        "model_autov2",
        SignalKind.DIGEST,
        10,
        "model_autov2",
        "AutoV2: first 10 hex digits of a model's SHA-256, as generators write it",
    ),
)
SIGNAL_TYPES: dict[str, SignalType] = {t.name: t for t in _TYPES}

#: Other spellings found in hash lists and exchanges.
ALIASES = {
    "autov2": "model_autov2",
    "video_vpdq": "vpdq",
    "pdna": "photodna",
    "photo_dna": "photodna",
    "sha-1": "sha1",
    "sha-256": "sha256",
}

_HEX = re.compile(r"[0-9a-f]+")
#: Opaque values are printable, without whitespace, and of a sane length.
_OPAQUE = re.compile(r"[\x21-\x7e]{1,2048}")


def signal_type(name: str) -> SignalType:
    """The registered type called ``name`` (or one of its aliases)."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    try:
        return SIGNAL_TYPES[key]
    except KeyError:
        known = ", ".join(SIGNAL_TYPES)
        raise InvalidSignal(f"unknown signal type {name.strip()!r} (known: {known})") from None


def normalize_signal(type_name: str, value: str) -> Signal:
    """A validated ``Signal`` with its value in canonical spelling."""
    kind = signal_type(type_name)
    text = value.strip()
    if kind.kind is SignalKind.VPDQ:
        try:
            return Signal(kind.name, to_signal_value(parse_vpdq(text)))
        except InvalidVpdq as exc:
            raise InvalidSignal(f"vpdq value: {exc}") from None
    if kind.hex_length is None:
        if not _OPAQUE.fullmatch(text):
            raise InvalidSignal(
                f"{kind.name} value must be 1-2048 printable characters without spaces"
            )
        return Signal(kind.name, text)
    text = text.lower()
    if len(text) != kind.hex_length:
        raise InvalidSignal(
            f"{kind.name} value must be {kind.hex_length} hex digits, got {len(text)} characters"
        )
    if not _HEX.fullmatch(text):
        raise InvalidSignal(f"{kind.name} value is not hexadecimal: {text[:80]!r}")
    return Signal(kind.name, text)


def parse_signal(text: str) -> Signal:
    """``"pdq:<hex>"`` (or ``"pdq <hex>"``) as a normalized ``Signal``."""
    for separator in (":", " "):
        type_name, found, value = text.strip().partition(separator)
        if found and value:
            return normalize_signal(type_name, value)
    raise InvalidSignal(f"expected TYPE:VALUE such as pdq:<64 hex digits>, got {text[:80]!r}")
