"""Another Bastion's bank, followed through its changes feed.

``GET {base}/v1/banks/{bank}/changes?after=POSITION&limit=N`` answers JSON
lines, each an entry as it is now at its latest change (``add`` or
``withdraw``, with the peer's change ``seq``), and a last line
``{"op": "end", "next": POSITION, "more": BOOL}`` (``bastion.banks.changes``).
A body without that line was cut short: it is retried, never taken as a
shorter page.  The checkpoint is the position after the last page applied.

Each of the peer's entries is one remote item, keyed ``type:value`` (the
value as the store indexes it, so a long vPDQ's key is its digest); the
peer's ``seq`` is its version.  Keys are per entry, not per external id,
because the peer may withdraw one signal of an item and keep the others.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from bastion.banks.changes import MAX_LIMIT, Position
from bastion.banks.stored import stored_value
from bastion.errors import BastionError
from bastion.exchanges.api import (
    Checkpoint,
    Delta,
    RemoteItem,
    check_options,
    http_base,
    option_int,
)
from bastion.exchanges.errors import ExchangeConfigError, ExchangeProtocolError
from bastion.exchanges.http import Retrying
from bastion.formats.records import FormatError, Record, Reject, make_record

PAGE_SIZE = MAX_LIMIT
#: ``exchange_versions`` keys are at most this long.
MAX_KEY = 255


def _page(body: bytes) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The change lines of a page and its end line; a page without one is cut short."""
    lines: list[dict[str, Any]] = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FormatError(f"line {number} of the changes is not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise FormatError(f"line {number} of the changes is not an object")
        lines.append(value)
    if not lines or lines[-1].get("op") != "end":
        raise FormatError("the changes end without their end line (the answer was cut short)")
    return lines[:-1], lines[-1]


class PeerApi:
    name: ClassVar[str] = "bastion"
    description: ClassVar[str] = (
        "another Bastion server's bank (its /v1/banks/BANK/changes; option bank=NAME)"
    )
    credentials_form: ClassVar[str] = "an API key of the peer with read access to banks"
    known_options: ClassVar[Mapping[str, str]] = {
        "bank": "the peer's bank to follow (required)",
        "page_size": f"changes asked for per page (default {PAGE_SIZE}, at most {MAX_LIMIT})",
    }

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        http: Retrying | None = None,
        options: Mapping[str, str] | None = None,
    ) -> None:
        url = http_base(url)
        bank = (options or {}).get("bank", "").strip()
        if not bank:
            raise ExchangeConfigError("the bastion API needs the peer's bank: --option bank=NAME")
        check_options(type(self), options)
        if not secret.strip() or any(c.isspace() for c in secret.strip()):
            raise ExchangeConfigError(f"credentials must be {self.credentials_form}")
        self.bank_url = f"{url.rstrip('/')}/v1/banks/{quote(bank, safe='')}"
        self._headers = {"Authorization": f"Bearer {secret.strip()}"}
        self.http = http or Retrying()
        self.page_size = option_int(options, "page_size", PAGE_SIZE, 1, MAX_LIMIT)

    def check(self) -> str:
        def described(body: bytes) -> str:
            try:
                bank = json.loads(body)
                return f"bank {bank['name']} ({int(bank['active']):,} active entries)"
            except (ValueError, TypeError, KeyError) as exc:
                raise FormatError(f"not a bank description: {exc}") from None

        return self.http.get(self.bank_url, described, headers=self._headers)

    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[Delta]:
        after = self._position(str((checkpoint or {}).get("after", "0")))
        while True:
            params = {"after": str(after), "limit": str(self.page_size)}
            changes, end = self.http.get(
                f"{self.bank_url}/changes", _page, params=params, headers=self._headers
            )
            following = self._position(str(end.get("next")))
            more = end.get("more") is True
            if following < after or (more and following == after):
                raise ExchangeProtocolError(
                    f"the peer's paging does not move forward (from {after} to {following})"
                )
            delta = _delta(changes, after)
            delta.checkpoint = {"after": str(following)}
            yield delta
            if not more:
                return
            after = following

    @staticmethod
    def _position(text: str) -> Position:
        try:
            return Position.parse(text)
        except BastionError:
            raise ExchangeProtocolError(f"not a change position: {text[:40]!r}") from None


def _delta(changes: list[dict[str, Any]], after: Position) -> Delta:
    delta = Delta(items=[], checkpoint={})
    for change in changes:
        delta.fetched += 1
        location = f"change {change.get('seq')}.{change.get('id')}"
        item = _item(location, change, after)
        if isinstance(item, Reject):
            delta.rejects.append(item)
        else:
            delta.items.append(item)
    return delta


def _item(location: str, change: dict[str, Any], after: Position) -> RemoteItem | Reject:
    op, seq = change.get("op"), change.get("seq")
    if op not in ("add", "withdraw"):
        return Reject(location, f"unknown op {op!r}")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < after.seq:
        return Reject(location, f"a seq that is not a number after {after.seq}: {seq!r}")
    labels = change.get("labels") or []
    if not isinstance(labels, list):
        return Reject(location, "labels that are not a list")
    made = make_record(
        location, str(change.get("signal_type")), str(change.get("value") or ""), map(str, labels)
    )
    if isinstance(made, Reject):
        return made
    assert made.signal is not None
    key = f"{made.signal.type}:{stored_value(made.signal)}"
    if len(key) > MAX_KEY:
        return Reject(location, f"a key longer than {MAX_KEY} characters")
    withdrawn = op == "withdraw"
    record = (
        Record(location, None, external_id=key, withdrawn=True)
        if withdrawn
        else Record(location, made.signal, made.labels, external_id=key)
    )
    return RemoteItem(key, seq, withdrawn, (record,))
