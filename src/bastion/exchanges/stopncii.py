"""StopNCII's ``FetchHashes``: pages of hash records since a timestamp.

Records are the present state of each (signal type, hash): a later record
replaces an earlier one, and ``Withdrawn`` or ``Deleted`` removes the entry
(python-threatexchange's StopNCII exchange keeps such records as entries;
Bastion withdraws them).  The checkpoint is the ``nextSetTimestamp`` the
last page of a run gives; within a run, the page token is kept too, and if
the server no longer honours it the run resumes from the last page's
``nextSetTimestamp``.  A 200 whose body cannot be parsed is retried, and if
it persists the sync fails with the checkpoint where it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import httpx

from bastion.exchanges.api import (
    Checkpoint,
    Delta,
    RemoteItem,
    http_base,
    json_object,
    option_int,
)
from bastion.exchanges.credentials import split_secret
from bastion.exchanges.errors import ExchangeProtocolError
from bastion.exchanges.http import Retrying
from bastion.formats.records import FormatError, Record, Reject, make_record
from bastion.formats.stopncii import SIGNAL_TYPES, WITHDRAWN_STATUSES

DEFAULT_URL = "https://api.stopncii.org/v1"
#: Every case status StopNCII documents; another is an error, not a guess.
STATUSES = frozenset({"Unknown", "Received", "Active", "Withdrawn", "Deleted"})
PAGE_SIZE = 1000


class _TokenRefused(Exception):
    """The server no longer honours a stored page token."""


def _document(body: bytes) -> dict[str, Any]:
    document = json_object(body, "FetchHashes")
    if not isinstance(document.get("hashRecords"), list):
        raise FormatError("not a FetchHashes document: no hashRecords list")
    return document


class StopNciiApi:
    name: ClassVar[str] = "stopncii"
    description: ClassVar[str] = "StopNCII FetchHashes (ImagePDQ, VideoMD5; withdrawals)"
    credentials_form: ClassVar[str] = "subscription_key,function_key"
    known_options: ClassVar[Mapping[str, str]] = {
        "page_size": f"records asked for per page (default {PAGE_SIZE})"
    }

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        http: Retrying | None = None,
        options: Mapping[str, str] | None = None,
    ) -> None:
        self.base = http_base(url)
        subscription, function = split_secret(secret, ",", 2, self.credentials_form)
        self._headers = {"Ocp-Apim-Subscription-Key": subscription, "x-functions-key": function}
        self.http = http or Retrying()
        self.page_size = option_int(options, "page_size", PAGE_SIZE, 1, 10_000)

    def check(self) -> str:
        self._get({"startTimestamp": "0", "pageSize": "1"}, None)
        return "FetchHashes answered"

    def _get(
        self, params: dict[str, str], on_status: Callable[[httpx.Response], None] | None
    ) -> dict[str, Any]:
        return self.http.get(
            f"{self.base}/FetchHashes",
            _document,
            params=params,
            headers=self._headers,
            on_status=on_status,
        )

    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[Delta]:
        start = int((checkpoint or {}).get("start", 0))
        token: str | None = (checkpoint or {}).get("token")
        if token:
            try:
                yield from self._run(start, token)
                return
            except _TokenRefused:
                start = int((checkpoint or {}).get("next_set", start))
        yield from self._run(start, None)

    def _run(self, start: int, token: str | None) -> Iterator[Delta]:
        resumed = token is not None
        seen: set[str] = set()
        while True:
            params = {"startTimestamp": str(start), "pageSize": str(self.page_size)}
            if token:
                params["nextPageToken"] = token
            document = self._get(params, self._refuse_token if resumed else None)
            resumed = False
            delta = _delta(document)
            next_set = int(document.get("nextSetTimestamp") or start)
            token = document.get("nextPageToken") or None
            if not document.get("hasMoreRecords") or not token:
                delta.checkpoint = {"start": next_set}
                yield delta
                return
            if token in seen:
                raise ExchangeProtocolError("the server's paging does not end: a token repeats")
            seen.add(token)
            delta.checkpoint = {"start": start, "token": token, "next_set": next_set}
            yield delta

    @staticmethod
    def _refuse_token(response: httpx.Response) -> None:
        if response.status_code in (400, 404, 410):
            raise _TokenRefused


def _delta(document: dict[str, Any]) -> Delta:
    delta = Delta(items=[], checkpoint={})
    for position, record in enumerate(document["hashRecords"]):
        delta.fetched += 1
        location = f"hashRecords[{position}]"
        if not isinstance(record, dict):
            delta.rejects.append(Reject(location, "a hash record that is not an object"))
            continue
        kind = str(record.get("signalType"))
        signal_type = SIGNAL_TYPES.get(kind)
        if signal_type is None:
            delta.skipped[kind] += 1
            continue
        status = str(record.get("hashStatus") or "Active")
        if status not in STATUSES:
            delta.rejects.append(Reject(location, f"unknown hashStatus {status!r}"))
            continue
        value = str(record.get("hashValue") or "")
        key = f"{kind}:{value.lower()}"
        made = make_record(location, signal_type, value, external_id=key)
        if isinstance(made, Reject):
            delta.rejects.append(made)
            continue
        try:
            version = int(record.get("lastModtimestamp") or 0)
        except (TypeError, ValueError):
            delta.rejects.append(Reject(location, "lastModtimestamp is not a number"))
            continue
        deleted = status in WITHDRAWN_STATUSES
        records: tuple[Record, ...] = (
            (Record(location, None, external_id=key, withdrawn=True),) if deleted else (made,)
        )
        delta.items.append(RemoteItem(key, version, deleted, records))
    return delta
