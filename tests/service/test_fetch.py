"""URL fetching: off by default; allowed hosts and ports only; public addresses only,
on every hop, connecting to the address checked; bounded in number, time and size.

Tests can only serve on loopback, so DNS is a stub resolver and the fetcher is
told, through its test-only ``admits`` hook, that the test server's address
(127.0.0.1) may be reached; every other non-public address is still refused.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address, ip_address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bastion.config import ConfigError, Settings
from bastion.hashing import hash_bytes
from bastion.service.errors import ApiError
from bastion.service.fetch import Fetcher, IPAddress, Resolver, is_public
from tests.service.conftest import Service, image_bytes

IMAGE = image_bytes(41)
TEST_SERVER = IPv4Address("127.0.0.1")
#: Bounds every wait in these tests (a broken fetcher fails them, never hangs them).
PATIENCE = 20.0


@dataclass
class Origin:
    """What the loopback server saw and did."""

    port: int
    hits: dict[str, int] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)
    #: Bytes of /endless written before the client hung up.
    sent: int = 0
    #: /slow requests that have started; set ``release`` to let them finish.
    arrived: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    release: threading.Event = field(default_factory=threading.Event)
    #: Set once any /slow request has sent its whole body.
    served: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        origin = self.server.origin
        origin.hits[self.path] = origin.hits.get(self.path, 0) + 1
        origin.hosts.append(self.headers.get("Host", ""))
        if self.path == "/image.jpg":
            self._send(200, IMAGE)
        elif self.path == "/secret":
            self._send(200, b"internal only")
        elif self.path == "/inward":
            self._redirect(f"http://inner.test:{origin.port}/secret")
        elif self.path == "/onward":
            self._redirect(f"http://cdn.test:{origin.port}/image.jpg")
        elif self.path == "/slow":
            self._slow(origin)
        elif self.path == "/trickle":
            self._trickle()
        elif self.path == "/endless":
            self._endless(origin)
        else:
            self._send(404, b"")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _slow(self, origin: Origin) -> None:
        """One byte, then nothing until the test releases it."""
        self.send_response(200)
        self.send_header("Content-Length", str(len(IMAGE)))
        self.end_headers()
        self.wfile.write(IMAGE[:1])
        self.wfile.flush()
        origin.arrived.release()
        origin.release.wait(PATIENCE)
        self.wfile.write(IMAGE[1:])
        origin.served.set()

    def _trickle(self) -> None:
        """A byte every 0.2 s: each read is quick, the whole is not."""
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            for _ in range(int(PATIENCE / 0.2)):
                self.wfile.write(b"x")
                self.wfile.flush()
                threading.Event().wait(0.2)
        except OSError:
            pass

    def _endless(self, origin: Origin) -> None:
        """No length, and far more than any limit, until the client hangs up."""
        self.send_response(200)
        self.end_headers()
        chunk = b"\0" * 65536
        try:
            for _ in range(1024):  # 64 MB at most
                self.wfile.write(chunk)
                origin.sent += len(chunk)
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    origin: Origin


@pytest.fixture
def origin() -> Iterator[Origin]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.origin = Origin(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.origin
    server.origin.release.set()
    server.shutdown()
    server.server_close()


@dataclass
class StubDns:
    """Names to addresses, counting the questions asked."""

    names: dict[str, list[str]]
    asked: list[str] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.names:
            raise OSError(f"no such name {host}")
        return self.names[host]


def _admits_test_server(address: IPAddress) -> bool:
    return address == TEST_SERVER or is_public(address)


def _fetcher(
    origin: Origin,
    resolver: Resolver | None = None,
    *,
    admit_test_server: bool = True,
    **settings: object,
) -> Fetcher:
    chosen = Settings(fetch_hosts="cdn.test,inner.test", fetch_ports=str(origin.port))
    return Fetcher(
        replace(chosen, **settings),  # type: ignore[arg-type]
        resolver=resolver or StubDns({"cdn.test": ["127.0.0.1"], "inner.test": ["10.0.0.7"]}),
        admits=_admits_test_server if admit_test_server else is_public,
    )


def fetch(fetcher: Fetcher, url: str) -> tuple[bytes, str]:
    async def fetched() -> tuple[bytes, str]:
        async with fetcher.fetched(url) as found:
            return found

    return asyncio.run(fetched())


def _refused(fetcher: Fetcher, url: str) -> ApiError:
    with pytest.raises(ApiError) as caught:
        fetch(fetcher, url)
    return caught.value


# --- which addresses are public ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::127.0.0.1",  # IPv4-compatible: Python calls it global
        "::10.0.0.1",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1: Python calls it global
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::808:808",  # local-use NAT64, whatever it embeds
        "2002:7f00:1::",  # 6to4 of 127.0.0.1: Python calls it global
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
    ],
)
def test_internal_addresses_are_not_public(text: str) -> None:
    assert not is_public(ip_address(text))


@pytest.mark.parametrize(
    "text", ["8.8.8.8", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8"]
)
def test_public_addresses(text: str) -> None:
    assert is_public(ip_address(text))


# --- what may be fetched -------------------------------------------------------------


def test_off_by_default(origin: Origin) -> None:
    refused = _refused(Fetcher(Settings()), f"http://cdn.test:{origin.port}/image.jpg")
    assert refused.status == 400
    assert "BASTION_FETCH_HOSTS" in refused.message


def test_allowed_host_at_the_checked_address(origin: Origin) -> None:
    """The name is resolved once and the connection goes to that answer, with the
    name in the Host header - a second, different DNS answer is never asked for."""
    dns = StubDns({"cdn.test": ["127.0.0.1"]})
    data, name = fetch(_fetcher(origin, dns), f"http://cdn.test:{origin.port}/image.jpg")
    assert data == IMAGE
    assert name == "image.jpg"
    assert dns.asked == ["cdn.test"]
    assert origin.hosts == [f"cdn.test:{origin.port}"]


def test_other_hosts_are_refused(origin: Origin) -> None:
    refused = _refused(_fetcher(origin), f"http://elsewhere.test:{origin.port}/image.jpg")
    assert "not in BASTION_FETCH_HOSTS" in refused.message
    assert not origin.hits


def test_a_name_resolving_inward_is_refused(origin: Origin) -> None:
    """An allowed name that resolves to an internal server is refused before any
    connection, on the very first hop."""
    fetcher = _fetcher(origin, admit_test_server=False)
    refused = _refused(fetcher, f"http://cdn.test:{origin.port}/secret")
    assert refused.status == 400
    assert "127.0.0.1, not a public address" in refused.message
    assert not origin.hits


@pytest.mark.parametrize("inward", ["::ffff:127.0.0.1", "64:ff9b::7f00:1", "::127.0.0.1"])
def test_a_name_resolving_to_an_ipv6_form_of_an_internal_address_is_refused(
    origin: Origin, inward: str
) -> None:
    dns = StubDns({"cdn.test": [inward]})
    refused = _refused(_fetcher(origin, dns), f"http://cdn.test:{origin.port}/secret")
    assert "not a public address" in refused.message


def test_one_internal_answer_among_public_ones_is_refused(origin: Origin) -> None:
    dns = StubDns({"cdn.test": ["8.8.8.8", "10.0.0.7"]})
    refused = _refused(_fetcher(origin, dns), f"http://cdn.test:{origin.port}/image.jpg")
    assert "10.0.0.7, not a public address" in refused.message


def test_no_redirect_to_an_internal_address(origin: Origin) -> None:
    refused = _refused(_fetcher(origin), f"http://cdn.test:{origin.port}/inward")
    assert refused.status == 400
    assert "'inner.test': it resolves to 10.0.0.7, not a public address" in refused.message
    assert "/secret" not in origin.hits


def test_redirects_are_checked_and_followed(origin: Origin) -> None:
    data, _ = fetch(_fetcher(origin), f"http://cdn.test:{origin.port}/onward")
    assert data == IMAGE


def test_ports_are_80_and_443_unless_configured(origin: Origin) -> None:
    fetcher = _fetcher(origin, fetch_ports=Settings().fetch_ports)
    refused = _refused(fetcher, f"http://cdn.test:{origin.port}/image.jpg")
    assert refused.status == 400
    assert f"refused port {origin.port}" in refused.message
    assert "BASTION_FETCH_PORTS=80,443" in refused.message
    assert not origin.hits


def test_a_bad_port_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="BASTION_FETCH_PORTS"):
        Fetcher(Settings(fetch_hosts="cdn.test", fetch_ports="443,https"))


def test_unresolvable_names_are_refused(origin: Origin) -> None:
    refused = _refused(_fetcher(origin, StubDns({})), f"http://cdn.test:{origin.port}/x")
    assert refused.message == "cannot resolve 'cdn.test'"


def test_size_cap_declared(origin: Origin) -> None:
    refused = _refused(
        _fetcher(origin, max_upload_bytes=1000), f"http://cdn.test:{origin.port}/image.jpg"
    )
    assert refused.status == 413


def test_size_cap_streamed_stops_reading(origin: Origin) -> None:
    """A body of unstated length is cut off at the cap, not read whole."""
    refused = _refused(
        _fetcher(origin, max_upload_bytes=100_000), f"http://cdn.test:{origin.port}/endless"
    )
    assert refused.status == 413
    assert origin.sent < 32 << 20  # of 64 MB offered; what socket buffers took aside


def test_total_deadline(origin: Origin) -> None:
    """Every read is quick, so only a deadline on the whole fetch stops a trickle."""
    refused = _refused(_fetcher(origin, fetch_seconds=1), f"http://cdn.test:{origin.port}/trickle")
    assert refused.status == 504
    assert "BASTION_FETCH_SECONDS" in refused.message


# --- TLS: the name is verified, though the connection goes to an address ---------


def _tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """A test certificate authority and a certificate it issued for cdn.test."""
    now = datetime.now(UTC)

    def certificate(
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: str,
        signer: ec.EllipticCurvePrivateKey,
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(hours=1))
        )

    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = (
        certificate("test CA", ca_key, "test CA", ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        certificate("cdn.test", leaf_key, "test CA", ca_key)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("cdn.test")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = (
        directory / "ca.pem",
        directory / "cert.pem",
        directory / "key.pem",
    )
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


@pytest.fixture
def tls_origin(tmp_path: Path) -> Iterator[tuple[Origin, ssl.SSLContext]]:
    ca_file, cert_file, key_file = _tls_files(tmp_path)
    server = _Server(("127.0.0.1", 0), _Handler)
    serving = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    serving.load_cert_chain(cert_file, key_file)
    server.socket = serving.wrap_socket(server.socket, server_side=True)
    server.origin = Origin(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.origin, ssl.create_default_context(cafile=str(ca_file))
    server.shutdown()
    server.server_close()


def test_https_verifies_the_name_at_the_checked_address(
    tls_origin: tuple[Origin, ssl.SSLContext],
) -> None:
    origin, trusted = tls_origin
    dns = StubDns({"cdn.test": ["127.0.0.1"], "alias.test": ["127.0.0.1"]})
    settings = Settings(fetch_hosts="cdn.test,alias.test", fetch_ports=str(origin.port))
    fetcher = Fetcher(settings, resolver=dns, admits=_admits_test_server, tls=trusted)
    data, _ = fetch(fetcher, f"https://cdn.test:{origin.port}/image.jpg")
    assert data == IMAGE
    # The same address under a name its certificate does not carry.
    refused = _refused(fetcher, f"https://alias.test:{origin.port}/image.jpg")
    assert refused.status == 400
    assert "certificate" in refused.message.lower()


# --- through the service -------------------------------------------------------------


def _serving(service: Service, fetcher: Fetcher) -> Service:
    service.client.app.state.fetcher = fetcher  # type: ignore[attr-defined]
    return service


def test_hma_hash_by_url(origin: Origin, service: Service) -> None:
    _serving(service, _fetcher(origin))
    answer = service.client.get(
        "/h/hash",
        params={"url": f"http://cdn.test:{origin.port}/image.jpg"},
        headers=service.auth("client"),
    )
    assert answer.json()["pdq"] == hash_bytes(IMAGE).pdq
    refused = service.client.get(
        "/h/hash", params={"url": "file:///etc/passwd"}, headers=service.auth("client")
    )
    assert refused.status_code == 400


def test_hma_routes_refuse_internal_servers(origin: Origin, service: Service) -> None:
    _serving(service, _fetcher(origin, admit_test_server=False))
    url = f"http://cdn.test:{origin.port}/secret"
    for method, path in (("get", "/h/hash"), ("get", "/m/lookup"), ("post", "/c/bank/B/content")):
        answer = service.client.request(
            method, path, params={"url": url}, headers=service.auth("curator")
        )
        assert answer.status_code in (400, 404), (path, answer.text)
        if path != "/c/bank/B/content":  # no such bank: refused before fetching
            assert "not a public address" in answer.json()["message"]
    assert not origin.hits


def test_lookups_do_not_wait_behind_slow_fetches(origin: Origin, service: Service) -> None:
    """More slow fetches than the service has worker threads are in flight; lookups
    (and a key check, which needs a worker thread) still answer before any of them ends;
    one fetch over the limit is answered 503 at once."""
    workers = 40  # anyio's default worker threads per process
    _serving(service, _fetcher(origin, fetch_concurrency=workers + 1))
    url = f"http://cdn.test:{origin.port}/slow"
    answers: list[int] = []

    def hash_slowly() -> None:
        answer = service.client.get("/h/hash", params={"url": url}, headers=service.auth("client"))
        answers.append(answer.status_code)

    threads = [threading.Thread(target=hash_slowly) for _ in range(workers + 1)]
    for thread in threads:
        thread.start()
    try:
        for _ in threads:
            assert origin.arrived.acquire(timeout=PATIENCE), (answers, origin.hits)
        over = service.client.get("/h/hash", params={"url": url}, headers=service.auth("client"))
        assert over.status_code == 503
        assert "BASTION_FETCH_CONCURRENCY" in over.json()["message"]
        fresh_key, _ = service.state.accounts.create_key("fresh", "client", actor="test")
        pdq = hash_bytes(IMAGE).pdq
        lookup = service.client.get(
            "/m/raw_lookup",
            params={"signal_type": "pdq", "signal": pdq},
            headers={"Authorization": f"Bearer {fresh_key}"},
        )
        assert lookup.status_code == 200
        by_signal = service.client.get(
            "/m/lookup",
            params={"signal_type": "pdq", "signal": pdq},
            headers=service.auth("client"),
        )
        assert by_signal.status_code == 200
        assert not origin.served.is_set(), "a lookup waited for a slow fetch to end"
    finally:
        origin.release.set()
        for thread in threads:
            thread.join(PATIENCE)
    assert answers == [200] * (workers + 1)
