"""The notification settings: each channel's variables, the routing, and bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from lucine_adapters.notifiers.config import TEAM_KINDS, notify_config, parse_routes
from lucine_adapters.settings import Settings
from lucine_core.errors import ValidationError

SECRET = "a-webhook-secret-for-tests-only-0123456789"
SID = "AC" + "0123456789abcdef" * 2

WEBHOOK = {
    "LUCINE_WEBHOOK_URL": "https://hooks.shop.example/t0ken-path",
    "LUCINE_WEBHOOK_SECRET": SECRET,
}
SMTP = {
    "LUCINE_SMTP_HOST": "smtp.shop.example",
    "LUCINE_SMTP_FROM": "Lucine <noreply@shop.example>",
    "LUCINE_SMTP_TO": "team@shop.example, capo@shop.example",
    "LUCINE_SMTP_USERNAME": "lucine",
    "LUCINE_SMTP_PASSWORD": "relay password",
}
TWILIO = {
    "LUCINE_TWILIO_ACCOUNT_SID": SID,
    "LUCINE_TWILIO_AUTH_TOKEN": "twilio-token",
    "LUCINE_TWILIO_FROM": "+15005550006",
    "LUCINE_TWILIO_TO": "+393331112222,+393331113333",
}
ALL = {**WEBHOOK, **SMTP, **TWILIO}


def test_nothing_configured_means_the_log_alone() -> None:
    """Without variables there is no channel and every kind routes nowhere else."""
    config = notify_config({})
    assert config.channels == ()
    assert config.routes == dict.fromkeys(TEAM_KINDS, ())
    assert Settings.from_env({}).notify.channels == ()


def test_every_channel_is_read() -> None:
    """Webhook, SMTP and Twilio values land in their configs, lists split and trimmed."""
    config = notify_config(ALL)
    assert config.webhook is not None
    assert config.webhook.url == "https://hooks.shop.example/t0ken-path"
    assert config.webhook.secret == SECRET.encode()
    assert config.webhook.allow_private is False
    assert config.smtp is not None
    assert (config.smtp.host, config.smtp.port, config.smtp.security) == (
        "smtp.shop.example",
        587,
        "starttls",
    )
    assert config.smtp.team == ("team@shop.example", "capo@shop.example")
    assert (config.smtp.username, config.smtp.password) == ("lucine", "relay password")
    assert config.twilio is not None
    assert config.twilio.team == ("+393331112222", "+393331113333")
    assert config.twilio.channel == "sms"
    assert config.channels == ("webhook", "email", "sms")


@pytest.mark.parametrize(
    ("security", "port"), [("starttls", 587), ("ssl", 465), ("SSL", 465), ("none", 25)]
)
def test_the_smtp_port_defaults_by_security(security: str, port: int) -> None:
    """587 for STARTTLS, 465 for SSL, 25 without; LUCINE_SMTP_PORT overrides."""
    env = {**SMTP, "LUCINE_SMTP_SECURITY": security}
    if security == "none":
        env = {k: v for k, v in env.items() if "USERNAME" not in k and "PASSWORD" not in k}
    smtp = notify_config(env).smtp
    assert smtp is not None
    assert smtp.port == port
    assert smtp.security == security.lower()
    custom = notify_config({**env, "LUCINE_SMTP_PORT": "2525"}).smtp
    assert custom is not None
    assert custom.port == 2525


def test_by_default_every_channel_that_reaches_the_team_gets_every_team_kind() -> None:
    """E-mail without LUCINE_SMTP_TO serves visitors only, so it is left out of team routes."""
    env = {**ALL, "LUCINE_SMTP_TO": ""}
    config = notify_config(env)
    assert config.team_channels == ("webhook", "sms")
    assert config.routes == dict.fromkeys(TEAM_KINDS, ("webhook", "sms"))


def test_the_routes_variable_decides_per_kind() -> None:
    """The documented example parses; a kind left out goes to the log alone."""
    env = {
        **ALL,
        "LUCINE_NOTIFY_ROUTES": (
            " no_operator_online = sms, email ; ticket_created=email,webhook;"
            "sla_warning=webhook;sla_breached=webhook,whatsapp;"
        ),
    }
    assert notify_config(env).routes == {
        "no_operator_online": ("sms", "email"),
        "ticket_created": ("email", "webhook"),
        "sla_warning": ("webhook",),
        "sla_breached": ("webhook", "sms"),
    }
    assert parse_routes("sla_warning=webhook", ("webhook",)) == {"sla_warning": ("webhook",)}
    assert parse_routes("sla_warning=", ("webhook",)) == {"sla_warning": ()}


def test_whatsapp_and_allow_private_are_read() -> None:
    """LUCINE_TWILIO_CHANNEL and LUCINE_WEBHOOK_ALLOW_PRIVATE take effect."""
    env = {**ALL, "LUCINE_TWILIO_CHANNEL": "WhatsApp", "LUCINE_WEBHOOK_ALLOW_PRIVATE": "yes"}
    config = notify_config(env)
    assert config.twilio is not None
    assert config.twilio.channel == "whatsapp"
    assert config.webhook is not None
    assert config.webhook.allow_private is True


def test_the_config_file_works_for_notifications_too(tmp_path: Path) -> None:
    """TOML values (numbers and booleans included) are read like the environment's."""
    config = tmp_path / "lucine.toml"
    config.write_text(
        'lucine_smtp_host = "127.0.0.1"\n'
        "lucine_smtp_port = 2525\n"
        'lucine_smtp_security = "none"\n'
        'lucine_smtp_from = "noreply@shop.example"\n'
        'lucine_webhook_url = "http://10.0.0.7/hook"\n'
        f'lucine_webhook_secret = "{SECRET}"\n'
        "lucine_webhook_allow_private = true\n"
    )
    notify = Settings.from_env({"LUCINE_CONFIG": str(config)}).notify
    assert notify.smtp is not None
    assert notify.smtp.port == 2525
    assert notify.webhook is not None
    assert notify.webhook.allow_private is True


def test_secrets_stay_out_of_the_settings_repr() -> None:
    """Printing the settings shows no webhook secret or path, SMTP password, Twilio token."""
    text = repr(Settings.from_env(ALL))
    assert "hooks.shop.example" in text
    for secret in (SECRET, "relay password", "twilio-token", "t0ken-path"):
        assert secret not in text


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"LUCINE_WEBHOOK_URL": "https://h.example/x"}, "LUCINE_WEBHOOK_SECRET"),
        ({**WEBHOOK, "LUCINE_WEBHOOK_SECRET": "short"}, "LUCINE_WEBHOOK_SECRET"),
        ({"LUCINE_WEBHOOK_SECRET": SECRET}, "LUCINE_WEBHOOK_URL"),
        ({**WEBHOOK, "LUCINE_WEBHOOK_URL": "ftp://h.example/x"}, "LUCINE_WEBHOOK_URL"),
        ({**WEBHOOK, "LUCINE_WEBHOOK_ALLOW_PRIVATE": "maybe"}, "LUCINE_WEBHOOK_ALLOW_PRIVATE"),
        ({"LUCINE_SMTP_FROM": "a@b.example"}, "LUCINE_SMTP_HOST"),
        ({**SMTP, "LUCINE_SMTP_FROM": ""}, "LUCINE_SMTP_FROM"),
        ({**SMTP, "LUCINE_SMTP_FROM": "nobody"}, "LUCINE_SMTP_FROM"),
        ({**SMTP, "LUCINE_SMTP_TO": "team@shop.example, oops"}, "LUCINE_SMTP_TO"),
        ({**SMTP, "LUCINE_SMTP_PORT": "70000"}, "LUCINE_SMTP_PORT"),
        ({**SMTP, "LUCINE_SMTP_PORT": "smtp"}, "LUCINE_SMTP_PORT"),
        ({**SMTP, "LUCINE_SMTP_SECURITY": "tls1.3"}, "LUCINE_SMTP_SECURITY"),
        ({**SMTP, "LUCINE_SMTP_SECURITY": "none"}, "LUCINE_SMTP_SECURITY"),
        ({**SMTP, "LUCINE_SMTP_PASSWORD": ""}, "LUCINE_SMTP_PASSWORD"),
        ({**SMTP, "LUCINE_SMTP_USERNAME": ""}, "LUCINE_SMTP_USERNAME"),
        ({"LUCINE_TWILIO_TO": "+393331112222"}, "LUCINE_TWILIO_ACCOUNT_SID"),
        ({**TWILIO, "LUCINE_TWILIO_ACCOUNT_SID": "AC123"}, "LUCINE_TWILIO_ACCOUNT_SID"),
        ({**TWILIO, "LUCINE_TWILIO_AUTH_TOKEN": ""}, "LUCINE_TWILIO_AUTH_TOKEN"),
        ({**TWILIO, "LUCINE_TWILIO_FROM": "0039 333"}, "LUCINE_TWILIO_FROM"),
        ({**TWILIO, "LUCINE_TWILIO_TO": "+39333,3331112222"}, "LUCINE_TWILIO_TO"),
        ({**TWILIO, "LUCINE_TWILIO_CHANNEL": "telegram"}, "LUCINE_TWILIO_CHANNEL"),
        ({**ALL, "LUCINE_NOTIFY_ROUTES": "ticket_created"}, "LUCINE_NOTIFY_ROUTES"),
        ({**ALL, "LUCINE_NOTIFY_ROUTES": "ticket_opened=email"}, "LUCINE_NOTIFY_ROUTES"),
        ({**ALL, "LUCINE_NOTIFY_ROUTES": "ticket_confirmation=email"}, "LUCINE_NOTIFY_ROUTES"),
        ({**ALL, "LUCINE_NOTIFY_ROUTES": "sla_warning=pager"}, "LUCINE_NOTIFY_ROUTES"),
        (
            {**ALL, "LUCINE_NOTIFY_ROUTES": "sla_warning=sms;sla_warning=email"},
            "LUCINE_NOTIFY_ROUTES",
        ),
        ({**WEBHOOK, "LUCINE_NOTIFY_ROUTES": "sla_warning=email"}, "LUCINE_NOTIFY_ROUTES"),
        (
            {**SMTP, "LUCINE_SMTP_TO": "", "LUCINE_NOTIFY_ROUTES": "sla_warning=email"},
            "LUCINE_NOTIFY_ROUTES",
        ),
    ],
)
def test_bad_values_name_their_variable(env: dict[str, str], field: str) -> None:
    """Each unusable value raises ValidationError naming the variable to fix."""
    with pytest.raises(ValidationError) as caught:
        Settings.from_env(env)
    assert caught.value.field == field
