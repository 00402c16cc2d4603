"""Generator metadata of each front-end, parsed into models, hashes and settings.

Prompts here are neutral placeholder words.
"""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import numpy as np
import pytest
from PIL import Image

from bastion.config import Settings
from bastion.fingerprint import Signal
from bastion.provenance import Evidence, InspectOptions, Strength, inspect_bytes
from bastion.provenance.models import model_signals
from tests.provenance.files import exif_with, jpeg, picture, png

SHA = "a" * 64
A1111 = (
    "alpha beta <lora:detail_tweak:0.6>\n"
    "Negative prompt: gamma delta\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512, Model hash: 6ce0161689, "
    'Model: base_model_v1, Lora hashes: "detail_tweak: 0123456789ab, other: fedcba987654", '
    f'Hashes: {{"model": "6ce0161689", "vae": "{SHA}"}}, Version: v1.10.1'
)


def generator(data: bytes, **options: bool) -> Evidence:
    result = inspect_bytes(data, None, Settings(), InspectOptions(**options))
    found = [e for e in result.evidence if e.reader == "generator"]
    assert len(found) == 1, result.evidence
    assert result.level == "ai-generated — declared"
    return found[0]


def models(evidence: Evidence) -> list[tuple[str, Any, Any]]:
    return [(m["kind"], m["name"], m["hash"]) for m in evidence.detail["models"]]


def test_automatic1111_parameters() -> None:
    found = generator(png({"parameters": A1111}))
    assert found.detail["generator"] == "AUTOMATIC1111"
    assert found.detail["version"] == "v1.10.1"
    assert models(found) == [
        ("checkpoint", "base_model_v1", "6ce0161689"),
        ("lora", "detail_tweak", "0123456789ab"),
        ("lora", "other", "fedcba987654"),
        ("vae", None, SHA),
    ]
    assert found.detail["settings"] == {
        "Steps": "20",
        "Sampler": "Euler a",
        "CFG scale": "7",
        "Seed": "42",
        "Size": "512x512",
    }
    assert "prompt" not in found.detail
    assert found.detail["withheld"] == ["prompt", "negative_prompt"]
    assert "base_model_v1" in found.summary


def test_prompts_only_on_request() -> None:
    found = generator(png({"parameters": A1111}), include_prompts=True)
    assert found.detail["prompt"] == "alpha beta <lora:detail_tweak:0.6>"
    assert found.detail["negative_prompt"] == "gamma delta"


def test_forge_and_lora_tags_without_hashes() -> None:
    text = "alpha <lora:style_one:1>\nSteps: 4, Sampler: Euler, Seed: 1, Version: f2.0.1v1.10.1"
    found = generator(png({"parameters": text}))
    assert found.detail["generator"] == "Forge"
    assert models(found) == [("lora", "style_one", None)]


@pytest.mark.parametrize(
    "text",
    [
        "alpha beta gamma",
        "alpha beta\nNegative prompt: gamma",
        # Settings-like words in prose are not A1111's settings line.
        "alpha\nwe took ten Steps: then Seed: none, Sampler: some",
        "alpha\nSteps: many, Sampler: Euler a, Seed: 1",
    ],
)
def test_free_text_parameters_are_not_automatic1111(text: str) -> None:
    result = inspect_bytes(png({"parameters": text}), None, Settings())
    assert result.level == "no provenance evidence"
    (found,) = [e for e in result.evidence if e.reader == "generator"]
    assert found.strength is Strength.NOTE
    assert found.origin is None
    assert "AUTOMATIC1111" not in str(found.detail.get("generator"))
    assert "not AUTOMATIC1111 parameters" in found.summary


def test_free_text_user_comment_is_not_automatic1111() -> None:
    comment = b"ASCII\x00\x00\x00alpha\nwe took ten Steps: then Seed: none"
    result = inspect_bytes(jpeg(exif=exif_with(user_comment=comment)), None, Settings())
    assert not [e for e in result.evidence if e.reader == "generator"]


def test_comfyui_api_graph() -> None:
    graph = {
        "4": {
            "class_type": "CheckpointLoaderSimple",
            "inputs": {"ckpt_name": "sdxl_base.safetensors"},
        },
        "5": {
            "class_type": "LoraLoader",
            "inputs": {"lora_name": "tweak.safetensors", "model": ["4", 0]},
        },
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "alpha beta", "clip": ["4", 1]}},
        "3": {
            "class_type": "KSampler",
            "inputs": {"seed": 7, "steps": 30, "cfg": 6.5, "model": ["5", 0]},
        },
    }
    found = generator(png({"prompt": json.dumps(graph), "workflow": "{}"}), include_prompts=True)
    assert found.detail["generator"] == "ComfyUI"
    assert models(found) == [
        ("checkpoint", "sdxl_base.safetensors", None),
        ("lora", "tweak.safetensors", None),
    ]
    assert found.detail["settings"] == {"seed": 7, "steps": 30, "cfg": 6.5}
    assert found.detail["prompt"] == "alpha beta"


def _encoder(text: str) -> dict[str, Any]:
    return {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": ["4", 1]}}


def test_comfyui_negative_prompt_is_what_the_sampler_takes_as_negative() -> None:
    graph = {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "base.safetensors"}},
        "7": _encoder("gamma delta"),
        "6": _encoder("alpha beta"),
        "3": {
            "class_type": "KSampler",
            "inputs": {"seed": 1, "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0]},
        },
    }
    found = generator(png({"prompt": json.dumps(graph)}), include_prompts=True)
    assert found.detail["prompt"] == "alpha beta"
    assert found.detail["negative_prompt"] == "gamma delta"
    withheld = generator(png({"prompt": json.dumps(graph)}))
    assert withheld.detail["withheld"] == ["prompt", "negative_prompt"]


def test_comfyui_prompts_are_followed_through_conditioning_nodes() -> None:
    """ControlNet and combine nodes sit between the encoders and the sampler."""
    graph = {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "base.safetensors"}},
        "6": _encoder("alpha"),
        "8": _encoder("beta"),
        "7": _encoder("gamma"),
        "9": {
            "class_type": "ConditioningCombine",
            "inputs": {"conditioning_1": ["6", 0], "conditioning_2": ["8", 0]},
        },
        "10": {
            "class_type": "ControlNetApplyAdvanced",
            "inputs": {"positive": ["9", 0], "negative": ["7", 0], "control_net": ["11", 0]},
        },
        "11": {"class_type": "ControlNetLoader", "inputs": {"control_net_name": "edges.pth"}},
        "3": {
            "class_type": "KSampler",
            "inputs": {"model": ["4", 0], "positive": ["10", 0], "negative": ["10", 1]},
        },
    }
    found = generator(png({"prompt": json.dumps(graph)}), include_prompts=True)
    assert found.detail["prompt"] == "alpha\nbeta"
    assert found.detail["negative_prompt"] == "gamma"


def test_comfyui_zeroed_negative_and_guider_without_sides() -> None:
    zeroed = {
        "6": _encoder("alpha"),
        "8": {"class_type": "ConditioningZeroOut", "inputs": {"conditioning": ["6", 0]}},
        "3": {"class_type": "KSampler", "inputs": {"positive": ["6", 0], "negative": ["8", 0]}},
    }
    found = generator(png({"prompt": json.dumps(zeroed)}), include_prompts=True)
    assert (found.detail["prompt"], found.detail["negative_prompt"]) == ("alpha", None)
    guided = {
        "6": _encoder("alpha"),
        "22": {"class_type": "BasicGuider", "inputs": {"conditioning": ["6", 0]}},
    }
    found = generator(png({"prompt": json.dumps(guided)}), include_prompts=True)
    assert (found.detail["prompt"], found.detail["negative_prompt"]) == ("alpha", None)


def test_comfyui_workflow_only() -> None:
    workflow = {"nodes": [{"type": "LoraLoader", "widgets_values": ["tweak.safetensors", 1, 1]}]}
    found = generator(png({"workflow": json.dumps(workflow)}))
    assert models(found) == [("lora", "tweak.safetensors", None)]


def test_invokeai_metadata_and_legacy_forms() -> None:
    meta = {
        "app_version": "5.0.0",
        "positive_prompt": "alpha",
        "model": {"name": "base", "hash": f"blake3:{'b' * 64}", "key": "k"},
        "loras": [{"model": {"name": "tweak", "hash": SHA}, "weight": 0.7}],
        "seed": 3,
        "steps": 25,
    }
    found = generator(png({"invokeai_metadata": json.dumps(meta)}))
    assert found.detail["version"] == "5.0.0"
    assert models(found) == [("checkpoint", "base", "b" * 64), ("lora", "tweak", SHA)]
    legacy = {
        "app_id": "invoke-ai/InvokeAI",
        "model_weights": "sd15",
        "model_hash": SHA,
        "image": {"prompt": [{"prompt": "alpha", "weight": 1}], "steps": 50},
    }
    found = generator(png({"sd-metadata": json.dumps(legacy)}))
    assert models(found) == [("checkpoint", "sd15", SHA)]
    found = generator(png({"Dream": '"alpha beta" -s 50 -S 42 -W 512 -H 512 -C 7.5 -A k_lms'}))
    assert found.detail["settings"] == {
        "steps": "50",
        "seed": "42",
        "width": "512",
        "height": "512",
        "cfg_scale": "7.5",
        "sampler": "k_lms",
    }


NOVELAI = {
    "Software": "NovelAI",
    "Source": "NovelAI Diffusion V4 4BDE2A90",
    "Description": "alpha beta",
    "Comment": json.dumps({"prompt": "alpha beta", "steps": 28, "scale": 5, "seed": 9, "uc": "x"}),
}


def test_novelai_text_fields() -> None:
    found = generator(png(NOVELAI))
    assert found.detail["generator"] == "NovelAI"
    assert models(found) == [("checkpoint", "NovelAI Diffusion V4", "4bde2a90")]
    assert found.detail["settings"] == {"steps": 28, "scale": 5, "seed": 9}


def _stealth_png(payload: bytes, magic: bytes) -> bytes:
    image = picture("RGBA", (256, 256))
    alpha = np.asarray(image.getchannel("A")).copy()
    bits = np.unpackbits(
        np.frombuffer(magic + (len(payload) * 8).to_bytes(4, "big") + payload, np.uint8)
    )
    column_major = alpha.T.copy().ravel()
    column_major[: bits.size] = (column_major[: bits.size] & 0xFE) | bits
    image.putalpha(Image.fromarray(column_major.reshape(alpha.T.shape).T.copy()))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_novelai_alpha_channel_metadata() -> None:
    data = _stealth_png(gzip.compress(json.dumps(NOVELAI).encode()), b"stealth_pngcomp")
    found = generator(data)
    assert found.detail["generator"] == "NovelAI"
    assert found.detail["source"] == "alpha-channel metadata"
    plain = _stealth_png(A1111.encode(), b"stealth_pnginfo")
    assert generator(plain).detail["generator"] == "AUTOMATIC1111"


def test_stealth_payload_too_long_is_unreadable() -> None:
    image_data = _stealth_png(b"", b"stealth_pngcomp")
    image = Image.open(io.BytesIO(image_data))
    alpha = np.asarray(image.getchannel("A")).T.copy().ravel()
    claim = np.unpackbits(np.frombuffer((1 << 31).to_bytes(4, "big"), np.uint8))
    alpha[120:152] = (alpha[120:152] & 0xFE) | claim
    image.putalpha(Image.fromarray(alpha.reshape(256, 256).T.copy()))
    out = io.BytesIO()
    image.save(out, "PNG")
    result = inspect_bytes(out.getvalue(), None, Settings())
    (problem,) = result.evidence
    assert problem.strength is Strength.UNREADABLE
    assert "too long" in problem.summary


def test_fooocus_scheme() -> None:
    meta = {
        "base_model": "juggernaut",
        "base_model_hash": "1234567890",
        "version": "Fooocus v2.5.5",
        "loras": [["tweak.safetensors", 0.5, "abcdefabcd"]],
        "full_prompt": ["alpha"],
        "seed": 1,
    }
    found = generator(png({"parameters": json.dumps(meta), "fooocus_scheme": "fooocus"}))
    assert found.detail["generator"] == "Fooocus"
    assert models(found) == [
        ("checkpoint", "juggernaut", "1234567890"),
        ("lora", "tweak.safetensors", "abcdefabcd"),
    ]


SWARM = {
    "sui_image_params": {
        "prompt": "alpha",
        "model": "flux_dev",
        "seed": 5,
        "steps": 20,
        "loras": ["tweak"],
        "swarm_version": "0.9.5",
    },
    "sui_models": [{"name": "flux_dev", "param": "model", "hash": "0x" + SHA}],
}


def test_swarmui_in_png_and_in_exif() -> None:
    found = generator(png({"parameters": json.dumps(SWARM)}))
    assert found.detail["generator"] == "SwarmUI"
    assert models(found) == [("checkpoint", "flux_dev", SHA), ("lora", "tweak", None)]
    comment = b"UNICODE\x00" + json.dumps(SWARM).encode("utf-16-le")
    found = generator(jpeg(exif=exif_with(user_comment=comment)))
    assert found.detail["source"] == "EXIF UserComment"


def test_midjourney_job_id() -> None:
    text = "alpha beta --ar 16:9 --v 6 Job ID: 0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    found = generator(png({"Description": text, "Author": "someone"}))
    assert found.detail["generator"] == "Midjourney"
    assert found.detail["settings"] == {"job_id": "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"}


def test_generator_named_only_in_software() -> None:
    found = generator(jpeg(exif=exif_with(software="Adobe Firefly")))
    assert found.detail == {
        "generator": "Adobe Firefly",
        "source": "EXIF Software",
        "value": "Adobe Firefly",
    }


@pytest.mark.parametrize("software", ["Adobe Photoshop 25.0", "GIMP 2.10", "darktable"])
def test_ordinary_software_is_not_a_generator(software: str) -> None:
    result = inspect_bytes(jpeg(exif=exif_with(software=software)), None, Settings())
    assert result.level == "no provenance evidence"


def test_model_signals_from_metadata() -> None:
    found = generator(png({"parameters": A1111}))
    assert model_signals([found]) == [
        Signal("model_autov2", "6ce0161689"),
        Signal("model_sha256", SHA),
    ]
