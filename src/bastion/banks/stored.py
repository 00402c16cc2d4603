"""How a signal is written to the ``entries`` table, and read back.

Most values are short and stored as they are, under a unique index on
(bank, type, value).  A vPDQ value lists every hashed frame of a video and
can run to hundreds of kilobytes, beyond what PostgreSQL can put in a
B-tree index; it is stored under its SHA-256 (which keeps the uniqueness
rule) with the value itself in ``payload``.  So is a ``text`` value longer
than ``MAX_INDEXED_TEXT`` characters (a long phrase in a term bank): a
character of it may take four bytes, and a B-tree entry holds 2,704.
"""

from __future__ import annotations

import hashlib

from bastion.fingerprint import Signal
from bastion.signals.types import SignalKind, signal_type

#: Longest ``text`` value stored as it is, in characters.
MAX_INDEXED_TEXT = 500


def stored_form(signal: Signal) -> tuple[str, str | None]:
    """(value column, payload column) of a normalized signal."""
    kind = signal_type(signal.type).kind
    if kind is SignalKind.VPDQ or (
        kind is SignalKind.TEXT and len(signal.value) > MAX_INDEXED_TEXT
    ):
        return "sha256:" + hashlib.sha256(signal.value.encode()).hexdigest(), signal.value
    return signal.value, None


def stored_value(signal: Signal) -> str:
    """The ``value`` column a signal is found under."""
    return stored_form(signal)[0]


def read_value(value: str, payload: str | None) -> str:
    """The signal's value from its two columns."""
    return payload if payload is not None else value
