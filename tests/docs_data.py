"""The folder the docs' examples run in: every file they name, generated and benign.

Images are ``bastion.samples``' colour fields, videos pan across them, list
files hold those images' own hashes (or random ones), the model file is
filler bytes and the generator metadata uses neutral placeholder words.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from bastion.banks import Banks
from bastion.config import Settings
from bastion.hashing import hash_bytes
from bastion.samples import encode, encode_video, panning_frames, photo_like
from bastion.store import Store
from tests.formats.samples import rand_hex
from tests.provenance.files import png
from tests.provenance.test_detector import mean_brightness_model
from tests.provenance.test_generators import A1111
from tests.provenance.test_models import safetensors
from tests.scan.fixtures import jpeg, write_parquet, write_tar, write_zip
from tests.stamping.conftest import write_stamp_ca

#: The reference videos' vPDQ files (Meta's text format), from the shared test data.
VPDQ_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "vpdq"

#: The blocklist every page's store starts with: one image of each kind of scan source.
BASE_BANK = "demo-known"
#: The signals of those images it holds: their files and their pictures.
BANKED = ("md5", "pdq")


def ncmec_xml(images: list[tuple[str, str, bytes]], deleted: list[str], rejected: int) -> str:
    """An NCMEC hash-sharing page: (id, classification, image) entries with their
    MD5, SHA-1 and PDQ, tombstones for ``deleted`` ids and ``rejected`` entries
    whose only fingerprint is of a kind Bastion does not take."""
    entries = []
    for entry_id, classification, image in images:
        fingerprint = hash_bytes(image)
        entries.append(
            f"<image><id>{entry_id}</id><classification>{classification}</classification>"
            f"<fingerprints><md5>{fingerprint.md5}</md5><sha1>{fingerprint.sha1}</sha1>"
            f"<pdq>{fingerprint.pdq}</pdq></fingerprints></image>"
        )
    entries += [
        f"<image><id>other{n}</id><classification>B2</classification>"
        "<fingerprints><netclean>opaque-value</netclean></fingerprints></image>"
        for n in range(rejected)
    ]
    entries += [f"<deletedImage><id>{entry_id}</id></deletedImage>" for entry_id in deleted]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">'
        f'<images count="{len(entries)}">{"".join(entries)}</images></queryResult>\n'
    )


def truncated(image: bytes) -> bytes:
    """The first half of an image file: a download cut off."""
    return image[: len(image) // 2]


def _images(folder: Path) -> None:
    (folder / "collection").mkdir()
    for n in range(3):
        (folder / "collection" / f"{n}.jpg").write_bytes(jpeg(n))
    write_zip(folder / "seized.zip", [("inside.jpg", jpeg(10))])
    (folder / "photos").mkdir()
    (folder / "photos" / "a.jpg").write_bytes(jpeg(20, (512, 512)))
    (folder / "photo.jpg").write_bytes(jpeg(21))
    (folder / "broken.jpg").write_bytes(truncated(jpeg(22)))
    (folder / "broken").mkdir()
    (folder / "broken" / "cut.jpg").write_bytes(truncated(jpeg(23)))
    (folder / "broken" / "empty.png").write_bytes(b"")
    (folder / "broken" / "notes.jpg").write_bytes(b"a text file with an image's name\n")
    (folder / "benign-meme.jpg").write_bytes(jpeg(24))
    (folder / "upload.jpg").write_bytes(jpeg(30))
    for name in ("uploads", "suspicious"):
        (folder / name).mkdir()
        (folder / name / "IMG_0001.jpg").write_bytes(jpeg(30))
        (folder / name / "IMG_0002.jpg").write_bytes(jpeg(31))
    (folder / "image.png").write_bytes(png({"parameters": A1111}))
    (folder / "other.jpg").write_bytes(jpeg(32))
    # A generator's output and the operator's stamping certificate (docs/generation.md).
    (folder / "generated.png").write_bytes(encode(photo_like(768, 512, seed=40), "PNG"))
    write_stamp_ca(folder / "stamping")


def _datasets(folder: Path) -> None:
    (folder / "shards").mkdir()
    for shard in range(4):
        samples = [(f"{shard}{n:03d}", jpeg(100 + 10 * shard + n)) for n in range(3)]
        write_tar(
            folder / "shards" / f"{shard:05d}.tar",
            [(f"{key}.{ext}", data) for key, image in samples for ext, data in
             (("jpg", image), ("txt", b"placeholder caption"))],
        )  # fmt: skip
    (folder / "data" / "parquet").mkdir(parents=True)
    images: list[bytes | None] = [jpeg(200 + n) for n in range(5)]
    write_parquet(
        folder / "data" / "parquet" / "part-0.parquet", images, [f"k{n}" for n in range(5)]
    )


def _videos(folder: Path) -> None:
    frames = list(panning_frames(320, 240, 150, scene_seconds=2))
    (folder / "clip.mp4").write_bytes(encode_video(frames))
    # The same pictures re-encoded: another file (other MD5), the same vPDQ.
    (folder / "upload.mp4").write_bytes(encode_video(frames, container="matroska"))
    shutil.copyfile(VPDQ_REFERENCE / "doorknob-hd-no-bar.vpdq.txt", folder / "other.vpdq.txt")
    shutil.copyfile(VPDQ_REFERENCE / "pattern-sd-grey-bar.vpdq.txt", folder / "reference.vpdq.txt")


def _lists(folder: Path) -> None:
    upload, uploads_other = jpeg(30), jpeg(31)
    (folder / "entries.xml").write_text(
        ncmec_xml([("image1", "A1", upload), ("image2", "B1", uploads_other)], [], 0)
    )
    feed = [(f"image{n}", "A2", jpeg(40 + n)) for n in range(5)]
    (folder / "entries-2026-11-20.xml").write_text(ncmec_xml(feed, ["image9"], 2))
    photo = hash_bytes(jpeg(21))
    (folder / "list.csv").write_text(
        "signal_type,value,labels,external_id\n"
        f"md5,{photo.md5},ncmec:A1,item-1\n"
        f"pdq,{photo.pdq},ncmec:A1,item-1\n"
        f"pdq,{rand_hex(64)},iwf:B,item-2\n"
    )


def _models(folder: Path) -> None:
    for name in ("lora.safetensors", "model.safetensors"):
        safetensors(folder / name, {"ss_output_name": "placeholder_style"}, tensor_bytes=4096)
    tags = {"10_set": {"harbour": 4, "t3apot on a table": 2}}
    safetensors(folder / "tagged.safetensors", {"ss_tag_frequency": json.dumps(tags)}, 4096)
    mean_brightness_model(folder / "detector.onnx")


def _damaged_collection(folder: Path) -> None:
    """The broken files of ``make demo``'s collection, whose scan docs/scanning.md shows."""
    (folder / "collection" / "bad").mkdir()
    (folder / "collection" / "bad" / "truncated.jpg").write_bytes(truncated(jpeg(3)))
    (folder / "collection" / "bad" / "notes.jpg").write_bytes(b"a text file\n")
    (folder / "collection" / "bad" / "empty.png").write_bytes(b"")


#: What a page's examples need beyond the common folder.
PAGE_EXTRAS = {"docs/scanning.md": _damaged_collection}


def make_examples_folder(folder: Path, page: str) -> dict[str, str]:
    """Write the files ``page``'s examples name into ``folder``, with a store
    whose blocklist holds one image of each kind of scan source; returns the
    environment the examples run in (``bastion`` on the PATH runs this tree)."""
    _images(folder)
    if page in PAGE_EXTRAS:
        PAGE_EXTRAS[page](folder)
    _datasets(folder)
    _videos(folder)
    _lists(folder)
    _models(folder)
    home = folder / "home"
    store = Store.open(Settings(home=home))
    Banks(store, actor="test").create(BASE_BANK)
    banked = [jpeg(1), jpeg(101), jpeg(202)]  # a file, a shard sample, a Parquet row
    signals = [s for image in banked for s in hash_bytes(image).signals if s.type in BANKED]
    Banks(store, actor="test").add_signals(BASE_BANK, signals)
    store.dispose()
    bin_folder = folder / "bin"
    bin_folder.mkdir()
    shim = bin_folder / "bastion"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m bastion "$@"\n')
    shim.chmod(0o755)
    return {
        **os.environ,
        "BASTION_HOME": str(home),
        "PATH": f"{bin_folder}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join(sys.path),
        "COLUMNS": "120",
    }
