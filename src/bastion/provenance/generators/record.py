"""What a generator's metadata says, in one shape for every front-end.

Each front-end parser fills a :class:`Generation`; :func:`to_evidence`
turns it into evidence the same way for all of them, so prompts are
withheld, and models and hashes reported, identically everywhere.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from bastion.errors import BastionError
from bastion.provenance.evidence import Evidence, Origin, Strength

READER = "generator"
_HEX = re.compile(r"(?:0x)?([0-9a-fA-F]{8,64})")


class Unreadable(BastionError, ValueError):
    """Metadata that is recognisably a generator's but cannot be parsed."""

    code = "unreadable-generator-metadata"
    status = 422


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A model the generator used: checkpoint, LoRA, VAE, embedding ..."""

    kind: str
    name: str | None
    #: As written by the front-end, lower-case hex: AutoV2 (10 digits), a
    #: full SHA-256 (64), or the legacy A1111 hash (8).
    hash: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"kind": self.kind, "name": self.name, "hash": self.hash}


def model_hash(value: Any) -> str | None:
    """The hex digits of a hash as front-ends write it (``0x…``, ``sha256:…``)."""
    if not isinstance(value, str):
        return None
    found = _HEX.fullmatch(value.strip().split(":")[-1].strip())
    return found.group(1).lower() if found else None


@dataclass(slots=True)
class Generation:
    generator: str
    #: Where it was found, e.g. "PNG text 'parameters'".
    source: str
    version: str | None = None
    models: list[ModelRef] = field(default_factory=list)
    #: Sampler, steps, seed, size ...: reproducibility, never content.
    settings: dict[str, Any] = field(default_factory=dict)
    prompt: str | None = None
    negative_prompt: str | None = None

    def add_model(self, kind: str, name: Any, hash_value: Any = None) -> None:
        ref = ModelRef(kind, str(name) if name else None, model_hash(hash_value))
        if (ref.name or ref.hash) and ref not in self.models:
            self.models.append(ref)


def to_evidence(generation: Generation, *, include_prompts: bool) -> Evidence:
    detail: dict[str, Any] = {
        "generator": generation.generator,
        "source": generation.source,
        "version": generation.version,
        "models": [m.to_dict() for m in generation.models],
        "settings": generation.settings,
    }
    prompts = {"prompt": generation.prompt, "negative_prompt": generation.negative_prompt}
    if include_prompts:
        detail.update(prompts)
    elif any(prompts.values()):
        detail["withheld"] = [name for name, text in prompts.items() if text]
    checkpoint = next((m for m in generation.models if m.kind == "checkpoint"), None)
    summary = f"{generation.generator} generation metadata in {generation.source}"
    if checkpoint is not None:
        summary += f", model {checkpoint.name or checkpoint.hash}"
    extra = len(generation.models) - (checkpoint is not None)
    if extra:
        summary += f" (+{extra} other model{'s' if extra > 1 else ''})"
    return Evidence(READER, Strength.DECLARED, summary, Origin.AI_GENERATED, detail)


def load_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Unreadable(f"{where} is not valid JSON ({exc})") from None


def json_object(text: str, where: str) -> dict[str, Any]:
    value = load_json(text, where)
    if not isinstance(value, dict):
        raise Unreadable(f"{where} is JSON but not an object")
    return value


def text_of(value: Any) -> str | None:
    """A text field as front-ends write it: a string, a number, or a list of lines."""
    if isinstance(value, list):
        value = "\n".join(str(v) for v in value)
    return str(value) if isinstance(value, str | int | float) and value != "" else None


def pick(mapping: dict[str, Any], *names: str) -> dict[str, Any]:
    """The settings among ``names`` that are present and simple values."""
    return {
        name: mapping[name]
        for name in names
        if isinstance(mapping.get(name), str | int | float) and mapping[name] != ""
    }
