"""The parts of NCMEC's CyberTipline report schema (the ``/ispws`` XSD) that its validator
checks, as data, and a validator that applies them.

The tables are the single statement of the schema in Bastion's tests: the fake CyberTipline
refuses documents with them, and the tests of Bastion's report builder check what it builds
against them, so the two cannot drift apart.

``SEQUENCES`` maps an element to its ``xs:sequence``: ``(child, min, max)`` in the order the
children must appear, ``max`` None for unbounded.  ``CHOICES`` maps an element to the
children it holds exactly one of.  An element in neither table is a leaf, or a complex type
whose content the summary of the schema this was written from does not give (``address``,
``phone``, ``victim``, the incident types other than web pages ...): its content is not
checked beyond the leaf rules below, which apply wherever the element appears.

Documents carry no namespace (NCMEC's have none), so a namespaced element is an unknown one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Final
from xml.etree.ElementTree import Element

#: One child in a sequence: its name, and how often it may appear (max None: unbounded).
Particle = tuple[str, int, int | None]

_Q = (0, 1)  # ?  optional
_S = (0, None)  # *  zero or more
_P = (1, None)  # +  one or more
_R = (1, 1)  # required, once


def _seq(*children: tuple[str, tuple[int, int | None]]) -> tuple[Particle, ...]:
    return tuple((name, low, high) for name, (low, high) in children)


#: Type Person: the reporting person and the reported person.
_PERSON = _seq(
    ("firstName", _Q),
    ("lastName", _Q),
    ("phone", _S),
    ("email", _S),
    ("address", _S),
    ("age", _Q),
    ("dateOfBirth", _Q),
)

#: NCMEC's validator wants more of the reporting person than type Person does: a first and
#: last name and at least one email.  The table holds what is accepted, not the bare type.
_REPORTING_PERSON = tuple(
    (name, 1, high) if name in ("firstName", "lastName", "email") else (name, low, high)
    for name, low, high in _PERSON
)

SEQUENCES: Final[Mapping[str, tuple[Particle, ...]]] = {
    "report": _seq(
        ("batchedReport", _Q),
        ("incidentSummary", _R),
        ("internetDetails", _S),
        ("lawEnforcement", _Q),
        ("reporter", _R),
        ("personOrUserReported", _Q),
        ("intendedRecipient", _S),
        ("victim", _S),
        ("additionalInfo", _Q),
    ),
    "incidentSummary": _seq(
        ("incidentType", _R),
        ("platform", _Q),
        ("escalateToHighPriority", _Q),
        ("reportAnnotations", _Q),
        ("incidentDateTime", _R),
        ("incidentDateTimeDescription", _Q),
    ),
    "webPageIncident": _seq(("url", _S), ("additionalInfo", _Q)),
    "reporter": _seq(
        ("reportingPerson", _R),
        ("contactPerson", _Q),
        ("companyTemplate", _Q),
        ("termsOfService", _Q),
        ("legalURL", _Q),
    ),
    "reportingPerson": _REPORTING_PERSON,
    "personOrUserReportedPerson": _PERSON,
    "contactPerson": _seq(
        ("firstName", _Q), ("lastName", _Q), ("phone", _S), ("email", _S), ("address", _S)
    ),
    "personOrUserReported": _seq(
        ("personOrUserReportedPerson", _Q),
        ("vehicleDescription", _Q),
        ("espIdentifier", _Q),
        ("espService", _Q),
        ("compromisedAccount", _Q),
        ("screenName", _Q),
        ("displayName", _S),
        ("profileUrl", _S),
        ("profileBio", _Q),
        ("ipCaptureEvent", _S),
        ("deviceId", _S),
        ("thirdPartyUserReported", _Q),
        ("priorCTReports", _S),
        ("groupIdentifier", _Q),
        ("accountTemporarilyDisabled", _Q),
        ("accountPermanentlyDisabled", _Q),
        ("estimatedLocation", _Q),
        ("allEmailsReported", _Q),
        ("associatedAccount", _S),
        ("additionalInfo", _Q),
    ),
    "ipCaptureEvent": _seq(
        ("ipAddress", _R), ("eventName", _Q), ("dateTime", _Q), ("possibleProxy", _Q), ("port", _Q)
    ),
    "deviceId": _seq(("idType", _Q), ("idValue", _Q), ("eventName", _Q), ("dateTime", _Q)),
    "fileDetails": _seq(
        ("reportId", _R),
        ("fileId", _R),
        ("fileName", _Q),
        ("originalFileName", _Q),
        ("uploadedToEspTimestamp", _Q),
        ("locationOfFile", _Q),
        ("fileViewedByEsp", _Q),
        ("exifViewedByEsp", _Q),
        ("publiclyAvailable", _Q),
        ("fileRelevance", _Q),
        ("potentialMeme", _Q),
        ("fileAnnotations", _Q),
        ("industryClassification", _Q),
        ("originalFileHash", _S),
        ("ipCaptureEvent", _Q),
        ("deviceId", _S),
        ("details", _S),
        ("additionalInfo", _S),
    ),
    "fileAnnotations": _seq(
        ("animeDrawingVirtualHentai", _Q),
        ("potentialMeme", _Q),
        ("viral", _Q),
        ("possibleSelfProduction", _Q),
        ("physicalHarm", _Q),
        ("violenceGore", _Q),
        ("bestiality", _Q),
        ("liveStreaming", _Q),
        ("infant", _Q),
        ("generativeAi", _Q),
    ),
    "details": _seq(("nameValuePair", _S)),
    "nameValuePair": _seq(("name", _R), ("value", _R)),
    "reportAnnotations": _seq(
        ("sextortion", _Q),
        ("csamSolicitation", _Q),
        ("minorToMinorInteraction", _Q),
        ("spam", _Q),
        ("sadisticOnlineExploitation", _Q),
    ),
}

CHOICES: Final[Mapping[str, tuple[str, ...]]] = {
    "internetDetails": (
        "webPageIncident",
        "emailIncident",
        "newsgroupIncident",
        "chatImIncident",
        "onlineGamingIncident",
        "cellPhoneIncident",
        "nonInternetIncident",
        "peer2peerIncident",
    ),
}

#: Elements whose children are flags: empty elements, present meaning true.
FLAG_PARENTS: Final = frozenset({"fileAnnotations", "reportAnnotations"})

#: The schema's fixed enumeration values (data, exactly as the XSD spells them).
INCIDENT_TYPES: Final = (
    "Child Pornography (possession, manufacture, and distribution)",
    "Child Sex Trafficking",
    "Child Sex Tourism",
    "Child Sexual Molestation",
    "Misleading Domain Name",
    "Misleading Words or Digital Images on the Internet",
    "Online Enticement of Children for Sexual Acts",
    "Unsolicited Obscene Material Sent to a Child",
)
EVENT_NAMES: Final = ("Login", "Registration", "Purchase", "Upload", "Other", "Unknown")
FILE_RELEVANCES: Final = ("Reported", "Supplemental Reported")
INDUSTRY_CLASSIFICATIONS: Final = ("A1", "A2", "B1", "B2")
DETAILS_TYPES: Final = ("EXIF", "HASH")

#: Leaves of each kind.  A leaf's text is whitespace-collapsed before it is checked, as
#: XSD does for these types; ``potentialMeme`` is a boolean in ``fileDetails`` only (in
#: ``fileAnnotations`` it is a flag).
ENUMERATIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "incidentType": INCIDENT_TYPES,
    "eventName": EVENT_NAMES,
    "fileRelevance": FILE_RELEVANCES,
    "industryClassification": INDUSTRY_CLASSIFICATIONS,
}
BOOLEANS: Final = frozenset(
    {"fileViewedByEsp", "exifViewedByEsp", "publiclyAvailable", "possibleProxy", "potentialMeme"}
)
DATE_TIMES: Final = frozenset({"incidentDateTime", "uploadedToEspTimestamp", "dateTime"})
INTEGERS: Final[Mapping[str, tuple[int | None, int | None]]] = {
    "port": (0, 65535),
    "reportId": (None, None),
}
NON_EMPTY: Final = frozenset({"email"})

#: Attributes checked: element -> {attribute: (required, allowed values or None for any
#: non-empty text)}.  Attributes of other elements are not checked.
ATTRIBUTES: Final[Mapping[str, Mapping[str, tuple[bool, tuple[str, ...] | None]]]] = {
    "webPageIncident": {"thirdPartyHostedContent": (False, ("true", "false"))},
    "details": {"type": (False, DETAILS_TYPES)},
    "originalFileHash": {"hashType": (True, None)},
}

# xs:dateTime with its timezone required: Bastion must say which instant it means.
_DATE_TIME = re.compile(r"-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_INTEGER = re.compile(r"[+-]?\d+")


class Invalid(ValueError):
    """The document does not follow the schema; the message names the element."""


def validate(root: Element, name: str) -> None:
    """Raise ``Invalid`` unless ``root`` is a ``name`` element that follows the schema."""
    if root.tag != name:
        raise Invalid(f"the document's root is <{root.tag}>, expected <{name}>")
    _validate(root, parent=None)


def _validate(element: Element, parent: str | None) -> None:
    tag = element.tag
    _check_attributes(element)
    if parent in FLAG_PARENTS:
        if len(element) or (element.text or "").strip():
            raise Invalid(f"<{tag}> in <{parent}> is a flag and must be empty")
        return
    if tag in SEQUENCES:
        _check_no_text(element)
        _check_sequence(tag, list(element), SEQUENCES[tag])
    elif tag in CHOICES:
        _check_no_text(element)
        allowed = CHOICES[tag]
        children = list(element)
        for child in children:
            if child.tag not in allowed:
                raise Invalid(f"unknown element <{child.tag}> in <{tag}>")
        if len(children) != 1:
            raise Invalid(f"<{tag}> must hold exactly one of {', '.join(allowed)}")
    else:
        _check_leaf(element)
        return
    for child in element:
        _validate(child, tag)


def _check_sequence(tag: str, children: list[Element], sequence: tuple[Particle, ...]) -> None:
    positions = {name: index for index, (name, _, _) in enumerate(sequence)}
    furthest = -1
    for child in children:
        position = positions.get(child.tag)
        if position is None:
            raise Invalid(f"unknown element <{child.tag}> in <{tag}>")
        if position < furthest:
            raise Invalid(
                f"<{child.tag}> is out of order in <{tag}>: "
                f"it must come before <{sequence[furthest][0]}>"
            )
        furthest = position
    counts = dict.fromkeys(positions, 0)
    for child in children:
        counts[child.tag] += 1
    for name, low, high in sequence:
        if counts[name] < low:
            raise Invalid(f"<{tag}> is missing <{name}>")
        if high is not None and counts[name] > high:
            raise Invalid(f"<{name}> may appear at most {high} time(s) in <{tag}>")


def _check_no_text(element: Element) -> None:
    """Element-only content: text between the children is refused, whitespace aside."""
    texts = [element.text, *(child.tail for child in element)]
    if any((text or "").strip() for text in texts):
        raise Invalid(f"<{element.tag}> holds text; it may hold only elements")


def _check_leaf(element: Element) -> None:
    tag = element.tag
    checked = (
        tag in ENUMERATIONS
        or tag in DATE_TIMES
        or tag in INTEGERS
        or tag in NON_EMPTY
        or tag in BOOLEANS  # a flag (in a FLAG_PARENTS element) never comes here
    )
    if not checked:
        return
    if len(element):
        raise Invalid(f"<{tag}> holds elements; it may hold only a value")
    value = " ".join((element.text or "").split())
    if tag in ENUMERATIONS:
        if value not in ENUMERATIONS[tag]:
            raise Invalid(f"<{tag}> value {value!r} is not one of the allowed values")
    elif tag in BOOLEANS:
        if value not in ("true", "false"):
            raise Invalid(f"<{tag}> value {value!r} is not true or false")
    elif tag in DATE_TIMES:
        if not _is_date_time(value):
            raise Invalid(f"<{tag}> value {value!r} is not a dateTime with a UTC offset")
    elif tag in INTEGERS:
        low, high = INTEGERS[tag]
        if (
            not _INTEGER.fullmatch(value)
            or (low is not None and int(value) < low)
            or (high is not None and int(value) > high)
        ):
            raise Invalid(f"<{tag}> value {value!r} is not an integer in range")
    elif not value:
        raise Invalid(f"<{tag}> is empty")


def _is_date_time(value: str) -> bool:
    if not _DATE_TIME.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:  # a month 13, a 25th hour, an offset past 23:59
        return False
    return True


def _check_attributes(element: Element) -> None:
    for attribute, (required, allowed) in ATTRIBUTES.get(element.tag, {}).items():
        value = element.get(attribute)
        if value is None:
            if required:
                raise Invalid(f"<{element.tag}> is missing the attribute {attribute}")
            continue
        value = " ".join(value.split())
        if (allowed is None and not value) or (allowed is not None and value not in allowed):
            raise Invalid(f"<{element.tag}> attribute {attribute}={value!r} is not allowed")
