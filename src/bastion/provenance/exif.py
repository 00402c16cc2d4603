"""EXIF: the camera and software a file names, its capture time, GPS and UserComment.

A camera make and model are context, not proof: EXIF is unsigned and copied
between files freely (generated images are often given a camera's EXIF), so
they are reported as a note.  With the body serial number, the original
capture time and the GPS position they are also what victim identification
works from, so they are kept in the note's detail.  The UserComment is where AUTOMATIC1111 and
SwarmUI write their generation parameters in JPEG and WebP; the generator
readers take it from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from bastion.provenance.carriers import Carriers
from bastion.provenance.evidence import Evidence, Strength

READER = "exif"
_IFD0 = {0x010F: "make", 0x0110: "model", 0x0131: "software", 0x010E: "description"}
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_USER_COMMENT = 0x9286
#: Exif IFD tags: DateTimeOriginal and BodySerialNumber (EXIF 2.3).
_EXIF_FIELDS = {0x9003: "captured_at", 0xA431: "serial"}
#: DNG's CameraSerialNumber, in IFD0 when a camera writes no BodySerialNumber.
_CAMERA_SERIAL = 0xC62F
#: The fields that are evidence of a camera (a case puts such items first).
CAMERA_FIELDS = ("make", "model", "serial", "captured_at")
#: The 8-byte character code that starts a UserComment (EXIF 2.3, table 9).
_CHARSETS = {b"ASCII\x00\x00\x00": "ascii", b"UNICODE\x00": "utf-16", b"\x00" * 8: "undefined"}


@dataclass(slots=True)
class ExifFields:
    values: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def parse_exif(carriers: Carriers) -> ExifFields:
    fields = ExifFields(problems=list(carriers.problems.get("exif", [])))
    if carriers.exif is None:
        return fields
    exif = Image.Exif()
    try:
        exif.load(carriers.exif)
        for tag, name in _IFD0.items():
            value = _text(exif.get(tag))
            if value:
                fields.values[name] = value
        exif_ifd = exif.get_ifd(_EXIF_IFD)
        for tag, name in _EXIF_FIELDS.items():
            value = _text(exif_ifd.get(tag))
            if value:
                fields.values[name] = value
        serial = _text(exif.get(_CAMERA_SERIAL))
        if serial and "serial" not in fields.values:
            fields.values["serial"] = serial
        position = _gps(exif.get_ifd(_GPS_IFD))
        if position:
            fields.values["gps"] = position
        comment = exif_ifd.get(_USER_COMMENT)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types on malformed TIFF
        fields.problems.append(f"EXIF block does not parse: {exc}")
        return fields
    if isinstance(comment, bytes) and comment:
        fields.values["user_comment"] = user_comment(comment)
    elif isinstance(comment, str) and comment.strip("\x00 "):
        fields.values["user_comment"] = comment
    return fields


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.strip("\x00 ") if isinstance(value, str) and value.strip("\x00 ") else None


def _gps(ifd: dict[int, Any]) -> str | None:
    """``"lat,lon"`` in decimal degrees from the GPS IFD, if it holds a position."""
    try:
        latitude = _degrees(ifd[2], ifd.get(1))
        longitude = _degrees(ifd[4], ifd.get(3))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return f"{latitude:.6f},{longitude:.6f}"


def _degrees(parts: Any, reference: Any) -> float:
    degrees, minutes, seconds = (float(part) for part in parts)
    value = degrees + minutes / 60 + seconds / 3600
    ref = reference.decode() if isinstance(reference, bytes) else str(reference or "")
    return -value if ref.strip("\x00 ").upper() in ("S", "W") else value


def user_comment(raw: bytes) -> str:
    """A UserComment's text; UTF-16 in either byte order (writers disagree)."""
    charset = _CHARSETS.get(raw[:8])
    body = raw[8:] if charset else raw
    if charset == "utf-16":
        # Big-endian per the standard; piexif and others write little-endian.
        zeros_even = body[0::2].count(0)
        zeros_odd = body[1::2].count(0)
        order = "utf-16-be" if zeros_even >= zeros_odd else "utf-16-le"
        return body.decode(order, "replace").strip("\x00")
    return body.decode("utf-8", "replace").strip("\x00 ")


def read_exif(fields: ExifFields) -> list[Evidence]:
    found = [Evidence(READER, Strength.UNREADABLE, f"unreadable: {p}") for p in fields.problems]
    make, model = fields.get("make"), fields.get("model")
    detail = {k: v for k, v in fields.values.items() if k in (*CAMERA_FIELDS, "software", "gps")}
    if make or model:
        same_make = make and model and model.lower().startswith(make.lower())
        camera = model if same_make else " ".join(v for v in (make, model) if v)
        summary = f"EXIF names camera {camera} (unsigned; often copied into other files)"
        found.append(Evidence(READER, Strength.NOTE, summary, detail=detail))
    elif any(name in detail for name in CAMERA_FIELDS):
        summary = "EXIF gives a camera's capture time or serial number (unsigned)"
        found.append(Evidence(READER, Strength.NOTE, summary, detail=detail))
    return found
