"""hash_file / hash_bytes: signals, single pass, and bad input."""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import pytest

from bastion import hash_bytes, hash_file
from bastion.config import Settings
from bastion.hashing import NotARegularFile
from tests.images import encode, photo_like


def png_bomb(side: int) -> bytes:
    """A real decompression bomb: a side x side greyscale PNG of zeros."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
        )

    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def test_signals_and_digests(tmp_path: Path) -> None:
    data = encode(photo_like(640, 480, seed=1), "JPEG", quality=92)
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    fp = hash_file(path)
    assert fp.error is None
    assert fp.media_type == "image/jpeg"
    assert (fp.width, fp.height, fp.size) == (640, 480, len(data))
    assert fp.md5 == hashlib.md5(data).hexdigest()
    assert fp.sha1 == hashlib.sha1(data).hexdigest()
    assert fp.sha256 == hashlib.sha256(data).hexdigest()
    assert fp.pdq is not None
    assert len(fp.pdq) == 64
    assert fp.pdq_quality is not None
    assert fp.pdq_quality >= 50
    assert not fp.low_quality
    assert [s.type for s in fp.signals] == ["md5", "sha1", "sha256", "pdq"]
    assert hash_bytes(data) == fp


def test_dihedral_variants_on_request() -> None:
    fp = hash_bytes(encode(photo_like(300, 300), "PNG"), dihedral=True)
    assert len(fp.pdq_dihedral) == 8
    assert fp.pdq_dihedral[0] == fp.pdq
    assert set(fp.to_dict()["pdq_dihedral"]) >= {"rotate90", "flipx"}


def test_quality_threshold_is_configurable() -> None:
    data = encode(photo_like(300, 300), "PNG")
    quality = hash_bytes(data).pdq_quality
    assert quality is not None
    assert hash_bytes(data, settings=Settings(pdq_quality_threshold=quality + 1)).low_quality


def test_digests_cover_bytes_the_decoder_never_reads() -> None:
    # Trailing bytes after the JPEG end marker are part of the file.
    data = encode(photo_like(200, 200), "JPEG") + b"appended trailer" * 1000
    fp = hash_bytes(data)
    assert fp.pdq is not None
    assert fp.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("fmt", "params"),
    [("GIF", {}), ("WEBP", {"quality": 90}), ("BMP", {}), ("TIFF", {}), ("HEIF", {}), ("AVIF", {})],
)
def test_formats(fmt: str, params: dict[str, object]) -> None:
    image = photo_like(400, 300, seed=2)
    reference = hash_bytes(encode(image, "PNG")).pdq
    fp = hash_bytes(encode(image, fmt, **params))
    assert fp.error is None, fp.error
    assert fp.pdq is not None
    assert reference is not None
    from bastion.signals.pdq import hamming

    assert hamming(fp.pdq, reference) <= 31


def test_non_image_keeps_crypto_and_has_no_pdq() -> None:
    data = b"%PDF-1.7\n" + b"x" * 100
    fp = hash_bytes(data, name="report.pdf")
    assert fp.error is None
    assert fp.media_type == "application/pdf"
    assert fp.pdq is None
    assert fp.md5 == hashlib.md5(data).hexdigest()


# --- bad input: each gives a clear reason, crypto digests kept where readable


def test_empty_file() -> None:
    fp = hash_bytes(b"", name="empty.jpg")
    assert fp.error is not None
    assert fp.error.code == "empty"


def test_truncated_jpeg_keeps_crypto_digests() -> None:
    data = encode(photo_like(800, 600), "JPEG", quality=90)[:5000]
    fp = hash_bytes(data)
    assert fp.error is not None
    assert fp.error.code == "truncated"
    assert fp.md5 == hashlib.md5(data).hexdigest()
    assert fp.pdq is None


def test_png_with_corrupt_chunk() -> None:
    data = bytearray(encode(photo_like(300, 200), "PNG"))
    data[29] ^= 0xFF  # inside the IHDR checksum
    fp = hash_bytes(bytes(data))
    assert fp.error is not None
    assert fp.error.code == "corrupt"
    assert "checksum" in fp.error.message or "broken" in fp.error.message


def test_png_with_corrupt_image_data() -> None:
    data = bytearray(encode(photo_like(300, 200, seed=9), "PNG"))
    start = data.index(b"IDAT") + 4
    data[start + 10 : start + 200] = b"\xab" * 190
    fp = hash_bytes(bytes(data))
    assert fp.error is not None
    assert fp.error.code in ("corrupt", "truncated")


def test_text_named_jpg_is_an_error() -> None:
    fp = hash_bytes(b"just some words, not pixels\n", name="holiday.jpg")
    assert fp.error is not None
    assert fp.error.code == "not-an-image"
    assert "text/plain" in fp.error.message


@pytest.mark.slow
def test_png_bomb_is_refused_before_decoding() -> None:
    bomb = png_bomb(30000)
    assert len(bomb) < 2_000_000
    fp = hash_bytes(bomb, name="bomb.png")
    assert fp.error is not None
    assert fp.error.code == "too-many-pixels"
    assert "900,000,000" in fp.error.message
    assert fp.md5 == hashlib.md5(bomb).hexdigest()


def test_file_size_limit() -> None:
    fp = hash_bytes(encode(photo_like(100, 100), "PNG"), settings=Settings(max_file_bytes=10))
    assert fp.error is not None
    assert fp.error.code == "file-too-large"
    assert fp.signals == ()


def test_directory_is_not_a_regular_file(tmp_path: Path) -> None:
    with pytest.raises(NotARegularFile):
        hash_file(tmp_path)
