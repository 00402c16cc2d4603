"""What a CyberTipline report says, as values: the report, its people and its files.

These are built from review records (``bastion.reports.drafting``) and turned
into NCMEC's XML by ``bastion.reports.cybertip_xml``; nothing here knows
either the store or the wire format.  The fixed vocabularies are NCMEC's
schema enumerations, kept as data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bastion.review.context import IpCapture

#: The CyberTipline's incident types (its schema's enumeration, exactly as spelled there).
INCIDENT_TYPES = (
    "Child Pornography (possession, manufacture, and distribution)",
    "Child Sex Trafficking",
    "Child Sex Tourism",
    "Child Sexual Molestation",
    "Misleading Domain Name",
    "Misleading Words or Digital Images on the Internet",
    "Online Enticement of Children for Sexual Acts",
    "Unsolicited Obscene Material Sent to a Child",
)
DEFAULT_INCIDENT_TYPE = INCIDENT_TYPES[0]

#: File annotations NCMEC defines (empty flag elements), in its schema's order.
FILE_ANNOTATIONS = (
    "animeDrawingVirtualHentai",
    "potentialMeme",
    "viral",
    "possibleSelfProduction",
    "physicalHarm",
    "violenceGore",
    "bestiality",
    "liveStreaming",
    "infant",
    "generativeAi",
)
GENERATIVE_AI = "generativeAi"

#: The industry classification scale (A1, A2, B1, B2) a confirmed category maps to.
INDUSTRY_CLASSES = ("A1", "A2", "B1", "B2")

#: Hashes sent as ``originalFileHash``, by the scan row's field: NCMEC's ``hashType``.
FILE_HASHES = (("md5", "MD5"), ("sha1", "SHA1"), ("pdq", "PDQ"))


@dataclass(frozen=True, slots=True)
class Person:
    first_name: str | None = None
    last_name: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Person:
        return cls(
            data.get("first_name") or None,
            data.get("last_name") or None,
            tuple(data.get("emails") or ()),
            tuple(data.get("phones") or ()),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "emails": list(self.emails),
            "phones": list(self.phones),
        }


@dataclass(frozen=True, slots=True)
class Reporter:
    """Who reports: set once per installation (``bastion report reporter set``)."""

    reporting: Person
    contact: Person | None = None
    company_template: str | None = None
    terms_of_service: str | None = None
    legal_url: str | None = None
    #: The platform's product the reported user used (``espService``).
    esp_service: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reporter:
        contact = data.get("contact")
        return cls(
            Person.from_dict(data.get("reporting") or {}),
            Person.from_dict(contact) if contact else None,
            data.get("company_template") or None,
            data.get("terms_of_service") or None,
            data.get("legal_url") or None,
            data.get("esp_service") or None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "reporting": self.reporting.to_dict(),
            "contact": self.contact.to_dict() if self.contact else None,
            "company_template": self.company_template,
            "terms_of_service": self.terms_of_service,
            "legal_url": self.legal_url,
            "esp_service": self.esp_service,
        }


@dataclass(frozen=True, slots=True)
class ReportedUser:
    """The uploader, as the platform knows them (``personOrUserReported``)."""

    esp_identifier: str | None = None
    screen_name: str | None = None
    emails: tuple[str, ...] = ()
    ip_events: tuple[IpCapture, ...] = ()
    esp_service: str | None = None


@dataclass(frozen=True, slots=True)
class FileReport:
    """One file's ``fileDetails``, all but the ids NCMEC hands out."""

    item_id: int
    file_name: str
    original_file_name: str | None = None
    uploaded_at: datetime | None = None
    location: str | None = None
    #: A person at the provider revealed the file (US v. Wilson).
    viewed: bool = False
    #: A person at the provider revealed its EXIF metadata.
    exif_viewed: bool = False
    public: bool | None = None
    annotations: tuple[str, ...] = ()
    classification: str | None = None
    hashes: tuple[tuple[str, str], ...] = ()
    ip_event: IpCapture | None = None
    #: EXIF name/value pairs, sent only when a person viewed them.
    exif: tuple[tuple[str, str], ...] = ()
    additional_info: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TipReport:
    """The ``<report>`` document's content."""

    incident_type: str
    incident_at: datetime
    reporter: Reporter
    urls: tuple[str, ...] = ()
    reported: ReportedUser | None = None
    escalate: str | None = None
    additional_info: str | None = None
    files: tuple[FileReport, ...] = field(default=())
