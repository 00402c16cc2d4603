"""What a reviewer's screen shows of an image: protected unless revealed.

The protected view is made on the server - shrunk, greyscale and heavily
blurred - so the original pixels reach the reviewer's browser only after a
deliberate, recorded reveal; a CSS filter would send them anyway.  Colour
and sharpness are revealed separately.
"""

from __future__ import annotations

import io

from PIL import Image, ImageFilter, ImageOps

import bastion.media.image  # noqa: F401 - registers HEIF/AVIF with Pillow
from bastion.review.queue import Reveal

#: Longest side of what the review page shows.
DISPLAY_SIDE = 768
#: Blur radius as a fraction of the longest side: shapes stay, details go.
BLUR_FRACTION = 1 / 24


class NotAnImage(ValueError):
    pass


def render(data: bytes, reveal: Reveal | None, *, max_pixels: int) -> bytes:
    """A JPEG of ``data`` for display: greyscale unless colour is revealed,
    blurred unless sharpness is (``None``: the protected view)."""
    colour = reveal in (Reveal.COLOUR, Reveal.FULL)
    sharp = reveal in (Reveal.SHARP, Reveal.FULL)
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
    if not colour:
        shown = shown.convert("L")
    if not sharp:
        radius = max(4.0, max(shown.size) * BLUR_FRACTION)
        shown = shown.filter(ImageFilter.GaussianBlur(radius))
    out = io.BytesIO()
    shown.save(out, "JPEG", quality=85)
    return out.getvalue()
