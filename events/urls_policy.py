"""Where webhooks may go. Live mode: https, and every address the host resolves to is public (not private,
loopback, link-local, reserved or multicast), checked when the endpoint is saved and again at each delivery,
which then connects to an address it checked (DNS can change in between). Test mode: http or https to any
host, so a developer can receive on their own machine (http://127.0.0.1:…)."""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.errors import InvalidParameters

URL_MAX_LENGTH = 2048


class DestinationRefused(Exception):
    """A delivery's URL may not be called (now): the reason is recorded as the attempt's error."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with the query string
    addresses: tuple[str, ...]  # resolved, in the resolver's order, each one allowed


def _invalid(code: str, message: str) -> InvalidParameters:
    return InvalidParameters.single("url", code, message)


def parse(url: str) -> tuple[str, str, int, str]:
    if len(url) > URL_MAX_LENGTH or any(ord(c) <= 32 or ord(c) == 127 for c in url):
        raise _invalid("url_invalid", f"url must be an absolute http(s) URL of at most {URL_MAX_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _invalid("url_invalid", "url is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _invalid("url_invalid", "url must be an absolute http or https URL.")
    if parts.username is not None or parts.password is not None:
        raise _invalid("url_invalid", "url may not carry a user name or password.")
    if parts.fragment:
        raise _invalid("url_invalid", "url may not have a #fragment.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return ()
    return tuple(dict.fromkeys(info[4][0] for info in infos))


def target(url: str, *, livemode: bool) -> Target:
    """The URL's parts and the addresses a delivery may connect to; DestinationRefused if none."""
    try:
        scheme, host, port, path = parse(url)
    except InvalidParameters as exc:
        raise DestinationRefused(exc.errors[0]["code"]) from None
    if livemode and scheme != "https":
        raise DestinationRefused("url_not_https")
    addresses = resolve(host, port)
    if not addresses:
        raise DestinationRefused("dns_error")
    if livemode and not all(is_public(address) for address in addresses):
        raise DestinationRefused("url_not_public")
    return Target(scheme, host, port, path, addresses)


def check_endpoint_url(url: str, *, livemode: bool) -> None:
    """At creation and change: a 400 naming what is wrong."""
    scheme, host, port, _path = parse(url)
    if not livemode:
        return
    if scheme != "https":
        raise _invalid("url_not_https", "A live-mode endpoint must use https.")
    addresses = resolve(host, port)
    if not addresses:
        raise _invalid("url_not_resolvable", f"{host[:100]} does not resolve.")
    if not all(is_public(address) for address in addresses):
        raise _invalid(
            "url_not_public",
            "A live-mode endpoint must resolve only to public addresses (not private, loopback or link-local).",
        )
