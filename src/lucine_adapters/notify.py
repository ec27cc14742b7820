"""The in-process notifiers, under their first address (they live in ``notifiers``)."""

from __future__ import annotations

from lucine_adapters.notifiers.local import InMemoryNotifier, LogNotifier

__all__ = ["InMemoryNotifier", "LogNotifier"]
