"""A user-supplied ONNX classifier, built here: its score is weak evidence."""

from __future__ import annotations

import io
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image
from typer.testing import CliRunner

from bastion.cli import app
from bastion.config import Settings
from bastion.provenance import InspectOptions, Strength, inspect_bytes
from bastion.provenance.detector import DetectorError, OnnxDetector
from tests.provenance.files import png


def mean_brightness_model(path: Path, *, two_classes: bool = False, side: int | str = 32) -> Path:
    """A 'classifier' whose score is the mean pixel value: predictable on test images."""
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, side, side])
    nodes = [helper.make_node("ReduceMean", ["image"], ["score"], axes=[1, 2, 3], keepdims=0)]
    outputs = ["score"]
    if two_classes:
        one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
        nodes += [
            helper.make_node("Sub", ["one", "score"], ["other"]),
            helper.make_node("Unsqueeze", ["score", "axis"], ["s1"]),
            helper.make_node("Unsqueeze", ["other", "axis"], ["o1"]),
            helper.make_node("Concat", ["o1", "s1"], ["probabilities"], axis=1),
        ]
        initializers = [one, helper.make_tensor("axis", TensorProto.INT64, [1], [1])]
        outputs = ["probabilities"]
    else:
        initializers = []
    shape = ["N", 2] if two_classes else ["N"]
    graph = helper.make_graph(
        nodes,
        "brightness",
        [image],
        [helper.make_tensor_value_info(outputs[0], TensorProto.FLOAT, shape)],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def solid(value: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (value, value, value)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("two_classes", [False, True])
def test_score_above_threshold_is_estimated_evidence(tmp_path: Path, two_classes: bool) -> None:
    detector = OnnxDetector(
        mean_brightness_model(tmp_path / "m.onnx", two_classes=two_classes), 0.5
    )
    options = InspectOptions(detector=detector)
    bright = inspect_bytes(solid(230), None, Settings(), options)
    assert bright.level == "ai-generated — estimated"
    (evidence,) = bright.evidence
    assert evidence.strength is Strength.ESTIMATED
    assert evidence.detail["score"] == pytest.approx(230 / 255, abs=1e-3)
    dark = inspect_bytes(solid(20), None, Settings(), options)
    assert dark.level == "no provenance evidence"
    assert dark.evidence[0].strength is Strength.NOTE


def test_declared_metadata_outranks_a_detector(tmp_path: Path) -> None:
    detector = OnnxDetector(mean_brightness_model(tmp_path / "m.onnx", side="H"), 0.0)
    data = png({"Software": "NovelAI"})
    result = inspect_bytes(data, None, Settings(), InspectOptions(detector=detector))
    assert result.level == "ai-generated — declared"
    assert {e.reader for e in result.evidence} == {"generator", "detector"}


def test_a_model_that_is_not_onnx_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"placeholder")
    with pytest.raises(DetectorError, match="cannot load ONNX model"):
        OnnxDetector(bogus)
    result = CliRunner().invoke(app, ["inspect", "--detector", str(bogus), str(bogus)])
    assert result.exit_code == 2
    assert "cannot load ONNX model" in result.stderr
