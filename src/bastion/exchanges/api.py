"""What every exchange API gives the sync: deltas of remote items, each with
the checkpoint that is true once it is committed.

An API (``ncmec``, ``stopncii`` ...) is a small class behind the
:class:`ExchangeApi` Protocol.  It fetches and parses; it never touches the
store.  The sync (``bastion.exchanges.sync``) applies each delta to the bank
together with the delta's checkpoint in one transaction, so a sync killed at
any point resumes where the store says it got to.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from bastion.exchanges.errors import ExchangeConfigError

if TYPE_CHECKING:
    from bastion.exchanges.http import Retrying
from bastion.formats.records import FormatError, Record, Reject

#: A checkpoint: the API's own JSON-serialisable state.
Checkpoint = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RemoteItem:
    """One item of a remote list, as of ``version`` (the API's timestamp).

    ``records`` are its signals (or one tombstone when ``deleted``), all with
    ``external_id == key``.  For one key the highest version wins, whatever
    order items arrive in.
    """

    key: str
    version: int
    deleted: bool
    records: tuple[Record, ...]


@dataclass(slots=True)
class Delta:
    """A page of items and the checkpoint to store once it is applied."""

    items: list[RemoteItem]
    checkpoint: dict[str, Any]
    #: Rows that could not be used, each with where and why.
    rejects: list[Reject] = field(default_factory=list)
    #: Fingerprints not imported, by type (e.g. sent only as links).
    skipped: Counter[str] = field(default_factory=Counter)
    #: How many remote records the page held (for progress).
    fetched: int = 0
    #: Set on the last delta of a run that fetched the whole list (a file
    #: at a URL): every key of the exchange whose version is older than
    #: this was not in the list and is withdrawn.
    snapshot_version: int | None = None


def http_base(url: str) -> str:
    """An API's base URL without its trailing slash, or a refusal if it is not http(s)."""
    if not url.startswith(("http://", "https://")):
        raise ExchangeConfigError(f"not an http(s) URL: {url!r}")
    return url.rstrip("/")


def json_object(body: bytes, what: str) -> dict[str, Any]:
    """A JSON object answered by a server, or a FormatError naming ``what`` it should be."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"not a {what} JSON document: {exc}") from None
    if not isinstance(document, dict):
        raise FormatError(f"not a {what} document: not a JSON object")
    return document


def option_int(
    options: Mapping[str, str] | None, key: str, default: int, low: int, high: int
) -> int:
    """An integer option between ``low`` and ``high``, or a refusal naming it."""
    text = (options or {}).get(key)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ExchangeConfigError(f"option {key} must be a whole number from {low} to {high}")
    return value


def check_options(api: type[ExchangeApi], options: Mapping[str, str] | None) -> None:
    """Refuse options the API does not read, naming those it does."""
    unknown = sorted(set(options or {}) - set(api.known_options))
    if unknown:
        known = ", ".join(api.known_options) or "none"
        raise ExchangeConfigError(
            f"{api.name} has no option {', '.join(map(repr, unknown))} (known: {known})"
        )


class ExchangeApi(Protocol):
    """One remote list's API.  ``fetch`` yields deltas from ``checkpoint``
    (None: from the beginning); each delta's checkpoint resumes after it.

    An API class is built as ``Api(url, secret, http=..., options=...)``:
    the environment's base URL, the secret read from the credentials, the
    retrying HTTP client and the exchange's options (``--option K=V``).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    #: What ``--credentials`` holds, for help texts and errors.
    credentials_form: ClassVar[str]
    #: The options (``--option KEY=VALUE``) it reads, each with its help.
    #: Any other is refused: a misspelt option would change nothing, silently.
    known_options: ClassVar[Mapping[str, str]]

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        http: Retrying | None = None,
        options: Mapping[str, str] | None = None,
    ) -> None: ...

    def check(self) -> str:
        """Check the credentials with the server; returns who it says we are."""
        ...

    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[Delta]:
        """Deltas from ``checkpoint`` to the list's present."""
        ...
