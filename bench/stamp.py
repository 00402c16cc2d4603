"""Stamping generated images, and checking them before they leave.

Usage:  python bench/stamp.py [--images 12] [--side 1024] [--repeats 3]

Stamping (PNG and JPEG, ``--side`` px photo-like images), ms per image:

  floor      c2pa-python signing alone: a Builder with the same manifest,
             signed with an already loaded Signer (what any stamper must do)
  watermark  the watermark's own cost: decode, ``embed_watermark``, encode
  stamp      ``Stamper.stamp`` with both marks (what ``bastion stamp`` runs)

Required: stamp <= 1.5 x (floor + watermark).

The generation check's added latency over ``/v1/scan`` (``--check``, in
process through the ASGI test client, so the HTTP layer is the same for
both): p50 ms of ``POST /v1/scan`` and of ``POST /v1/generation-check``
with a prompt screened against a term bank of ``--terms`` placeholder terms.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bastion.config import Settings  # noqa: E402 (after the path that finds tests/)


def _best_of(repeats: int, work: Callable[[], None]) -> float:
    """The fastest of ``repeats`` runs, in seconds (the least disturbed by neighbours)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def stamping(images: int, side: int, repeats: int, folder: Path) -> list[dict[str, object]]:
    from tests.stamping.conftest import write_stamp_ca

    settings = write_stamp_ca(folder / "ca").settings
    return [
        _stamping_row(settings, fmt, mime, save, images, side, repeats)
        for fmt, mime, save in (
            ("PNG", "image/png", {}),
            ("JPEG", "image/jpeg", {"quality": 95, "subsampling": 0}),
        )
    ]


def _stamping_row(
    settings: Settings,
    fmt: str,
    mime: str,
    save: dict[str, int],
    images: int,
    side: int,
    repeats: int,
) -> dict[str, object]:
    """One format's figures: the signing floor, the watermark's cost, the stamp."""
    from PIL import Image

    from bastion.provenance.watermark import DEFAULT_MESSAGE
    from bastion.provenance.watermark_embed import embed_watermark
    from bastion.samples import encode, photo_like
    from bastion.stamping import Stamper, StampOptions
    from bastion.stamping.signer import load_signer
    from bastion.stamping.stamper import sign_manifest

    signer = load_signer(settings)
    options = StampOptions(generator="bench-model", model_sha256="ab" * 32)
    inputs = [encode(photo_like(side, side * 3 // 4, seed=n), fmt, **save) for n in range(images)]

    def floor() -> None:
        for data in inputs:
            sign_manifest(data, mime, signer, options)

    def watermark() -> None:
        for data in inputs:
            marked = embed_watermark(Image.open(io.BytesIO(data)), DEFAULT_MESSAGE)
            marked.save(io.BytesIO(), fmt, **save)

    stamper = Stamper(settings)
    stamper.stamp(inputs[0], options)  # the signer loaded, as in a long-running stamper

    def stamp() -> None:
        for data in inputs:
            stamper.stamp(data, options)

    per = {name: _best_of(repeats, work) / images * 1000 for name, work in
           (("floor", floor), ("watermark", watermark), ("stamp", stamp))}  # fmt: skip
    ratio = per["stamp"] / (per["floor"] + per["watermark"])
    return {"format": fmt, **{f"{k}_ms": round(v, 1) for k, v in per.items()},
            "ratio": round(ratio, 2), "required": 1.5}  # fmt: skip


#: A prompt of plain words none of the made-up terms is near (the allowed path).
CLEAN_PROMPT = "a quiet harbour at dawn, fishing boats and gulls, soft light, " * 4


def check_latency(terms: int, requests: int, folder: Path) -> dict[str, object]:
    """p50 ms of /v1/scan and /v1/generation-check on the same image."""
    from fastapi.testclient import TestClient
    from tests.signals.words import placeholder_word

    from bastion.banks import Banks
    from bastion.samples import encode, photo_like
    from bastion.service.app import create_app
    from bastion.signals.types import Signal
    from bastion.store import Store

    settings = Settings(home=folder / "home")
    store = Store.open(settings)
    rng = random.Random(1)
    words = sorted({placeholder_word(rng) for _ in range(terms * 2)})[:terms]
    banks = Banks(store, actor="bench")
    banks.create("TERMS")
    banks.add_signals("TERMS", [Signal("text", word) for word in words])
    banks.create("HASHES")
    banks.add_signals("HASHES", [Signal("md5", "0" * 31 + "1")])
    store.dispose()
    app = create_app(settings, wait_for_index=True)
    image = encode(photo_like(1024, 768, seed=3), "JPEG")
    prompt = " ".join(placeholder_word(rng) for _ in range(40))
    with TestClient(app) as client:
        state = app.state.bastion
        key = state.accounts.create_key("bench", "client", actor="bench")[0]
        headers = {"Authorization": f"Bearer {key}"}
        files = {"file": ("out.jpg", image, "image/jpeg")}

        def timed(path: str, data: dict[str, str]) -> tuple[float, str]:
            times = []
            for _ in range(requests):
                start = time.perf_counter()
                answer = client.post(path, files=files, data=data, headers=headers)
                times.append(time.perf_counter() - start)
                assert answer.status_code == 200, answer.text
            return statistics.median(times) * 1000, str(answer.json()["verdict"])

        scan, _ = timed("/v1/scan", {})
        rows = {"terms": terms, "scan_p50_ms": round(scan, 1)}
        for path, text in (("allowed", CLEAN_PROMPT), ("blocked", prompt)):
            check, verdict = timed("/v1/generation-check", {"prompt": text})
            rows[f"check_{path}_p50_ms"] = round(check, 1)
            rows[f"check_{path}_added_ms"] = round(check - scan, 1)
            rows[f"check_{path}_verdict"] = verdict
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--terms", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--no-check", action="store_true", help="Stamping only.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for row in stamping(args.images, args.side, args.repeats, Path(folder)):
            print(json.dumps(row), flush=True)
        if not args.no_check:
            print(json.dumps(check_latency(args.terms, args.requests, Path(folder))), flush=True)


if __name__ == "__main__":
    main()
