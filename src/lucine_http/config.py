"""HTTP settings: what the web layer needs beyond the services."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import timedelta

import attrs

from lucine_adapters.settings import environment
from lucine_core.errors import ValidationError

__all__ = ["HttpConfig", "Limit"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@attrs.frozen(kw_only=True)
class Limit:
    """``count`` attempts per ``window``."""

    count: int
    window: timedelta


def _networks(raw: str) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(part.strip()) for part in raw.split(",") if part.strip())
    except ValueError:
        raise ValidationError(
            field="LUCINE_TRUSTED_PROXIES", reason="must be IP addresses or networks"
        ) from None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValidationError(field=name, reason="must be a positive whole number")
    return int(raw)


@attrs.frozen(kw_only=True)
class HttpConfig:
    """The web layer's settings.

    Attributes:
        cors_origins: Shop origins allowed to call the visitor API and load the widget.
        trusted_proxies: Peers whose X-Forwarded-For is believed (e.g. your load balancer).
        chat_limit: Visitor messages per client.
        new_sessions_limit: New chats per client.
        login_limit: Failed logins per username and per client.
        max_body_bytes: Largest request body accepted.
        public_url: Where the server is reached, for links printed at start.
        keepalive_seconds: Seconds between keep-alives on idle event streams; the
            operators' stream checks its token again at each one.
    """

    cors_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[Network, ...] = ()
    chat_limit: Limit = Limit(count=10, window=timedelta(minutes=1))
    new_sessions_limit: Limit = Limit(count=20, window=timedelta(hours=1))
    login_limit: Limit = Limit(count=5, window=timedelta(minutes=15))
    max_body_bytes: int = 64 * 1024
    public_url: str = "http://127.0.0.1:8000"
    keepalive_seconds: int = 15

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HttpConfig:
        """Read ``LUCINE_*`` variables.

        Raises:
            ValidationError: a value cannot be used; ``field`` names the variable.
        """
        env = environment(environ)
        origins = tuple(
            o.strip() for o in env.get("LUCINE_CORS_ORIGINS", "").split(",") if o.strip()
        )
        return cls(
            cors_origins=origins,
            trusted_proxies=_networks(env.get("LUCINE_TRUSTED_PROXIES", "")),
            chat_limit=Limit(
                count=_int(env, "LUCINE_CHAT_LIMIT_PER_MINUTE", 10), window=timedelta(minutes=1)
            ),
            new_sessions_limit=Limit(
                count=_int(env, "LUCINE_NEW_SESSIONS_PER_HOUR", 20), window=timedelta(hours=1)
            ),
            login_limit=Limit(
                count=_int(env, "LUCINE_LOGIN_FAILURES_PER_15_MIN", 5), window=timedelta(minutes=15)
            ),
            public_url=env.get("LUCINE_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            keepalive_seconds=_int(env, "LUCINE_STREAM_KEEPALIVE_SECONDS", 15),
        )
