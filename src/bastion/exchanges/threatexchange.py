"""Meta ThreatExchange: a privacy group's ``/threat_updates``, tailed by time window.

What the API is known to do, and how the client survives it:

- ``/{privacy_group}/threat_updates`` lists the group's indicators updated
  (``last_updated``) within ``start_time``..``stop_time``; an indicator that
  changes again moves to the end of the list, so items do not come in time
  order across a run.  The checkpoint therefore moves past a window only
  when its last page is committed; until then it records the window and the
  next page's link.  The next window starts a second before the last one
  ended, so an update stamped in that second is fetched whichever end the
  server counts as inclusive (fetched twice, it changes nothing).
- Pages link to the next one with ``paging.next``, a full URL carrying the
  access token.  It is followed only on the base URL's origin (the token
  must not go anywhere else); the checkpoint keeps it without the token.
  A link that repeats ends the sync instead of looping; a stored link the
  server refuses (cursors expire) restarts its window from the first page.
- ``should_delete: true`` withdraws the indicator, and so does an update
  with no descriptors (no member holds an opinion on it any more; the
  python-threatexchange client does the same, ThreatExchange issue 834).
- Deletions are kept 90 days.  A checkpoint older than that may have missed
  some, so the list is fetched again from the beginning, with a warning in
  the log and ``full_refetch`` in the checkpoint.  An indicator whose
  deletion expired is not in that list at all, so a refetch cannot withdraw
  it: sync at least monthly.
- The access token goes in the ``access_token`` query parameter, as the
  Graph API asks; it appears in no message, checkpoint or log line.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from bastion.exchanges.api import (
    Checkpoint,
    Delta,
    RemoteItem,
    check_options,
    http_base,
    json_object,
)
from bastion.exchanges.errors import (
    ExchangeAuthError,
    ExchangeConfigError,
    ExchangeProtocolError,
)
from bastion.exchanges.http import Retrying
from bastion.formats.records import FormatError, Record, Reject, make_record

DEFAULT_URL = "https://graph.facebook.com/v21.0"
PAGE_SIZE = 500
#: ThreatExchange indicator types Bastion can hold; any other is skipped and counted.
SIGNAL_TYPES = {
    "HASH_PDQ": "pdq",
    "HASH_MD5": "md5",
    "HASH_SHA1": "sha1",
    "HASH_SHA256": "sha256",
    "HASH_VIDEO_MD5": "video_md5",
    # python-threatexchange's spelling of the same type.
    "VIDEO_HASH_MD5": "video_md5",
}
#: Prefix of the labels made from descriptor tags.  TE tags are free text, so
#: they are kept apart from Bastion's category schemes: a tag that happens to
#: read ``ncmec:A1`` is a ThreatExchange tag, not an NCMEC category.
LABEL_PREFIX = "te:"
#: How long ThreatExchange keeps deletions.
DELETIONS_KEPT = 90 * 86_400
#: A checkpoint older than this is refetched from the beginning (a day short
#: of ``DELETIONS_KEPT``, for clocks that disagree).
STALE_AFTER = DELETIONS_KEPT - 86_400
#: Seconds each window starts before the previous one ended.
OVERLAP = 1
FIELDS = "id,indicator,type,last_updated,should_delete,descriptors{id,tags}"
#: Graph API error code of an invalid or expired access token.
OAUTH_ERROR_CODE = 190

log = logging.getLogger(__name__)
_TOKEN_IN_TEXT = re.compile(r"(access_token=)[^&\s\"']+")


class _CursorRefused(Exception):
    """The server refused a resumed window's ``next`` link (its cursor expired)."""


class _HideTokensInLogs(logging.Filter):
    """httpx logs every request's URL at INFO; ours carry the token in the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "access_token=" in message:
            record.msg, record.args = _TOKEN_IN_TEXT.sub(r"\1<hidden>", message), None
        return True


_LOG_FILTER = _HideTokensInLogs()


def _graph_error(body: bytes) -> tuple[int | None, str]:
    """The ``code`` and ``message`` of a Graph API error document (None, "" otherwise)."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, ""
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        return None, ""
    code = error.get("code")
    return (code if isinstance(code, int) else None), str(error.get("message") or "")


def _page(body: bytes) -> dict[str, Any]:
    document = json_object(body, "threat_updates")
    if not isinstance(document.get("data"), list):
        raise FormatError("not a threat_updates document: no data list")
    paging = document.get("paging", {})
    if not isinstance(paging, dict) or not isinstance(paging.get("next", ""), str):
        raise FormatError("not a threat_updates document: paging is not an object with a link")
    return document


def _privacy_group(body: bytes) -> dict[str, Any]:
    document = json_object(body, "privacy group")
    if "id" not in document:
        raise FormatError("not a privacy group document: no id")
    return document


def _positive(options: Mapping[str, str], name: str, default: int | None) -> int:
    text = options.get(name)
    if text is None:
        if default is None:
            raise ExchangeConfigError(
                f"the threatexchange API needs --option {name}=<the privacy group's id>"
            )
        return default
    if not text.strip().isdigit() or int(text) < 1:
        raise ExchangeConfigError(f"--option {name} must be a positive whole number, not {text!r}")
    return int(text)


class ThreatExchangeApi:
    name: ClassVar[str] = "threatexchange"
    description: ClassVar[str] = (
        "Meta ThreatExchange threat_updates of a privacy group (PDQ, MD5; deletions)"
    )
    credentials_form: ClassVar[str] = "access_token (app_id|app_secret)"
    known_options: ClassVar[Mapping[str, str]] = {
        "privacy_group": "the privacy group's id (required)",
        "page_size": f"updates asked for per page (default {PAGE_SIZE})",
    }

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
        if not secret or any(c.isspace() or not c.isprintable() for c in secret):
            raise ExchangeConfigError(f"credentials must be an {self.credentials_form}")
        self._token = secret
        options = options or {}
        check_options(type(self), options)
        self.privacy_group = _positive(options, "privacy_group", None)
        self.page_size = _positive(options, "page_size", PAGE_SIZE)
        self.http = http or Retrying()
        self.clock = clock
        logging.getLogger("httpx").addFilter(_LOG_FILTER)

    def check(self) -> str:
        group = self.http.get(
            f"{self.base}/{self.privacy_group}",
            _privacy_group,
            params={"access_token": self._token, "fields": "id,name,threat_updates_enabled"},
            on_status=self._refusals,
        )
        if group.get("threat_updates_enabled") is False:
            raise ExchangeConfigError(
                f"privacy group {self.privacy_group} does not have threat_updates enabled"
            )
        return f"privacy group {group['id']} ({group.get('name') or 'no name'})"

    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[Delta]:
        done_to = int((checkpoint or {}).get("done_to", 0))
        window: dict[str, Any] | None = (checkpoint or {}).get("window")
        now = int(self.clock())
        # A refetch's note is kept until its run ends (and shown by its last checkpoint).
        note: dict[str, Any] | None = (checkpoint or {}).get("full_refetch") if window else None
        as_of = int(window["to"]) if window else done_to
        if as_of and now - as_of > STALE_AFTER:
            days = (now - as_of) // 86_400
            note = {
                "previous_as_of": as_of,
                "reason": f"the checkpoint is {days} days old; ThreatExchange keeps "
                "deletions 90 days, so the list is fetched again from the beginning",
            }
            log.warning("threatexchange privacy group %s: %s", self.privacy_group, note["reason"])
            done_to, window = 0, None
        if window and window.get("next"):
            try:
                yield from self._window(done_to, window, note)
            except _CursorRefused:
                yield from self._window(done_to, {"from": window["from"], "to": window["to"]}, note)
            done_to = int(window["to"])
        if done_to < now:
            start = max(done_to - OVERLAP, 0)
            yield from self._window(done_to, {"from": start, "to": now}, note)

    def _window(
        self, done_to: int, window: dict[str, Any], note: dict[str, Any] | None
    ) -> Iterator[Delta]:
        """The pages of one window, first (or the stored ``next``) to last."""
        start, end = int(window["from"]), int(window["to"])
        link = self._follow(window["next"]) if window.get("next") else None
        resumed = link is not None
        progress = _Progress()
        while True:
            url, params = self._request(start, end, link)
            refusals = self._refusals_resumed if resumed else self._refusals
            page = self.http.get(url, _page, params=params, on_status=refusals)
            resumed = False
            delta = _delta(page)
            next_url = page.get("paging", {}).get("next")
            if not next_url:
                delta.checkpoint = {"done_to": end, "window": None}
            else:
                link = self._follow(next_url)
                progress.check(link, page["data"])
                delta.checkpoint = {
                    "done_to": done_to,
                    "window": {"from": start, "to": end, "next": link},
                }
            if note is not None:
                delta.checkpoint["full_refetch"] = note
            yield delta
            if not next_url:
                return

    def _request(self, start: int, end: int, link: str | None) -> tuple[str, dict[str, str]]:
        """URL and query of a window's first page, or of a ``next`` link, with the token."""
        if link is None:
            url = f"{self.base}/{self.privacy_group}/threat_updates"
            params = {"fields": FIELDS, "limit": str(self.page_size), "stop_time": str(end)}
            if start:
                params["start_time"] = str(start)
        else:
            parts = urlsplit(link)
            url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
            params = dict(parse_qsl(parts.query))
        params["access_token"] = self._token
        return url, params

    def _follow(self, next_url: str) -> str:
        """``next_url`` without its token, if it is on the base URL's origin."""
        parts, base = urlsplit(next_url), urlsplit(self.base)
        if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
            origin = f"{parts.scheme}://{parts.hostname}" if parts.hostname else "no origin"
            raise ExchangeProtocolError(
                f"paging.next leads to {origin}, not {base.scheme}://{base.hostname}: "
                "not followed (it would carry the access token elsewhere)"
            )
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "access_token"]
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))

    def _refusals(self, response: httpx.Response) -> None:
        """Graph API errors, as specific errors that never quote the token."""
        if response.status_code < 400 or response.status_code == 429 or response.status_code >= 500:
            return
        code, message = _graph_error(response.content)
        message = _TOKEN_IN_TEXT.sub(r"\1<hidden>", message).replace(self._token, "<hidden>")
        where = f"ThreatExchange ({urlsplit(self.base).netloc})"
        if code == OAUTH_ERROR_CODE or response.status_code in (401, 403):
            raise ExchangeAuthError(f"{where} refused the access token: {message or 'no reason'}")
        raise ExchangeProtocolError(
            f"{where} answered HTTP {response.status_code} for privacy group "
            f"{self.privacy_group}: {message[:200] or 'no reason given'}"
        )

    def _refusals_resumed(self, response: httpx.Response) -> None:
        if response.status_code == 400 and _graph_error(response.content)[0] != OAUTH_ERROR_CODE:
            raise _CursorRefused
        self._refusals(response)


class _Progress:
    """Ends a window whose paging does not move forward: a ``next`` link seen
    before, a page that repeats the one before it under a new link, or empty
    pages that go on and on."""

    MAX_EMPTY_PAGES = 10

    def __init__(self) -> None:
        self.links: set[str] = set()
        self.previous: frozenset[str] = frozenset()
        self.empty = 0

    def check(self, link: str, data: list[Any]) -> None:
        page = frozenset(json.dumps(item, sort_keys=True) for item in data)
        self.empty = 0 if page else self.empty + 1
        if link in self.links:
            reason = "a paging.next link repeats"
        elif page and page == self.previous:
            reason = "a page repeats the one before it"
        elif self.empty > self.MAX_EMPTY_PAGES:
            reason = f"{self.empty} empty pages in a row"
        else:
            self.links.add(link)
            self.previous = page
            return
        raise ExchangeProtocolError(f"the server's paging does not end: {reason}")


def _tags(descriptor: Any) -> list[str] | None:
    """A descriptor's tags: a list of texts, or a Graph edge of ``{"text": ...}``."""
    if not isinstance(descriptor, dict):
        return None
    tags = descriptor.get("tags") or []
    if isinstance(tags, dict):
        tags = [tag.get("text") if isinstance(tag, dict) else None for tag in tags.get("data", [])]
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        return None
    return tags


def _update(location: str, update: Any) -> RemoteItem | Reject | str:
    """One ``threat_updates`` entry as a remote item, a reject, or the type skipped."""
    if not isinstance(update, dict):
        return Reject(location, "an update that is not an object")
    key = str(update.get("id", ""))
    kind = update.get("type")
    version = update.get("last_updated")
    should_delete = update.get("should_delete")
    if not key.isdigit():
        return Reject(location, f"id {update.get('id')!r} is not a ThreatExchange id")
    if not isinstance(kind, str) or not kind:
        return Reject(location, "no indicator type")
    if isinstance(version, str) and version.isdigit():
        version = int(version)
    if not isinstance(version, int) or isinstance(version, bool):
        return Reject(location, f"last_updated {version!r} is not a time in seconds")
    if not isinstance(should_delete, bool):
        return Reject(location, f"should_delete {should_delete!r} is not true or false")
    signal_type = SIGNAL_TYPES.get(kind)
    if signal_type is None:
        return kind
    descriptors = update.get("descriptors")
    opinions = descriptors.get("data") if isinstance(descriptors, dict) else descriptors
    if descriptors is not None and not isinstance(opinions, list):
        return Reject(location, "descriptors is not a list")
    if should_delete or not opinions:
        tombstone = Record(location, None, external_id=key, withdrawn=True)
        return RemoteItem(key, version, True, (tombstone,))
    labels: list[str] = []
    for descriptor in opinions:
        tags = _tags(descriptor)
        if tags is None:
            return Reject(location, "a descriptor whose tags are not a list of texts")
        labels.extend(LABEL_PREFIX + tag for tag in tags if tag.strip())
    indicator = update.get("indicator")
    if not isinstance(indicator, str):
        return Reject(location, "no indicator")
    made = make_record(location, signal_type, indicator, labels, external_id=key)
    if isinstance(made, Reject):
        return made
    return RemoteItem(key, version, False, (made,))


def _delta(page: dict[str, Any]) -> Delta:
    """The items of one page.  Items are keyed by the indicator's id: one
    indicator (type and value) is one ThreatExchange object, and a deletion
    names it by id even when it carries nothing else."""
    delta = Delta(items=[], checkpoint={})
    for position, update in enumerate(page["data"]):
        delta.fetched += 1
        item = _update(f"data[{position}]", update)
        if isinstance(item, Reject):
            delta.rejects.append(item)
        elif isinstance(item, str):
            delta.skipped[item] += 1
        else:
            delta.items.append(item)
    return delta
