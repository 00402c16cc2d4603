"""Stamp, then inspect: a signed manifest verifies with the CA trusted, the
watermark alone is a declaration, and what cannot be stamped says why."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import c2pa
import pytest
from PIL import Image

from bastion.config import ConfigError, Settings
from bastion.provenance import InspectOptions, Strength, inspect_bytes
from bastion.provenance.watermark import DEFAULT_MESSAGE
from bastion.provenance.watermark_embed import WatermarkError
from bastion.samples import encode, photo_like
from bastion.stamping import Stamper, StampError, StampOptions
from bastion.stamping.stamper import MODEL_ASSERTION
from tests.stamping.conftest import StampCA

MODEL = "ab" * 32


def _manifest(data: bytes, mime: str) -> dict[str, object]:
    store = json.loads(c2pa.Reader(mime, io.BytesIO(data)).json())
    manifest: dict[str, object] = store["manifests"][store["active_manifest"]]
    return manifest


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_a_signed_stamp_verifies_when_its_ca_is_trusted(
    stamp_ca: StampCA, fmt: str, mime: str
) -> None:
    image = encode(photo_like(512, 384, seed=3), fmt)
    options = StampOptions(watermark=False, generator="placeholder-gen", model_sha256=MODEL)

    stamped = Stamper(stamp_ca.settings).stamp(image, options)

    assert stamped.mime == mime
    assert stamped.c2pa
    assert stamped.watermark is None
    trusted = inspect_bytes(stamped.data, mime, stamp_ca.trusting())
    assert trusted.level == "ai-generated — verified"
    assert trusted.evidence[0].strength is Strength.VERIFIED
    untrusted = inspect_bytes(stamped.data, mime, Settings())
    assert untrusted.level == "ai-generated — signed by an untrusted signer"
    manifest = _manifest(stamped.data, mime)
    assertions = {a["label"]: a["data"] for a in manifest["assertions"]}  # type: ignore[attr-defined]
    [created] = assertions["c2pa.actions.v2"]["actions"]
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"].endswith("/trainedAlgorithmicMedia")
    assert created["softwareAgent"]["name"] == "placeholder-gen"
    assert assertions[MODEL_ASSERTION] == {"generator": "placeholder-gen", "sha256": MODEL}


def test_the_python_door_stamps_a_file(stamp_ca: StampCA, tmp_path: Path) -> None:
    import bastion

    path = tmp_path / "out.png"
    path.write_bytes(encode(photo_like(300, 300, seed=4), "PNG"))

    signed = bastion.stamp(path, watermark=False, generator="g", settings=stamp_ca.settings)

    assert inspect_bytes(signed, "image/png", stamp_ca.trusting()).level == (
        "ai-generated — verified"
    )


def test_the_signer_is_loaded_once_per_stamper(
    stamp_ca: StampCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bastion.stamping.stamper as module

    loads: list[Settings] = []
    real = module.load_signer
    monkeypatch.setattr(module, "load_signer", lambda s: loads.append(s) or real(s))
    stamper = Stamper(stamp_ca.settings)
    for seed in range(3):
        stamper.stamp(encode(photo_like(256, 256, seed=seed), "PNG"), StampOptions(watermark=False))
    assert len(loads) == 1


def test_a_key_others_may_read_is_refused(stamp_ca: StampCA, tmp_path: Path) -> None:
    assert stamp_ca.settings.stamp_key is not None
    leaked = tmp_path / "key.pem"
    leaked.write_bytes(stamp_ca.settings.stamp_key.read_bytes())
    leaked.chmod(0o640)
    settings = replace(stamp_ca.settings, stamp_key=leaked)

    with pytest.raises(ConfigError, match="chmod 600"):
        Stamper(settings).stamp(encode(photo_like(256, 256), "PNG"), StampOptions(watermark=False))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (Settings(), "BASTION_STAMP_KEY is not set"),
    ],
)
def test_signing_without_configuration_says_what_is_missing(
    settings: Settings, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Stamper(settings).stamp(encode(photo_like(256, 256), "PNG"), StampOptions(watermark=False))


def test_a_certificate_file_without_a_certificate_is_refused(
    stamp_ca: StampCA, tmp_path: Path
) -> None:
    empty = tmp_path / "chain.pem"
    empty.write_text("not a certificate\n")
    settings = replace(stamp_ca.settings, stamp_cert=empty)
    with pytest.raises(ConfigError, match="holds no PEM certificate"):
        Stamper(settings).stamp(encode(photo_like(256, 256), "PNG"), StampOptions(watermark=False))


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 300), "white").save(out, "GIF")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "options", "message"),
    [
        (_gif(), StampOptions(), "cannot stamp image/gif"),
        (b"not an image at all", StampOptions(), "cannot stamp"),
        (encode(photo_like(64, 64), "PNG"), StampOptions(c2pa=False, watermark=False), "nothing"),
        (encode(photo_like(64, 64), "PNG"), StampOptions(model_sha256="abc"), "SHA-256"),
        (encode(photo_like(64, 64), "PNG"), StampOptions(generator=" "), "generator"),
        (encode(photo_like(64, 64), "PNG"), StampOptions(message=b"short"), "6 bytes"),
    ],
)
def test_what_cannot_be_stamped_says_why(
    stamp_ca: StampCA, data: bytes, options: StampOptions, message: str
) -> None:
    with pytest.raises(StampError, match=message) as refused:
        Stamper(stamp_ca.settings).stamp(data, options)
    assert refused.value.code == "stamp-refused"


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_the_watermark_alone_is_read_as_a_declaration(fmt: str, mime: str) -> None:
    image = encode(photo_like(768, 512, seed=12), fmt)

    stamped = Stamper(Settings()).stamp(image, StampOptions(c2pa=False))

    assert stamped.watermark == DEFAULT_MESSAGE.hex()
    assert not stamped.c2pa
    seen = inspect_bytes(stamped.data, mime, Settings(), InspectOptions(watermarks=True))
    assert seen.level == "ai-generated — declared"
    [mark] = [e for e in seen.evidence if e.reader == "watermark"]
    assert mark.detail["message"] == DEFAULT_MESSAGE.hex()
    unmarked = inspect_bytes(image, mime, Settings(), InspectOptions(watermarks=True))
    assert not [e for e in unmarked.evidence if e.reader == "watermark"]


def test_both_marks_verify_and_the_watermark_outlives_the_manifest(stamp_ca: StampCA) -> None:
    image = encode(photo_like(640, 480, seed=13), "PNG")

    stamped = Stamper(stamp_ca.settings).stamp(image, StampOptions(generator="g"))

    options = InspectOptions(watermarks=True)
    both = inspect_bytes(stamped.data, "image/png", stamp_ca.trusting(), options)
    assert both.level == "ai-generated — verified"
    assert {e.reader for e in both.evidence} >= {"c2pa", "watermark"}
    stripped = io.BytesIO()
    Image.open(io.BytesIO(stamped.data)).save(stripped, "PNG")  # the manifest is lost
    alone = inspect_bytes(stripped.getvalue(), "image/png", stamp_ca.trusting(), options)
    assert alone.level == "ai-generated — declared"


def test_a_jpeg_keeps_its_chroma_so_the_mark_survives_its_own_encoding() -> None:
    stamped = Stamper(Settings()).stamp(
        encode(photo_like(512, 512, seed=14), "JPEG"), StampOptions(c2pa=False)
    )
    with Image.open(io.BytesIO(stamped.data)) as image:
        assert image.layer == [(1, 1, 1, 0), (2, 1, 1, 1), (3, 1, 1, 1)]  # 4:4:4


def test_an_image_too_small_or_too_flat_for_the_mark_is_refused() -> None:
    small = encode(photo_like(200, 300), "PNG")
    with pytest.raises(WatermarkError, match="256"):
        Stamper(Settings()).stamp(small, StampOptions(c2pa=False))
    flat = encode(Image.new("RGB", (400, 400), "white"), "PNG")
    with pytest.raises(WatermarkError):
        Stamper(Settings()).stamp(flat, StampOptions(c2pa=False))
