"""Notifiers that stay inside the process: the log (always on) and a recording one."""

from __future__ import annotations

import logging

from lucine_core.errors import ExternalServiceError
from lucine_core.ports import Notification

__all__ = ["InMemoryNotifier", "LogNotifier"]

_log = logging.getLogger("lucine.notify")


class LogNotifier:
    """Writes notifications to the application log."""

    async def notify(self, notification: Notification) -> None:
        """Log the notification at WARNING level, where operators' log alerts look."""
        _log.warning(
            "%s: %s",
            notification.kind,
            notification.subject,
            extra={"data": dict(notification.data)},
        )


class InMemoryNotifier:
    """Keeps every notification in a list; can be told to fail, to exercise failure paths."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self.failing = False

    async def notify(self, notification: Notification) -> None:
        """Record the notification, or raise ExternalServiceError when set to fail."""
        if self.failing:
            raise ExternalServiceError(service="notifier", reason="set to fail")
        self.sent.append(notification)
