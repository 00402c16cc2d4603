"""A loopback web server publishing hash list files, as a partner's site or a bucket would.

Each file has an ``ETag`` and a ``Last-Modified``; a request that sends a matching
``If-None-Match`` (or, without one, the same ``If-Modified-Since``) gets 304.  A file's body
may be generated chunk by chunk, so a test can serve a list larger than it wants to hold.
``cut_next`` breaks the next answer off half-way (the connection closes short of the
``Content-Length`` it declared), as a dropped connection does.
"""

from __future__ import annotations

import email.utils
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self


@dataclass
class PublishedFile:
    #: The body's chunks, made anew for each answer.
    chunks: Callable[[], Iterable[bytes]]
    size: int
    etag: str
    last_modified: str


@dataclass
class FakeFiles:
    """``with FakeFiles(token="t") as site:`` serves ``site.url + "/name"``.

    ``token`` None serves without credentials; else a request needs ``Bearer token``.
    """

    token: str | None = None
    files: dict[str, PublishedFile] = field(default_factory=dict)
    #: (path, request headers in lower case) of every request.
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    cuts: int = 0
    _version: int = 0
    _server: ThreadingHTTPServer | None = None

    def publish(self, path: str, body: bytes) -> None:
        """Publish (or replace) a file; a new body gets a new ETag and date."""
        self.publish_chunks(path, lambda: [body], len(body))

    def publish_chunks(self, path: str, chunks: Callable[[], Iterable[bytes]], size: int) -> None:
        self._version += 1
        moment = email.utils.formatdate(1_760_000_000 + self._version, usegmt=True)
        self.files[path] = PublishedFile(chunks, size, f'"v{self._version}"', moment)

    def cut_next(self, times: int = 1) -> None:
        self.cuts += times

    @property
    def url(self) -> str:
        assert self._server is not None, "use the fake inside a `with` block"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                headers = {name.lower(): value for name, value in self.headers.items()}
                fake.requests.append((self.path, headers))
                if fake.token is not None and headers.get("authorization") != (
                    f"Bearer {fake.token}"
                ):
                    self._answer(401, b"unauthorized")
                    return
                published = fake.files.get(self.path)
                if published is None:
                    self._answer(404, b"no such file")
                    return
                etag, since = headers.get("if-none-match"), headers.get("if-modified-since")
                if etag == published.etag or (etag is None and since == published.last_modified):
                    self._answer(304, b"")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(published.size))
                self.send_header("ETag", published.etag)
                self.send_header("Last-Modified", published.last_modified)
                self.end_headers()
                cut = fake.cuts > 0
                fake.cuts -= cut
                sent = 0
                for chunk in published.chunks():
                    if cut and sent + len(chunk) > published.size // 2:
                        self.wfile.write(chunk[: published.size // 2 - sent])
                        return  # HTTP/1.0: the connection closes short of Content-Length
                    self.wfile.write(chunk)
                    sent += len(chunk)

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Silent: tests read ``fake.requests``."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        self._server = None
