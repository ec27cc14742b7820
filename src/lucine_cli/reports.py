"""`lucine stats` and `lucine events`: the dashboard's numbers and the event log, in a terminal.

Dates are days of the shop's time zone (``LUCINE_TIMEZONE``), written YYYY-MM-DD.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, tzinfo
from typing import Annotated, Any

import attrs
import typer

from lucine_adapters.settings import Settings
from lucine_cli.common import database_services, fail, load_settings, run
from lucine_cli.display import echo_json, iso, local, local_zone, parse_day, since_option
from lucine_core.enums import EventType
from lucine_core.events import AnalyticsEvent
from lucine_core.services import analytics
from lucine_core.services.privacy import to_jsonable
from lucine_core.stats import DayCount, Stats

__all__ = ["bar", "events", "stats"]

_MAX_DAYS = 366
_BLOCKS = " ▏▎▍▌▋▊▉"
_BAR_WIDTH = 30
_SUMMARY_WIDTH = 80


def bar(value: int, top: int, width: int = _BAR_WIDTH) -> str:
    """A horizontal bar of unicode blocks, ``width`` characters long for ``top``.

    Eighths of a block keep small differences visible; any non-zero value shows.
    """
    if value <= 0 or top <= 0:
        return ""
    full, part = divmod(max(1, round(value * width * 8 / top)), 8)
    return "█" * full + (_BLOCKS[part] if part else "")


def _day_option(text: str | None, option: str) -> date | None:
    try:
        return None if text is None else parse_day(text, option)
    except ValueError as error:
        fail(str(error))


def _window(
    day: str | None, first: str | None, last: str | None, days: int | None
) -> tuple[date | None, int | None, date | None]:
    """(the day, or the number of days and the last one) the options ask for."""
    if sum(x is not None for x in (day, first or last, days)) > 1:
        fail("give one of --day, --from/--to, --days")
    if (first is None) != (last is None):
        fail("--from and --to go together")
    if days is not None and not 1 <= days <= _MAX_DAYS:
        fail(f"--days must be 1-{_MAX_DAYS}, not {days}")
    start, end = _day_option(first, "--from"), _day_option(last, "--to")
    if start is not None and end is not None:
        if start > end:
            fail(f"--from {start} is after --to {end}")
        days = (end - start).days + 1
        if days > _MAX_DAYS:
            fail(f"a range is at most {_MAX_DAYS} days, not {days}")
    return _day_option(day, "--day"), days, end


def stats(
    day: Annotated[
        str | None, typer.Option("--day", metavar="DATE", help="One day (default: today).")
    ] = None,
    first: Annotated[
        str | None, typer.Option("--from", metavar="DATE", help="First day of a range.")
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", metavar="DATE", help="Last day of a range.")
    ] = None,
    days: Annotated[
        int | None, typer.Option("--days", metavar="N", help="The last N days (1-366).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """A day's numbers (today by default), or a range's: one row and bar per day, and totals."""
    settings = load_settings()
    one_day, count, end = _window(day, first, last, days)
    if count is None:
        numbers = run(_read_day(settings, one_day))
        if as_json:
            echo_json(to_jsonable(numbers))
            return
        _print_numbers(numbers, f"Lucine · {numbers.day}")
        return
    chart, totals = run(_read_range(settings, count, end))
    period = f"{chart[0].day} → {chart[-1].day}"
    if as_json:
        echo_json(_range_json(chart, totals))
        return
    _print_chart(chart, f"Lucine · {period}")
    _print_numbers(totals, f"Totals · {period}")


async def _read_day(settings: Settings, day: date | None) -> Stats:
    async with database_services(settings, writes=False) as services:
        return await analytics.stats(services, day=day)


async def _read_range(
    settings: Settings, days: int, last: date | None
) -> tuple[list[DayCount], Stats]:
    async with database_services(settings, writes=False) as services:
        chart = await analytics.daily_counts(services, days=days, last=last)
        totals = await analytics.stats(services, day=chart[0].day, through=chart[-1].day)
        return chart, totals


def _range_json(chart: Sequence[DayCount], totals: Stats) -> dict[str, Any]:
    summed = to_jsonable(totals)
    del summed["day"]  # the first day: `from` says it
    return {
        "from": chart[0].day.isoformat(),
        "to": chart[-1].day.isoformat(),
        "days": [to_jsonable(c) for c in chart],
        "totals": summed,
    }


def _or_dash(value: float | None, form: str = "{}") -> str:
    return "—" if value is None else form.format(value)


def _print_numbers(numbers: Stats, title: str) -> None:
    # Imported here: rich draws the tables, and only the report commands need it.
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("chats", str(numbers.total_chats)),
        ("AI-resolved", str(numbers.ai_resolved)),
        ("escalated", str(numbers.escalated)),
        ("abandoned", str(numbers.abandoned)),
        ("assistant response (mean)", _or_dash(numbers.avg_assistant_response_ms, "{:.0f} ms")),
        (
            "operator first response (mean)",
            _or_dash(numbers.avg_operator_first_response_s, "{:.1f} s"),
        ),
        (
            "satisfaction",
            _or_dash(numbers.satisfaction, "{:.2f} / 5") + f" ({numbers.ratings} ratings)",
        ),
        ("SLA compliance", _or_dash(numbers.sla_compliance, "{:.1%}")),
        ("operators online now", f"{numbers.operators_online} of {len(numbers.operators)}"),
        ("waiting in queue now", str(numbers.waiting_now)),
    ]
    for label, value in rows:
        table.add_row(label, value)
    console = Console()
    console.print(table)
    if not numbers.operators:
        return
    team = Table("operator", "availability", "holds", title="Team now")
    for o in numbers.operators:
        availability = "disabled" if o.disabled else o.availability.value
        team.add_row(o.username, availability, f"{o.load}/{o.capacity}")
    console.print(team)


def _print_chart(chart: Sequence[DayCount], title: str) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    top = max(c.chats for c in chart)
    table = Table("day", title=title)
    # The chart's escalations are requests queued for a human (not refused ones).
    table.add_column("chats", justify="right")
    table.add_column("queued", justify="right")
    table.add_column("")
    for c in chart:
        table.add_row(f"{c.day} {c.day:%a}", str(c.chats), str(c.escalated), bar(c.chats, top))
    Console().print(table)


def _known_types() -> str:
    return ", ".join(t.value for t in EventType)


def events(
    event_type: Annotated[
        str | None, typer.Option("--type", metavar="TYPE", help="Only events of this type.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="DATE", help="From this day (YYYY-MM-DD) or ISO datetime on."
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", metavar="N", help="At most N (1-1000).")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array.")] = False,
) -> None:
    """The analytics event log, oldest first: time, type, session, what it carried."""
    settings = load_settings()
    zone = local_zone(settings)
    if event_type is not None and event_type not in {t.value for t in EventType}:
        fail(f"unknown event type {event_type!r}; known: {_known_types()}")
    start = since_option(since, zone)

    async def read() -> Sequence[AnalyticsEvent]:
        async with database_services(settings, writes=False) as services:
            return await analytics.list_events(
                services, event_type=event_type, since=start, limit=limit
            )

    found = run(read())
    if as_json:
        echo_json([_event_json(e, zone) for e in found])
        return
    if not found:
        typer.echo("no events")
    for event in found:
        at = local(event.at, zone, "%Y-%m-%d %H:%M:%S")
        session = event.session_id or "-"
        typer.echo(f"{at}  {event.type.value:<24} {session:<32} {_summary(event, zone)}")


def _event_json(event: AnalyticsEvent, zone: tzinfo) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type.value,
        "at": iso(event.at, zone),
        "session_id": event.session_id,
        "operator_id": event.operator_id,
        "payload": to_jsonable(event.payload),
    }


def _shown(value: Any, zone: tzinfo) -> str | None:
    """A payload value as the summary shows it; None leaves it out."""
    if value is None or value in ([], ()):
        return None
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat(timespec="seconds")
    return str(value)


def _summary(event: AnalyticsEvent, zone: tzinfo) -> str:
    """The operator and the payload as ``key=value`` pairs, cut to one short line."""
    fields: dict[str, Any] = {"operator": event.operator_id}
    fields |= attrs.asdict(event.payload, recurse=False)
    shown = ((key, _shown(value, zone)) for key, value in fields.items())
    line = " ".join(f"{key}={value}" for key, value in shown if value is not None)
    return line if len(line) <= _SUMMARY_WIDTH else line[: _SUMMARY_WIDTH - 1] + "…"
