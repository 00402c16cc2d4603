"""Decode an image into the luma plane PDQ hashes, as cheaply as possible.

Meta's reference hasher squashes any image larger than 512 px on a side to
512x512 by nearest-neighbour sampling, upright as a person sees it, before
filtering.  So a hash never needs more than 512x512 pixels, and this module
decodes only what those samples need:

* colour JPEGs are decoded as the Y plane only, and large ones at 1/2, 1/4
  or 1/8 scale in the DCT domain (libjpeg's "draft" mode);
* the EXIF orientation and the reference's corner-aligned sampling are folded
  into one nearest-neighbour affine transform, so the full-size image is
  never rotated or copied;
* colour conversion happens on the <= 512x512 sample, not the full image.

Limits are checked from the header, before any pixel is decoded.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import pillow_heif
from PIL import Image, UnidentifiedImageError

from bastion.media.errors import (
    CorruptImage,
    MediaError,
    NotAnImage,
    TooManyPixels,
    TruncatedImage,
    UnsupportedImage,
)
from bastion.signals.pdq import LumaArray, luma_from_rgb

pillow_heif.register_heif_opener()
Image.init()  # load every plugin now, so IMAGE_FORMATS all resolve
# Bastion enforces Settings.max_pixels itself, per call and before decoding;
# Pillow's process-wide bomb check would refuse images the operator allowed.
Image.MAX_IMAGE_PIXELS = None

#: The reference squashes larger images to PDQ_SIDE x PDQ_SIDE.
PDQ_SIDE = 512
#: JPEGs are DCT-decoded at the smallest scale keeping this many pixels a side.
#: Each nearest-neighbour sample then averages at most a 2x2 block where the
#: reference takes one pixel: within 6 bits of it on the photo corpus, where
#: decoding to only 512 drifted up to 14 bits (docs/hashing.md).
DRAFT_MIN_SIDE = 1024
#: Pillow decoders Bastion accepts; anything else is not opened at all,
#: which keeps rarely used (and rarely fuzzed) decoders away from hostile input.
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "DIB", "TIFF", "HEIF", "AVIF")

_ORIENTATION_TAG = 0x0112
#: Sub-pixel nudge so floor() of a sample position never lands on the wrong
#: side of an integer because of rounding; smaller than one 512th of a pixel.
_NUDGE = 1.0 / 1024.0


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """What PDQ needs from an image, plus facts worth reporting."""

    luma: LumaArray  #: upright luma, at most PDQ_SIDE x PDQ_SIDE
    width: int  #: upright width of the full image
    height: int  #: upright height of the full image
    format: str  #: Pillow's format name, e.g. "JPEG"
    mode: str  #: Pillow's colour mode of the stored image


def _orientation(image: Image.Image) -> int:
    """EXIF orientation 1-8 (1 when absent or nonsensical).

    Not wrapped in a catch-all: for PNG, Pillow decodes the whole image to
    look for an eXIf chunk after the pixels, and a decode error swallowed
    here would leave a zero-filled image behind that hashes "successfully".
    """
    value = image.getexif().get(_ORIENTATION_TAG, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _sampling_transform(
    orientation: int, raw_size: tuple[int, int], decoded_size: tuple[int, int], out: tuple[int, int]
) -> tuple[float, float, float, float, float, float]:
    """Affine map from output pixels to decoded pixels.

    Output pixel (i, j) of the upright image shows upright pixel
    (floor(i * W / n), floor(j * H / n)) - the reference's corner-aligned
    nearest-neighbour resize - which the EXIF orientation maps to a raw pixel,
    which draft decoding maps to a pixel of the (possibly) reduced image.
    """
    raw_w, raw_h = raw_size
    transposed = orientation in (5, 6, 7, 8)
    up_w, up_h = (raw_h, raw_w) if transposed else (raw_w, raw_h)
    step_x, step_y = up_w / out[0], up_h / out[1]
    # Pillow evaluates the map at pixel centres (i + 0.5, j + 0.5).
    # forward(step, origin): coordinate = origin + step * i + nudge.
    fwd_x = (step_x, _NUDGE - 0.5 * step_x)
    fwd_y = (step_y, _NUDGE - 0.5 * step_y)

    def mirrored(forward: tuple[float, float], length: int) -> tuple[float, float]:
        # length - u has floor(length - u) == length - 1 - floor(u) for
        # non-integer u, which the nudge guarantees.
        return (-forward[0], length - forward[1])

    # Raw x and y as functions of output i (x-terms) and j (y-terms).
    zero = (0.0, 0.0)
    if orientation == 2:
        rx, ry = (mirrored(fwd_x, raw_w), zero), (zero, fwd_y)
    elif orientation == 3:
        rx, ry = (mirrored(fwd_x, raw_w), zero), (zero, mirrored(fwd_y, raw_h))
    elif orientation == 4:
        rx, ry = (fwd_x, zero), (zero, mirrored(fwd_y, raw_h))
    elif orientation == 5:
        rx, ry = (zero, fwd_y), (fwd_x, zero)
    elif orientation == 6:
        rx, ry = (zero, fwd_y), (mirrored(fwd_x, raw_h), zero)
    elif orientation == 7:
        rx, ry = (zero, mirrored(fwd_y, raw_w)), (mirrored(fwd_x, raw_h), zero)
    elif orientation == 8:
        rx, ry = (zero, mirrored(fwd_y, raw_w)), (fwd_x, zero)
    else:
        rx, ry = (fwd_x, zero), (zero, fwd_y)
    sx, sy = decoded_size[0] / raw_w, decoded_size[1] / raw_h
    (xi, xj), (yi, yj) = rx, ry
    return (
        sx * xi[0],
        sx * xj[0],
        sx * (xi[1] + xj[1]),
        sy * yi[0],
        sy * yj[0],
        sy * (yi[1] + yj[1]),
    )


def _luma(sample: Image.Image, stored_mode: str) -> LumaArray:
    """Luma of a small image in any Pillow mode, as the reference sees it.

    8-bit images stay 8-bit: PDQ converts only the pixels its filter weighs.
    """
    mode = sample.mode
    if mode in ("L", "1", "LA", "La"):
        return _gray_pixels(sample.convert("L") if mode != "L" else sample)
    if mode.startswith("I") or mode == "F":
        values = np.asarray(sample, dtype=np.float32)
        if stored_mode.startswith("I;16") or (mode == "I" and values.max(initial=0) > 255):
            values = values / 257.0  # 16-bit samples
        elif mode == "F" and values.max(initial=0) <= 1.0:
            values = values * 255.0  # normalised floats
        return np.clip(values, 0, 255).astype(np.float32)
    if mode == "LAB":
        return np.asarray(sample.getchannel("L"), dtype=np.float32)
    rgb = sample if mode == "RGB" else sample.convert("RGB")
    return luma_from_rgb(np.asarray(rgb))


def _gray_pixels(image: Image.Image) -> npt.NDArray[np.uint8]:
    """An L image's pixels, without copying them when Pillow can export them.

    Pillow's Arrow export hands over the image's own memory when it is one
    block (always, at <= 512x512); ``np.asarray`` copies through
    ``tobytes``, which cost a tenth of a small JPEG's decode (measured).
    pyarrow (~50 MB resident) is imported here, on the first decode, so that
    importing bastion does not load it.
    """
    import pyarrow as pa

    try:
        flat = pa.array(image)
    except ValueError:  # rows not contiguous: a very large image
        return np.asarray(image)
    pixels: npt.NDArray[np.uint8] = flat.to_numpy(zero_copy_only=True)
    return pixels.reshape(image.height, image.width)


def _draft_for_pdq(image: Image.Image) -> None:
    """Ask libjpeg for the Y plane only, at the smallest DCT scale keeping DRAFT_MIN_SIDE.

    Decoding luma alone skips chroma upsampling and colour conversion, which
    take a third of a colour JPEG's decode (measured on 256-768 px photos).
    Its Y differs from luma recomputed from the rounded RGB by under one
    level, which moves no bit of most hashes (docs/hashing.md has the counts).
    """
    if image.format not in ("JPEG", "MPO"):
        return
    mode = "L" if image.mode in ("L", "RGB") else image.mode
    w, h = image.size
    scaled = min(w, h) >= 2 * DRAFT_MIN_SIDE
    if mode != image.mode or scaled:
        image.draft(mode, (DRAFT_MIN_SIDE, DRAFT_MIN_SIDE) if scaled else (w, h))


def _sample(image: Image.Image, orientation: int, raw_size: tuple[int, int]) -> Image.Image:
    raw_w, raw_h = raw_size
    up_w, up_h = (raw_h, raw_w) if orientation in (5, 6, 7, 8) else (raw_w, raw_h)
    if up_w <= PDQ_SIDE and up_h <= PDQ_SIDE:
        out = (up_w, up_h)
        if orientation == 1:
            image.load()
            return image
    else:
        out = (PDQ_SIDE, PDQ_SIDE)
    if image.mode.startswith("I;16"):
        image = image.convert("I")  # Pillow's transform has no 16-bit path
    data = _sampling_transform(orientation, raw_size, image.size, out)
    return image.transform(out, Image.Transform.AFFINE, data, resample=Image.Resampling.NEAREST)


def _header_problem(stream: BinaryIO, expected_format: str | None) -> MediaError:
    """Why no decoder accepted the header, asked of the format the bytes claim.

    Pillow reports every refusal as "cannot identify image file"; the
    format's own opener says what is actually wrong (a bad checksum ...).
    """
    if expected_format is None or expected_format not in Image.OPEN:
        return NotAnImage("not an image Bastion can decode (no decoder recognised it)")
    factory = Image.OPEN[expected_format][0]
    try:
        stream.seek(0)
        factory(stream, "")
    except Exception as exc:  # noqa: BLE001 - the reason is what we are after
        return CorruptImage(f"damaged {expected_format} header: {exc}")
    return CorruptImage(f"damaged {expected_format} header")


def decode_for_pdq(
    stream: BinaryIO, *, max_pixels: int, expected_format: str | None = None
) -> DecodedImage:
    """Decode ``stream`` into the upright, <= 512x512 luma plane PDQ hashes.

    ``expected_format`` is the Pillow format the magic bytes announced; it
    lets a damaged header be reported as damaged rather than unknown.
    Raises a :class:`~bastion.media.errors.MediaError` subclass that says
    what is wrong with the file; never a bare decoder exception.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(stream, formats=IMAGE_FORMATS)
    except UnidentifiedImageError:
        raise _header_problem(stream, expected_format) from None
    except Exception as exc:  # noqa: BLE001 - hostile headers raise anything
        raise CorruptImage(f"unreadable image header: {exc}") from None
    with image:
        raw_size = image.size
        pixels = raw_size[0] * raw_size[1]
        if pixels > max_pixels:
            raise TooManyPixels(
                f"{raw_size[0]}x{raw_size[1]} = {pixels:,} pixels is over the limit of "
                f"{max_pixels:,} (BASTION_MAX_PIXELS); refused without decoding"
            )
        if pixels == 0:
            raise CorruptImage(f"image declares a size of {raw_size[0]}x{raw_size[1]}")
        stored_mode = image.mode
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                orientation = _orientation(image)
                _draft_for_pdq(image)
                sample = _sample(image, orientation, raw_size)
                luma = _luma(sample, stored_mode)
        except MediaError:
            raise
        except OSError as exc:
            text = str(exc)
            if "truncated" in text or "end of file" in text.lower():
                raise TruncatedImage(f"image data ends early: {text}") from None
            raise CorruptImage(f"damaged image data: {text}") from None
        except ValueError as exc:
            raise UnsupportedImage(
                f"cannot decode {image.format} in mode {stored_mode}: {exc}"
            ) from None
        except Exception as exc:  # noqa: BLE001 - decoders raise SyntaxError, EOFError ...
            raise CorruptImage(f"damaged image data: {type(exc).__name__}: {exc}") from None
        up_w, up_h = (raw_size[1], raw_size[0]) if orientation in (5, 6, 7, 8) else raw_size
        return DecodedImage(luma, up_w, up_h, str(image.format), stored_mode)
