"""What the two fake exchange servers share: a loopback HTTP server in a daemon thread,
a log of the requests it saw, and a queue of faults to inflict on the next data requests.

The fakes speak HTTP/1.1 with keep-alive so a client's connection pool is exercised as it
would be against the real services, and so a benchmark measures the client, not a new TCP
connection per page.
"""

from __future__ import annotations

import threading
import traceback
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import ClassVar, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class RequestLog:
    """One request as the fake received it, for a test's assertions."""

    method: str
    path: str  # path and query, as sent
    headers: dict[str, str]


@dataclass(frozen=True)
class Request:
    """A parsed request handed to a fake's route."""

    path: str  # path only, without the query
    query: dict[str, str]  # the first value of each parameter
    headers: dict[str, str]  # names in lower case
    client_ip: str
    method: str = "GET"
    body: bytes = b""  # a POST's body, as received (de-chunked if it came chunked)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Fail:
    status: int
    retry_after: float | None
    body: str


class _Truncate:
    """A 200 whose body stops half-way, delivered with a matching Content-Length."""


class _Garble:
    """A 200 whose body is neither XML nor JSON (a proxy's error page, a mangled gzip)."""


_Fault = _Fail | _Truncate | _Garble

#: What a garbled response carries: no parser of XML or JSON accepts it.
GARBLED_BODY = b"\x1f\x8b upstream said: oops \xff\xfe not a document"


class FakeServer(ABC):
    """Base of the fakes: ``with Fake() as fake:`` serves on ``fake.url`` until the block ends.

    A subclass names its ``base_path`` and ``data_paths`` and implements ``route``.  Faults
    queued with ``fail_next``/``truncate_next``/``garble_next`` are spent, in order, by the
    next requests to a data path (entries, FetchHashes); status and other endpoints are
    spared unless ``faults_on_every_path`` is set.  Faults are spent only by authenticated
    requests, so a test's 401 probe never eats one.

    An exception inside the server is answered with a 500 and raised again when the
    ``with`` block exits, so a bug in a fake fails the test instead of looking like an
    outage the client then retries through.
    """

    base_path: ClassVar[str]
    data_paths: ClassVar[frozenset[str]]

    def __init__(self) -> None:
        self.requests: list[RequestLog] = []
        self.faults_on_every_path = False
        self._faults: deque[_Fault] = deque()
        self._errors: list[str] = []
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._httpd = _Server(("127.0.0.1", 0), _Handler, self)
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._httpd is not None
        assert self._thread is not None
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
        self._httpd = self._thread = None
        if self._errors and exc_type is None:
            raise RuntimeError(f"{type(self).__name__} failed inside:\n" + "\n".join(self._errors))

    @property
    def url(self) -> str:
        """The base URL a client is configured with (the real service's base URL's stand-in)."""
        assert self._httpd is not None, "use the fake inside a `with` block"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}{self.base_path}"

    # --- faults ----------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: float | None = None,
        body: str = "injected failure",
    ) -> None:
        """The next ``times`` data requests get ``status`` (and a Retry-After if given)."""
        self._queue(_Fail(status, retry_after, body), times)

    def truncate_next(self, times: int = 1) -> None:
        """The next ``times`` data responses are 200 with the first half of the real body."""
        self._queue(_Truncate(), times)

    def garble_next(self, times: int = 1) -> None:
        """The next ``times`` data responses are 200 with a body that is no document at all."""
        self._queue(_Garble(), times)

    def _queue(self, fault: _Fault, times: int) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    # --- what subclasses provide -----------------------------------------------------

    @abstractmethod
    def authorized(self, request: Request) -> Response | None:
        """None when the request may proceed, else the refusal to send."""

    @abstractmethod
    def route(self, request: Request) -> Response:
        """The response to an authorized request (before any fault is applied to it)."""

    # --- serving ---------------------------------------------------------------------

    def _serve(self, request: Request) -> Response:
        refusal = self.authorized(request)
        if refusal is not None:
            return refusal
        fault = None
        if self.faults_on_every_path or request.path in self.data_paths:
            with self._lock:
                fault = self._faults.popleft() if self._faults else None
        if isinstance(fault, _Fail):
            headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
            return Response(fault.status, fault.body.encode(), "text/plain", headers)
        response = self.route(request)
        if isinstance(fault, _Truncate):
            return Response(200, response.body[: len(response.body) // 2], response.content_type)
        if isinstance(fault, _Garble):
            return Response(200, GARBLED_BODY, response.content_type)
        return response

    def _record_error(self) -> None:
        self._errors.append(traceback.format_exc())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], fake: FakeServer
    ) -> None:
        self.fake = fake
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm on, the body of a small
    # response would wait for the client's delayed ACK (40 ms a request on Linux).
    disable_nagle_algorithm = True
    # An idle keep-alive connection is closed after this long, so threads do not pile up.
    timeout = 10
    server: _Server

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        """A POST is served like a GET, with its body on ``Request.body``.

        The body is read whole before the fake sees the request, even one it refuses: an
        unread body would be taken for the next request on the keep-alive connection.
        """
        self._answer(self._read_body())

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # the CRLF after each chunk
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers, up to the blank line that ends the body
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, body: bytes) -> None:
        fake = self.server.fake
        headers = {name.lower(): value for name, value in self.headers.items()}
        fake.requests.append(RequestLog(self.command, self.path, headers))
        split = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(split.query).items()}
        request = Request(split.path, query, headers, self.client_address[0], self.command, body)
        try:
            response = fake._serve(request)
        except Exception:  # noqa: BLE001 - the fake's own bug: answered 500, raised at exit
            fake._record_error()
            response = Response(500, b"fake server error", "text/plain")
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: tests read ``fake.requests`` instead of stderr."""
