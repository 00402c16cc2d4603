"""ComfyUI: the ``prompt`` (API graph) and ``workflow`` (editor graph) JSON.

The API graph maps node ids to ``{"class_type", "inputs"}``; an input is a
value or a link ``[node id, output slot]``.  Loaders name their model in an
input (``ckpt_name``, ``lora_name`` ...), text encoders hold the prompt in
``text``.  Which text is the prompt and which the negative prompt is told
only by the wiring: the text reaching a sampler's ``positive`` input, and
the text reaching its ``negative`` input, followed back through
conditioning nodes (combine, ControlNet ...).  The editor graph only has
positional widget values, so from it only model file names are taken.
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
#: The inputs through which samplers and guiders take their conditioning.
_SIDES = ("positive", "negative")
#: Inputs holding prompt text (SDXL's encoder has two; string nodes ``string``).
_TEXT_INPUTS = ("text", "text_g", "text_l", "string")
#: Nodes whose conditioning output carries no prompt, whatever goes in.
_EMPTYING = frozenset({"ConditioningZeroOut"})


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
    encoded: list[str] = []
    for node in graph.values():
        if not isinstance(node, dict) or not isinstance(node.get("inputs"), dict):
            raise Unreadable("PNG text 'prompt' is not a ComfyUI node graph")
        inputs: dict[str, Any] = node["inputs"]
        for key, kind in _MODEL_INPUTS.items():
            if isinstance(inputs.get(key), str):
                generation.add_model(kind, inputs[key])
        class_type = str(node.get("class_type", ""))
        if "TextEncode" in class_type:
            encoded += _texts_of(inputs)
        if class_type.startswith("KSampler") and not generation.settings:
            generation.settings = pick(
                inputs, "seed", "noise_seed", "steps", "cfg", "sampler_name", "scheduler"
            )
    positive, negative = (_wired_to(graph, side) for side in _SIDES)
    # A graph without a positive input (e.g. Flux's BasicGuider): every
    # encoded text that is not the negative prompt.
    prompt = positive or [text for text in dict.fromkeys(encoded) if text not in negative]
    generation.prompt = "\n".join(prompt) or None
    generation.negative_prompt = "\n".join(negative) or None


def _texts_of(inputs: dict[str, Any]) -> list[str]:
    return [inputs[name] for name in _TEXT_INPUTS if isinstance(inputs.get(name), str)]


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)


def _wired_to(graph: dict[str, Any], side: str) -> list[str]:
    """The texts that reach any node's ``side`` input, in graph order, once each."""
    seen: set[tuple[str, int]] = set()
    texts: list[str] = []
    for node in graph.values():
        link = node["inputs"].get(side)
        if _is_link(link):
            texts += _texts_from(graph, link, seen)
    return list(dict.fromkeys(texts))


def _texts_from(graph: dict[str, Any], link: list[Any], seen: set[tuple[str, int]]) -> list[str]:
    """The prompt texts behind one link, following conditioning inputs back.

    A node that takes both a positive and a negative input (ControlNet apply,
    for instance) passes them on as its outputs 0 and 1, so only the side the
    link comes from is followed.
    """
    node_id, slot = str(link[0]), link[1]
    node = graph.get(node_id)
    if (node_id, slot) in seen or not isinstance(node, dict):
        return []
    seen.add((node_id, slot))
    if node.get("class_type") in _EMPTYING:
        return []
    inputs: dict[str, Any] = node["inputs"]
    texts = _texts_of(inputs)
    if texts:
        return texts
    if all(side in inputs for side in _SIDES):
        names = list(_SIDES[slot : slot + 1])
    else:
        names = [name for name in inputs if name in _TEXT_INPUTS or "conditioning" in name]
    for name in names:
        if _is_link(inputs[name]):
            texts += _texts_from(graph, inputs[name], seen)
    return texts
