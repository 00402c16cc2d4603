"""ComfyUI: the ``prompt`` (API graph) and ``workflow`` (editor graph) JSON.

The API graph maps node ids to ``{"class_type", "inputs"}``; loaders name
their model in an input (``ckpt_name``, ``lora_name`` ...), text encoders
hold the prompt in ``text``.  The editor graph only has positional widget
values, so from it only model file names are taken.
"""

from __future__ import annotations

from typing import Any

from bastion.provenance.generators.record import Generation, Unreadable, json_object, pick

#: Loader inputs and the kind of model they name.
_MODEL_INPUTS = {
    "ckpt_name": "checkpoint",
    "unet_name": "checkpoint",
    "lora_name": "lora",
    "vae_name": "vae",
    "control_net_name": "controlnet",
    "clip_name": "text encoder",
    "upscale_model_name": "upscaler",
}
_MODEL_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft")


def parse_comfyui(prompt_text: str | None, workflow_text: str | None) -> Generation:
    if prompt_text is not None:
        graph = json_object(prompt_text, "PNG text 'prompt'")
        generation = Generation("ComfyUI", "PNG text 'prompt'")
        _from_api_graph(graph, generation)
        return generation
    workflow = json_object(workflow_text or "", "PNG text 'workflow'")
    generation = Generation("ComfyUI", "PNG text 'workflow'")
    nodes = workflow.get("nodes")
    if not isinstance(nodes, list):
        raise Unreadable("PNG text 'workflow' has no list of nodes")
    for node in nodes:
        if not isinstance(node, dict):
            continue
        kind = "lora" if "lora" in str(node.get("type", "")).lower() else "checkpoint"
        for value in node.get("widgets_values") or []:
            if isinstance(value, str) and value.lower().endswith(_MODEL_SUFFIXES):
                generation.add_model(kind, value)
    return generation


def _from_api_graph(graph: dict[str, Any], generation: Generation) -> None:
    prompts: list[str] = []
    for node in graph.values():
        if not isinstance(node, dict) or not isinstance(node.get("inputs"), dict):
            raise Unreadable("PNG text 'prompt' is not a ComfyUI node graph")
        inputs: dict[str, Any] = node["inputs"]
        for key, kind in _MODEL_INPUTS.items():
            if isinstance(inputs.get(key), str):
                generation.add_model(kind, inputs[key])
        class_type = str(node.get("class_type", ""))
        if "TextEncode" in class_type and isinstance(inputs.get("text"), str):
            prompts.append(inputs["text"])
        if class_type.startswith("KSampler") and not generation.settings:
            generation.settings = pick(
                inputs, "seed", "noise_seed", "steps", "cfg", "sampler_name", "scheduler"
            )
    generation.prompt = "\n".join(prompts) or None
