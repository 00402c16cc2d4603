"""NCMEC's hash sharing API v2: ``/v2/status`` and windows of ``/v2/entries``.

What the API is known to do, and how the client survives it:

- Entries do not come in time order, within a page or across pages, so a
  page's ``maxTimestamp`` says nothing of what is still to come.  The
  checkpoint therefore moves past a window (``from``..``to``) only when its
  last page is committed; until then it records the window and the next
  page's link.
- A ``next`` link is valid only for the same window and for about 12 hours.
  A resumed window whose link is older, or is refused, is fetched again from
  its first page: applying a page twice changes nothing, because for each
  (member, id) only a newer timestamp is applied (``bastion.exchanges.sync``).
- Entry ids are unique only per member: items are keyed ``member/id``.
- A server whose paging never ends (a link that does not move forward) ends
  the sync with an error instead of looping.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit
from xml.etree.ElementTree import ParseError

import httpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from bastion.exchanges.api import (
    Checkpoint,
    Delta,
    RemoteItem,
    http_base,
)
from bastion.exchanges.credentials import split_secret
from bastion.exchanges.errors import ExchangeProtocolError
from bastion.exchanges.http import Retrying
from bastion.formats.ncmec import NcmecEntry, NextPage, read_page
from bastion.formats.records import FormatError, Record, Reject

#: The documented environments, by the names ``--env`` takes.
ENVIRONMENTS = {
    "industry": "https://report.cybertip.org/hashsharing",
    "ngo": "https://hashsharing.ncmec.org/npo",
    "exploitative": "https://hashsharing.ncmec.org/exploitative",
    "genai-csam": "https://hashsharing.ncmec.org/genai",
    "test": "https://exttest.cybertip.org/hashsharing",
    "test-ngo": "https://hashsharing-test.ncmec.org/npo",
    "test-exploitative": "https://hashsharing-test.ncmec.org/exploitative",
}
_DATE = "%Y-%m-%dT%H:%M:%SZ"
#: A ``next`` link older than this is not tried (NCMEC keeps them ~12 hours).
NEXT_LINK_LIFETIME = 11 * 3600


class _LinkRefused(Exception):
    """The server refused a resumed window's ``next`` link (it expired)."""


def iso(moment: int) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime(_DATE)


def epoch(text: str | None) -> int:
    """Seconds of an NCMEC timestamp (``2017-10-24T15:00:00Z``, fractions allowed)."""
    if not text:
        return 0
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FormatError(f"not an NCMEC timestamp: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _page(body: bytes) -> list[NcmecEntry | NextPage]:
    return [i for i in read_page(io.BytesIO(body)) if isinstance(i, NcmecEntry | NextPage)]


class NcmecApi:
    name: ClassVar[str] = "ncmec"
    description: ClassVar[str] = "NCMEC hash sharing API v2 (images, videos, deletions)"
    credentials_form: ClassVar[str] = "user:password"
    known_options: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        http: Retrying | None = None,
        options: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base = http_base(url)
        user, password = split_secret(secret, ":", 2, self.credentials_form)
        self._auth = (user, password)
        self.http = http or Retrying()
        self.clock = clock

    def check(self) -> str:
        def member(body: bytes) -> str:
            try:
                root = fromstring(body, forbid_dtd=True)
            except (ParseError, DefusedXmlException) as exc:
                raise FormatError(f"not an NCMEC status document: {exc}") from None
            found = next((e for e in root.iter() if e.tag.endswith("member")), None)
            if found is None:
                raise FormatError("the NCMEC status document names no member")
            return f"member {found.get('id')} ({(found.text or '').strip()})"

        return self.http.get(f"{self.base}/v2/status", member, auth=self._auth)

    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[Delta]:
        done_to = int((checkpoint or {}).get("done_to", 0))
        window: dict[str, Any] | None = (checkpoint or {}).get("window")
        now = int(self.clock())
        if window and window.get("next"):
            if now - float(window["issued"]) > NEXT_LINK_LIFETIME:
                window = {"from": window["from"], "to": window["to"]}
            try:
                yield from self._window(done_to, window)
            except _LinkRefused:
                yield from self._window(done_to, {"from": window["from"], "to": window["to"]})
            done_to = int(window["to"])
        if done_to < now:
            yield from self._window(done_to, {"from": done_to, "to": now})

    def _window(self, done_to: int, window: dict[str, Any]) -> Iterator[Delta]:
        """The pages of one window, first (or the stored ``next``) to last."""
        start, end = int(window["from"]), int(window["to"])
        link: str | None = window.get("next")
        resumed = link is not None
        seen_links: set[str] = set()
        last_start = -1
        while True:
            if link is None:
                url = f"{self.base}/v2/entries"
                params: dict[str, str] | None = {"from": iso(start), "to": iso(end)}
            else:
                url, params = self._follow(link), None
            refuse = self._refuse_link if resumed and link is not None else None
            page = self.http.get(url, _page, params=params, auth=self._auth, on_status=refuse)
            resumed = False
            delta = self._delta(page)
            next_link = next((i.path for i in page if isinstance(i, NextPage)), None)
            if next_link is None:
                delta.checkpoint = {"done_to": end, "window": None}
                yield delta
                return
            position = _start_of(next_link)
            if next_link in seen_links or (position is not None and position <= last_start):
                raise ExchangeProtocolError(
                    f"the server's paging does not end: {next_link!r} does not move forward"
                )
            seen_links.add(next_link)
            last_start = position if position is not None else last_start
            issued = self.clock()
            delta.checkpoint = {
                "done_to": done_to,
                "window": {"from": start, "to": end, "next": next_link, "issued": issued},
            }
            yield delta
            link = next_link

    def _follow(self, link: str) -> str:
        """The absolute URL of a ``next`` link, which is relative to the base URL."""
        if not link.startswith("/") or urlsplit(link).netloc:
            raise ExchangeProtocolError(f"a next link that is not a path: {link!r}")
        return self.base + link

    @staticmethod
    def _refuse_link(response: httpx.Response) -> None:
        if response.status_code in (400, 404, 410):
            raise _LinkRefused

    @staticmethod
    def _delta(page: list[NcmecEntry | NextPage]) -> Delta:
        delta = Delta(items=[], checkpoint={})
        for entry in page:
            if not isinstance(entry, NcmecEntry):
                continue
            delta.fetched += 1
            delta.skipped.update(entry.links)
            records = tuple(i for i in entry.items if isinstance(i, Record))
            delta.rejects.extend(i for i in entry.items if isinstance(i, Reject))
            if entry.key is None or not records:
                continue
            try:
                version = epoch(entry.timestamp)
            except FormatError as exc:
                delta.rejects.append(Reject(entry.location, str(exc)))
                continue
            delta.items.append(RemoteItem(entry.key, version, entry.deleted, records))
        return delta


def _start_of(link: str) -> int | None:
    values = parse_qs(urlsplit(link).query).get("start")
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None
