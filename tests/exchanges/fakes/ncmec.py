"""A loopback stand-in for NCMEC's hash sharing API v2 (the XML one), for client tests and
the sync benchmark.

What it reproduces, because a client must cope with it:

* entries come back in the order they were stored, not in time order, so a page's
  ``maxTimestamp`` says nothing about what later pages hold;
* ``next`` links are relative to the environment's base URL, XML-escaped, valid only for
  the window that issued them and only for a while (HTTP 400 afterwards);
* the same entry id may be used by two members;
* fingerprints may be given as links (``<tmk-pdqf rel="self" href="..."/>``), not values.

Windows are half-open: an entry is in ``from=A&to=B`` when ``A <= timestamp < B``, so a
client that checkpoints ``B`` and next asks from ``B`` neither misses nor repeats an entry.

A first-page query (no ``start``) takes a snapshot of the window's entries; its ``next``
links page through that snapshot, so entries added meanwhile do not shift pages.  The
next first-page query of the same window takes a fresh snapshot and the older snapshot's
links stop working.

In a ``next`` link, ``start`` is the 1-based position of the page's first entry in the
snapshot, ``size`` the page size and ``max`` the number of entries in the snapshot.
"""

from __future__ import annotations

import base64
import hashlib
import random
import time
from array import array
from calendar import timegm
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, NamedTuple
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

from tests.exchanges.fakes.http import FakeServer, Request, Response

NAMESPACE = "https://hashsharing.ncmec.org/hashsharing/v2"

#: A fingerprint value starting with this renders as a link: the rest of the value is the
#: href, or, when nothing follows, the href NCMEC uses (``/v2/entries/ID/fingerprints/NAME``).
LINK = "link:"

Kind = Literal["image", "video"]

_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
_CLASSIFICATIONS: tuple[str | None, ...] = ("A1", "A2", "B1", "B2", None)
_GEN_VIDEO = 1
_GEN_DELETED = 2


class _Stored(NamedTuple):
    """An entry added by a test, rendered once when added."""

    kind: Kind
    fragment: str
    # (member, entry id, deleted); None for a raw fragment, which identifies nothing.
    identity: tuple[int, str, bool] | None


@dataclass
class _Window:
    snapshot: array[int]  # row numbers, in stored order
    size: int
    issued: dict[int, float]  # start of a next link -> time.monotonic() when issued


def iso(timestamp: int) -> str:
    """NCMEC's timestamp format, to the second, in UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def parse_iso(text: str) -> int:
    """Seconds since the epoch from ``2017-10-20T00:00:00Z`` or ``...00.000Z``."""
    for layout in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            moment = datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
        return timegm(moment.timetuple())
    raise ValueError(f"not an NCMEC timestamp: {text!r}")


class FakeNcmec(FakeServer):
    """``with FakeNcmec() as fake:`` serves ``{fake.url}/v2/status`` and ``/v2/entries``.

    ``fake.url`` is the environment's base URL (``http://127.0.0.1:PORT/hashsharing``).
    """

    base_path = "/hashsharing"
    data_paths = frozenset({"/hashsharing/v2/entries"})

    def __init__(
        self,
        username: str = "user",
        password: str = "secret",
        page_size: int = 1000,
        *,
        member_id: int = 1,
        member_name: str = "Member one",
    ) -> None:
        super().__init__()
        self.username = username
        self.password = password
        self.page_size = page_size
        self.member_id = member_id  # who the status endpoint says the caller is
        self.member_name = member_name
        self.next_link_ttl = 12 * 3600.0
        self.never_ending_paging = False
        # Every entry is a row: its timestamp, and a code saying where the rest lives
        # (>= 0: a generated entry's serial number; < 0: ~index into self._stored).
        self._timestamps: array[int] = array("q")
        self._codes: array[int] = array("q")
        self._stored: list[_Stored] = []
        # Generated entries, by serial: rendered from these on each page, so a million of
        # them cost a few tens of megabytes.
        self._gen_flags = bytearray()
        self._gen_class = bytearray()
        self._gen_member: array[int] = array("l")
        self._gen_subject: array[int] = array("q")  # whose id and hashes (a deletion's target)
        self._windows: dict[tuple[int, int], _Window] = {}

    def __len__(self) -> int:
        """How many entries are stored (additions, deletions and raw fragments alike)."""
        return len(self._timestamps)

    # --- what a test puts in ---------------------------------------------------------

    def add_image(
        self,
        member: int,
        id: str,
        timestamp: int,
        *,
        classification: str | None = "A1",
        fingerprints: dict[str, str],
    ) -> None:
        self._add_entry("image", member, id, timestamp, classification, fingerprints)

    def add_video(
        self,
        member: int,
        id: str,
        timestamp: int,
        *,
        classification: str | None = "A1",
        fingerprints: dict[str, str],
    ) -> None:
        self._add_entry("video", member, id, timestamp, classification, fingerprints)

    def delete_image(self, member: int, id: str, timestamp: int) -> None:
        self._delete("image", member, id, timestamp)

    def delete_video(self, member: int, id: str, timestamp: int) -> None:
        self._delete("video", member, id, timestamp)

    def add_raw(self, xml_fragment: str, timestamp: int, kind: Kind) -> None:
        """Any element, verbatim, inside ``<images>`` or ``<videos>``; ``timestamp`` places it
        in windows and counts towards the section's ``maxTimestamp``."""
        self._append_stored(_Stored(kind, xml_fragment, None), timestamp)

    def generate(
        self,
        count: int,
        *,
        deletions: float = 0.1,
        seed: int = 0,
        start: int = 1_600_000_000,
        members: int = 3,
        videos: float = 0.1,
    ) -> None:
        """Add ``count`` random entries, cheaply enough for a million.

        Timestamps are spread over ``count`` minutes from ``start``, in no order.  About
        ``deletions`` of them delete an entry generated earlier in this call (same member,
        same kind, a later timestamp); ``videos`` of the additions are videos.  Ids are
        ``gen<serial>``; hashes are digests of the id (md5, sha1 and, for images, a PDQ).
        """
        rng = random.Random(seed)
        span = max(count, 1) * 60
        undeleted: list[tuple[int, int]] = []  # (serial, timestamp) of this call's additions
        with self._lock:
            for _ in range(count):
                serial = len(self._gen_flags)
                if undeleted and rng.random() < deletions:
                    pick = rng.randrange(len(undeleted))
                    undeleted[pick], undeleted[-1] = undeleted[-1], undeleted[pick]
                    subject, subject_ts = undeleted.pop()
                    flags = self._gen_flags[subject] | _GEN_DELETED
                    member = self._gen_member[subject]
                    timestamp = subject_ts + rng.randrange(1, 86_400)
                    classification = 0
                else:
                    subject, timestamp = serial, start + rng.randrange(span)
                    flags = _GEN_VIDEO if rng.random() < videos else 0
                    member = rng.randrange(1, members + 1)
                    classification = rng.randrange(len(_CLASSIFICATIONS))
                    undeleted.append((serial, timestamp))
                self._gen_flags.append(flags)
                self._gen_class.append(classification)
                self._gen_member.append(member)
                self._gen_subject.append(subject)
                self._timestamps.append(timestamp)
                self._codes.append(serial)

    def expire_next_links(self) -> None:
        """Every ``next`` link issued so far is answered with HTTP 400 from now on."""
        with self._lock:
            for window in self._windows.values():
                window.issued.clear()

    def live_keys(self) -> set[tuple[int, Kind, str]]:
        """(member, kind, entry id) of every entry whose latest record is not a deletion:
        what a complete sync must hold.  A deletion and an addition with the same
        timestamp resolve to deleted, the one rule that does not depend on page order."""
        latest: dict[tuple[int, Kind, str], tuple[int, bool]] = {}
        with self._lock:
            for row, timestamp in enumerate(self._timestamps):
                kind, identity = self._identity(row)
                if identity is None:
                    continue
                member, entry_id, deleted = identity
                key = (member, kind, entry_id)
                if key not in latest or (timestamp, deleted) > latest[key]:
                    latest[key] = (timestamp, deleted)
        return {key for key, (_, deleted) in latest.items() if not deleted}

    def _add_entry(
        self,
        kind: Kind,
        member: int,
        entry_id: str,
        timestamp: int,
        classification: str | None,
        fingerprints: dict[str, str],
    ) -> None:
        fingerprint_xml = "".join(
            _fingerprint_xml(name, value, entry_id) for name, value in fingerprints.items()
        )
        fragment = _entry_xml(
            kind, member, escape(entry_id), timestamp, classification, fingerprint_xml
        )
        self._append_stored(_Stored(kind, fragment, (member, entry_id, False)), timestamp)

    def _delete(self, kind: Kind, member: int, entry_id: str, timestamp: int) -> None:
        fragment = _deleted_xml(kind, member, escape(entry_id), timestamp)
        self._append_stored(_Stored(kind, fragment, (member, entry_id, True)), timestamp)

    def _append_stored(self, stored: _Stored, timestamp: int) -> None:
        with self._lock:
            self._stored.append(stored)
            self._timestamps.append(timestamp)
            self._codes.append(~(len(self._stored) - 1))

    def _identity(self, row: int) -> tuple[Kind, tuple[int, str, bool] | None]:
        code = self._codes[row]
        if code < 0:
            stored = self._stored[~code]
            return stored.kind, stored.identity
        flags = self._gen_flags[code]
        kind: Kind = "video" if flags & _GEN_VIDEO else "image"
        entry_id = f"gen{self._gen_subject[code]}"
        return kind, (self._gen_member[code], entry_id, bool(flags & _GEN_DELETED))

    def _render(self, row: int) -> tuple[Kind, str]:
        code = self._codes[row]
        if code < 0:
            stored = self._stored[~code]
            return stored.kind, stored.fragment
        flags = self._gen_flags[code]
        kind: Kind = "video" if flags & _GEN_VIDEO else "image"
        member = self._gen_member[code]
        entry_id = f"gen{self._gen_subject[code]}"
        timestamp = self._timestamps[row]
        if flags & _GEN_DELETED:
            return kind, _deleted_xml(kind, member, entry_id, timestamp)
        seed = entry_id.encode()
        hashes = (
            f"<md5>{hashlib.md5(seed, usedforsecurity=False).hexdigest()}</md5>"
            f"<sha1>{hashlib.sha1(seed, usedforsecurity=False).hexdigest()}</sha1>"
        )
        if kind == "image":
            hashes += f"<pdq>{hashlib.sha256(seed).hexdigest()}</pdq>"
        classification = _CLASSIFICATIONS[self._gen_class[code]]
        return kind, _entry_xml(kind, member, entry_id, timestamp, classification, hashes)

    # --- serving ---------------------------------------------------------------------

    def authorized(self, request: Request) -> Response | None:
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if request.headers.get("authorization") == f"Basic {expected}":
            return None
        return Response(
            401,
            _error_xml(401, "authentication required"),
            "application/xml",
            {"WWW-Authenticate": 'Basic realm="hashsharing"'},
        )

    def route(self, request: Request) -> Response:
        if request.path == f"{self.base_path}/v2/status":
            return _xml_response(
                f"<status xmlns={quoteattr(NAMESPACE)}>"
                f"<ipAddress>{escape(request.client_ip)}</ipAddress>"
                f"<username>{escape(self.username)}</username>"
                f'<member id="{self.member_id}">{escape(self.member_name)}</member>'
                "</status>"
            )
        if request.path == f"{self.base_path}/v2/entries":
            return self._entries(request.query)
        return Response(404, _error_xml(404, "no such resource"), "application/xml")

    def _entries(self, query: dict[str, str]) -> Response:
        try:
            window_key = (parse_iso(query["from"]), parse_iso(query["to"]))
        except (KeyError, ValueError):
            return Response(400, _error_xml(400, "from and to are required"), "application/xml")
        with self._lock:
            if "start" not in query:
                window = _Window(self._select(*window_key), self.page_size, {})
                self._windows[window_key] = window
                start = 1
            else:
                found = self._window_of_link(window_key, query)
                if found is None:
                    return Response(
                        400, _error_xml(400, "invalid or expired next link"), "application/xml"
                    )
                window, start = found
            return _xml_response(self._page(window_key, window, start))

    def _select(self, since: int, until: int) -> array[int]:
        return array("q", [row for row, ts in enumerate(self._timestamps) if since <= ts < until])

    def _window_of_link(
        self, window_key: tuple[int, int], query: dict[str, str]
    ) -> tuple[_Window, int] | None:
        window = self._windows.get(window_key)
        try:
            start, size, total = int(query["start"]), int(query["size"]), int(query["max"])
        except (KeyError, ValueError):
            return None
        if window is None or size != window.size or total != len(window.snapshot):
            return None
        issued = window.issued.get(start)
        if issued is None or time.monotonic() - issued > self.next_link_ttl:
            return None
        return window, start

    def _page(self, window_key: tuple[int, int], window: _Window, start: int) -> str:
        rows = window.snapshot[start - 1 : start - 1 + window.size]
        sections: dict[Kind, list[str]] = {"image": [], "video": []}
        newest: dict[Kind, int] = {}
        for row in rows:
            kind, fragment = self._render(row)
            sections[kind].append(fragment)
            timestamp = self._timestamps[row]
            newest[kind] = max(newest.get(kind, timestamp), timestamp)
        parts = [f"<queryResult xmlns={quoteattr(NAMESPACE)}>"]
        for kind, fragments in sections.items():
            if fragments:
                parts.append(
                    f'<{kind}s count="{len(fragments)}" maxTimestamp="{iso(newest[kind])}">'
                )
                parts.extend(fragments)
                parts.append(f"</{kind}s>")
        next_start: int | None = None
        if start + window.size <= len(window.snapshot):
            next_start = start + window.size
        elif self.never_ending_paging:
            next_start = start  # the same page again, for ever
        if next_start is not None:
            window.issued[next_start] = time.monotonic()
            link = "/v2/entries?" + urlencode(
                {
                    "from": _iso_millis(window_key[0]),
                    "to": _iso_millis(window_key[1]),
                    "start": next_start,
                    "size": window.size,
                    "max": len(window.snapshot),
                }
            )
            parts.append(f"<paging><next>{escape(link)}</next></paging>")
        parts.append("</queryResult>")
        return "".join(parts)


def _iso_millis(timestamp: int) -> str:
    """The form NCMEC writes in its ``next`` links."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(timestamp))


def _member_xml(member: int) -> str:
    return f'<member id="{member}">Member {member}</member>'


def _entry_xml(
    kind: Kind,
    member: int,
    escaped_id: str,
    timestamp: int,
    classification: str | None,
    fingerprint_xml: str,
) -> str:
    classification_xml = (
        ""
        if classification is None
        else f"<classification>{escape(classification)}</classification>"
    )
    return (
        f"<{kind}>{_member_xml(member)}<timestamp>{iso(timestamp)}</timestamp>"
        f"<id>{escaped_id}</id>{classification_xml}"
        f"<fingerprints>{fingerprint_xml}</fingerprints></{kind}>"
    )


def _deleted_xml(kind: Kind, member: int, escaped_id: str, timestamp: int) -> str:
    tag = "deletedImage" if kind == "image" else "deletedVideo"
    return (
        f"<{tag}>{_member_xml(member)}<id>{escaped_id}</id>"
        f"<timestamp>{iso(timestamp)}</timestamp></{tag}>"
    )


def _fingerprint_xml(name: str, value: str, entry_id: str) -> str:
    if not value.startswith(LINK):
        return f"<{name}>{escape(value)}</{name}>"
    href = value[len(LINK) :] or (
        f"/v2/entries/{entry_id}/fingerprints/{name.upper().replace('-', '_')}"
    )
    return f'<{name} rel="self" href={quoteattr(href)}/>'


def _error_xml(status: int, message: str) -> bytes:
    return (
        f"{_XML_DECLARATION}<error xmlns={quoteattr(NAMESPACE)}>"
        f"<code>{status}</code><message>{escape(message)}</message></error>"
    ).encode()


def _xml_response(document: str) -> Response:
    return Response(200, (_XML_DECLARATION + document).encode(), "application/xml")
