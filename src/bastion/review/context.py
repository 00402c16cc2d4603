"""What a platform says of an upload besides its bytes: who uploaded it, from
where and when, and where it was visible.

A CyberTipline report needs it (the reported user, IP capture events, the
file's URL and whether it was public), and only the platform knows it.  It
arrives with ``/v1/scan`` as one JSON document, is checked here once, and is
kept encrypted with the item's media under the same keys and retention.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bastion.review.items import ReviewError

#: The CyberTipline's IP capture event names (its schema's enumeration).
IP_EVENTS = ("Login", "Registration", "Purchase", "Upload", "Other", "Unknown")

_LONGEST_TEXT = 2048
_MOST_IP_EVENTS = 100


class ContextError(ReviewError):
    """An upload's context that cannot be used as sent."""

    code = "upload-context"
    status = 400


@dataclass(frozen=True, slots=True)
class IpCapture:
    """An address the uploader used, for what, and when."""

    address: str
    event: str = "Unknown"
    at: datetime | None = None
    port: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "event": self.event,
            "at": self.at.isoformat() if self.at else None,
            "port": self.port,
        }


@dataclass(frozen=True, slots=True)
class UploadContext:
    uploader_id: str | None = None
    screen_name: str | None = None
    email: str | None = None
    ip_events: tuple[IpCapture, ...] = ()
    uploaded_at: datetime | None = None
    url: str | None = None
    public: bool | None = None
    #: The prompt a generated upload was made from (kept only when the
    #: operator asks: ``BASTION_CHECK_KEEP_PROMPTS``).
    prompt: str | None = None

    @classmethod
    def from_json(cls, text: str) -> UploadContext:
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise ContextError(f"context is not JSON: {exc}") from None
        return cls.from_mapping(document)

    @classmethod
    def from_mapping(cls, document: object) -> UploadContext:
        """The context a platform sent, or a ``ContextError`` naming the field at fault."""
        fields = _object(
            document, "context", {"uploader", "ip_events", "uploaded_at", "url", "public", "prompt"}
        )
        uploader = _object(
            {} if fields.get("uploader") is None else fields["uploader"],
            "uploader",
            {"id", "screen_name", "email"},
        )
        email = _text(uploader.get("email"), "uploader.email")
        if email is not None and "@" not in email:
            raise ContextError(f"uploader.email {email!r} is not an email address")
        events = [] if fields.get("ip_events") is None else fields["ip_events"]
        if not isinstance(events, list):
            raise ContextError("ip_events must be a list")
        if len(events) > _MOST_IP_EVENTS:
            raise ContextError(f"ip_events holds {len(events)} events; at most {_MOST_IP_EVENTS}")
        url = _text(fields.get("url"), "url")
        if url is not None and not url.startswith(("http://", "https://")):
            raise ContextError(f"url {url!r} is not an http(s) URL")
        public = fields.get("public")
        if public is not None and not isinstance(public, bool):
            raise ContextError("public must be true or false")
        return cls(
            uploader_id=_text(uploader.get("id"), "uploader.id"),
            screen_name=_text(uploader.get("screen_name"), "uploader.screen_name"),
            email=email,
            ip_events=tuple(_ip_event(event, f"ip_events[{n}]") for n, event in enumerate(events)),
            uploaded_at=_moment(fields.get("uploaded_at"), "uploaded_at"),
            url=url,
            public=public,
            prompt=_text(fields.get("prompt"), "prompt"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "uploader": {
                "id": self.uploader_id,
                "screen_name": self.screen_name,
                "email": self.email,
            },
            "ip_events": [event.to_dict() for event in self.ip_events],
            "uploaded_at": self.uploaded_at.isoformat() if self.uploaded_at else None,
            "url": self.url,
            "public": self.public,
            "prompt": self.prompt,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @property
    def empty(self) -> bool:
        return self == UploadContext()


def _object(value: object, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ContextError(f"{where} must be a JSON object")
    unknown = sorted(str(key) for key in value if key not in allowed)
    if unknown:
        raise ContextError(
            f"{where} has unknown field(s) {', '.join(unknown)} "
            f"(expected {', '.join(sorted(allowed))})"
        )
    return value


def _text(value: object, where: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ContextError(f"{where} must be text")
    if len(value) > _LONGEST_TEXT:
        raise ContextError(f"{where} is longer than {_LONGEST_TEXT} characters")
    return value


def parse_moment(text: str) -> datetime:
    """An ISO 8601 date and time that says its UTC offset (a time without one
    names no instant), or a ``ValueError`` saying which of the two it is not."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (add Z or +HH:MM)")
    return moment


def _moment(value: object, where: str) -> datetime | None:
    text = _text(value, where)
    if text is None:
        return None
    try:
        return parse_moment(text)
    except ValueError as exc:
        raise ContextError(f"{where} {exc}") from None


def _ip_event(value: object, where: str) -> IpCapture:
    fields = _object(value, where, {"address", "event", "at", "port"})
    address = _text(fields.get("address"), f"{where}.address")
    if address is None:
        raise ContextError(f"{where}.address is required")
    try:
        address = str(ipaddress.ip_address(address))
    except ValueError:
        raise ContextError(f"{where}.address {address!r} is not an IP address") from None
    event = _text(fields.get("event"), f"{where}.event") or "Unknown"
    if event not in IP_EVENTS:
        raise ContextError(f"{where}.event {event!r} is not one of {', '.join(IP_EVENTS)}")
    port = fields.get("port")
    if port is not None and (
        isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535
    ):
        raise ContextError(f"{where}.port must be a whole number from 0 to 65535")
    return IpCapture(address, event, _moment(fields.get("at"), f"{where}.at"), port)
