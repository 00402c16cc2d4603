"""An optional learned detector: a user-supplied ONNX classifier.

No weights ship with Bastion and none are downloaded.  The contract a model
must meet (docs/provenance.md):

* one input, float32, shape ``[N, 3, H, W]``: RGB scaled to 0..1, the image
  resized to ``H x W`` (taken from the model; 224 x 224 where it is dynamic);
* one output, ``[N, 1]`` or ``[N]``: the probability that the image is
  generated, or ``[N, 2]``: probabilities of (not generated, generated).

Its score is weak evidence: classifiers are opaque and fail on generators
they were not trained on, so a score never outranks declared metadata.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from bastion.errors import BastionError
from bastion.provenance.evidence import Evidence, Origin, Strength

READER = "detector"
_DEFAULT_SIDE = 224


class DetectorError(BastionError, ValueError):
    """A model that cannot be loaded or does not meet the contract."""

    code = "detector-error"
    status = 500


class OnnxDetector:
    def __init__(self, path: Path, threshold: float = 0.5) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise DetectorError(
                "--detector needs onnxruntime: pip install 'bastion[detector]'"
            ) from None
        try:
            self._session = onnxruntime.InferenceSession(
                str(path), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
            raise DetectorError(f"cannot load ONNX model {path}: {exc}") from None
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise DetectorError(f"{path}: expected one input of shape [N, 3, H, W]")
        height, width = inputs[0].shape[2:]
        self._input = inputs[0].name
        self._size = (
            width if isinstance(width, int) else _DEFAULT_SIDE,
            height if isinstance(height, int) else _DEFAULT_SIDE,
        )
        self.name = path.name
        self.threshold = threshold

    def score(self, image: Image.Image) -> float:
        pixels = np.asarray(image.convert("RGB").resize(self._size, Image.Resampling.BILINEAR))
        batch = (pixels.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        (output,) = self._session.run(None, {self._input: batch})[:1]
        values = np.asarray(output, dtype=np.float64).reshape(-1)
        if values.size == 2:
            return float(values[1])
        if values.size != 1:
            raise DetectorError(f"{self.name}: expected 1 or 2 outputs, got {values.size}")
        return float(values[0])

    def evidence(self, image: Image.Image) -> list[Evidence]:
        score = self.score(image)
        detail = {"model": self.name, "score": round(score, 4), "threshold": self.threshold}
        if score >= self.threshold:
            summary = f"detector {self.name} scores {score:.2f} for generated (weak evidence)"
            return [Evidence(READER, Strength.ESTIMATED, summary, Origin.AI_GENERATED, detail)]
        summary = f"detector {self.name} scores {score:.2f} for generated (below {self.threshold})"
        return [Evidence(READER, Strength.NOTE, summary, detail=detail)]
