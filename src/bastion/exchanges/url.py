"""A hash list file published at a URL (CSV, ThreatExchange text or VICS JSON).

The file is the whole list: each fetch that finds it changed applies every
row, and the last delta's ``snapshot_version`` withdraws every key that is
no longer in it (``bastion.exchanges.sync``).  The file is fetched with the
``ETag`` and ``Last-Modified`` the last complete fetch saw; a 304 changes
nothing but the sync's time.

The body is streamed to a temporary file, never held in memory, and read
twice with the same readers ``bastion bank import`` uses: once whole, so a
broken document (a truncated JSON file, a body with no usable row) is
fetched again and, if it stays broken, fails the sync before anything of it
is applied; then in deltas of ``BATCH`` records.  A body cut short by the
connection is caught by HTTP's own framing; CSV and text lists have no end
marker of their own, so a server that declares a shortened body complete
cannot be told from a shorter list, except that a row cut in half is
rejected, and then nothing is withdrawn.

Keys are the format's external id (a VICS MediaID, the CSV column), else
``type:value``.  Versions are microseconds of the fetch, kept increasing
by the checkpoint (``{"etag", "last_modified", "version"}``): each delta
of one fetch has the next version, so the rows of one key spread over
several deltas are all applied, and keys older than the fetch's first
version were not in the file.  A fetch with rejected rows withdraws
nothing and keeps the old ``ETag``, so the next sync reads the file again.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, TypeGuard

import httpx

from bastion.banks.stored import stored_value
from bastion.exchanges.api import Checkpoint, Delta, RemoteItem, check_options, http_base
from bastion.exchanges.credentials import split_secret
from bastion.exchanges.errors import ExchangeConfigError
from bastion.exchanges.http import Retrying
from bastion.formats import FORMATS, detect_format
from bastion.formats.detect import HEAD_BYTES
from bastion.formats.records import FormatError, ReadItem, Record, Reject

#: The list formats a file at a URL may be in (the others have their own APIs).
URL_FORMATS = ("csv", "te", "vics")
#: Records per delta.
BATCH = 5000
#: ``exchange_versions`` keys are at most this long.
MAX_KEY = 255
_CHUNK = 64 * 1024


class _NotModified(Exception):
    """The server says the file is as the last fetch saw it (HTTP 304)."""


@dataclass(frozen=True, slots=True)
class _Download:
    """A complete, readable body on disk, and what the server said of it."""

    format: str
    etag: str | None
    last_modified: str | None


def _usable(item: ReadItem) -> TypeGuard[Record]:
    """A signal the list holds (a row it marks withdrawn is not in it: the
    snapshot withdraws it)."""
    return isinstance(item, Record) and item.signal is not None and not item.withdrawn


def _key(record: Record) -> str:
    assert record.signal is not None
    return record.external_id or f"{record.signal.type}:{stored_value(record.signal)}"


class UrlApi:
    name: ClassVar[str] = "url"
    description: ClassVar[str] = (
        "a CSV, te or VICS file at a URL, fetched when it changes (option format=csv|te|vics)"
    )
    credentials_form: ClassVar[str] = "none (a public file), bearer:TOKEN or basic:USER:PASSWORD"
    known_options: ClassVar[Mapping[str, str]] = {
        "format": f"the list's format: {', '.join(URL_FORMATS)} (default: detected)"
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
        http_base(url)
        check_options(type(self), options)
        self.format = (options or {}).get("format")
        if self.format is not None and self.format not in URL_FORMATS:
            raise ExchangeConfigError(
                f"format must be one of {', '.join(URL_FORMATS)}, not {self.format!r}"
            )
        self.url = url
        self._headers: dict[str, str] = {}
        self._auth: tuple[str, str] | None = None
        scheme, _, rest = secret.strip().partition(":")
        if scheme == "bearer" and rest.strip():
            self._headers["Authorization"] = f"Bearer {rest.strip()}"
        elif scheme == "basic":
            user, password = split_secret(rest, ":", 2, self.credentials_form)
            self._auth = (user, password)
        elif secret.strip() != "none":
            raise ExchangeConfigError(f"credentials must be {self.credentials_form}")
        self.http = http or Retrying()
        self.clock = clock

    def check(self) -> str:
        def answered(response: httpx.Response) -> str:
            size = response.headers.get("content-length", "unknown")
            return f"the list answered ({size} bytes)"

        return self.http.stream(self.url, answered, headers=self._headers, auth=self._auth)

    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[Delta]:
        before = dict(checkpoint or {})
        headers = dict(self._headers)
        if before.get("etag"):
            headers["If-None-Match"] = str(before["etag"])
        if before.get("last_modified"):
            headers["If-Modified-Since"] = str(before["last_modified"])
        conditional = len(headers) > len(self._headers)
        first = max(int(before.get("version", 0)) + 1, int(self.clock() * 1_000_000))
        with tempfile.TemporaryDirectory(prefix="bastion-url-") as folder:
            spool = Path(folder) / "list"
            try:
                download = self.http.stream(
                    self.url,
                    lambda response: self._download(response, spool),
                    headers=headers,
                    auth=self._auth,
                    on_status=_not_modified if conditional else None,
                )
            except _NotModified:
                yield Delta(items=[], checkpoint=before)
                return
            yield from self._deltas(spool, download, before, first)

    def _download(self, response: httpx.Response, spool: Path) -> _Download:
        """The body written to ``spool`` and read through once (else a FormatError)."""
        with spool.open("wb") as out:
            for chunk in response.iter_bytes(_CHUNK):
                out.write(chunk)
        with spool.open("rb") as stream:
            name = self.format or detect_format(stream.read(HEAD_BYTES))
        if name not in URL_FORMATS:
            raise FormatError(f"a {name} document; the url API reads {', '.join(URL_FORMATS)}")
        usable = False
        with spool.open("rb") as stream:
            for item in FORMATS[name].read(stream):  # to the end: a broken one raises here
                usable = usable or _usable(item)
        if not usable:
            raise FormatError(f"no usable {name} row in the list; nothing applied")
        return _Download(name, response.headers.get("etag"), response.headers.get("last-modified"))

    def _deltas(
        self, spool: Path, download: _Download, before: dict[str, Any], first: int
    ) -> Iterator[Delta]:
        """The file's records, ``BATCH`` at a time; the last delta withdraws the rest."""
        version = first
        rejected = False
        delta = Delta(items=[], checkpoint={})
        grouped: dict[str, list[Record]] = {}
        with spool.open("rb") as stream:
            for item in FORMATS[download.format].read(stream):
                if isinstance(item, Reject):
                    delta.fetched += 1
                    delta.rejects.append(item)
                    rejected = True
                elif _usable(item):
                    delta.fetched += 1
                    key = _key(item)
                    if len(key) > MAX_KEY:
                        too_long = f"a key over {MAX_KEY} characters"
                        delta.rejects.append(Reject(item.location, too_long))
                        rejected = True
                        continue
                    grouped.setdefault(key, []).append(replace(item, external_id=key))
                    if delta.fetched >= BATCH:
                        yield _close(delta, grouped, version, {**before, "version": version})
                        version += 1
                        delta, grouped = Delta(items=[], checkpoint={}), {}
        last = _close(delta, grouped, version, {**before, "version": version})
        if not rejected:
            last.checkpoint.update(etag=download.etag, last_modified=download.last_modified)
            last.snapshot_version = first
        yield last


def _close(
    delta: Delta, grouped: dict[str, list[Record]], version: int, checkpoint: dict[str, Any]
) -> Delta:
    delta.items = [RemoteItem(key, version, False, tuple(rows)) for key, rows in grouped.items()]
    delta.checkpoint = checkpoint
    return delta


def _not_modified(response: httpx.Response) -> None:
    if response.status_code == 304:
        raise _NotModified
