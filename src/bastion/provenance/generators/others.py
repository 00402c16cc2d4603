"""Fooocus (``fooocus_scheme``), SwarmUI (``sui_image_params``) and Midjourney (``Job ID``)."""

from __future__ import annotations

import re
from typing import Any

from bastion.provenance.generators.record import Generation, json_object, pick, text_of

_JOB_ID = re.compile(r"Job ID:\s*([0-9a-fA-F-]{8,})")


def parse_fooocus(text: str) -> Generation:
    where = "PNG text 'parameters' (Fooocus scheme)"
    meta = json_object(text, where)
    generation = Generation("Fooocus", where, text_of(meta.get("version")))
    generation.add_model("checkpoint", meta.get("base_model"), meta.get("base_model_hash"))
    generation.add_model("refiner", meta.get("refiner_model"), meta.get("refiner_model_hash"))
    for lora in meta.get("loras") or []:
        # [name, weight, hash] in recent versions; [name, weight] before.
        if isinstance(lora, list) and lora:
            generation.add_model("lora", lora[0], lora[2] if len(lora) > 2 else None)
    generation.settings = pick(
        meta, "seed", "steps", "sampler", "scheduler", "guidance_scale", "resolution"
    )
    generation.prompt = text_of(meta.get("full_prompt") or meta.get("prompt"))
    generation.negative_prompt = text_of(
        meta.get("full_negative_prompt") or meta.get("negative_prompt")
    )
    return generation


def is_swarmui(meta: dict[str, Any]) -> bool:
    return isinstance(meta.get("sui_image_params"), dict)


def parse_swarmui(meta: dict[str, Any], where: str) -> Generation:
    params: dict[str, Any] = meta["sui_image_params"]
    generation = Generation("SwarmUI", where, text_of(params.get("swarm_version")))
    hashes = {
        str(m.get("name")): m.get("hash")
        for m in meta.get("sui_models") or []
        if isinstance(m, dict)
    }
    generation.add_model("checkpoint", params.get("model"), hashes.get(str(params.get("model"))))
    for lora in params.get("loras") or []:
        generation.add_model("lora", lora, hashes.get(str(lora)))
    generation.settings = pick(
        params, "seed", "steps", "cfgscale", "sampler", "scheduler", "width", "height"
    )
    generation.prompt = text_of(params.get("prompt"))
    generation.negative_prompt = text_of(params.get("negativeprompt"))
    return generation


def midjourney_job(description: str) -> str | None:
    found = _JOB_ID.search(description)
    return found.group(1) if found else None


def parse_midjourney(description: str) -> Generation:
    generation = Generation("Midjourney", "PNG text 'Description'")
    job = midjourney_job(description)
    generation.settings = {"job_id": job}
    generation.prompt = _JOB_ID.sub("", description).strip() or None
    return generation
