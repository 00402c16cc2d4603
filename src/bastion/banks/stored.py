"""How a signal is written to the ``entries`` table, and read back.

Most values are short and stored as they are, under a unique index on
(bank, type, value).  A vPDQ value lists every hashed frame of a video and
can run to hundreds of kilobytes, beyond what PostgreSQL can put in a
B-tree index; it is stored under its SHA-256 (which keeps the uniqueness
rule) with the value itself in ``payload``.
"""

from __future__ import annotations

import hashlib

from bastion.fingerprint import Signal
from bastion.signals.types import SignalKind, signal_type


def stored_form(signal: Signal) -> tuple[str, str | None]:
    """(value column, payload column) of a normalized signal."""
    if signal_type(signal.type).kind is SignalKind.VPDQ:
        return "sha256:" + hashlib.sha256(signal.value.encode()).hexdigest(), signal.value
    return signal.value, None


def stored_value(signal: Signal) -> str:
    """The ``value`` column a signal is found under."""
    return stored_form(signal)[0]


def read_value(value: str, payload: str | None) -> str:
    """The signal's value from its two columns."""
    return payload if payload is not None else value
