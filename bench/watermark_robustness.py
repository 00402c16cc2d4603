"""Bastion's dwtDct stamp: what survives common edits, and what embedding costs.

Usage:  python bench/watermark_robustness.py [--images N] [--repeats N]

Stamps Bastion's default message into N images of each of two sets, 1024 x
1024 as a generator's outputs are:

  photos     the photo corpus (../shared/scripts/photo-corpus, via
             bench/hashing.py's 1920 px set), centre square, resized
  synthetic  bastion.samples.photo_like (smooth colour fields and shapes)

(an image that cannot carry a readable mark - a flat white one - is refused
and counted apart), then applies each edit and counts the images `bastion inspect --watermarks`
still recognises (bits agreeing >= the reader's THRESHOLD, 0.75), and the
mean fraction of bits read back (0.5 is chance).  Edits: a lossless PNG save,
JPEG at quality 95, 90 and 75, a resize to half, a crop of 10% off each
edge, and the central 50%.

Then the embedding time per 1024 x 1024 image, Bastion's embed_watermark
against the invisible-watermark package's WatermarkEncoder.encode(bgr,
'dwtDct') on the same pixels, repeats interleaved, medians and their ratio.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import io
import statistics
import sys
import time
from collections.abc import Callable
from types import ModuleType

import numpy as np
from PIL import Image

from bastion.provenance.watermark import (
    DEFAULT_MESSAGE,
    bits_of,
    block_votes,
    read_bits,
    read_watermarks,
)
from bastion.provenance.watermark_embed import WatermarkError, embed_watermark
from bastion.samples import photo_like

SIDE = 1024


def _jpeg(quality: int, subsampling: int = -1) -> Callable[[Image.Image], Image.Image]:
    """A JPEG save; ``subsampling`` 0 keeps full chroma (4:4:4), -1 is Pillow's 4:2:0."""

    def save(image: Image.Image) -> Image.Image:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, subsampling=subsampling)
        return Image.open(out)

    return save


def _png(image: Image.Image) -> Image.Image:
    out = io.BytesIO()
    image.save(out, "PNG")
    return Image.open(out)


def _half(image: Image.Image) -> Image.Image:
    return image.resize((image.width // 2, image.height // 2))


def _crop(margin: float) -> Callable[[Image.Image], Image.Image]:
    def crop(image: Image.Image) -> Image.Image:
        dx, dy = round(image.width * margin), round(image.height * margin)
        return image.crop((dx, dy, image.width - dx, image.height - dy))

    return crop


#: Each edit, by the name the table and docs use.
EDITS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "png": _png,
    # How `bastion stamp` itself writes a JPEG: the mark lives in a chroma plane.
    "jpeg-95-444": _jpeg(95, subsampling=0),
    "jpeg-95": _jpeg(95),
    "jpeg-90": _jpeg(90),
    "jpeg-75": _jpeg(75),
    "resize-0.5": _half,
    "crop-10%": _crop(0.10),
    "crop-centre-50%": _crop(0.25),
}


def stamp_all(images: list[Image.Image], message: bytes) -> list[tuple[Image.Image, Image.Image]]:
    """Each image that can carry the mark, and its stamped copy (the rest are refused)."""
    pairs = []
    for image in images:
        try:
            pairs.append((image, embed_watermark(image, message)))
        except WatermarkError:
            continue
    return pairs


def measure(stamped: list[Image.Image], message: bytes) -> dict[str, tuple[float, float]]:
    """Per edit: the fraction of stamped images the reader still recognises,
    and the mean fraction of the message's bits read back."""
    results = {}
    for name, edit in EDITS.items():
        edited = [edit(image) for image in stamped]
        found = [
            any(e.detail["message"] == message.hex() for e in read_watermarks(image, (message,)))
            for image in edited
        ]
        agreement = [
            float(
                (
                    read_bits(block_votes(np.asarray(image.convert("RGB"))), 48) == bits_of(message)
                ).mean()
            )
            for image in edited
        ]
        results[name] = (statistics.fmean(found), statistics.fmean(agreement))
    return results


def detection_rates(images: list[Image.Image], message: bytes) -> dict[str, float]:
    """Per edit, the fraction of stamped images still recognised."""
    stamped = [marked for _, marked in stamp_all(images, message)]
    return {name: rate for name, (rate, _) in measure(stamped, message).items()}


def import_reference() -> ModuleType:
    """The invisible-watermark package, imported without torch.

    Its ``__init__`` imports ``rivaGan``, which imports torch at module level
    for the rivaGan method alone; dwtDct needs only cv2, numpy and pywt.  An
    empty stand-in satisfies that one import and is removed again at once, so
    nothing else mistakes it for torch (a call into rivaGan fails loudly)."""
    stand_in = "torch" not in sys.modules and importlib.util.find_spec("torch") is None
    if stand_in:
        sys.modules["torch"] = ModuleType("torch")
    try:
        return importlib.import_module("imwatermark")
    finally:
        if stand_in:
            del sys.modules["torch"]


def _square(path: object) -> Image.Image:
    with Image.open(path) as photo:  # type: ignore[arg-type]
        side = min(photo.size)
        left, top = (photo.width - side) // 2, (photo.height - side) // 2
        square = photo.convert("RGB").crop((left, top, left + side, top + side))
    return square.resize((SIDE, SIDE), Image.Resampling.LANCZOS)


def _embed_seconds(images: list[Image.Image], repeats: int) -> tuple[float, float]:
    """Median seconds per image: Bastion's embedder, and the package's encoder."""
    encoder = import_reference().WatermarkEncoder()
    encoder.set_watermark("bytes", DEFAULT_MESSAGE)
    bgrs = [np.ascontiguousarray(np.asarray(image)[..., ::-1]) for image in images]
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(repeats):
        for image, bgr in zip(images, bgrs, strict=True):
            start = time.perf_counter()
            embed_watermark(image, DEFAULT_MESSAGE)
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            encoder.encode(bgr, "dwtDct")
            theirs.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=60, help="images per set")
    parser.add_argument("--repeats", type=int, default=3, help="timing passes over 10 images")
    args = parser.parse_args()
    from hashing import build_sets  # bench/ is the script's own directory

    sets = {
        "photos": [_square(path) for path in build_sets()["1920px"][: args.images]],
        "synthetic": [photo_like(SIDE, SIDE, seed) for seed in range(args.images)],
    }
    stamped = {name: stamp_all(images, DEFAULT_MESSAGE) for name, images in sets.items()}
    results = {
        name: measure([marked for _, marked in pairs], DEFAULT_MESSAGE)
        for name, pairs in stamped.items()
    }
    counts = ", ".join(
        f"{name} {len(stamped[name])} stamped of {len(images)}" for name, images in sets.items()
    )
    print(f"dwtDct stamp {DEFAULT_MESSAGE.hex()} at {SIDE} x {SIDE}: {counts}")
    print(f"{'edit':<16}" + "".join(f"{name + ' found':>16}{'agreement':>11}" for name in sets))
    for edit in EDITS:
        cells = "".join(
            f"{results[name][edit][0]:>16.0%}{results[name][edit][1]:>11.2f}" for name in sets
        )
        print(f"{edit:<16}{cells}")
    ours, theirs = _embed_seconds([image for image, _ in stamped["photos"][:10]], args.repeats)
    print(
        f"embed per {SIDE} x {SIDE} image: bastion {ours * 1000:.1f} ms, "
        f"invisible-watermark {theirs * 1000:.1f} ms, ratio {theirs / ours:.1f}x"
    )


if __name__ == "__main__":
    main()
