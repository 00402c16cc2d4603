"""Benign evidence for case tests: generated pictures that carry, or lack, provenance.

Each picture is a generated image of colour fields (``bastion.samples``), so
its PDQ is of good quality and distinct from the others'; copies and
resized versions of it are its near-duplicates.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from bastion import audit
from bastion.banks import Banks
from bastion.cases.building import VIDEO_FRAMES, AddReport, CaseBuilder
from bastion.cases.records import CaseRecord
from bastion.config import Settings
from bastion.hashing import hash_file
from bastion.matching import Index
from bastion.scan.engine import ScanPlan, bank_versions, local_engine, run_scan
from bastion.scan.sources import SourceOptions
from bastion.store import Store
from tests.images import photo_like
from tests.provenance.test_c2pa_signing import SigningCA

A1111 = (
    "placeholder words\nSteps: 20, Sampler: Euler a, Seed: 1, Model hash: 0123456789, Model: base"
)
#: EXIF tags: Make, Model, and in the Exif IFD DateTimeOriginal and BodySerialNumber.
MAKE, MODEL, EXIF_IFD, DATE_TIME_ORIGINAL, BODY_SERIAL, GPS_IFD = (
    0x010F,
    0x0110,
    0x8769,
    0x9003,
    0xA431,
    0x8825,
)


def picture(seed: int, side: int = 320) -> Image.Image:
    return photo_like(side, side * 3 // 4, seed)


def jpeg(image: Image.Image, exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, **({"exif": exif.tobytes()} if exif else {}))
    return out.getvalue()


def camera_exif(
    *, make: str = "Placeholder Cam", serial: str = "SN-0001", gps: bool = True
) -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE] = make
    exif[MODEL] = f"{make} One"
    exif.get_ifd(EXIF_IFD)[DATE_TIME_ORIGINAL] = "2019:07:14 10:20:30"
    exif.get_ifd(EXIF_IFD)[BODY_SERIAL] = serial
    if gps:
        exif.get_ifd(GPS_IFD).update({1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 30.0)})
    return exif


def a1111_png(image: Image.Image) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111)
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()


@dataclass
class Evidence:
    """Where each kind of file was written (its folder is the evidence to scan)."""

    folder: Path
    camera: Path  # EXIF camera, with an exact copy and a resized copy
    camera_copy: Path
    camera_resized: Path
    plain: Path  # no provenance at all
    known_categorised: Path  # in bank vic with projectvic:1
    known_uncategorised: Path  # in bank other, no category
    verified: Path  # C2PA trainedAlgorithmicMedia signed by a trusted CA
    declared: Path  # A1111 parameters
    capture: Path  # C2PA digitalCapture signed by the trusted CA
    broken: Path  # not an image


def write_evidence(folder: Path, ca: SigningCA) -> Evidence:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "copies").mkdir()

    def put(name: str, data: bytes) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    camera_bytes = jpeg(picture(1), camera_exif())
    return Evidence(
        folder=folder,
        camera=put("camera.jpg", camera_bytes),
        camera_copy=put("copies/camera-copy.jpg", camera_bytes),
        camera_resized=put("copies/camera-small.jpg", jpeg(picture(1).resize((240, 180)))),
        plain=put("plain.jpg", jpeg(picture(2))),
        known_categorised=put("known-1.jpg", jpeg(picture(3))),
        known_uncategorised=put("known-2.jpg", jpeg(picture(4))),
        verified=put("verified.jpg", ca.sign("trainedAlgorithmicMedia", jpeg(picture(5)))),
        declared=put("declared.png", a1111_png(picture(6))),
        capture=put("capture.jpg", ca.sign("digitalCapture", jpeg(picture(7)))),
        broken=put("broken.jpg", b"\xff\xd8\xff\xe0 not really a jpeg"),
    )


def bank_evidence(store: Store, evidence: Evidence) -> None:
    """Bank ``vic`` holds the first known file (category 1), ``other`` the second."""
    banks = Banks(store, actor="test")
    banks.create("vic")
    banks.create("other")
    for bank, path, labels in (
        ("vic", evidence.known_categorised, ["projectvic:1"]),
        ("other", evidence.known_uncategorised, []),
    ):
        fingerprint = hash_file(path)
        md5 = next(s for s in fingerprint.signals if s.type == "md5")
        banks.add_signals(bank, [md5], labels)


def scan_into_case(
    store: Store, settings: Settings, case: CaseRecord, sources: list[Path]
) -> AddReport:
    """What ``bastion case create|add`` does, without the progress bar."""
    builder = CaseBuilder(store, "test")
    index = Index.open(store, settings)
    index.restrict(list(case.banks))
    out = builder.scan_folder(case)
    paths = [str(path.resolve()) for path in sources]
    versions = bank_versions(Banks(store, actor="test"), index)
    plan = ScanPlan(paths, SourceOptions(), versions, video=VIDEO_FRAMES)
    run_scan(plan, out, local_engine(1), index=index, settings=settings)
    return builder.add_scanned(case, paths, out)


def new_case(
    store: Store,
    folder: Path,
    name: str = "op-test",
    *,
    banks: tuple[str, ...] = ("vic", "other"),
    scheme: str = "projectvic",
    categories: tuple[str, ...] = (),
) -> CaseRecord:
    return CaseBuilder(store, audit.cli_actor()).create(
        name,
        banks=banks,
        scheme=scheme,
        categories=categories,
        pdq_threshold=31,
        folder=folder / "cases" / name,
    )
