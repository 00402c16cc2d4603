"""AUTOMATIC1111 / Forge ``parameters`` text (PNG text or EXIF UserComment).

The text is the prompt, an optional ``Negative prompt:`` block, and a last
line of ``Key: value`` pairs (``Steps: 20, Sampler: Euler a, ... Model hash:
6ce0161689, Lora hashes: "name: 0123456789ab", Version: v1.10.1``), where a
value with commas is quoted.  Fooocus in its "a1111" scheme writes the same.
"""

from __future__ import annotations

import json
import re

from bastion.provenance.generators.record import Generation, model_hash

#: One ``Key: value`` pair of the last line; quoted values may hold commas.
#: Civitai writes ``Hashes: {...}`` as bare JSON, so a flat object is a value too.
_PAIR = re.compile(r'\s*([\w][\w \-/+]*):\s*("(?:\\.|[^\\"])*"|\{[^{}]*\}|[^,]*)(?:,|$)')
_LORA_TAG = re.compile(r"<(lora|lyco):([^:>]+)(?::[^>]*)?>")
_SETTINGS = ("Steps", "Sampler", "Schedule type", "CFG scale", "Seed", "Size", "Denoising strength")


def looks_like_parameters(text: str) -> bool:
    last = text.strip().rsplit("\n", 1)[-1]
    return "Steps: " in last and ("Sampler: " in last or "Seed: " in last)


def _pairs(line: str) -> dict[str, str]:
    found = {}
    for key, value in _PAIR.findall(line):
        if value.startswith('"') and value.endswith('"') and len(value) > 1:
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        found[key.strip()] = value.strip()
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
    lines = text.strip().split("\n")
    params = _pairs(lines[-1]) if looks_like_parameters(text) else {}
    body = lines[:-1] if params else lines
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
