"""Where webhooks may go.

Live mode: https, and every address the host resolves to is public, checked when the endpoint is saved and
again at each delivery, which then connects only to addresses it checked (DNS can change in between).
Test mode: http or https, and the same public-address rule unless WEBHOOK_ALLOW_PRIVATE_TEST_URLS is on
(the default only with DEBUG: a developer running the platform on their machine receives on
http://127.0.0.1:…); in production a test key must not make our workers call our own network. Link-local
addresses (cloud metadata, 169.254.169.254) are refused in every mode.
"""

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as ResolveTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from core.errors import InvalidParameters

URL_MAX_LENGTH = 2048
RESOLVE_SECONDS = 5.0
GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
# Inside 2000::/3 but carrying an IPv4 address that may be anyone's (6to4), or not global (Teredo, docs).
IPV6_REFUSED = tuple(ipaddress.ip_network(net) for net in ("2002::/16", "2001::/32", "2001:db8::/32"))

_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


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
    """ASCII only (a non-ASCII host is sent as its punycode, a path percent-encoded), no credentials."""
    if len(url) > URL_MAX_LENGTH or not url.isascii() or any(ord(c) <= 32 or ord(c) == 127 for c in url):
        raise _invalid(
            "url_invalid",
            f"url must be an absolute http(s) URL of at most {URL_MAX_LENGTH} ASCII characters "
            "(punycode hosts, percent-encoded paths).",
        )
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
    """A global unicast address: IPv4 by the IANA special-purpose registry (Python's is_global); IPv6 only
    in 2000::/3, without the ranges that embed an IPv4 address or are not routed (NAT64, IPv4-compatible
    and -translated forms all fall outside 2000::/3); an IPv4-mapped IPv6 address is judged as its IPv4."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip not in GLOBAL_UNICAST or any(ip in net for net in IPV6_REFUSED):
            return False
    return ip.is_global and not ip.is_multicast


def is_link_local(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_link_local


def resolve(host: str, port: int) -> tuple[str, ...]:
    """The host's addresses, or () when it does not resolve within RESOLVE_SECONDS."""
    future = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=RESOLVE_SECONDS)
    except (OSError, UnicodeError, ResolveTimeout):
        return ()
    return tuple(dict.fromkeys(info[4][0] for info in infos))


def _refusal(scheme: str, addresses: tuple[str, ...], livemode: bool) -> str | None:
    """Why these addresses may not be called in this mode (a stable code), or None."""
    if livemode and scheme != "https":
        return "url_not_https"
    if not addresses:
        return "url_not_resolvable"
    if any(is_link_local(address) for address in addresses):
        return "url_not_public"
    private_allowed = not livemode and settings.WEBHOOK_ALLOW_PRIVATE_TEST_URLS
    if not private_allowed and not all(is_public(address) for address in addresses):
        return "url_not_public"
    return None


def target(url: str, *, livemode: bool) -> Target:
    """The URL's parts and the addresses a delivery may connect to; DestinationRefused if none."""
    try:
        scheme, host, port, path = parse(url)
    except InvalidParameters as exc:
        raise DestinationRefused(exc.errors[0]["code"]) from None
    addresses = resolve(host, port)
    if refused := _refusal(scheme, addresses, livemode):
        raise DestinationRefused(refused)
    return Target(scheme, host, port, path, addresses)


MESSAGES = {
    "url_not_https": "A live-mode endpoint must use https.",
    "url_not_resolvable": "The URL's host does not resolve.",
    "url_not_public": "The URL must resolve only to public addresses (not private, loopback or link-local).",
}


def check_endpoint_url(url: str, *, livemode: bool) -> None:
    """At creation and change: a 400 naming what is wrong."""
    scheme, host, port, _path = parse(url)
    if refused := _refusal(scheme, resolve(host, port), livemode):
        raise _invalid(refused, MESSAGES[refused])
