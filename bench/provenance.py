"""Provenance cost: what ``inspect`` adds to ``hash``, per image, in one run.

Usage:  python bench/provenance.py [--repeats N]

On the photo corpus re-encoded at 512 px (bench/hashing.py builds it), one
process, files read into memory first so only CPU is compared:

  hash             bastion.hash_bytes (MD5, SHA-1, SHA-256, PDQ)
  inspect          provenance readers on the same bytes, default options
  inspect+markers  the same images carrying XMP (IPTC source type) and an
                   EXIF UserComment with generation parameters
  watermarks       inspect --watermarks (opt-in: decodes pixels)

Requirement (issue 5): on files without markers, inspect adds <= 10% to
hash.  Methods are interleaved per repeat; the median per image is reported
and ratios compare methods of this same run.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from bastion.config import Settings
from bastion.hashing import hash_bytes
from bastion.media.sniff import sniff
from bastion.provenance import InspectOptions, inspect_bytes
from hashing import build_sets

EXIF_IFD, USER_COMMENT = 0x8769, 0x9286
PARAMETERS = "placeholder\nSteps: 20, Sampler: Euler a, Seed: 1, Model hash: 0123456789"
XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/'
    'trainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta>'
)


def with_markers(data: bytes) -> bytes:
    """The same JPEG re-saved with XMP and an EXIF UserComment (quality as before)."""
    image = Image.open(io.BytesIO(data))
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[USER_COMMENT] = b"UNICODE\x00" + PARAMETERS.encode("utf-16-be")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif.tobytes(), xmp=XMP.encode())
    return out.getvalue()


def time_each(files: list[bytes], work: Callable[[bytes], object]) -> float:
    """Seconds per file for one pass over ``files``."""
    start = time.perf_counter()
    for data in files:
        work(data)
    return (time.perf_counter() - start) / len(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    paths: list[Path] = build_sets()["512px"]
    plain = [p.read_bytes() for p in paths]
    marked = [with_markers(data) for data in plain]
    settings = Settings()
    defaults, watermarks = InspectOptions(), InspectOptions(watermarks=True)

    def inspect(options: InspectOptions) -> Callable[[bytes], object]:
        return lambda data: inspect_bytes(data, sniff(data[:4096]).mime, settings, options)

    methods: dict[str, tuple[list[bytes], Callable[[bytes], object]]] = {
        "hash": (plain, lambda data: hash_bytes(data, settings=settings)),
        "inspect": (plain, inspect(defaults)),
        "hash (marked files)": (marked, lambda data: hash_bytes(data, settings=settings)),
        "inspect+markers": (marked, inspect(defaults)),
        "watermarks": (plain, inspect(watermarks)),
    }
    levels = {inspect_bytes(d, "image/jpeg", settings).level for d in marked}
    assert levels == {"ai-generated — declared"}, levels
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(args.repeats):
        for name, (files, work) in methods.items():
            times[name].append(time_each(files, work))
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{len(plain)} images at 512 px, {args.repeats} repeats, median per image:")
    for name, seconds in median.items():
        print(f"  {name:22s} {seconds * 1e6:9.1f} µs")
    print(f"inspect / hash (no markers):     {median['inspect'] / median['hash']:.3f}  (<= 0.10)")
    marked_ratio = median["inspect+markers"] / median["hash (marked files)"]
    print(f"inspect / hash (with markers):   {marked_ratio:.3f}")
    print(f"watermarks / hash:               {median['watermarks'] / median['hash']:.3f}")


if __name__ == "__main__":
    main()
