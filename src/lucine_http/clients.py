"""Who is asking: the client's address (trusting X-Forwarded-For only from known proxies)."""

from __future__ import annotations

import ipaddress
from typing import Any

from litestar import Request

from lucine_http.config import HttpConfig

__all__ = ["client_address"]


def client_address(request: Request[Any, Any, Any], config: HttpConfig) -> str:
    """The client's IP address.

    The socket peer, unless the peer is a configured trusted proxy: then the rightmost
    X-Forwarded-For entry that is not itself a trusted proxy. A client can put anything
    in that header, so entries left of the first untrusted hop are never believed.
    """
    peer = request.client.host if request.client else "unknown"
    if not config.trusted_proxies or not _trusted(peer, config):
        return peer
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, config):
            return hop if _is_ip(hop) else peer
    return peer


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _trusted(address: str, config: HttpConfig) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in config.trusted_proxies)
