"""A loopback stand-in for StopNCII's FetchHashes API, for client tests and the sync
benchmark.

The service holds one record per (signal type, hash): adding the same pair again replaces
the record, with its new status and ``lastModtimestamp``.  FetchHashes serves the records
with ``lastModtimestamp >= startTimestamp`` ordered by that timestamp (ties in the order
they were stored).

Paging is by cursor: ``nextPageToken`` stands for "after the last record served", so a
record modified while a client pages comes again later in the same run, with its new
timestamp, and none is skipped.  ``nextSetTimestamp`` is the checkpoint to resume from:
the timestamp of the first record not yet served while ``hasMoreRecords``, and on the last
page the timestamp of its last record (asking from there again re-serves records that
share that second, which replacing records makes harmless).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
from array import array
from bisect import bisect_left, bisect_right
from typing import Any

from tests.exchanges.fakes.http import FakeServer, Request, Response

#: Statuses after which a client drops the hash.
REMOVED_STATUSES = frozenset({"Withdrawn", "Deleted"})

_GEN_VIDEO = 1
_GEN_WITHDRAWN = 2


class FakeStopNcii(FakeServer):
    """``with FakeStopNcii() as fake:`` serves ``GET {fake.url}/FetchHashes``.

    ``fake.url`` is the API's base URL (``http://127.0.0.1:PORT/v1``, like
    ``https://api.stopncii.org/v1``).  ``page_size`` caps the ``pageSize`` a client asks
    for, and is the size when it asks for none.
    """

    base_path = "/v1"
    data_paths = frozenset({"/v1/FetchHashes"})

    def __init__(
        self, subscription_key: str = "sub", function_key: str = "fn", page_size: int = 1000
    ) -> None:
        super().__init__()
        self.subscription_key = subscription_key
        self.function_key = function_key
        self.page_size = page_size
        # Every record is a row: its timestamp, and a code saying where the rest lives
        # (>= 0: a generated record's serial number; < 0: ~index into self._stored).
        self._timestamps: array[int] = array("q")
        self._codes: array[int] = array("q")
        self._stored: list[dict[str, Any]] = []
        self._gen_flags = bytearray()
        self._row_of: dict[tuple[str, str], int] = {}  # a stored record's current row
        self._replaced: set[int] = set()  # rows a later add() of the same hash superseded
        self._order: array[int] | None = None  # live rows by (timestamp, row); None: stale

    def __len__(self) -> int:
        """How many records the service holds (a replaced record counts once)."""
        return len(self._timestamps) - len(self._replaced)

    # --- what a test puts in ---------------------------------------------------------

    def add(
        self,
        hash_value: str,
        *,
        signal_type: str = "ImagePDQ",
        status: str = "Active",
        timestamp: int,
        case_numbers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Add or replace the record of (signal_type, hash_value).

        ``case_numbers`` defaults to one case in ``status``; ``extra`` adds fields to the
        record as served (``CSPFeedbacks``, ``hashRegions``, or an unknown one).
        """
        record: dict[str, Any] = {
            "lastModtimestamp": timestamp,
            "signalType": signal_type,
            "hashValue": hash_value,
            "hashStatus": status,
            "caseNumbers": (
                {_case_number(f"{signal_type}:{hash_value}"): status}
                if case_numbers is None
                else case_numbers
            ),
            **(extra or {}),
        }
        with self._lock:
            superseded = self._row_of.get((signal_type, hash_value))
            if superseded is not None:
                self._replaced.add(superseded)
            self._row_of[(signal_type, hash_value)] = len(self._timestamps)
            self._stored.append(record)
            self._append(timestamp, ~(len(self._stored) - 1))

    def generate(
        self,
        count: int,
        *,
        withdrawn: float = 0.1,
        seed: int = 0,
        start: int = 1_600_000_000,
        videos: float = 0.1,
    ) -> None:
        """Add ``count`` distinct random records, cheaply enough for a million.

        Timestamps are spread over ``count`` minutes from ``start``; about ``withdrawn`` of
        the records are Withdrawn, the rest Active; ``videos`` are VideoMD5, the rest
        ImagePDQ.  Hashes are digests of ``stopncii:<serial>``.
        """
        rng = random.Random(seed)
        span = max(count, 1) * 60
        with self._lock:
            for _ in range(count):
                flags = _GEN_VIDEO if rng.random() < videos else 0
                if rng.random() < withdrawn:
                    flags |= _GEN_WITHDRAWN
                self._gen_flags.append(flags)
                self._append(start + rng.randrange(span), len(self._gen_flags) - 1)

    def live_keys(self) -> set[tuple[str, str]]:
        """(signalType, hashValue) of every record not Withdrawn or Deleted: what a complete
        sync must hold."""
        with self._lock:
            records = [self._record(row) for row in self._live_order()]
        return {
            (record["signalType"], record["hashValue"])
            for record in records
            if record["hashStatus"] not in REMOVED_STATUSES
        }

    def _append(self, timestamp: int, code: int) -> None:
        self._timestamps.append(timestamp)
        self._codes.append(code)
        self._order = None

    def _live_order(self) -> array[int]:
        if self._order is None:
            live = (row for row in range(len(self._timestamps)) if row not in self._replaced)
            # sorted() is stable, so rows sharing a timestamp stay in stored order.
            self._order = array("q", sorted(live, key=self._timestamps.__getitem__))
        return self._order

    def _record(self, row: int) -> dict[str, Any]:
        code = self._codes[row]
        if code < 0:
            return self._stored[~code]
        flags = self._gen_flags[code]
        seed = f"stopncii:{code}".encode()
        if flags & _GEN_VIDEO:
            signal_type, hash_value = "VideoMD5", hashlib.md5(seed, usedforsecurity=False)
        else:
            signal_type, hash_value = "ImagePDQ", hashlib.sha256(seed)
        status = "Withdrawn" if flags & _GEN_WITHDRAWN else "Active"
        return {
            "lastModtimestamp": self._timestamps[row],
            "signalType": signal_type,
            "hashValue": hash_value.hexdigest(),
            "hashStatus": status,
            "caseNumbers": {_case_number(f"case:{code}"): status},
        }

    # --- serving ---------------------------------------------------------------------

    def authorized(self, request: Request) -> Response | None:
        if (
            request.headers.get("ocp-apim-subscription-key") == self.subscription_key
            and request.headers.get("x-functions-key") == self.function_key
        ):
            return None
        return _json_response(
            401, {"statusCode": 401, "message": "Access denied: missing or invalid keys."}
        )

    def route(self, request: Request) -> Response:
        if request.path != f"{self.base_path}/FetchHashes":
            return _json_response(404, {"statusCode": 404, "message": "Resource not found"})
        try:
            start_timestamp = int(request.query.get("startTimestamp", "0"))
            page_size = min(int(request.query.get("pageSize", self.page_size)), self.page_size)
            token = request.query.get("nextPageToken")
            cursor = None if token is None else _decode_token(token)
        except ValueError:
            return _json_response(400, {"statusCode": 400, "message": "Bad request parameters"})
        if page_size < 1:
            return _json_response(400, {"statusCode": 400, "message": "pageSize must be >= 1"})
        with self._lock:
            order = self._live_order()

            def position(row: int) -> tuple[int, int]:
                return self._timestamps[row], row

            if cursor is None:
                first = bisect_left(order, (start_timestamp, -1), key=position)
            else:
                first = bisect_right(order, cursor, key=position)
            rows = order[first : first + page_size]
            records = [self._record(row) for row in rows]
            has_more = first + page_size < len(order)
            next_token = _encode_token(position(rows[-1])) if has_more else None
            if has_more:
                next_set = self._timestamps[order[first + page_size]]
            elif rows:
                next_set = self._timestamps[rows[-1]]
            else:
                next_set = start_timestamp if cursor is None else cursor[0]
        return _json_response(
            200,
            {
                "count": len(records),
                "nextSetTimestamp": next_set,
                "nextPageToken": next_token,
                "hasMoreRecords": has_more,
                "hashRecords": records,
            },
        )


def _case_number(seed: str) -> str:
    """A case id shaped like StopNCII's (a UUID), the same for the same seed."""
    h = hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _encode_token(cursor: tuple[int, int]) -> str:
    return base64.urlsafe_b64encode(f"{cursor[0]}:{cursor[1]}".encode()).decode()


def _decode_token(token: str) -> tuple[int, int]:
    """The cursor a token stands for; ValueError for anything this fake did not issue."""
    try:
        timestamp, row = base64.urlsafe_b64decode(token.encode()).decode().split(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(token) from exc
    return int(timestamp), int(row)


def _json_response(status: int, document: dict[str, Any]) -> Response:
    return Response(status, json.dumps(document).encode(), "application/json")
