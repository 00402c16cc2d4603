"""Run one fuzz target under atheris (libFuzzer) for a bounded time.

    python fuzz/run.py TARGET [--seconds 60] [--seeds ../shared/testdata] [--work build/fuzz]

New inputs that reach new code go to ``WORK/TARGET/``; a crashing input is
saved as ``WORK/TARGET-crash-*`` and the run exits non-zero.  Seeds come from
the shared test data (media, provenance), from archives of a generated image
(archive) and from Bastion's own exports (list formats); seed folders are
only read.  Add a minimised crashing input to ``tests/fuzz/corpus/TARGET/``
once it is fixed, so ``make test`` keeps it fixed.
"""

from __future__ import annotations

import argparse
import io
import sys
import tarfile
import zipfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports():
    from fuzz.targets import TARGETS

from bastion.fingerprint import Signal
from bastion.formats import FORMATS
from bastion.formats.records import ExportEntry
from bastion.samples import encode, photo_like

#: Folders of the shared test data that seed each target.
SEED_FOLDERS = {
    "media": ["pdq/misc-images", "pdq/bridge-mods", "vpdq", "c2pa"],
    "provenance": ["c2pa", "watermark", "pdq/misc-images/modes"],
}
MAX_LEN = 256 << 10


def _generated_seeds(target: str, folder: Path) -> None:
    """Seeds Bastion makes itself: archives of a small image, exported lists."""
    if target == "archive":
        image = encode(photo_like(64, 48, seed=1))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("a.jpg", image)
        (folder / "seed.zip").write_bytes(buffer.getvalue())
        for mode in ("w", "w:gz", "w:bz2", "w:xz"):
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode=mode) as tar:
                info = tarfile.TarInfo("a.jpg")
                info.size = len(image)
                tar.addfile(info, io.BytesIO(image))
            (folder / f"seed.tar{mode[2:] and '.' + mode[2:]}").write_bytes(buffer.getvalue())
    elif target.startswith("format-"):
        entries = [
            ExportEntry(Signal("md5", f"{n:032x}"), ("placeholder",), external_id=str(n))
            for n in range(1, 4)
        ] + [ExportEntry(Signal("pdq", "f" * 64), withdrawn=True)]
        buffer = io.BytesIO()
        FORMATS[target.removeprefix("format-")].write(entries, buffer)
        (folder / "export").write_bytes(buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--seeds", type=Path, default=Path("../shared/testdata"))
    parser.add_argument("--work", type=Path, default=Path("build/fuzz"))
    args = parser.parse_args()
    work = args.work / args.target
    work.mkdir(parents=True, exist_ok=True)
    _generated_seeds(args.target, work)
    seeds = [args.seeds / sub for sub in SEED_FOLDERS.get(args.target, [])]
    regressions = Path(__file__).resolve().parent.parent / "tests/fuzz/corpus" / args.target
    folders = [str(p) for p in (*seeds, regressions) if p.is_dir()]
    target = TARGETS[args.target]
    atheris.Setup(
        [
            sys.argv[0],
            str(work),
            *folders,
            f"-max_total_time={args.seconds}",
            f"-max_len={MAX_LEN}",
            f"-artifact_prefix={args.work}/{args.target}-",
            "-rss_limit_mb=2048",
            "-timeout=10",
        ],
        target,
    )
    atheris.Fuzz()


if __name__ == "__main__":
    main()
