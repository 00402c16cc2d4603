"""Benign synthetic images for tests: smooth colour fields with shapes.

Structured enough to give PDQ quality well above 50, deterministic per seed.
"""

from __future__ import annotations

import io

import numpy as np
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
        x0, y0 = rng.integers(0, base_w), rng.integers(0, base_h)
        x1 = x0 + rng.integers(base_w // 10, base_w // 3)
        y1 = y0 + rng.integers(base_h // 10, base_h // 3)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    if (base_w, base_h) != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    return image


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()
