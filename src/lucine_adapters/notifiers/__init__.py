"""Notifiers: the log, a webhook, e-mail (SMTP), SMS and WhatsApp (Twilio), and the dispatcher.

The composition root builds a ``DispatchingNotifier`` over the configured channels, so a
notification is logged at once and delivered by the others in the background.
"""

from lucine_adapters.notifiers.config import (
    NotifyConfig,
    SmtpConfig,
    TwilioConfig,
    WebhookConfig,
    notify_config,
)
from lucine_adapters.notifiers.dispatch import DispatchingNotifier
from lucine_adapters.notifiers.local import InMemoryNotifier, LogNotifier
from lucine_adapters.notifiers.smtp import SmtpNotifier
from lucine_adapters.notifiers.twilio import TwilioNotifier
from lucine_adapters.notifiers.webhook import WebhookNotifier

__all__ = [
    "DispatchingNotifier",
    "InMemoryNotifier",
    "LogNotifier",
    "NotifyConfig",
    "SmtpConfig",
    "SmtpNotifier",
    "TwilioConfig",
    "TwilioNotifier",
    "WebhookConfig",
    "WebhookNotifier",
    "notify_config",
]
