"""The webhook's guard against server-side request forgery.

A webhook URL is configuration, but whoever can change it (or the DNS of its host) could
otherwise make the server call its own admin ports, the cloud metadata service or the
office network. So every address a host resolves to must be public, the check runs at
each delivery (a name that resolved to a public address yesterday may not today), and
the request then goes to the very address that was checked, never to a fresh lookup
(which DNS rebinding could point elsewhere in between).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence

from lucine_core.errors import ExternalServiceError

__all__ = ["Resolver", "is_ip_literal", "refusal", "resolve", "vetted_addresses"]

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Turns a host name and port into IP addresses (as text)."""

_IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# IPv6 prefixes that carry an IPv4 address in their last 32 bits (RFC 6052 NAT64).
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


async def resolve(host: str, port: int) -> Sequence[str]:
    """Every address of ``host``, from the system resolver (off the event loop's thread).

    Raises:
        OSError: the name does not resolve (``socket.gaierror``).
    """
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_ip_literal(host: str) -> bool:
    """Whether a URL's host is an IP address rather than a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in network for network in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(address: str) -> str | None:
    """Why a webhook may not be sent to ``address``, or None if it is a public address.

    Loopback, private, link-local (cloud metadata), multicast, reserved, unspecified and
    other non-global ranges (shared CGNAT space, documentation) are refused, in IPv4 and
    IPv6, including IPv4 addresses wrapped in IPv6 ones.
    """
    try:
        ip: _IpAddress = ipaddress.ip_address(address)
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner = refusal(str(embedded))
            return f"{address} wraps {inner}" if inner else None
    kinds = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("non-public", not ip.is_global),
    )
    for kind, applies in kinds:
        if applies:
            return f"{address} is a {kind} address"
    return None


def _refused(reason: str) -> ExternalServiceError:
    return ExternalServiceError(service="webhook", reason=f"refused: {reason}", retryable=False)


async def vetted_addresses(
    host: str, port: int, *, allow_private: bool, resolver: Resolver
) -> Sequence[str]:
    """The addresses to connect to for ``host``: every one checked, none looked up again.

    Args:
        host: The URL's host: a name or an IP address.
        port: The URL's port (for the resolver).
        allow_private: Accept any address (a receiver on the shop's own network).
        resolver: How names become addresses.

    Raises:
        ExternalServiceError: an address is not public (``retryable`` False), or the
            name does not resolve (``retryable`` True: DNS failures are often brief).
    """
    if is_ip_literal(host):
        addresses = [host]
    else:
        try:
            addresses = list(await resolver(host, port))
        except OSError as error:
            raise ExternalServiceError(
                service="webhook", reason=f"cannot resolve {host}: {error}"
            ) from None
    if not addresses:
        raise ExternalServiceError(service="webhook", reason=f"{host} has no address")
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason is not None:
                raise _refused(reason if address == host else f"{host} resolves to {reason}")
    return addresses
