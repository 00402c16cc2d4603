"""Benign synthetic images and videos: the demo collection and test fixtures.

Smooth colour fields with a few filled shapes - structured enough to hash
with PDQ quality well above 50, deterministic per seed, and obviously not
photographs of anything.  Videos pan across such images, one per scene.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np
import numpy.typing as npt
from av.video.stream import VideoStream
from PIL import Image, ImageDraw


def photo_like(width: int, height: int, seed: int = 0) -> Image.Image:
    """An RGB image of sinusoidal colour fields and a few filled shapes."""
    rng = np.random.default_rng(seed)
    base_w, base_h = min(width, 640), min(height, 640)
    y, x = np.mgrid[0:base_h, 0:base_w].astype(np.float32)
    x /= base_w
    y /= base_h
    planes = []
    for _ in range(3):
        plane = np.zeros((base_h, base_w), np.float32)
        for _ in range(5):
            fx, fy = rng.uniform(0.5, 6, 2)
            plane += np.sin(2 * np.pi * (fx * x + fy * y) + rng.uniform(0, 6.3))
        planes.append(plane)
    rgb = np.stack(planes, axis=-1)
    rgb = (rgb - rgb.min()) / (rgb.max() - rgb.min()) * 255
    image = Image.fromarray(rgb.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, base_w)), int(rng.integers(0, base_h))
        box = (
            x0,
            y0,
            x0 + int(rng.integers(base_w // 10, base_w // 3)),
            y0 + int(rng.integers(base_h // 10, base_h // 3)),
        )
        r, g, b = (int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse(box, fill=(r, g, b))
        else:
            draw.rectangle(box, fill=(r, g, b))
    if (base_w, base_h) != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    return image


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    """``image`` saved in ``fmt``, as bytes."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def panning_frames(
    width: int,
    height: int,
    frames: int,
    *,
    fps: float = 30,
    scene_seconds: float = 4,
    seed: int = 0,
) -> Iterator[npt.NDArray[np.uint8]]:
    """RGB frames of a slow pan across a synthetic image, a new image per scene."""
    per_scene = max(1, round(scene_seconds * fps))
    scene: npt.NDArray[np.uint8] | None = None
    for index in range(frames):
        step = index % per_scene
        if step == 0 or scene is None:
            wide = photo_like(width * 5 // 4, height * 5 // 4, seed=seed + index // per_scene)
            scene = np.asarray(wide)
        dx = step * (width // 4) // per_scene
        dy = step * (height // 4) // per_scene
        yield scene[dy : dy + height, dx : dx + width]


def encode_video(
    frames: Iterable[npt.NDArray[np.uint8]],
    *,
    fps: int = 30,
    codec: str = "libx264",
    container: str = "mp4",
    rotation: int = 0,
    times: Iterable[float] | None = None,
) -> bytes:
    """RGB frames encoded as a video file, in memory.

    ``rotation`` stores a display matrix (players turn the frames that many
    degrees counter-clockwise); ``times`` gives each frame's presentation
    time in seconds, for variable frame rate video.
    """
    buffer = io.BytesIO()
    moments = iter(times) if times is not None else None
    with av.open(buffer, "w", format=container) as output:
        stream = cast(VideoStream, output.add_stream(codec, rate=fps))
        first = True
        for rgb in frames:
            if first:
                stream.height, stream.width = rgb.shape[:2]
                stream.pix_fmt = "yuv420p"
                if codec == "libx264":
                    stream.options = {"preset": "ultrafast"}
                if rotation:
                    stream.set_display_rotation(rotation)
                first = False
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            if moments is not None:
                stream.codec_context.time_base = Fraction(1, 1000)
                frame.time_base = Fraction(1, 1000)
                frame.pts = round(next(moments) * 1000)
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return buffer.getvalue()


#: (width, height) of the demo originals, one per seed.
_ORIGINALS = {1: (1600, 1200), 2: (1200, 1600), 3: (2400, 1600)}


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def write_sample_collection(dest: Path) -> list[Path]:
    """A small collection to try Bastion on: originals, edits and bad files.

    The edits (smaller, recompressed, EXIF-rotated, mirrored, other format)
    show PDQ recognising near-duplicates; the bad files show that each
    problem gets its own row while everything else is still hashed.
    """
    (dest / "edits").mkdir(parents=True, exist_ok=True)
    (dest / "bad").mkdir(exist_ok=True)
    files: dict[str, bytes] = {}
    for seed, size in _ORIGINALS.items():
        files[f"original-{seed}.jpg"] = encode(photo_like(*size, seed=seed), "JPEG", quality=92)
    first = photo_like(*_ORIGINALS[1], seed=1)
    small = first.resize((400, 300), Image.Resampling.LANCZOS)
    rotated_exif = Image.Exif()
    rotated_exif[0x0112] = 6  # stored sideways, shown upright
    files["edits/original-1-small.png"] = encode(small, "PNG")
    files["edits/original-1-q40.jpg"] = encode(first, "JPEG", quality=40)
    files["edits/original-1-sideways.jpg"] = encode(
        first.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=90, exif=rotated_exif
    )
    files["edits/original-2-mirrored.webp"] = encode(
        photo_like(*_ORIGINALS[2], seed=2).transpose(Image.Transpose.FLIP_LEFT_RIGHT), "WEBP"
    )
    files["bad/truncated.jpg"] = files["original-3.jpg"][:20_000]
    files["received.zip"] = _zip(
        {"from-a-device/IMG_0001.jpg": files["edits/original-1-q40.jpg"], "notes.txt": b"hello\n"}
    )
    files["bad/notes.jpg"] = b"a text file with an image's name\n"
    files["bad/empty.png"] = b""
    written = []
    for name, data in files.items():
        path = dest / name
        path.write_bytes(data)
        written.append(path)
    return written
