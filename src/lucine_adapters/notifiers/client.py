"""The HTTP client the webhook and Twilio notifiers open for each notification."""

from __future__ import annotations

import functools
import ssl

import httpx

__all__ = ["http_client"]


@functools.cache
def _tls() -> ssl.SSLContext:
    # Loading the CA bundle takes ~0.1 s of CPU: once per process, not per notification.
    return httpx.create_ssl_context()


def http_client(timeout: float, *, trust_env: bool = True) -> httpx.AsyncClient:
    """A client that verifies certificates, follows no redirects and gives up after ``timeout``.

    Args:
        timeout: Seconds for each of connecting, writing, reading.
        trust_env: Honour proxy variables (``HTTPS_PROXY``...); the webhook does not, as
            it must connect to the address it has checked.
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=trust_env,
        verify=_tls(),
    )
