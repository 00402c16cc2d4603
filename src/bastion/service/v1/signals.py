"""Signals as request bodies carry them (matching and bank entries)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from bastion.fingerprint import Signal

#: A PDQ hash (256 bits, hex) for the examples in the API documentation.
PDQ_EXAMPLE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
SIGNAL_EXAMPLE: dict[str, JsonValue] = {"type": "pdq", "value": PDQ_EXAMPLE}


class SignalIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SIGNAL_EXAMPLE]})

    type: str = Field(max_length=32, examples=["pdq"])
    value: str = Field(max_length=2_000_000)


def to_signals(items: list[SignalIn]) -> list[Signal]:
    return [Signal(item.type, item.value) for item in items]
