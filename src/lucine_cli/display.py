"""What the commands share to read and show values.

The shop's time zone, times (ISO 8601 for JSON, shorter for tables), dates and moments
typed on the command line, enum choices, JSON on stdout, and operators' usernames.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Sequence
from datetime import date, datetime, time, tzinfo
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from lucine_adapters.settings import Settings
from lucine_cli.common import fail
from lucine_core.services import Services
from lucine_core.services.operators import list_operators

__all__ = [
    "check_limit",
    "choice",
    "echo_json",
    "iso",
    "json_text",
    "local",
    "local_zone",
    "parse_day",
    "parse_since",
    "short",
    "since_option",
    "usernames",
]

E = TypeVar("E", bound=enum.Enum)

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MINUTE = "%Y-%m-%d %H:%M"


def local_zone(settings: Settings) -> ZoneInfo:
    """The shop's time zone (LUCINE_TIMEZONE), or exit 2 naming it."""
    try:
        return ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"LUCINE_TIMEZONE: {settings.timezone!r} is not a known time zone")


def iso(at: datetime | None, zone: tzinfo) -> str | None:
    """A time as ISO 8601 in the shop's time zone (for JSON); None stays None."""
    return at.astimezone(zone).isoformat() if at else None


def local(at: datetime, zone: tzinfo, form: str) -> str:
    """A time in the shop's time zone, written by the ``strftime`` format ``form``."""
    return at.astimezone(zone).strftime(form)


def short(at: datetime | None, zone: tzinfo) -> str:
    """A time to the minute in the shop's time zone (for tables); none is empty."""
    return local(at, zone, _MINUTE) if at else ""


def choice(kind: type[E], value: str, option: str, allowed: Sequence[E] | None = None) -> E:
    """The member of ``kind`` named ``value`` (any case), or exit 2 listing the valid ones.

    Args:
        kind: The enum the option names a member of.
        value: What was typed.
        option: The option's name, for the error message.
        allowed: The members this option accepts, when not all of ``kind``.
    """
    members = tuple(kind) if allowed is None else tuple(allowed)
    wanted = value.strip().lower()
    found = next((m for m in members if str(m.value).lower() == wanted), None)
    if found is None:
        valid = ", ".join(str(m.value).lower() for m in members)
        fail(f"{option}: {value!r} is not one of {valid}")
    return found


def check_limit(limit: int, most: int) -> None:
    """Go on if ``--limit`` is 1 to ``most``; else exit 2 saying so."""
    if not 1 <= limit <= most:
        fail(f"--limit must be 1-{most}, not {limit}")


def parse_day(text: str, option: str = "date") -> date:
    """A day written YYYY-MM-DD.

    Args:
        text: What was typed.
        option: The option's name, for the error message.

    Raises:
        ValueError: not a real day in that form; the message names the option and the text.
    """
    try:
        if _DAY.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError(f"{option} {text!r} is not a date (YYYY-MM-DD)")


def parse_since(text: str, zone: tzinfo) -> datetime:
    """A moment from the command line (``--since``), as an aware datetime.

    YYYY-MM-DD is the start of that day in ``zone``; otherwise a full ISO 8601 datetime
    (``2024-05-01T09:30``, ``2024-05-01T09:30:00+00:00``), read in ``zone`` when it has
    no offset. Spaces around it are ignored.

    Args:
        text: What was typed.
        zone: The shop's time zone (`local_zone`).

    Raises:
        ValueError: neither form; the message names the text and the forms accepted.
    """
    typed = text.strip()
    if _DAY.fullmatch(typed):
        day = parse_day(typed, "--since")
        return datetime.combine(day, time.min, tzinfo=zone)
    try:
        moment = datetime.fromisoformat(typed)
    except ValueError:
        raise ValueError(
            f"--since {text!r} is neither a date (YYYY-MM-DD) nor an ISO datetime"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def since_option(text: str | None, zone: tzinfo) -> datetime | None:
    """``--since`` read by `parse_since` (None when not given), or exit 2 saying why."""
    try:
        return None if text is None else parse_since(text, zone)
    except ValueError as error:
        fail(str(error))


def json_text(data: object) -> str:
    """``data`` as the commands write JSON: indented, non-ASCII characters as they are."""
    return json.dumps(data, ensure_ascii=False, indent=2)


def echo_json(data: object) -> None:
    """Print ``data`` as JSON on stdout (`json_text`)."""
    typer.echo(json_text(data))


async def usernames(services: Services) -> dict[str, str]:
    """Every operator's username by id, to show people rather than ids."""
    return {view.id: view.username for view in await list_operators(services)}
