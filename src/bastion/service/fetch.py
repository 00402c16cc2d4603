"""Fetching media from a URL, only when an operator allows it.

Off unless ``BASTION_FETCH_HOSTS`` names the hosts that may be fetched from
(``.example.org`` admits its subdomains too).  Every hop - the URL and each
of at most three redirects - must name an allowed host on an allowed port
(``BASTION_FETCH_PORTS``, 80 and 443 by default).  Its name is resolved
once, every address it resolves to must be public (:func:`is_public`), and
the connection goes to that very address, so neither a redirect nor a DNS
answer that changes between check and connect can point the service at an
internal server.

A fetch runs on the event loop and holds no worker thread while it waits,
so lookups never queue behind slow servers.  A serving process runs at
most ``BASTION_FETCH_CONCURRENCY`` fetches at once (more are answered 503
at once), each within ``BASTION_FETCH_SECONDS`` in all, and a body stops
being read at ``BASTION_MAX_UPLOAD_BYTES``.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import cache
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from urllib.parse import urljoin

import httpx

from bastion.config import ConfigError, Settings
from bastion.service.errors import ApiError

MAX_REDIRECTS = 3
#: Per-step timeouts; the whole fetch has its own deadline (``fetch_seconds``).
TIMEOUT = httpx.Timeout(10.0, connect=5.0)

IPAddress = IPv4Address | IPv6Address
#: Host name and port -> the addresses to connect to (textual IPs).
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

#: RFC 8215 local-use NAT64: translates to whatever the operator's network holds.
_NAT64_LOCAL = ip_network("64:ff9b:1::/48")
#: RFC 6052 well-known NAT64 prefix: the last 32 bits are the IPv4 address reached.
_NAT64 = ip_network("64:ff9b::/96")
#: Deprecated IPv4-compatible addresses ``::a.b.c.d``.
_IPV4_COMPATIBLE = ip_network("::/96")


def embedded_ipv4(address: IPv6Address) -> list[IPv4Address]:
    """The IPv4 addresses an IPv6 address reaches or carries.

    ``ipaddress.is_global`` judges only the IPv6 address: it calls
    ``::127.0.0.1``, ``64:ff9b::7f00:1`` and ``2002:7f00:1::`` global.
    """
    found: list[IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address in _IPV4_COMPATIBLE or address in _NAT64:
        found.append(IPv4Address(int(address) & 0xFFFF_FFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def is_public(address: IPAddress) -> bool:
    """Whether the service may connect to ``address``: global unicast, and so is
    every IPv4 address it embeds."""
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, IPv6Address):
        if address in _NAT64_LOCAL:
            return False
        return all(is_public(inner) for inner in embedded_ipv4(address))
    return True


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """The system's answer for ``host`` (in the loop's executor, not a request's thread)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS settings, made once per process: loading the CA bundle
    takes ~100 ms, too long to block the event loop for on every fetch."""
    return httpx.create_ssl_context()


def allowed_hosts(settings: Settings) -> list[str]:
    return [h.strip().lower() for h in settings.fetch_hosts.split(",") if h.strip()]


def allowed_ports(settings: Settings) -> frozenset[int]:
    ports: set[int] = set()
    for text in settings.fetch_ports.split(","):
        if not text.strip():
            continue
        if not text.strip().isdigit() or not 0 < int(text) < 65536:
            raise ConfigError(
                f"BASTION_FETCH_PORTS={settings.fetch_ports!r}: {text.strip()!r} is not a port"
            )
        ports.add(int(text))
    return frozenset(ports)


def _host_allowed(host: str, hosts: list[str]) -> bool:
    return any(host == h or (h.startswith(".") and host.endswith(h)) for h in hosts)


class Fetcher:
    """URL fetching for one serving process: its checks, its slots, its deadline.

    ``resolver``, ``admits`` and ``tls`` exist for tests, which can only
    serve on loopback: a stub resolver stands in for DNS, ``admits`` may
    accept the loopback address the test serves on, and ``tls`` may trust the
    test's own certificate authority.  Operators have no setting for any.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        resolver: Resolver = system_resolver,
        admits: Callable[[IPAddress], bool] = is_public,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.hosts = allowed_hosts(settings)
        self.ports = allowed_ports(settings)
        self.resolver = resolver
        self.admits = admits
        self.tls = tls
        #: Fetches in flight; only touched on the event loop, so a plain count.
        self.in_flight = 0

    @asynccontextmanager
    async def fetched(self, url: str) -> AsyncIterator[tuple[bytes, str]]:
        """The bytes at ``url`` and a name for them, while a fetch slot is held.

        Callers hash the bytes inside the block, so the slots bound the
        memory fetched bodies take as well as the connections.  ApiError
        says why there are none.
        """
        if not self.hosts:
            raise ApiError(
                400, "fetching media by URL is off (set BASTION_FETCH_HOSTS to allow hosts)"
            )
        if self.in_flight >= self.settings.fetch_concurrency:
            raise ApiError(
                503,
                f"{self.in_flight} URL fetches are in progress, the most allowed "
                "(BASTION_FETCH_CONCURRENCY): retry shortly",
                {"Retry-After": "1"},
            )
        self.in_flight += 1
        try:
            seconds = self.settings.fetch_seconds
            try:
                async with asyncio.timeout(seconds):
                    found = await self._fetch(url)
            except TimeoutError:
                raise ApiError(
                    504, f"fetching {url} took longer than {seconds} s (BASTION_FETCH_SECONDS)"
                ) from None
            yield found
        finally:
            self.in_flight -= 1

    async def _fetch(self, url: str) -> tuple[bytes, str]:
        # A client (a connection pool) per fetch: a pooled TLS connection to an
        # address must not serve another name that resolves to it.
        async with httpx.AsyncClient(
            follow_redirects=False, timeout=TIMEOUT, trust_env=False, verify=self.tls or _tls()
        ) as client:
            for _ in range(MAX_REDIRECTS + 1):
                target, host, headers, extensions = await self._checked(url)
                try:
                    async with client.stream(
                        "GET", target, headers=headers, extensions=extensions
                    ) as response:
                        if response.is_redirect:
                            url = urljoin(url, response.headers.get("location", ""))
                            continue
                        if response.status_code != 200:
                            raise ApiError(400, f"fetching {url} gave HTTP {response.status_code}")
                        body = await self._body(response, url)
                except httpx.HTTPError as exc:
                    raise ApiError(400, f"cannot fetch {url}: {exc}") from None
                name = httpx.URL(url).path.rsplit("/", 1)[-1] or host
                return body, name
        raise ApiError(400, f"more than {MAX_REDIRECTS} redirects fetching the URL")

    async def _checked(self, url: str) -> tuple[httpx.URL, str, dict[str, str], dict[str, str]]:
        """The URL to request (at the checked address), the host, its Host header and SNI."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            raise ApiError(400, f"cannot fetch {url!r}: not a valid URL") from None
        host = parsed.host.lower()
        if parsed.scheme not in ("http", "https") or not host:
            raise ApiError(400, f"cannot fetch {url!r}: only http and https URLs")
        if not _host_allowed(host, self.hosts):
            raise ApiError(400, f"host {host!r} is not in BASTION_FETCH_HOSTS")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        if port not in self.ports:
            allowed = ",".join(str(p) for p in sorted(self.ports)) or "none"
            raise ApiError(400, f"refused port {port} of {host!r}: BASTION_FETCH_PORTS={allowed}")
        address = await self._address(host, port)
        headers = {"Host": parsed.netloc.decode("ascii")}
        extensions = {"sni_hostname": host} if parsed.scheme == "https" else {}
        return parsed.copy_with(host=str(address)), host, headers, extensions

    async def _address(self, host: str, port: int) -> IPAddress:
        """The one address to connect to; refused unless every address ``host`` has is public."""
        try:
            answers = [ip_address(text) for text in await self.resolver(host, port)]
        except (OSError, ValueError):
            answers = []
        if not answers:
            raise ApiError(400, f"cannot resolve {host!r}")
        refused = [str(a) for a in answers if not self.admits(a)]
        if refused:
            raise ApiError(
                400, f"refused {host!r}: it resolves to {refused[0]}, not a public address"
            )
        return answers[0]

    async def _body(self, response: httpx.Response, url: str) -> bytes:
        """The body, read no further than the size limit."""
        limit = self.settings.max_upload_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"{url} is larger than {limit} bytes (BASTION_MAX_UPLOAD_BYTES)")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                raise ApiError(
                    413, f"{url} is larger than {limit} bytes (BASTION_MAX_UPLOAD_BYTES)"
                )
        return bytes(body)
