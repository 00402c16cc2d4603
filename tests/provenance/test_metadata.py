"""XMP/IPTC and EXIF readers, and how malformed metadata is reported."""

from __future__ import annotations

import zlib

import pytest

from bastion.config import Settings
from bastion.provenance import InspectOptions, Strength, inspect_bytes
from tests.provenance.files import chunk, exif_with, jpeg, png, png_with_chunks, xmp_packet

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
SETTINGS = Settings()
A1111 = (
    "placeholder words\nSteps: 20, Sampler: Euler a, Seed: 1, Model hash: 0123456789, Model: base"
)


def assess(data: bytes, mime: str | None = None, **options: bool):
    return inspect_bytes(data, mime, SETTINGS, InspectOptions(**options))


@pytest.mark.parametrize(
    ("inner", "attributes"),
    [
        (
            f"<Iptc4xmpExt:DigitalSourceType>{IPTC}trainedAlgorithmicMedia</Iptc4xmpExt:DigitalSourceType>",
            "",
        ),
        ("", f'Iptc4xmpExt:DigitalSourceType="{IPTC}trainedAlgorithmicMedia"'),
        (f'<Iptc4xmpExt:DigitalSourceType rdf:resource="{IPTC}trainedAlgorithmicMedia"/>', ""),
    ],
    ids=["element", "attribute", "resource"],
)
def test_digital_source_type_in_every_form(inner: str, attributes: str) -> None:
    result = assess(jpeg(xmp=xmp_packet(inner, attributes)))
    assert result.level == "ai-generated — declared"
    assert "trainedAlgorithmicMedia" in result.summary


def test_xmp_in_png_itxt_and_camera_capture() -> None:
    packet = xmp_packet(
        f"<Iptc4xmpExt:DigitalSourceType>{IPTC}digitalCapture</Iptc4xmpExt:DigitalSourceType>"
    )
    result = assess(png({"XML:com.adobe.xmp": packet.decode()}, itxt=True))
    assert result.level == "camera capture — declared"


def test_iptc_2025_ai_fields_and_withheld_prompt() -> None:
    packet = xmp_packet(
        "<Iptc4xmpExt:AISystemUsed>Placeholder Engine</Iptc4xmpExt:AISystemUsed>"
        "<Iptc4xmpExt:AISystemVersionUsed>2.1</Iptc4xmpExt:AISystemVersionUsed>"
        "<Iptc4xmpExt:AIPromptInformation>alpha beta gamma</Iptc4xmpExt:AIPromptInformation>"
    )
    withheld = assess(jpeg(xmp=packet))
    assert withheld.level == "ai-generated — declared"
    assert "AI system Placeholder Engine 2.1" in withheld.summary
    (xmp,) = [e for e in withheld.evidence if e.reader == "xmp"]
    assert "ai_prompt" not in xmp.detail
    assert xmp.detail["withheld"] == ["ai_prompt"]
    shown = assess(jpeg(xmp=packet), include_prompts=True)
    (xmp,) = [e for e in shown.evidence if e.reader == "xmp"]
    assert xmp.detail["ai_prompt"] == ["alpha beta gamma"]


def test_exif_camera_is_a_note_never_a_verdict() -> None:
    result = assess(jpeg(exif=exif_with(make="Acme", model="Acme Model 7")))
    assert result.level == "no provenance evidence"
    (note,) = result.evidence
    assert note.strength is Strength.NOTE
    assert "Acme Model 7" in note.summary


@pytest.mark.parametrize("encoding", ["utf-16-be", "utf-16-le"])
def test_exif_user_comment_parameters_in_either_byte_order(encoding: str) -> None:
    comment = b"UNICODE\x00" + A1111.encode(encoding)
    result = assess(jpeg(exif=exif_with(user_comment=comment)))
    assert result.level == "ai-generated — declared"
    (generator,) = [e for e in result.evidence if e.reader == "generator"]
    assert generator.detail["source"] == "EXIF UserComment"
    assert generator.detail["models"][0]["hash"] == "0123456789"


def test_a_10_mb_xmp_packet_is_unreadable_and_other_readers_still_run() -> None:
    padding = "<!-- " + "x" * (10 << 20) + " -->"
    packet = xmp_packet(padding)
    data = png({"XML:com.adobe.xmp": packet.decode(), "parameters": A1111}, itxt=True)
    result = assess(data)
    unreadable = [e for e in result.evidence if e.strength is Strength.UNREADABLE]
    assert [e.reader for e in unreadable] == ["xmp"]
    assert "exceeds the 4,194,304-byte metadata limit" in unreadable[0].summary
    assert result.level == "ai-generated — declared"


def test_xml_entities_are_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>'
    )
    result = assess(jpeg(xmp=bomb))
    (problem,) = result.evidence
    assert problem.reader == "xmp"
    assert problem.strength is Strength.UNREADABLE


def test_invalid_utf8_in_itxt_is_unreadable_for_that_chunk_only() -> None:
    broken = chunk(b"iTXt", b"parameters\x00\x00\x00\x00\x00\xff\xfe placeholder")
    fine = chunk(b"tEXt", b"Software\x00NovelAI")
    result = assess(png_with_chunks(broken, fine))
    readers = {(e.reader, e.strength) for e in result.evidence}
    assert ("generator", Strength.UNREADABLE) in readers
    assert "not valid UTF-8" in " ".join(e.summary for e in result.evidence)
    assert result.level == "ai-generated — declared"  # the NovelAI Software field still counts


def test_invalid_json_is_unreadable() -> None:
    result = assess(png({"prompt": "{not json"}))
    (problem,) = result.evidence
    assert problem.strength is Strength.UNREADABLE
    assert "PNG text 'prompt' is not valid JSON" in problem.summary
    assert result.level == "no provenance evidence"


def test_compressed_text_bomb_is_stopped_at_the_limit() -> None:
    bomb = zlib.compress(b"a" * (64 << 20), 9)
    result = assess(png_with_chunks(chunk(b"zTXt", b"parameters\x00\x00" + bomb)))
    (problem,) = result.evidence
    assert "decompresses beyond" in problem.summary


def test_truncated_container_is_reported_not_raised() -> None:
    data = jpeg(xmp=xmp_packet(""))[:30]
    assert assess(data).level == "no provenance evidence"
    assert assess(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR").level == "no provenance evidence"


def test_plain_photo_has_no_evidence() -> None:
    result = assess(jpeg())
    assert result.level == "no provenance evidence"
    assert result.evidence == ()
