"""``bastion stamp`` and ``POST /v1/stamp`` call the same stamper."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli import app
from bastion.config import Settings
from bastion.provenance import inspect_bytes
from bastion.samples import encode, photo_like
from tests.service.conftest import Service, start_service
from tests.stamping.conftest import StampCA


def _environment(ca: StampCA, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ca.settings
    monkeypatch.setenv("BASTION_HOME", str(settings.home))
    monkeypatch.setenv("BASTION_STAMP_CERT", str(settings.stamp_cert))
    monkeypatch.setenv("BASTION_STAMP_KEY", str(settings.stamp_key))


def test_bastion_stamp_writes_a_stamped_copy(
    stamp_ca: StampCA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _environment(stamp_ca, monkeypatch)
    source, out = tmp_path / "made.jpg", tmp_path / "stamped.jpg"
    source.write_bytes(encode(photo_like(400, 300, seed=8), "JPEG"))

    result = CliRunner().invoke(
        app,
        [
            "stamp",
            str(source),
            str(out),
            "--no-watermark",
            "--generator",
            "g1",
            "--model",
            "c" * 64,
        ],
    )

    assert result.exit_code == 0, result.output
    said = json.loads(result.stdout)
    assert said == {"out": str(out), "mime": "image/jpeg", "bytes": out.stat().st_size,
                    "c2pa": True, "watermark": None}  # fmt: skip
    assert inspect_bytes(out.read_bytes(), "image/jpeg", stamp_ca.trusting()).level == (
        "ai-generated — verified"
    )


def test_bastion_stamp_refuses_clearly_and_writes_nothing(
    stamp_ca: StampCA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _environment(stamp_ca, monkeypatch)
    source, out = tmp_path / "made.png", tmp_path / "stamped.png"
    source.write_bytes(encode(photo_like(400, 300), "PNG"))

    result = CliRunner().invoke(app, ["stamp", str(source), str(out), "--model", "xyz"])

    assert result.exit_code == 2
    assert "SHA-256" in result.output
    assert not out.exists()
    missing = CliRunner().invoke(app, ["stamp", str(tmp_path / "nope.png"), str(out)])
    assert missing.exit_code == 2
    assert "cannot read" in missing.output


@pytest.fixture
def stamping_service(stamp_ca: StampCA, settings: Settings) -> Iterator[Service]:
    yield from start_service(
        replace(
            settings, stamp_cert=stamp_ca.settings.stamp_cert, stamp_key=stamp_ca.settings.stamp_key
        )
    )


def test_v1_stamp_answers_the_stamped_image(stamping_service: Service, stamp_ca: StampCA) -> None:
    image = encode(photo_like(320, 320, seed=9), "PNG")

    answer = stamping_service.client.post(
        "/v1/stamp",
        files={"file": ("made.png", image, "image/png")},
        data={"watermark": "false", "generator": "g2"},
        headers=stamping_service.auth("client"),
    )

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/png"
    assert json.loads(answer.headers["x-bastion-stamp"])["c2pa"] is True
    assert inspect_bytes(answer.content, "image/png", stamp_ca.trusting()).level == (
        "ai-generated — verified"
    )


def test_v1_stamp_refuses_with_the_error_code(stamping_service: Service) -> None:
    answer = stamping_service.client.post(
        "/v1/stamp",
        files={"file": ("a.txt", b"plain words", "text/plain")},
        headers=stamping_service.auth("client"),
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "stamp-refused"
    anonymous = stamping_service.client.post(
        "/v1/stamp", files={"file": ("a.png", encode(photo_like(300, 300), "PNG"), "image/png")}
    )
    assert anonymous.status_code == 401
