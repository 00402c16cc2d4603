"""Model files (``.safetensors``, ``.ckpt``, ``.pt``) and the hashes that name them.

Model-sharing sites and image generators name a model by hashes of its
file: the SHA-256, its first 10 hex digits ("AutoV2") and, in old
AUTOMATIC1111 output, 8 hex digits of the SHA-256 of 64 KiB at offset 1 MiB.
A safetensors header is JSON with an ``__metadata__`` map (training
settings such as ``ss_output_name``, ``ss_tag_frequency``, ``modelspec.*``);
it is read without loading tensors.  Pickle-based checkpoints are never
unpickled: doing so runs code from the file.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from bastion.fingerprint import Signal
from bastion.provenance.evidence import Evidence, Strength
from bastion.signals.types import InvalidSignal, normalize_signal

READER = "model"
MODEL_SUFFIXES = frozenset({".safetensors", ".ckpt", ".pt", ".pth", ".bin"})
_CHUNK = 1 << 20
_LEGACY_OFFSET, _LEGACY_LENGTH = 0x100000, 0x10000


@dataclass(slots=True)
class ModelReport:
    path: str
    format: str
    size: int
    sha256: str
    autov2: str
    legacy_hash: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    tensors: int | None = None
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def signals(self) -> list[Signal]:
        """The file's hash, for model banks, and its training tags, for term banks."""
        return [Signal("model_sha256", self.sha256), *self.tag_signals]

    @property
    def training_tags(self) -> list[str]:
        """The tags the model was trained on, as training tools record them:
        ``ss_tag_frequency`` ({dataset folder: {tag: count}}) and the
        comma-separated ``modelspec.tags``; each once, in the order found."""
        tags: list[str] = []
        frequencies = self.metadata.get("ss_tag_frequency")
        if isinstance(frequencies, dict):
            for folder in frequencies.values():
                if isinstance(folder, dict):
                    tags += [str(tag) for tag in folder]
        listed = self.metadata.get("modelspec.tags")
        if isinstance(listed, str):
            tags += listed.split(",")
        return list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))

    @property
    def tag_signals(self) -> list[Signal]:
        """The training tags as ``text`` signals; a tag with no letter or digit
        holds no term, and is left out."""
        found = []
        for tag in self.training_tags:
            try:
                found.append(normalize_signal("text", tag))
            except InvalidSignal:
                continue
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "size": self.size,
            "sha256": self.sha256,
            "autov2": self.autov2,
            "legacy_hash": self.legacy_hash,
            "tensors": self.tensors,
            "training_tags": len(self.training_tags),
            "metadata": self.metadata,
            "evidence": [e.to_dict() for e in self.evidence],
        }


def is_model_file(path: Path) -> bool:
    return path.suffix.lower() in MODEL_SUFFIXES


def _file_hashes(path: Path) -> tuple[str, str | None]:
    """SHA-256 of the whole file, streamed, and the legacy A1111 hash."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
        legacy = None
        if stream.tell() >= _LEGACY_OFFSET + _LEGACY_LENGTH:
            stream.seek(_LEGACY_OFFSET)
            legacy = hashlib.sha256(stream.read(_LEGACY_LENGTH)).hexdigest()[:8]
    return digest.hexdigest(), legacy


def inspect_model(path: Path, limit: int) -> ModelReport:
    """Hashes and header metadata of one model file (``limit``: largest header read)."""
    sha256, legacy = _file_hashes(path)
    size = path.stat().st_size
    report = ModelReport(str(path), "unknown", size, sha256, sha256[:10], legacy)
    with path.open("rb") as stream:
        head = stream.read(9)
        if head.startswith(b"PK\x03\x04"):
            report.format = "PyTorch zip checkpoint (pickle inside; not opened)"
        elif head[:1] == b"\x80":
            report.format = "pickle checkpoint (not opened: unpickling runs code)"
        elif len(head) >= 8 and (path.suffix.lower() == ".safetensors" or head[8:] == b"{"):
            report.format = "safetensors"
            stream.seek(8)
            _safetensors_header(stream, head[:8], size, limit, report)
    summary = f"model file, SHA-256 {sha256[:16]}…, AutoV2 {report.autov2}"
    detail = {"sha256": sha256, "autov2": report.autov2, "format": report.format}
    report.evidence.insert(0, Evidence(READER, Strength.NOTE, summary, detail=detail))
    return report


def _safetensors_header(
    stream: BinaryIO, head: bytes, size: int, limit: int, report: ModelReport
) -> None:
    (length,) = struct.unpack("<Q", head)
    problem = None
    if length > limit:
        problem = f"safetensors header claims {length:,} bytes (limit {limit:,})"
    elif 8 + length > size:
        problem = f"safetensors header of {length:,} bytes runs past the end of the file"
    else:
        try:
            header = json.loads(stream.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            problem = f"safetensors header is not valid JSON ({exc})"
        else:
            if not isinstance(header, dict):
                problem = "safetensors header is not a JSON object"
            else:
                metadata = header.pop("__metadata__", None) or {}
                report.metadata = {str(k): _parsed(v) for k, v in dict(metadata).items()}
                report.tensors = len(header)
    if problem is not None:
        report.format = "safetensors?"
        report.evidence.append(Evidence(READER, Strength.UNREADABLE, f"unreadable: {problem}"))


def _parsed(value: Any) -> Any:
    """Training tools store JSON (tag frequencies, datasets) as strings: unpack it."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def model_signals(evidence: list[Evidence]) -> list[Signal]:
    """Signals of the models that generator metadata names by hash.

    Full SHA-256 hashes and AutoV2 prefixes can be matched against banks of
    model hashes; the legacy 8-digit hash cannot be derived from a SHA-256.
    """
    found: list[Signal] = []
    for item in evidence:
        for model in item.detail.get("models", []) if item.reader == "generator" else []:
            value = model.get("hash") or ""
            if len(value) == 64:
                found.append(Signal("model_sha256", value))
            elif len(value) == 10:
                found.append(Signal("model_autov2", value))
    return list(dict.fromkeys(found))
