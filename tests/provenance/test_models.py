"""Model files: hashes and header metadata without loading tensors; banks of model hashes."""

from __future__ import annotations

import hashlib
import json
import pickle
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli import app
from bastion.config import Settings
from bastion.provenance import Strength
from bastion.provenance.models import inspect_model
from tests.provenance.files import png

LIMIT = Settings().max_metadata_bytes


def safetensors(path: Path, metadata: dict[str, str], tensor_bytes: int = 2 << 20) -> Path:
    header = {
        "__metadata__": metadata,
        "weight": {"dtype": "F32", "shape": [tensor_bytes // 4], "data_offsets": [0, tensor_bytes]},
    }
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(range(256)) * (tensor_bytes // 256))
    return path


def test_safetensors_hashes_and_training_metadata(tmp_path: Path) -> None:
    path = safetensors(
        tmp_path / "tweak.safetensors",
        {
            "ss_output_name": "tweak",
            "ss_tag_frequency": json.dumps({"set": {"alpha": 3}}),
            "modelspec.architecture": "stable-diffusion-xl-v1-base/lora",
        },
    )
    report = inspect_model(path, LIMIT)
    data = path.read_bytes()
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert report.autov2 == report.sha256[:10]
    assert report.legacy_hash == hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8]
    assert report.format == "safetensors"
    assert report.tensors == 1
    assert report.metadata["ss_tag_frequency"] == {"set": {"alpha": 3}}
    assert report.metadata["modelspec.architecture"] == "stable-diffusion-xl-v1-base/lora"
    assert [e.strength for e in report.evidence] == [Strength.NOTE]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (struct.pack("<Q", 100 << 30) + b"{", "claims 107,374,182,400 bytes"),
        (struct.pack("<Q", 5000) + b'{"__metadata__": {', "runs past the end of the file"),
        (struct.pack("<Q", 4) + b"{]}x", "not valid JSON"),
        (b"\x01\x02", None),
    ],
    ids=["100-GB-claim", "truncated", "bad-json", "too-short"],
)
def test_bad_headers_are_unreadable_and_still_hashed(
    tmp_path: Path, content: bytes, reason: str | None
) -> None:
    path = tmp_path / "broken.safetensors"
    path.write_bytes(content)
    report = inspect_model(path, LIMIT)
    assert report.sha256 == hashlib.sha256(content).hexdigest()
    problems = [e.summary for e in report.evidence if e.strength is Strength.UNREADABLE]
    if reason is None:
        assert report.format == "unknown"
    else:
        assert len(problems) == 1
        assert reason in problems[0]


def test_pickle_checkpoints_are_never_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "model.ckpt"
    path.write_bytes(pickle.dumps({"placeholder": 1}, protocol=2))
    assert "not opened" in inspect_model(path, LIMIT).format


@pytest.fixture
def bastion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BASTION_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_banked_model_matches_its_file_and_images_that_name_it(bastion, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = safetensors(tmp_path / "tweak.safetensors", {"ss_output_name": "tweak"})
    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    assert bastion("bank", "create", "models").exit_code == 0
    added = bastion("bank", "add", "models", f"model_sha256:{sha}", "--label", "placeholder")
    assert added.exit_code == 0, added.output

    shown = bastion("inspect", "--json", "--match", str(model))
    record = json.loads(shown.stdout)
    assert record["autov2"] == sha[:10]
    assert [m["bank"] for m in record["matches"]] == ["models"]

    by_autov2 = tmp_path / "short.png"
    by_autov2.write_bytes(
        png({"parameters": f'alpha\nSteps: 1, Seed: 1, Lora hashes: "tweak: {sha[:10]}"'})
    )
    by_full = tmp_path / "full.png"
    by_full.write_bytes(
        png({"invokeai_metadata": json.dumps({"model": {"name": "m", "hash": sha}})})
    )
    other = tmp_path / "other.png"
    other.write_bytes(png({"parameters": "alpha\nSteps: 1, Seed: 1, Model hash: 0000000000"}))
    result = bastion("inspect", "--json", "--match", str(by_autov2), str(by_full), str(other))
    assert result.exit_code == 0, result.output
    matches = [
        [m["signal_type"] for m in json.loads(line)["matches"]]
        for line in result.stdout.splitlines()
    ]
    assert matches == [["model_sha256"], ["model_sha256"], []]

    # The model file's own SHA-256 is the same digest: `bastion match` finds it too.
    assert "1 inputs matched" in bastion("match", str(model)).stderr
    shown = json.loads(bastion("bank", "show", "models", "--json").stdout)
    assert shown["active"] == 1


def test_training_tags_are_screened_against_term_banks(bastion, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    flagged = safetensors(
        tmp_path / "flagged.safetensors",
        {
            "ss_tag_frequency": json.dumps(
                {"10_set": {"harbour": 4, "t3apot on table": 2}, "5_more": {"gulls": 1}}
            ),
            "modelspec.tags": "dawn, ---",
        },
    )
    clean = safetensors(
        tmp_path / "clean.safetensors",
        {"ss_tag_frequency": json.dumps({"set": {"harbour": 4, "gulls": 1}})},
    )
    report = inspect_model(flagged, LIMIT)
    assert report.training_tags == ["harbour", "t3apot on table", "gulls", "dawn", "---"]
    assert [s.value for s in report.tag_signals] == ["harbour", "teapot on table", "guls", "dawn"]
    assert bastion("bank", "create", "prompts").exit_code == 0
    added = bastion("bank", "add", "prompts", "text:teapot", "text:marmalade")
    assert added.exit_code == 0, added.output

    result = bastion("inspect", "--json", "--match", str(flagged), str(clean))

    assert result.exit_code == 0, result.output
    flagged_record, clean_record = (json.loads(line) for line in result.stdout.splitlines())
    assert [(m["bank"], m["signal_type"]) for m in flagged_record["matches"]] == [
        ("prompts", "text")
    ]
    assert flagged_record["training_tags"] == 5
    assert clean_record["matches"] == []
