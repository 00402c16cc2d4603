"""Signals as request bodies carry them (matching and bank entries)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from bastion.fingerprint import Signal


class SignalIn(BaseModel):
    type: str = Field(max_length=32, examples=["pdq"])
    value: str = Field(max_length=2_000_000)


def to_signals(items: list[SignalIn]) -> list[Signal]:
    return [Signal(item.type, item.value) for item in items]
