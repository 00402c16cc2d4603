"""Protections of the service itself: upload size, request time, request rate.

Size and time are ASGI middleware, so they hold for every route, including
ones added later.  The rate limit is a token bucket per API key in each
serving process: with N processes behind a load balancer a key may make up
to N times ``BASTION_RATE_LIMIT`` requests a second in all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.errors import http_status_code


async def _send_json(
    send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"message": message, "code": http_status_code(status)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class BodyLimit:
    """413 for a request body over ``limit`` bytes, declared or streamed (chunked)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = (
            f"Content too large: the upload is larger than the limit of {self.limit} bytes "
            "(BASTION_MAX_UPLOAD_BYTES)"
        )
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _send_json(send, 413, message)
                return
        seen = 0
        exceeded = started = False

        async def counted() -> Message:
            nonlocal seen, exceeded
            incoming = await receive()
            if incoming["type"] == "http.request":
                seen += len(incoming.get("body", b""))
                if seen > self.limit:
                    exceeded = True
                    raise _TooLarge
            return incoming

        async def watched(outgoing: Message) -> None:
            nonlocal started
            if exceeded:
                # The app answered the cut-off body itself (FastAPI's form
                # parser turns any error while reading into a 400): it is a 413.
                if not started:
                    started = True
                    await _send_json(send, 413, message)
                return
            started = started or outgoing["type"] == "http.response.start"
            await send(outgoing)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counted, watched)
        if exceeded and not started:
            await _send_json(send, 413, message)


class Timeout:
    """503 when a request runs longer than ``seconds``.

    The work running in a thread is not interrupted (Python cannot), but the
    client gets its answer; hashing has its own budget for long videos.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(outgoing: Message) -> None:
            nonlocal started
            started = started or outgoing["type"] == "http.response.start"
            await send(outgoing)

        try:
            # asyncio.timeout, unlike wait_for, runs the request in this task
            # instead of starting another one for every request.
            async with asyncio.timeout(self.seconds):
                await self.app(scope, receive, watched)
        except TimeoutError:
            if not started:
                message = (
                    f"the request took longer than {self.seconds:g} s (BASTION_REQUEST_TIMEOUT)"
                )
                await _send_json(send, 503, message)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets: ``rate`` requests a second, bursts of ``burst`` (2 * rate)."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = 2.0 * rate if burst is None else burst
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def wait_time(self, key: str) -> float:
        """0 if the request may go ahead (and it is counted), else seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        burst = self.burst
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket(burst, now))
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate


class LoginThrottle:
    """Login attempts per user name and per source address, in each serving process.

    Per name, 5 at once then one every 12 s, so one password cannot be
    guessed quickly; per address, 10 at once then one every 6 s, so trying
    many names (or flooding the audit log with failures) cannot go fast
    either.  Behind a reverse proxy, run uvicorn with ``--proxy-headers`` so
    the address is the client's, not the proxy's.
    """

    def __init__(self) -> None:
        self._names = RateLimiter(1 / 12, burst=5)
        self._addresses = RateLimiter(1 / 6, burst=10)

    def wait_time(self, name: str, address: str) -> float:
        """0 if this attempt may be checked (and it is counted), else seconds to wait."""
        return self._addresses.wait_time(address) or self._names.wait_time(name)
