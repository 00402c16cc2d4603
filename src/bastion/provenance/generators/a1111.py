"""AUTOMATIC1111 / Forge ``parameters`` text (PNG text or EXIF UserComment).

The text is the prompt, an optional ``Negative prompt:`` block, and a last
line of ``Key: value`` pairs (``Steps: 20, Sampler: Euler a, ... Model hash:
6ce0161689, Lora hashes: "name: 0123456789ab", Version: v1.10.1``), where a
value with commas is quoted.  Fooocus in its "a1111" scheme writes the same.
Many tools write a free-text ``parameters`` field too, so the text is
attributed to AUTOMATIC1111 only when its last line is such a settings line.
"""

from __future__ import annotations

import json
import re

from bastion.errors import BastionError
from bastion.provenance.generators.record import Generation, model_hash

#: One ``Key: value`` pair of the last line; quoted values may hold commas.
#: Civitai writes ``Hashes: {...}`` as bare JSON, so a flat object is a value too.
_PAIR = re.compile(r'\s*([\w][\w \-/+]*):\s*("(?:\\.|[^\\"])*"|\{[^{}]*\}|[^,]*)(?:,|$)')
_LORA_TAG = re.compile(r"<(lora|lyco):([^:>]+)(?::[^>]*)?>")
_SETTINGS = ("Steps", "Sampler", "Schedule type", "CFG scale", "Seed", "Size", "Denoising strength")


class NotParameters(BastionError, ValueError):
    """A ``parameters`` text that does not parse as AUTOMATIC1111's format."""

    code = "not-a1111-parameters"
    status = 422


def looks_like_parameters(text: str) -> bool:
    return _settings(text) is not None


def _settings(text: str) -> dict[str, str] | None:
    """The pairs of the last line when it is A1111's settings line (all ``Key:
    value`` pairs, a whole number of steps, a sampler or a whole-number seed)."""
    pairs = _pairs(text.strip().rsplit("\n", 1)[-1])
    if pairs is None or not pairs.get("Steps", "").isdigit():
        return None
    return pairs if "Sampler" in pairs or pairs.get("Seed", "").isdigit() else None


def _pairs(line: str) -> dict[str, str] | None:
    """The pairs of a line made of nothing else, or None.

    Matched pair after pair from the start, never backtracking across pairs,
    so a long line that is not one costs linear time.
    """
    found = {}
    position = 0
    line = line.rstrip(", ")
    while position < len(line):
        pair = _PAIR.match(line, position)
        if pair is None or pair.end() == position:
            return None
        key, value = pair.groups()
        if value.startswith('"') and value.endswith('"') and len(value) > 1:
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        found[key.strip()] = value.strip()
        position = pair.end()
    return found


def _named_hashes(value: str) -> list[tuple[str, str]]:
    """``"name: hash, name2: hash2"`` as pairs."""
    pairs = []
    for part in value.split(","):
        name, _, hash_value = part.rpartition(":")
        if name.strip():
            pairs.append((name.strip(), hash_value.strip()))
    return pairs


def parse_parameters(text: str, source: str) -> Generation:
    params = _settings(text)
    if params is None:
        raise NotParameters(
            f"{source} holds text that is not AUTOMATIC1111 parameters (no 'Steps: …' "
            "settings line); no generator attributed"
        )
    body = text.strip().split("\n")[:-1]
    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    for line in body:
        if line.startswith("Negative prompt:") or negative_lines:
            negative_lines.append(line.removeprefix("Negative prompt:").strip())
        else:
            prompt_lines.append(line)
    version = params.get("Version")
    name = "AUTOMATIC1111"
    if version and version.startswith("f") and version[1:2].isdigit():
        name = "Forge"
    elif version and version.lower().startswith("fooocus"):
        name = "Fooocus"
    generation = Generation(name, source, version)
    generation.prompt = "\n".join(prompt_lines).strip() or None
    generation.negative_prompt = "\n".join(negative_lines).strip() or None
    generation.settings = {k: params[k] for k in _SETTINGS if k in params}
    generation.add_model("checkpoint", params.get("Model"), params.get("Model hash"))
    generation.add_model("vae", params.get("VAE"), params.get("VAE hash"))
    for kind, key in (("lora", "Lora hashes"), ("embedding", "TI hashes")):
        for lora_name, hash_value in _named_hashes(params.get(key, "")):
            generation.add_model(kind, lora_name, hash_value)
    _civitai_hashes(params.get("Hashes"), generation)
    for kind, tag_name in _LORA_TAG.findall(generation.prompt or ""):
        if not any(m.name == tag_name for m in generation.models):
            generation.add_model("lora" if kind == "lora" else "lycoris", tag_name)
    return generation


def _civitai_hashes(value: str | None, generation: Generation) -> None:
    """Civitai's ``Hashes: {"model": "…", "lora:name": "…"}``."""
    if not value:
        return
    try:
        hashes = json.loads(value)
    except json.JSONDecodeError:
        return
    if not isinstance(hashes, dict):
        return
    for key, hash_value in hashes.items():
        kind, _, name = str(key).partition(":")
        kind = {"model": "checkpoint", "embed": "embedding"}.get(kind, kind)
        if model_hash(hash_value) not in {m.hash for m in generation.models}:
            generation.add_model(kind, name or None, hash_value)
