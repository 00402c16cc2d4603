"""Fetching media from a URL, only when an operator allows it.

Off unless ``BASTION_FETCH_HOSTS`` names the hosts that may be fetched from
(``.example.org`` admits its subdomains too).  Redirects are followed by
hand, at most three, each to an allowed host that resolves to public
addresses only, so a redirect cannot point the service at an internal
address; bodies stop at ``BASTION_MAX_UPLOAD_BYTES``.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import httpx

from bastion.config import Settings
from bastion.service.errors import ApiError

MAX_REDIRECTS = 3
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def allowed_hosts(settings: Settings) -> list[str]:
    return [h.strip().lower() for h in settings.fetch_hosts.split(",") if h.strip()]


def _host_allowed(host: str, hosts: list[str]) -> bool:
    return any(host == h or (h.startswith(".") and host.endswith(h)) for h in hosts)


def _public(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return False
    return True


def fetch(url: str, settings: Settings) -> tuple[bytes, str]:
    """The bytes at ``url`` and a name for them; ApiError says why not."""
    hosts = allowed_hosts(settings)
    if not hosts:
        raise ApiError(400, "fetching media by URL is off (set BASTION_FETCH_HOSTS to allow hosts)")
    limit = settings.max_upload_bytes
    with httpx.Client(follow_redirects=False, timeout=TIMEOUT, trust_env=False) as client:
        for hop in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            if parts.scheme not in ("http", "https") or not host:
                raise ApiError(400, f"cannot fetch {url!r}: only http and https URLs")
            if not _host_allowed(host, hosts):
                raise ApiError(400, f"host {host!r} is not in BASTION_FETCH_HOSTS")
            if hop and not _public(host):
                raise ApiError(400, f"refused a redirect to {host!r}: it is not a public address")
            try:
                with client.stream("GET", url) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if response.status_code != 200:
                        raise ApiError(400, f"fetching {url} gave HTTP {response.status_code}")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > limit:
                        raise ApiError(413, f"{url} is larger than {limit} bytes")
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > limit:
                            raise ApiError(413, f"{url} is larger than {limit} bytes")
                    name = parts.path.rsplit("/", 1)[-1] or host
                    return bytes(body), name
            except httpx.HTTPError as exc:
                raise ApiError(400, f"cannot fetch {url}: {exc}") from None
    raise ApiError(400, f"more than {MAX_REDIRECTS} redirects fetching the URL")
