"""The signal types a bank can hold, and how their values are written.

Every value entering Bastion - from a hash list, a CLI argument or an API
call - passes through :func:`normalize_signal`, so one hash is always spelled
one way (lowercase hex) and an exact lookup never misses on case or spacing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bastion.errors import BastionError
from bastion.signals.pdq import hamming
from bastion.signals.text import CHARACTERS_PER_EDIT, find_term, max_edits, normalize
from bastion.signals.vpdq import (
    InvalidVpdq,
    match_percentages,
    matchable,
    parse_vpdq,
    to_signal_value,
)


@dataclass(frozen=True, slots=True)
class Signal:
    """One hash of one media item, e.g. ``Signal("pdq", "<64 hex>")``."""

    type: str
    value: str

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


class SignalKind(StrEnum):
    #: A cryptographic digest: matches only when identical.
    DIGEST = "digest"
    #: A PDQ hash: matches within a Hamming distance.
    PDQ = "pdq"
    #: A value Bastion cannot compute or compare, only look up (PhotoDNA).
    OPAQUE = "opaque"
    #: A video's frame hashes (vPDQ): matches by the share of frames in common.
    VPDQ = "vpdq"
    #: Free text (a prompt, a model's training tags) and the terms of term
    #: banks: a term matches where its words are in the text.
    TEXT = "text"


class InvalidSignal(BastionError, ValueError):
    """A signal type or value that cannot be stored or matched."""

    code = "invalid-signal"
    status = 400


@dataclass(frozen=True, slots=True)
class Comparison:
    """What the reference comparison of two values of one type found."""

    matched: bool
    #: Hamming distance for PDQ (closest frames for vPDQ), 0 for identical
    #: exact values; None when no distance applies (different digests, or
    #: videos with no matchable frames).
    distance: int | None


class SignalType(Protocol):
    """One kind of hash a bank can hold: an extension point.

    ``compare`` is the brute-force reference every index is tested against
    (tests/contracts/signal_type.py): what the index finds for a value must
    be what ``compare`` says about each banked value.
    """

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> SignalKind:
        """Which part of the match index holds the values (exact keys or PDQ)."""
        ...

    @property
    def family(self) -> str:
        """Signals of one family are the same function of the file's bytes: a
        video's MD5 on a list matches the MD5 Bastion computes for any file."""
        ...

    @property
    def description(self) -> str: ...

    def validate(self, value: str) -> str:
        """``value`` in canonical spelling; raises InvalidSignal."""
        ...

    def compare(self, left: str, right: str, threshold: int) -> Comparison:
        """Whether two canonical values match, at most ``threshold`` bits apart
        for perceptual types (ignored by exact ones)."""
        ...


_HEX = re.compile(r"[0-9a-f]+")
#: Opaque values are printable, without whitespace, and of a sane length.
_OPAQUE = re.compile(r"[\x21-\x7e]{1,2048}")


def _hex_value(name: str, value: str, length: int) -> str:
    text = value.strip().lower()
    if len(text) != length:
        raise InvalidSignal(f"{name} value must be {length} hex digits, got {len(text)} characters")
    if not _HEX.fullmatch(text):
        raise InvalidSignal(f"{name} value is not hexadecimal: {text[:80]!r}")
    return text


def _exact(left: str, right: str) -> Comparison:
    return Comparison(True, 0) if left == right else Comparison(False, None)


@dataclass(frozen=True, slots=True)
class DigestType:
    """A cryptographic digest (or a prefix of one): matches only when identical."""

    name: str
    hex_length: int
    family: str
    description: str
    kind: SignalKind = SignalKind.DIGEST

    def validate(self, value: str) -> str:
        return _hex_value(self.name, value, self.hex_length)

    def compare(self, left: str, right: str, threshold: int) -> Comparison:
        return _exact(left, right)


@dataclass(frozen=True, slots=True)
class PdqType:
    """Meta's PDQ: 256 bits, matching within a Hamming distance."""

    name: str = "pdq"
    family: str = "pdq"
    description: str = "Meta's PDQ perceptual hash"
    kind: SignalKind = SignalKind.PDQ

    def validate(self, value: str) -> str:
        return _hex_value(self.name, value, 64)

    def compare(self, left: str, right: str, threshold: int) -> Comparison:
        distance = hamming(left, right)
        return Comparison(distance <= threshold, distance)


@dataclass(frozen=True, slots=True)
class VpdqType:
    """Meta's vPDQ: a video's frame hashes, matching by the share of frames in common."""

    name: str = "vpdq"
    family: str = "vpdq"
    description: str = "Meta's vPDQ: PDQ hashes of video frames"
    kind: SignalKind = SignalKind.VPDQ

    def validate(self, value: str) -> str:
        try:
            return to_signal_value(parse_vpdq(value.strip()))
        except InvalidVpdq as exc:
            raise InvalidSignal(f"vpdq value: {exc}") from None

    def compare(self, left: str, right: str, threshold: int) -> Comparison:
        """Meta's rule (``query`` is ``left``) with frames ``threshold`` bits apart."""
        query, compared = parse_vpdq(left), parse_vpdq(right)
        similarity = match_percentages(query, compared, distance=threshold)
        distances = [hamming(a.hex, b.hex) for a in matchable(query) for b in matchable(compared)]
        return Comparison(similarity.matches(), min(distances, default=None))


@dataclass(frozen=True, slots=True)
class OpaqueType:
    """A value Bastion cannot compute or compare, only look up (PhotoDNA)."""

    name: str
    family: str
    description: str
    kind: SignalKind = SignalKind.OPAQUE

    def validate(self, value: str) -> str:
        text = value.strip()
        if not _OPAQUE.fullmatch(text):
            raise InvalidSignal(
                f"{self.name} value must be 1-2048 printable characters without spaces"
            )
        return text

    def compare(self, left: str, right: str, threshold: int) -> Comparison:
        return _exact(left, right)


#: Longest text a ``text`` value may be, in characters as given.
MAX_TEXT_LENGTH = 100_000


@dataclass(frozen=True, slots=True)
class TextType:
    """Free text and the terms screened for in it (see :mod:`bastion.signals.text`).

    A value is a text in canonical spelling.  ``compare(text, term,
    threshold)`` is the brute-force rule: the term's words are in the text,
    at most ``min(threshold, max_edits(term))`` character edits apart, so a
    term bank's threshold caps the edits the length rule allows.
    """

    name: str = "text"
    family: str = "text"
    description: str = "Text screened for the terms of term banks"
    kind: SignalKind = SignalKind.TEXT
    characters_per_edit: int = CHARACTERS_PER_EDIT

    def validate(self, value: str) -> str:
        if len(value) > MAX_TEXT_LENGTH:
            raise InvalidSignal(
                f"text value is {len(value):,} characters, more than {MAX_TEXT_LENGTH:,}"
            )
        canonical = normalize(value)
        if not canonical:
            raise InvalidSignal(f"text value has no letters or digits: {value[:80]!r}")
        return canonical

    def compare(self, left: str, right: str, threshold: int) -> Comparison:
        """Whether term ``right`` is in text ``left``, and how many edits apart."""
        edits = min(max(threshold, 0), max_edits(right, self.characters_per_edit))
        found = find_term(left, right, edits)
        return Comparison(False, None) if found is None else Comparison(True, found.distance)


_TYPES: tuple[SignalType, ...] = (
    DigestType("md5", 32, "md5", "MD5 of the file"),
    DigestType("sha1", 40, "sha1", "SHA-1 of the file"),
    DigestType("sha256", 64, "sha256", "SHA-256 of the file"),
    DigestType("video_md5", 32, "md5", "MD5 of a video file"),
    PdqType(),
    VpdqType(),
    OpaqueType("photodna", "photodna", "PhotoDNA, exact value only"),
    # A model file's SHA-256 is the SHA-256 of the file, so it shares that family.
    DigestType("model_sha256", 64, "sha256", "SHA-256 of a model file"),
    DigestType(
        "model_autov2",
        10,
        "model_autov2",
        "AutoV2: first 10 hex digits of a model's SHA-256, as generators write it",
    ),
    # Last: the match index stores each row's type by its place in this tuple.
    TextType(),
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


def signal_type(name: str) -> SignalType:
    """The registered type called ``name`` (or one of its aliases)."""
    found = SIGNAL_TYPES.get(name)  # the common case, once per row of a list: as stored
    if found is not None:
        return found
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
    return Signal(kind.name, kind.validate(value))


def parse_signal(text: str) -> Signal:
    """``"pdq:<hex>"`` (or ``"pdq <hex>"``) as a normalized ``Signal``."""
    for separator in (":", " "):
        type_name, found, value = text.strip().partition(separator)
        if found and value:
            return normalize_signal(type_name, value)
    raise InvalidSignal(f"expected TYPE:VALUE such as pdq:<64 hex digits>, got {text[:80]!r}")
