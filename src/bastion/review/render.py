"""What a reviewer's screen shows of an item: protected unless revealed.

The protected view is made on the server - shrunk, greyscale and heavily
blurred - so the original pixels reach the reviewer's browser only after a
deliberate, recorded reveal; a CSS filter would send them anyway.  Colour
and sharpness are revealed separately.

A video is shown as a contact sheet: keyframes decoded with the hashing
code's reader, each protected like an image and labelled with its time, and
a timeline under them on which the times its vPDQ matched are marked.  The
reader hands over luma, so a sheet stays grey when colour is revealed.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

import bastion.media.image  # noqa: F401 - registers HEIF/AVIF with Pillow
from bastion.config import Settings
from bastion.errors import BastionError
from bastion.media.errors import MediaError
from bastion.media.video import Frame, VideoLimits, VideoOptions, VideoReader
from bastion.review.items import Reveal
from bastion.video_hashing import video_limits

#: Longest side of what the review page shows.
DISPLAY_SIDE = 768
#: Blur radius as a fraction of the longest side: shapes stay, details go.
BLUR_FRACTION = 1 / 24
#: Keyframes on a video's contact sheet, at most, and how they are laid out.
SHEET_FRAMES = 12
SHEET_COLUMNS = 4
TILE_SIDE = DISPLAY_SIDE // SHEET_COLUMNS
LABEL_HEIGHT = 20
#: The timeline under the tiles: the whole video, matched times in white.
TIMELINE_HEIGHT = 16
UNMATCHED, MATCHED = 60, 255

TimeRange = tuple[float, float]


class NotAnImage(BastionError, ValueError):
    """Review media that cannot be shown as an image."""

    code = "cannot-render"
    status = 422


def render(data: bytes, reveal: Reveal | None, *, max_pixels: int) -> bytes:
    """A JPEG of ``data`` for display: greyscale unless colour is revealed,
    blurred unless sharpness is (``None``: the protected view)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > max_pixels:
                raise NotAnImage(
                    f"image of {image.width}x{image.height} exceeds BASTION_MAX_PIXELS"
                )
            image.draft("RGB", (DISPLAY_SIDE, DISPLAY_SIDE))
            shown = ImageOps.exif_transpose(image.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise NotAnImage(f"cannot display this file as an image: {exc}") from None
    shown.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE))
    return _jpeg(_protect(shown, reveal))


def render_item(
    data: bytes,
    media_type: str,
    result: Mapping[str, Any],
    reveal: Reveal | None,
    settings: Settings,
) -> bytes:
    """The display of a queued item's bytes: a video's contact sheet, else the image."""
    if media_type.startswith("video/"):
        return contact_sheet(
            data, reveal, limits=video_limits(settings), matched=matched_ranges(result)
        )
    return render(data, reveal, max_pixels=settings.max_pixels)


def matched_ranges(result: Mapping[str, Any]) -> list[TimeRange]:
    """Where in the item's video its matches are (``query_ranges`` of a scan row)."""
    return [
        (float(start), float(end))
        for match in result.get("matches") or []
        for start, end in match.get("query_ranges") or []
    ]


def contact_sheet(
    data: bytes,
    reveal: Reveal | None,
    *,
    limits: VideoLimits,
    matched: Iterable[TimeRange] = (),
) -> bytes:
    """A JPEG of the video's keyframes with their times, protected like an image,
    over a timeline on which ``matched`` times are marked."""
    ranges = list(matched)
    try:
        with VideoReader(io.BytesIO(data), limits) as reader:
            duration = reader.info.duration
            step = duration / SHEET_FRAMES if duration else 1.0
            frames = []
            for frame in reader.frames(VideoOptions(interval=step, keyframes_only=True)):
                frames.append((frame.timestamp, _protect(_luma_image(frame), reveal)))
                if len(frames) == SHEET_FRAMES:
                    break
    except MediaError as exc:
        raise NotAnImage(f"cannot show this video: {exc}") from None
    if not frames:
        raise NotAnImage("cannot show this video: no keyframe could be decoded")
    end = max(duration or 0.0, frames[-1][0], *(stop for _, stop in ranges)) or 1.0
    return _jpeg(_sheet(frames, ranges, end))


def _luma_image(frame: Frame) -> Image.Image:
    luma = frame.luma
    if frame.luma_gain != 1.0:  # limited range: stretch 16-235 to 0-255
        stretched = (luma.astype(np.float32) - 16) * frame.luma_gain
        luma = np.clip(stretched, 0, 255).astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(luma), "L")
    image.thumbnail((TILE_SIDE, TILE_SIDE))
    return image


def _sheet(
    frames: list[tuple[float, Image.Image]], ranges: list[TimeRange], end: float
) -> Image.Image:
    columns = min(SHEET_COLUMNS, len(frames))
    rows = math.ceil(len(frames) / columns)
    cell = TILE_SIDE + LABEL_HEIGHT
    sheet = Image.new("L", (columns * TILE_SIDE, rows * cell + TIMELINE_HEIGHT), 0)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    for number, (moment, tile) in enumerate(frames):
        left, top = (number % columns) * TILE_SIDE, (number // columns) * cell
        sheet.paste(tile, (left + (TILE_SIDE - tile.width) // 2, top))
        hit = any(start <= moment <= stop for start, stop in ranges)
        label = f"{moment:.1f} s" + ("  match" if hit else "")
        draw.text((left + 4, top + TILE_SIDE + 2), label, fill=255, font=font)
        if hit:
            box = (left, top, left + TILE_SIDE - 1, top + TILE_SIDE - 1)
            draw.rectangle(box, outline=MATCHED, width=3)
    # The timeline: the whole video, the matched times marked.
    top = rows * cell
    draw.rectangle((0, top, sheet.width, sheet.height), fill=UNMATCHED)
    for start, stop in ranges:
        x0 = round(start / end * (sheet.width - 1))
        x1 = max(x0 + 2, round(stop / end * (sheet.width - 1)))
        draw.rectangle((x0, top + 2, x1, sheet.height - 3), fill=MATCHED)
    return sheet


def _protect(image: Image.Image, reveal: Reveal | None) -> Image.Image:
    """Greyscale unless colour is revealed, blurred unless sharpness is."""
    shown = image
    if reveal not in (Reveal.COLOUR, Reveal.FULL):
        shown = shown.convert("L")
    if reveal not in (Reveal.SHARP, Reveal.FULL):
        radius = max(4.0, max(shown.size) * BLUR_FRACTION)
        shown = shown.filter(ImageFilter.GaussianBlur(radius))
    return shown


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()
