"""The notification settings: which channels are configured and which kinds go where.

Read by ``Settings.from_env`` from the environment (or the ``LUCINE_CONFIG`` file); every
unusable value is a ``ValidationError`` naming its variable, and no secret has a default.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from lucine_adapters.notifiers.checks import (
    MIN_SECRET_BYTES,
    check_account_sid,
    check_email,
    check_http_url,
    check_phone,
    check_sender,
    redacted_url,
)
from lucine_adapters.notifiers.dispatch import EMAIL, SMS, WEBHOOK
from lucine_adapters.notifiers.smtp import SmtpSecurity
from lucine_adapters.notifiers.twilio import TwilioChannel
from lucine_core.errors import ValidationError

__all__ = [
    "TEAM_KINDS",
    "NotifyConfig",
    "SmtpConfig",
    "TwilioConfig",
    "WebhookConfig",
    "notify_config",
    "parse_routes",
]

TEAM_KINDS = ("no_operator_online", "ticket_created", "sla_warning", "sla_breached")
"""The kinds of notification for the shop's team, which routes may name."""

_ROUTES = "LUCINE_NOTIFY_ROUTES"
# Names a route may give a channel; WhatsApp goes through the Twilio channel too.
_CHANNEL_NAMES = {WEBHOOK: WEBHOOK, EMAIL: EMAIL, SMS: SMS, "whatsapp": SMS}
_SECURITIES: dict[str, tuple[SmtpSecurity, int]] = {
    "starttls": ("starttls", 587),
    "ssl": ("ssl", 465),
    "none": ("none", 25),
}
_TWILIO_CHANNELS: dict[str, TwilioChannel] = {"sms": "sms", "whatsapp": "whatsapp"}


@attrs.frozen(kw_only=True)
class WebhookConfig:
    """Where team notifications are POSTed.

    Attributes:
        url: The receiver (LUCINE_WEBHOOK_URL).
        secret: The HMAC key, at least 32 bytes (LUCINE_WEBHOOK_SECRET).
        allow_private: Accept a receiver on a private network (LUCINE_WEBHOOK_ALLOW_PRIVATE).
    """

    url: str = attrs.field(repr=redacted_url)
    secret: bytes = attrs.field(repr=False)
    allow_private: bool = False


@attrs.frozen(kw_only=True)
class SmtpConfig:
    """The mail relay (LUCINE_SMTP_*).

    Attributes:
        host: The relay's host.
        port: Its port (587, 465 or 25 by ``security`` when unset).
        sender: The From address.
        team: The team's addresses; empty means e-mail only reaches visitors.
        username: Login name, with ``password``.
        password: Login password.
        security: ``starttls``, ``ssl`` or ``none``.
    """

    host: str
    port: int
    sender: str
    team: tuple[str, ...] = ()
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    security: SmtpSecurity = "starttls"


@attrs.frozen(kw_only=True)
class TwilioConfig:
    """The Twilio account that sends SMS or WhatsApp messages (LUCINE_TWILIO_*).

    Attributes:
        account_sid: The account SID.
        auth_token: The account's auth token.
        sender: The Twilio number (E.164).
        team: The team's numbers (E.164); empty means messages only reach visitors.
        channel: ``sms`` or ``whatsapp``.
    """

    account_sid: str
    auth_token: str = attrs.field(repr=False)
    sender: str
    team: tuple[str, ...] = ()
    channel: TwilioChannel = "sms"


@attrs.frozen(kw_only=True)
class NotifyConfig:
    """The configured channels and the routing of team kinds to them.

    Attributes:
        webhook: The webhook, or None.
        smtp: The mail relay, or None.
        twilio: The Twilio account, or None.
        routes: Team kinds to channel names: LUCINE_NOTIFY_ROUTES, else every channel
            that can reach the team gets every team kind.
    """

    webhook: WebhookConfig | None = None
    smtp: SmtpConfig | None = None
    twilio: TwilioConfig | None = None
    routes: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)

    @property
    def channels(self) -> tuple[str, ...]:
        """The configured channels' names."""
        configured = {WEBHOOK: self.webhook, EMAIL: self.smtp, SMS: self.twilio}
        return tuple(name for name, config in configured.items() if config is not None)

    @property
    def team_channels(self) -> tuple[str, ...]:
        """The configured channels that can reach the team."""
        return tuple(
            name
            for name in self.channels
            if name == WEBHOOK
            or (name == EMAIL and self.smtp and self.smtp.team)
            or (name == SMS and self.twilio and self.twilio.team)
        )


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (_text(env, name) or "false").lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ValidationError(field=name, reason="must be true or false")


def _items(env: Mapping[str, str], name: str) -> list[str]:
    return [item.strip() for item in (env.get(name) or "").split(",") if item.strip()]


def _needs(env: Mapping[str, str], key: str, *names: str) -> None:
    """Refuse a half-configured channel: one of its ``names`` set, but not ``key``."""
    for name in names:
        if _text(env, name) is not None:
            raise ValidationError(field=key, reason=f"is needed when {name} is set")


def _webhook(env: Mapping[str, str]) -> WebhookConfig | None:
    url = _text(env, "LUCINE_WEBHOOK_URL")
    if url is None:
        _needs(env, "LUCINE_WEBHOOK_URL", "LUCINE_WEBHOOK_SECRET")
        return None
    secret = env.get("LUCINE_WEBHOOK_SECRET", "")
    if len(secret.encode()) < MIN_SECRET_BYTES:
        reason = f"must be set, at least {MIN_SECRET_BYTES} bytes, with LUCINE_WEBHOOK_URL"
        raise ValidationError(field="LUCINE_WEBHOOK_SECRET", reason=reason)
    return WebhookConfig(
        url=check_http_url(url, "LUCINE_WEBHOOK_URL"),
        secret=secret.encode(),
        allow_private=_flag(env, "LUCINE_WEBHOOK_ALLOW_PRIVATE"),
    )


def _port(env: Mapping[str, str], default: int) -> int:
    raw = _text(env, "LUCINE_SMTP_PORT")
    if raw is None:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:  # noqa: PLR2004
        raise ValidationError(field="LUCINE_SMTP_PORT", reason="must be a port number 1-65535")
    return int(raw)


def _smtp(env: Mapping[str, str]) -> SmtpConfig | None:
    host = _text(env, "LUCINE_SMTP_HOST")
    if host is None:
        _needs(
            env,
            "LUCINE_SMTP_HOST",
            "LUCINE_SMTP_FROM",
            "LUCINE_SMTP_TO",
            "LUCINE_SMTP_USERNAME",
            "LUCINE_SMTP_PASSWORD",
        )
        return None
    named = (_text(env, "LUCINE_SMTP_SECURITY") or "starttls").lower()
    if named not in _SECURITIES:
        raise ValidationError(field="LUCINE_SMTP_SECURITY", reason="must be starttls, ssl or none")
    security, default_port = _SECURITIES[named]
    sender = _text(env, "LUCINE_SMTP_FROM")
    if sender is None:
        raise ValidationError(field="LUCINE_SMTP_FROM", reason="is needed with LUCINE_SMTP_HOST")
    username, password = _text(env, "LUCINE_SMTP_USERNAME"), env.get("LUCINE_SMTP_PASSWORD")
    if username is not None and not password:
        raise ValidationError(field="LUCINE_SMTP_PASSWORD", reason="is needed with a username")
    if password and username is None:
        raise ValidationError(field="LUCINE_SMTP_USERNAME", reason="is needed with a password")
    if password and security == "none":
        raise ValidationError(
            field="LUCINE_SMTP_SECURITY", reason="must be starttls or ssl to send a password"
        )
    return SmtpConfig(
        host=host,
        port=_port(env, default_port),
        sender=check_sender(sender, "LUCINE_SMTP_FROM"),
        team=tuple(check_email(a, "LUCINE_SMTP_TO") for a in _items(env, "LUCINE_SMTP_TO")),
        username=username,
        password=password or None,
        security=security,
    )


def _twilio(env: Mapping[str, str]) -> TwilioConfig | None:
    sid = _text(env, "LUCINE_TWILIO_ACCOUNT_SID")
    if sid is None:
        _needs(
            env,
            "LUCINE_TWILIO_ACCOUNT_SID",
            "LUCINE_TWILIO_AUTH_TOKEN",
            "LUCINE_TWILIO_FROM",
            "LUCINE_TWILIO_TO",
        )
        return None
    token = env.get("LUCINE_TWILIO_AUTH_TOKEN", "").strip()
    if not token:
        raise ValidationError(field="LUCINE_TWILIO_AUTH_TOKEN", reason="is needed with the SID")
    sender = _text(env, "LUCINE_TWILIO_FROM")
    if sender is None:
        raise ValidationError(field="LUCINE_TWILIO_FROM", reason="is needed with the SID")
    channel = _TWILIO_CHANNELS.get((_text(env, "LUCINE_TWILIO_CHANNEL") or "sms").lower())
    if channel is None:
        raise ValidationError(field="LUCINE_TWILIO_CHANNEL", reason="must be sms or whatsapp")
    return TwilioConfig(
        account_sid=check_account_sid(sid, "LUCINE_TWILIO_ACCOUNT_SID"),
        auth_token=token,
        sender=check_phone(sender, "LUCINE_TWILIO_FROM"),
        team=tuple(check_phone(n, "LUCINE_TWILIO_TO") for n in _items(env, "LUCINE_TWILIO_TO")),
        channel=channel,
    )


def parse_routes(raw: str, team_channels: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Parse ``kind=channel,channel;kind=...`` into a mapping.

    A kind left out goes to the log alone; ``whatsapp`` is another name for ``sms``.

    Raises:
        ValidationError: (field LUCINE_NOTIFY_ROUTES) a malformed entry, an unknown or
            repeated kind, an unknown channel, or one that cannot reach the team.
    """
    routes: dict[str, tuple[str, ...]] = {}
    for entry in filter(None, (part.strip() for part in raw.split(";"))):
        kind, equals, names = (part.strip() for part in entry.partition("="))
        if not equals:
            raise ValidationError(field=_ROUTES, reason=f"{entry!r} is not kind=channels")
        if kind not in TEAM_KINDS:
            raise ValidationError(
                field=_ROUTES, reason=f"unknown kind {kind!r} (one of {', '.join(TEAM_KINDS)})"
            )
        if kind in routes:
            raise ValidationError(field=_ROUTES, reason=f"{kind} is routed twice")
        channels: list[str] = []
        for name in filter(None, (n.strip().lower() for n in names.split(","))):
            if name not in _CHANNEL_NAMES:
                raise ValidationError(
                    field=_ROUTES, reason=f"unknown channel {name!r} (webhook, email, sms)"
                )
            channel = _CHANNEL_NAMES[name]
            if channel not in team_channels:
                raise ValidationError(
                    field=_ROUTES, reason=f"{kind} goes to {name}, which cannot reach the team"
                )
            if channel not in channels:
                channels.append(channel)
        routes[kind] = tuple(channels)
    return routes


def notify_config(env: Mapping[str, str]) -> NotifyConfig:
    """The notification settings in ``env`` (the environment over the config file).

    Raises:
        ValidationError: a variable has an unusable value, named in ``field``.
    """
    config = NotifyConfig(webhook=_webhook(env), smtp=_smtp(env), twilio=_twilio(env))
    raw = _text(env, _ROUTES)
    if raw is None:
        routes = dict.fromkeys(TEAM_KINDS, config.team_channels)
    else:
        routes = parse_routes(raw, config.team_channels)
    return attrs.evolve(config, routes=routes)
