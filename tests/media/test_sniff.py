from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.media.sniff import MediaKind, sniff
from tests.images import encode, photo_like


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("GIF", "image/gif"),
        ("WEBP", "image/webp"),
        ("BMP", "image/bmp"),
        ("TIFF", "image/tiff"),
    ],
)
def test_image_formats_by_content(fmt: str, mime: str) -> None:
    media = sniff(encode(photo_like(32, 32), fmt)[:512])
    assert (media.mime, media.kind) == (mime, MediaKind.IMAGE)


@pytest.mark.parametrize(
    ("name", "mime"),
    [
        ("sample1.heic", "image/heif"),
        ("sample1.avif", "image/avif"),
        ("pdf-file.pdf", "application/pdf"),
    ],
)
def test_reference_files(testdata: Path, name: str, mime: str) -> None:
    assert sniff((testdata / "c2pa" / name).read_bytes()[:512]).mime == mime


@pytest.mark.parametrize(
    ("head", "mime", "kind"),
    [
        (b"", "application/x-empty", MediaKind.EMPTY),
        (b"hello, plain words\n", "text/plain", MediaKind.TEXT),
        (b"PK\x03\x04rest", "application/zip", MediaKind.ARCHIVE),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", "video/mp4", MediaKind.VIDEO),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "video/quicktime", MediaKind.VIDEO),
        (b"\x1a\x45\xdf\xa3\x93\x42\x82\x88matroska", "video/x-matroska", MediaKind.VIDEO),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "video/x-msvideo", MediaKind.VIDEO),
        (b"\x00" * 257 + b"ustar\x0000", "application/x-tar", MediaKind.ARCHIVE),
        (b"\x00\x01\x02\x03\xff\xfe", "application/octet-stream", MediaKind.UNKNOWN),
    ],
)
def test_non_image_signatures(head: bytes, mime: str, kind: MediaKind) -> None:
    media = sniff(head)
    assert (media.mime, media.kind) == (mime, kind)


@given(st.binary(max_size=600))
def test_never_raises(head: bytes) -> None:
    assert sniff(head).mime
