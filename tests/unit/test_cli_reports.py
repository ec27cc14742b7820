"""`lucine stats` and `lucine events` on both databases, after chats made by the real use cases."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from lucine_cli.display import parse_since
from lucine_cli.reports import bar
from lucine_core.enums import Availability, SessionStatus
from lucine_core.errors import ValidationError
from lucine_core.services import Services, analytics
from lucine_core.services.chat import rate_chat, visitor_message
from lucine_core.services.conversation import close_chat, operator_message
from lucine_core.services.handoff import request_operator, take_chat
from lucine_core.services.operators import create_operator, set_availability
from tests.cli import cli_database, invoke, on_database, snapshot

__all__ = ["cli_database"]

ROME = ZoneInfo("Europe/Rome")


@attrs.frozen(kw_only=True)
class Day:
    """The chats arranged today: answered by the assistant, taken and rated, still waiting."""

    answered: str
    rated: str
    waiting: str


async def _a_day(services: Services) -> Day:
    ada = await create_operator(
        services, actor_id=None, username="ada", display_name="Ada", password="a-long-password"
    )
    await set_availability(services, operator_id=ada.id, availability=Availability.ONLINE)
    answered = await visitor_message(services, text="a che ora aprite?", session_id=None)
    assert answered.sources, "the sample KB answers the opening hours"
    rated = await visitor_message(services, text="quanto costa il biglietto?", session_id=None)
    await request_operator(services, session_id=rated.session_id)
    await take_chat(services, operator_id=ada.id, session_id=rated.session_id)
    await operator_message(
        services, operator_id=ada.id, session_id=rated.session_id, text="Ciao, sono Ada"
    )
    await close_chat(
        services, actor_id=ada.id, session_id=rated.session_id, status=SessionStatus.RESOLVED
    )
    await rate_chat(services, session_id=rated.session_id, rating=4)
    waiting = await visitor_message(
        services, text="voglio parlare con una persona", session_id=None
    )
    queued = await request_operator(services, session_id=waiting.session_id)
    assert queued.outcome == "queued"
    return Day(answered=answered.session_id, rated=rated.session_id, waiting=waiting.session_id)


@pytest.fixture
def day(cli_database: str, monkeypatch: pytest.MonkeyPatch) -> Day:
    """Today's three chats on the command line's database (operators take chats by hand)."""
    monkeypatch.setenv("LUCINE_AUTO_ASSIGN", "false")
    return on_database(_a_day)


def _json(*args: str) -> Any:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _today() -> date:
    return date.fromisoformat(_json("stats")["day"])


def test_stats_counts_what_was_done_today(day: Day) -> None:
    """`stats --json` gives today's chats, outcomes, rating, SLA and the team as arranged."""
    numbers = _json("stats")
    assert {k: numbers[k] for k in ("total_chats", "ai_resolved", "escalated", "abandoned")} == {
        "total_chats": 3,
        "ai_resolved": 1,
        "escalated": 2,
        "abandoned": 0,
    }
    assert (numbers["ratings"], numbers["satisfaction"]) == (1, 4.0)
    assert numbers["sla_compliance"] == 1.0, "a short wait and a quick first reply meet both"
    assert numbers["avg_operator_first_response_s"] is not None
    assert numbers["avg_assistant_response_ms"] is not None
    assert (numbers["operators_online"], numbers["waiting_now"]) == (1, 1)
    assert [(o["username"], o["load"]) for o in numbers["operators"]] == [("ada", 0)]


def test_stats_text_labels_every_figure(day: Day) -> None:
    """The table names each figure, with today's date in its title."""
    result = invoke("stats")
    assert result.exit_code == 0, result.stderr
    for label in ("chats", "AI-resolved", "escalated", "satisfaction", "SLA compliance", "ada"):
        assert label in result.stdout
    assert str(_today()) in result.stdout
    assert "4.00 / 5 (1 ratings)" in result.stdout


def test_another_day_has_nothing(day: Day) -> None:
    """`--day` reads that day only: yesterday had no chats (the team is still today's)."""
    yesterday = _today() - timedelta(days=1)
    numbers = _json("stats", "--day", str(yesterday))
    assert numbers["day"] == str(yesterday)
    assert (numbers["total_chats"], numbers["ratings"], numbers["waiting_now"]) == (0, 0, 1)


def test_range_has_one_row_per_day_and_totals(day: Day) -> None:
    """`--days 3` is three days ending today, today's counts on the last, totals over all."""
    today = _today()
    report = _json("stats", "--days", "3")
    assert [d["day"] for d in report["days"]] == [str(today - timedelta(days=n)) for n in (2, 1, 0)]
    assert [(d["chats"], d["escalated"]) for d in report["days"]] == [(0, 0), (0, 0), (3, 2)]
    assert (report["from"], report["to"]) == (str(today - timedelta(days=2)), str(today))
    assert report["totals"]["total_chats"] == 3
    assert report["totals"]["ai_resolved"] == 1


def test_range_from_to_draws_a_bar_per_day(day: Day) -> None:
    """`--from --to` prints each day once, a full bar on the busiest day and none on empty ones."""
    today = _today()
    first = today - timedelta(days=4)
    result = invoke("stats", "--from", str(first), "--to", str(today))
    assert result.exit_code == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("│ 20")]
    assert [row.split()[1] for row in rows] == [str(first + timedelta(days=n)) for n in range(5)]
    assert "█" * 30 in rows[-1]
    assert all("█" not in row for row in rows[:-1])
    assert "Totals" in result.stdout


def test_range_in_the_past_ends_on_its_last_day(day: Day) -> None:
    """A range before today counts nothing, whatever today holds."""
    today = _today()
    report = _json(
        "stats", "--from", str(today - timedelta(days=9)), "--to", str(today - timedelta(days=1))
    )
    assert len(report["days"]) == 9
    assert report["days"][-1]["day"] == str(today - timedelta(days=1))
    assert report["totals"]["total_chats"] == 0


def test_events_filters_by_type(day: Day) -> None:
    """`events --type escalation_request` lists the two requests and nothing else."""
    found = _json("events", "--type", "escalation_request")
    assert [e["type"] for e in found] == ["escalation_request"] * 2
    assert [e["session_id"] for e in found] == [day.rated, day.waiting], "oldest first"
    rating = _json("events", "--type", "feedback_given")
    assert [(e["session_id"], e["payload"]["rating"]) for e in rating] == [(day.rated, 4)]


def test_events_are_oldest_first_in_the_shop_time_zone(day: Day) -> None:
    """Every event of today, in time order, stamped with the configured time zone's offset."""
    found = _json("events")
    stamps = [datetime.fromisoformat(e["at"]) for e in found]
    assert stamps == sorted(stamps)
    assert all(s.utcoffset() == s.astimezone(ROME).utcoffset() for s in stamps)
    assert {e["session_id"] for e in found} >= {day.answered, day.rated, day.waiting}
    assert _json("events", "--limit", "2") == found[:2]


def test_events_since(day: Day) -> None:
    """`--since` today keeps today's events; tomorrow (a date or a datetime) keeps none."""
    today = _today()
    assert len(_json("events", "--since", str(today))) == len(_json("events"))
    tomorrow = today + timedelta(days=1)
    assert _json("events", "--since", str(tomorrow)) == []
    assert _json("events", "--since", f"{tomorrow}T00:00:00+01:00") == []


def test_events_text_is_one_line_per_event(day: Day) -> None:
    """The text form is a line per event: type, session and the payload's figures."""
    result = invoke("events", "--type", "feedback_given")
    assert result.exit_code == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert "feedback_given" in line
    assert day.rated in line
    assert "rating=4" in line


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("stats", "--day", "2024-02-30"), "--day '2024-02-30'"),
        (("stats", "--day", "yesterday"), "YYYY-MM-DD"),
        (("stats", "--from", "2024-03-02", "--to", "2024-03-01"), "after --to"),
        (("stats", "--from", "2023-01-01", "--to", "2024-01-02"), "at most 366 days"),
        (("stats", "--from", "2024-03-01"), "go together"),
        (("stats", "--day", "2024-03-01", "--days", "3"), "one of"),
        (("stats", "--days", "0"), "--days"),
        (("stats", "--days", "367"), "--days"),
        (("events", "--type", "nope"), "session_started"),
        (("events", "--since", "2024-13-01"), "--since"),
        (("events", "--since", "soon"), "ISO datetime"),
        (("events", "--limit", "0"), "limit"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    day: Day, args: tuple[str, ...], needle: str
) -> None:
    """A bad date, range, type or limit exits 2 with one `error:` line naming it; no row moves."""
    before = snapshot()
    result = invoke(*args)
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error:")
    assert needle in lines[0]
    assert snapshot() == before


def test_the_longest_range_is_accepted(cli_database: str) -> None:
    """366 days, a leap year's worth, is allowed and gives 366 rows."""
    assert invoke("db", "upgrade").exit_code == 0
    report = _json("stats", "--from", "2024-01-01", "--to", "2024-12-31")
    assert len(report["days"]) == 366
    assert report["totals"]["total_chats"] == 0


def test_parse_since_reads_days_in_the_zone_and_keeps_offsets() -> None:
    """A date is local midnight; a naive datetime is local; an offset is kept."""
    assert parse_since("2024-03-31", ROME) == datetime(2024, 3, 30, 23, tzinfo=UTC)
    assert parse_since("2024-07-01T09:30", ROME) == datetime(2024, 7, 1, 7, 30, tzinfo=UTC)
    assert parse_since("2024-07-01T09:30:00+00:00", ROME) == datetime(2024, 7, 1, 9, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_since("2024-02-30", ROME)


def test_bar_scales_to_the_largest() -> None:
    """The largest value fills the width; smaller ones are shorter but never vanish."""
    assert bar(10, 10, width=8) == "█" * 8
    assert bar(5, 10, width=8) == "█" * 4
    assert bar(1, 1000, width=8) == "▏"
    assert bar(0, 10) == ""


async def test_stats_refuses_a_period_ending_before_it_starts(services: Services) -> None:
    """The use case itself refuses `through` before `day` and periods over 366 days."""
    with pytest.raises(ValidationError, match="through"):
        await analytics.stats(services, day=date(2024, 3, 2), through=date(2024, 3, 1))
    with pytest.raises(ValidationError, match="through"):
        await analytics.stats(services, day=date(2024, 1, 1), through=date(2025, 1, 1))
    year = await analytics.stats(services, day=date(2024, 1, 1), through=date(2024, 12, 31))
    assert year.day == date(2024, 1, 1)
