"""InvokeAI: ``invokeai_metadata`` JSON, and the legacy ``sd-metadata`` and ``Dream``."""

from __future__ import annotations

import re
import shlex
from typing import Any

from bastion.provenance.generators.record import Generation, Unreadable, json_object, pick, text_of

_SETTINGS = ("seed", "steps", "cfg_scale", "scheduler", "sampler", "width", "height")
#: ``Dream`` options: -s steps, -S seed, -W/-H size, -C cfg, -A sampler.
_DREAM_OPTIONS = {
    "-s": "steps",
    "-S": "seed",
    "-W": "width",
    "-H": "height",
    "-C": "cfg_scale",
    "-A": "sampler",
}


def _model(value: Any) -> tuple[Any, Any]:
    """Name and hash of a model field: a dict in 3.x+, a bare name before."""
    if isinstance(value, dict):
        name = value.get("name") or value.get("model_name") or value.get("key")
        return name, value.get("hash")
    return value, None


def parse_invokeai(text: str) -> Generation:
    where = "PNG text 'invokeai_metadata'"
    meta = json_object(text, where)
    generation = Generation("InvokeAI", where, text_of(meta.get("app_version")))
    generation.add_model("checkpoint", *_model(meta.get("model")))
    generation.add_model("vae", *_model(meta.get("vae")))
    for lora in meta.get("loras") or []:
        if isinstance(lora, dict):
            generation.add_model("lora", *_model(lora.get("model") or lora.get("lora")))
    generation.settings = pick(meta, *_SETTINGS)
    generation.prompt = text_of(meta.get("positive_prompt"))
    generation.negative_prompt = text_of(meta.get("negative_prompt"))
    return generation


def parse_sd_metadata(text: str) -> Generation:
    where = "PNG text 'sd-metadata'"
    meta = json_object(text, where)
    generation = Generation("InvokeAI", where, text_of(meta.get("app_version")))
    generation.add_model("checkpoint", meta.get("model_weights"), meta.get("model_hash"))
    image = meta.get("image")
    if isinstance(image, dict):
        generation.settings = pick(image, *_SETTINGS)
        prompt = image.get("prompt")
        if isinstance(prompt, list):
            prompt = " ".join(str(p.get("prompt", "")) for p in prompt if isinstance(p, dict))
        generation.prompt = text_of(prompt)
    return generation


def parse_dream(text: str) -> Generation:
    """``"a prompt" -s 50 -S 42 -W 512 -H 512 -C 7.5 -A k_lms``."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise Unreadable(f"PNG text 'Dream' does not parse ({exc})") from None
    generation = Generation("InvokeAI", "PNG text 'Dream'")
    prompt: list[str] = []
    options = iter(words)
    for word in options:
        if word in _DREAM_OPTIONS:
            generation.settings[_DREAM_OPTIONS[word]] = next(options, "")
        elif not re.fullmatch(r"-\w+", word):
            prompt.append(word)
    generation.prompt = " ".join(prompt) or None
    return generation
