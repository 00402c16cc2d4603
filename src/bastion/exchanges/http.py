"""GET with the retries a list owner's API asks for, and nothing else.

429 and 5xx answers, dropped connections, answers broken off part-way and a
200 whose document does not parse (a truncated body) are retried with exponential backoff, honouring
``Retry-After``.  Refused credentials are not retried.  When retries run
out the error says what the server last did, never the credentials.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import httpx

from bastion.exchanges.errors import ExchangeAuthError, ExchangeProtocolError, ExchangeUnavailable
from bastion.formats.records import FormatError

T = TypeVar("T")

#: Statuses worth asking again: the server is busy or broken for now.
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(slots=True)
class Retrying:
    """Retry policy and the HTTP client it wraps (tests shorten the waits)."""

    attempts: int = 6
    backoff: float = 1.0
    #: The longest wait honoured, even if ``Retry-After`` asks for more.
    max_wait: float = 120.0
    timeout: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    client: httpx.Client = field(default_factory=lambda: httpx.Client(follow_redirects=False))

    def get(
        self,
        url: str,
        parse: Callable[[bytes], T],
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        on_status: Callable[[httpx.Response], None] | None = None,
    ) -> T:
        """``parse`` of the body of a 200 answer to GET ``url``, retried as the module says.

        ``on_status`` may raise for an answer the API gives a meaning (an
        expired link); otherwise a 4xx other than 429 ends the sync.
        """
        return self.stream(
            url,
            lambda response: parse(response.read()),
            params=params,
            headers=headers,
            auth=auth,
            on_status=on_status,
        )

    def stream(
        self,
        url: str,
        read: Callable[[httpx.Response], T],
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        on_status: Callable[[httpx.Response], None] | None = None,
    ) -> T:
        """``read`` of a 200 answer whose body is still unread: a list too large
        to hold in memory is streamed to disk.  An answer broken off part-way
        is retried like a dropped connection; a ``FormatError`` from ``read``
        like a document that does not parse.
        """
        last = "no attempt"
        last_response: httpx.Response | None = None
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self._wait(attempt, last_response))
                last_response = None
            answered = False
            try:
                with self.client.stream(
                    "GET", url, params=params, headers=headers, auth=auth, timeout=self.timeout
                ) as response:
                    answered = True
                    if response.status_code != 200:
                        # An error's body is small and the API may give it a
                        # meaning (``on_status``): read, up to a bound.
                        response = _read_error(response)
                    if response.status_code in (401, 403):
                        raise ExchangeAuthError(
                            f"{_where(url)} refused the credentials (HTTP {response.status_code})"
                        )
                    if on_status is not None:
                        on_status(response)
                    if response.status_code in RETRIED_STATUSES:
                        last_response = response
                        last = f"{_where(url)} answered HTTP {response.status_code}"
                        continue
                    if response.status_code != 200:
                        raise ExchangeProtocolError(
                            f"{_where(url)} answered HTTP {response.status_code}: "
                            f"{_snippet(response)}"
                        )
                    try:
                        return read(response)
                    except FormatError as exc:
                        last = f"{_where(url)} sent a document that cannot be read: {exc}"
            except httpx.TransportError as exc:
                if answered:
                    last = f"{_where(url)} broke off its answer: {type(exc).__name__}"
                else:
                    last = f"cannot reach {_where(url)}: {type(exc).__name__}"
        error = ExchangeUnavailable if "cannot be read" not in last else ExchangeProtocolError
        raise error(f"{last} (after {self.attempts} attempts)")

    def _wait(self, attempt: int, response: httpx.Response | None) -> float:
        wait = self.backoff * float(2 ** (attempt - 1))
        if response is not None:
            wait = max(wait, _retry_after(response.headers.get("Retry-After")))
        return min(wait, self.max_wait)

    def close(self) -> None:
        self.client.close()


def _retry_after(value: str | None) -> float:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, moment.timestamp() - time.time())


def _where(url: str) -> str:
    """The URL without its query (which may carry tokens)."""
    return url.split("?", 1)[0]


#: The most of an error answer's body that is read.
ERROR_BODY_BYTES = 64 * 1024


def _read_error(response: httpx.Response) -> httpx.Response:
    """A streamed answer with its body read, at most ``ERROR_BODY_BYTES`` of it."""
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) >= ERROR_BODY_BYTES:
            break
    # The body is decoded already: the copy must not decode it again.
    headers = [
        (name, value)
        for name, value in response.headers.items()
        if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=bytes(body[:ERROR_BODY_BYTES]),
        request=response.request,
    )


def _snippet(response: httpx.Response) -> str:
    """The start of an error answer's body."""
    text = response.content[:200].decode("utf-8", errors="replace").strip().replace("\n", " ")
    return text or "(empty body)"
