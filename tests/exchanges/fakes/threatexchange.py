"""A loopback stand-in for Meta ThreatExchange's Graph API: one privacy group, its
``/threat_updates`` and its node, for client tests.

What it reproduces, because a client must cope with it:

* the access token travels in the ``access_token`` query parameter, and a wrong one is
  answered the Graph API's way: HTTP 400 with an ``OAuthException`` (code 190);
* the group holds one record per indicator; updating an indicator moves it to the end
  of the list, so a test that updates with an older ``last_updated`` than others gets
  updates out of time order (as clients must expect across pages);
* ``paging.next`` is a full URL carrying the token and a cursor into a snapshot taken by
  the first page's query; ``expire_cursors()`` makes every issued cursor invalid (HTTP
  400, code 100), ``next_origin`` points links at another origin, and
  ``never_ending_paging`` gives the last page a link to itself;
* deletions are served for ``DELETIONS_KEPT`` seconds after their ``last_updated``
  (by the fake's ``clock``), then no more: a client that polls too rarely misses them.

Windows are half-open: an update is in ``start_time=A&stop_time=B`` when
``A <= last_updated < B``; a missing bound is open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from tests.exchanges.fakes.http import FakeServer, Request, Response

DELETIONS_KEPT = 90 * 86_400
PRIVACY_GROUP = 303_636_684_709_969
#: Neutral words the generator tags with.
TAGS = ("alpha", "bravo", "charlie", "delta")
_TYPES = ("HASH_PDQ", "HASH_PDQ", "HASH_PDQ", "HASH_MD5", "HASH_TMK")


class FakeThreatExchange(FakeServer):
    """``with FakeThreatExchange() as fake:`` serves ``{fake.url}/{group}`` and
    ``{fake.url}/{group}/threat_updates``.

    ``fake.url`` is the Graph API's versioned base URL (``http://127.0.0.1:PORT/v21.0``).
    ``page_size`` caps the ``limit`` a client asks for.
    """

    base_path = "/v21.0"
    data_paths = frozenset({f"/v21.0/{PRIVACY_GROUP}/threat_updates"})

    def __init__(
        self,
        token: str = "1234567890|fake-app-secret-abcdefghij",
        page_size: int = 500,
        *,
        group_name: str = "Placeholder group",
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.token = token
        self.page_size = page_size
        self.group_name = group_name
        self.clock = clock
        self.never_ending_paging = False
        self.next_origin: str | None = None
        self._updates: dict[str, dict[str, Any]] = {}  # by id, in update order
        self._snapshots: dict[int, list[dict[str, Any]]] = {}
        self._next_id = 10_000_000_000

    # --- what a test puts in ---------------------------------------------------------

    def add(
        self,
        indicator: str,
        *,
        last_updated: int,
        type: str = "HASH_PDQ",
        tags: list[str] | None = None,
        id: str | None = None,
    ) -> str:
        """Add or update an indicator (one descriptor with ``tags``); returns its id."""
        key = id or self._new_id()
        descriptor = {"id": str(int(key) + 1), "tags": list(tags or [])}
        self.put(
            {
                "id": key,
                "indicator": indicator,
                "type": type,
                "last_updated": last_updated,
                "should_delete": False,
                "descriptors": {"data": [descriptor]},
            }
        )
        return key

    def delete(self, id: str, *, last_updated: int) -> None:
        """The indicator ``id`` leaves the group (a deletion event, as the API sends it)."""
        with self._lock:
            old = self._updates[id]
        self.put(
            {
                "id": id,
                "indicator": old["indicator"],
                "type": old["type"],
                "last_updated": last_updated,
                "should_delete": True,
            }
        )

    def put(self, update: dict[str, Any]) -> None:
        """Any update, verbatim: it replaces the one with the same ``id`` (a string), at
        the end of the list; one without a string id is stored as a new indicator."""
        with self._lock:
            key = update["id"] if isinstance(update.get("id"), str) else self._new_id()
            self._updates.pop(key, None)
            self._updates[key] = update

    def generate(self, count: int, *, deletions: float = 0.1, seed: int = 0) -> None:
        """Add ``count`` random indicators over ``count`` minutes up to the fake's clock,
        about ``deletions`` of them deleted again a little later, some of a type
        Bastion does not hold (``HASH_TMK``).  Hashes are digests of the serial."""
        rng = random.Random(seed)
        now = int(self.clock())
        start = now - max(count, 1) * 60
        for serial in range(count):
            kind = rng.choice(_TYPES)
            digest = hashlib.sha256(f"te:{seed}:{serial}".encode()).hexdigest()
            value = digest[:32] if kind == "HASH_MD5" else digest
            at = start + rng.randrange(max(count, 1) * 60)
            tags = rng.sample(TAGS, rng.randrange(3))
            key = self.add(value, last_updated=at, type=kind, tags=tags)
            if rng.random() < deletions:
                self.delete(key, last_updated=min(at + rng.randrange(1, 600), now - 1))

    def expire_cursors(self) -> None:
        """Every cursor issued so far is refused from now on."""
        with self._lock:
            self._snapshots.clear()

    def live(self) -> dict[str, dict[str, Any]]:
        """The updates of every indicator in the group not deleted: what a sync must hold."""
        with self._lock:
            return {k: u for k, u in self._updates.items() if u.get("should_delete") is False}

    def _new_id(self) -> str:
        self._next_id += 7
        return str(self._next_id)

    # --- serving ---------------------------------------------------------------------

    def authorized(self, request: Request) -> Response | None:
        if request.query.get("access_token") == self.token:
            return None
        return _error(400, "Invalid OAuth access token - Cannot parse access token", 190)

    def route(self, request: Request) -> Response:
        if request.path == f"{self.base_path}/{PRIVACY_GROUP}":
            return _json(
                200,
                {
                    "id": str(PRIVACY_GROUP),
                    "name": self.group_name,
                    "threat_updates_enabled": True,
                },
            )
        if request.path == f"{self.base_path}/{PRIVACY_GROUP}/threat_updates":
            return self._threat_updates(request)
        return _error(400, "Unsupported get request. Object does not exist", 100)

    def _threat_updates(self, request: Request) -> Response:
        query = request.query
        try:
            limit = min(int(query.get("limit", self.page_size)), self.page_size)
            start = int(query["start_time"]) if "start_time" in query else None
            stop = int(query["stop_time"]) if "stop_time" in query else None
        except ValueError:
            return _error(400, "Invalid parameter", 100)
        with self._lock:
            if "after" in query:
                try:
                    snapshot_id, offset = _decode(query["after"])
                    snapshot = self._snapshots[snapshot_id]
                except (KeyError, ValueError):
                    return _error(400, "Invalid cursor", 100)
            else:
                snapshot_id, offset = len(self._snapshots) + 1, 0
                while snapshot_id in self._snapshots:
                    snapshot_id += 1
                snapshot = self._snapshots[snapshot_id] = self._select(start, stop)
            page = snapshot[offset : offset + limit]
        document: dict[str, Any] = {"data": page}
        following = offset + limit
        if following < len(snapshot) or self.never_ending_paging:
            after = _encode(snapshot_id, following if following < len(snapshot) else offset)
            params = {k: v for k, v in query.items() if k != "after"} | {"after": after}
            origin = self.next_origin or self.url.removesuffix(self.base_path)
            document["paging"] = {
                "cursors": {"after": after},
                "next": f"{origin}{request.path}?{urlencode(params)}",
            }
        return _json(200, document)

    def _select(self, start: int | None, stop: int | None) -> list[dict[str, Any]]:
        oldest_deletion = self.clock() - DELETIONS_KEPT
        selected = []
        for update in self._updates.values():
            at = update.get("last_updated")
            if isinstance(at, int):
                if (start is not None and at < start) or (stop is not None and at >= stop):
                    continue
                if update.get("should_delete") is True and at < oldest_deletion:
                    continue
            selected.append(update)
        return selected


def _encode(snapshot_id: int, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{snapshot_id}:{offset}".encode()).decode()


def _decode(cursor: str) -> tuple[int, int]:
    try:
        snapshot_id, offset = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(cursor) from exc
    return int(snapshot_id), int(offset)


def _error(status: int, message: str, code: int) -> Response:
    kind = "OAuthException" if code == 190 else "GraphMethodException"
    return _json(
        status, {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": "F4k3"}}
    )


def _json(status: int, document: dict[str, Any]) -> Response:
    return Response(status, json.dumps(document).encode(), "application/json")
