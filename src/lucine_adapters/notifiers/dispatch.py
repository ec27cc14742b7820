"""The notifier the app uses: log at once, deliver to the other channels in the background.

Callers are inside a visitor's or an operator's request, so ``notify`` never waits for a
mail relay or a webhook: it writes the log line, starts one task per channel the
notification is routed to, and returns. Each channel retries on its own; what still
fails is logged and counted, never raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping, Sequence

from lucine_adapters.notifiers.checks import is_email
from lucine_adapters.notifiers.local import LogNotifier
from lucine_core.errors import ExternalServiceError
from lucine_core.ports import Notification, Notifier

__all__ = ["EMAIL", "SMS", "WEBHOOK", "DispatchingNotifier"]

WEBHOOK, EMAIL, SMS = "webhook", "email", "sms"
"""The channels' names, as routes and the failure counts spell them."""

_log = logging.getLogger("lucine.notify")


class DispatchingNotifier:
    """Logs every notification and hands it to the channels its kind is routed to.

    A notification for the team goes to ``routes[kind]`` (every channel when ``routes``
    is None; the log alone for a kind that is not routed); one for a visitor goes to the
    channel that can reach their address, ``email`` or ``sms``, if there is one.

    Attributes:
        delivered: Deliveries that succeeded, by channel.
        failures: Deliveries that failed after their retries (or were dropped), by channel.

    Args:
        channels: The notifiers by channel name (``webhook``, ``email``, ``sms``).
        routes: Team kinds to channel names.
        log: The notifier that hears everything first (the application log).
        max_pending: Deliveries in flight beyond which new ones are dropped and counted
            as failures: a channel that hangs must not hold memory without bound.
    """

    def __init__(
        self,
        channels: Mapping[str, Notifier],
        *,
        routes: Mapping[str, Sequence[str]] | None = None,
        log: Notifier | None = None,
        max_pending: int = 1000,
    ) -> None:
        self._channels = dict(channels)
        self._routes = None if routes is None else {k: tuple(v) for k, v in routes.items()}
        self._log = log or LogNotifier()
        self._max_pending = max_pending
        self._pending: set[asyncio.Task[None]] = set()
        self.delivered: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"DispatchingNotifier(channels={sorted(self._channels)}, routes={self._routes})"

    @property
    def pending(self) -> int:
        """Deliveries scheduled and not finished yet."""
        return len(self._pending)

    def channels_for(self, notification: Notification) -> tuple[str, ...]:
        """The channels this notification goes to, besides the log."""
        if notification.recipient is not None:
            channel = EMAIL if is_email(notification.recipient) else SMS
            return (channel,) if channel in self._channels else ()
        if self._routes is None:
            return tuple(self._channels)
        wanted = self._routes.get(notification.kind, ())
        return tuple(name for name in wanted if name in self._channels)

    async def notify(self, notification: Notification) -> None:
        """Log the notification and schedule its deliveries; returns without waiting.

        Raises:
            ExternalServiceError: only if the log notifier itself fails (it does not).
        """
        await self._log.notify(notification)
        for channel in self.channels_for(notification):
            if len(self._pending) >= self._max_pending:
                self._failed(notification, channel, "dropped: too many deliveries pending")
                continue
            task = asyncio.create_task(
                self._deliver(channel, notification), name=f"lucine-notify-{channel}"
            )
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def drain(self, grace: float | None = None) -> None:
        """Wait for the deliveries in flight (tests, shutdown); cancel those still running.

        Only this event loop's deliveries can be awaited; those of a loop that has
        closed are forgotten.

        Args:
            grace: Seconds to wait before cancelling (and counting as failures) the
                deliveries still running; None waits for them all.
        """
        loop = asyncio.get_running_loop()
        deadline = None if grace is None else loop.time() + grace
        while True:
            for task in [t for t in self._pending if t.get_loop().is_closed()]:
                self._pending.discard(task)
            tasks = {t for t in self._pending if t.get_loop() is loop}
            if not tasks:
                return
            left = None if deadline is None else max(deadline - loop.time(), 0)
            _, late = await asyncio.wait(tasks, timeout=left)
            if late:
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
                return

    async def _deliver(self, channel: str, notification: Notification) -> None:
        try:
            await self._channels[channel].notify(notification)
        except ExternalServiceError as error:
            self._failed(notification, channel, error.reason)
        except asyncio.CancelledError:
            self._failed(notification, channel, "cancelled at shutdown")
            raise
        except Exception as error:  # noqa: BLE001 - a background task's error has no caller
            _log.exception("notifier crashed", extra={"kind": notification.kind})
            self._failed(notification, channel, f"{type(error).__name__}: {error}")
        else:
            self.delivered[channel] += 1

    def _failed(self, notification: Notification, channel: str, reason: str) -> None:
        self.failures[channel] += 1
        _log.error(
            "notification not delivered: kind=%s channel=%s reason=%s",
            notification.kind,
            channel,
            reason,
            extra={"kind": notification.kind, "channel": channel, "reason": reason},
        )
