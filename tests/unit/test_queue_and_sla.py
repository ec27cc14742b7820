"""Round-robin fairness, queue order and estimates, and SLA arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from lucine_core.enums import Availability, TicketPriority
from lucine_core.operators import Operator
from lucine_core.queue import QueueEntry, estimate_wait, pick_operator, queue_position
from lucine_core.sla import SlaPolicy, SlaState, check, reprioritised_due

T0 = datetime(2026, 12, 8, 18, 0, tzinfo=UTC)


def operator(n: int, capacity: int, availability: Availability = Availability.ONLINE) -> Operator:
    return Operator(
        id=f"op{n}",
        username=f"op{n}",
        display_name=f"Op {n}",
        password_hash="x",
        capacity=capacity,
        availability=availability,
        created_at=T0,
    )


@given(
    capacities=st.lists(st.integers(1, 3), min_size=1, max_size=6),
    offline=st.sets(st.integers(0, 5)),
    steps=st.lists(st.tuples(st.booleans(), st.integers(0, 5)), min_size=1, max_size=60),
)
def test_round_robin_never_skips_an_eligible_operator_twice(
    capacities: list[int], offline: set[int], steps: list[tuple[bool, int]]
) -> None:
    """While an ONLINE operator under capacity waits for a chat, nobody else gets two in a row."""
    ops = [
        operator(n, c, Availability.OFFLINE if n in offline else Availability.ONLINE)
        for n, c in enumerate(capacities)
    ]
    loads: dict[str, int] = {}
    # For each operator: who received a chat while they were eligible and passed over.
    passed_over_for: dict[str, set[str]] = {o.id: set() for o in ops}
    now = T0
    for assign, victim in steps:
        now += timedelta(seconds=1)
        if not assign:
            key = f"op{victim}"
            if loads.get(key):
                loads[key] -= 1
            continue
        eligible = {o.id for o in ops if o.receives_chats and loads.get(o.id, 0) < o.capacity}
        chosen = pick_operator(ops, loads)
        if chosen is None:
            assert not eligible
            continue
        assert chosen.id in eligible
        for waiting in eligible - {chosen.id}:
            assert chosen.id not in passed_over_for[waiting], (
                f"{waiting} skipped twice for {chosen.id}"
            )
            passed_over_for[waiting].add(chosen.id)
        passed_over_for[chosen.id] = set()
        chosen.last_assigned_at = now
        loads[chosen.id] = loads.get(chosen.id, 0) + 1


def test_round_robin_rotates_least_recently_assigned_first() -> None:
    """Three free operators receive chats in turn: a, b, c, a, b, c."""
    ops = [operator(n, 10) for n in range(3)]
    loads: dict[str, int] = {}
    order = []
    for step in range(6):
        chosen = pick_operator(ops, loads)
        assert chosen is not None
        chosen.last_assigned_at = T0 + timedelta(seconds=step)
        loads[chosen.id] = loads.get(chosen.id, 0) + 1
        order.append(chosen.id)
    assert order == ["op0", "op1", "op2", "op0", "op1", "op2"]


def test_full_or_offline_operators_get_nothing() -> None:
    """Operators at capacity, away or disabled are never picked."""
    full = operator(1, 1)
    away = operator(2, 3, Availability.AWAY)
    disabled = operator(3, 3)
    disabled.disabled = True
    assert pick_operator([full, away, disabled], {"op1": 1}) is None


def test_queue_position_follows_priority_then_arrival() -> None:
    """Higher priority goes first; equal priorities are first come, first served."""
    entries = [
        QueueEntry(id="a", session_id="s1", requested_at=T0),
        QueueEntry(id="b", session_id="s2", requested_at=T0 + timedelta(seconds=5)),
        QueueEntry(id="c", session_id="s3", requested_at=T0 + timedelta(seconds=9), priority=1),
    ]
    assert [queue_position(s, entries) for s in ("s1", "s2", "s3", "nope")] == [2, 3, 1, None]


@given(
    position=st.integers(1, 50),
    free=st.integers(0, 10),
    online=st.integers(0, 10),
    waits=st.lists(st.integers(1, 3600), max_size=20),
)
def test_estimate_grows_with_position_and_is_zero_for_free_slots(
    position: int, free: int, online: int, waits: list[int]
) -> None:
    """Estimates are never negative, zero within the free slots, and never shrink further back."""
    recent = [timedelta(seconds=w) for w in waits]
    here = estimate_wait(position, recent, free_slots=free, online_operators=online)
    behind = estimate_wait(position + 1, recent, free_slots=free, online_operators=online)
    assert here >= timedelta(0)
    assert behind >= here
    if position <= free:
        assert here == timedelta(0)


@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1),  # noqa: DTZ001 - hypothesis takes naive bounds
        max_value=datetime(2027, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    target_s=st.integers(1, 86_400),
    offsets=st.lists(st.integers(0, 200_000), min_size=2, max_size=10),
)
def test_sla_due_time_does_not_depend_on_now(
    start: datetime, target_s: int, offsets: list[int]
) -> None:
    """Due is start + target whatever the clock says; states go OK, WARNING, BREACHED."""
    target = timedelta(seconds=target_s)
    order = {SlaState.OK: 0, SlaState.WARNING: 1, SlaState.BREACHED: 2}
    last = -1
    for offset in sorted(offsets):
        result = check(started_at=start, target=target, now=start + timedelta(seconds=offset))
        assert result.due_at == start + target
        assert start <= result.warn_at <= result.due_at
        assert order[result.state] >= last
        last = order[result.state]


def test_sla_warning_at_80_percent_and_done_clocks() -> None:
    """Warning starts at 80 % of the target; a finished clock is MET or MISSED for good."""
    target = timedelta(seconds=30)
    assert check(started_at=T0, target=target, now=T0 + timedelta(seconds=23)).state is SlaState.OK
    assert (
        check(started_at=T0, target=target, now=T0 + timedelta(seconds=24)).state
        is SlaState.WARNING
    )
    assert (
        check(started_at=T0, target=target, now=T0 + timedelta(seconds=31)).state
        is SlaState.BREACHED
    )
    done = check(
        started_at=T0,
        target=target,
        now=T0 + timedelta(hours=1),
        done_at=T0 + timedelta(seconds=29),
    )
    assert done.state is SlaState.MET
    late = check(started_at=T0, target=target, now=T0, done_at=T0 + timedelta(seconds=31))
    assert late.state is SlaState.MISSED


@given(
    changes=st.lists(
        st.tuples(st.integers(0, 20_000), st.sampled_from(list(TicketPriority))), max_size=12
    )
)
def test_ticket_due_times_never_move_earlier(changes: list[tuple[int, TicketPriority]]) -> None:
    """Re-prioritising a ticket at any later moment never brings its due time forward."""
    policy = SlaPolicy()
    due = T0 + policy.ticket_target(TicketPriority.MEDIUM)
    now = T0
    for step, priority in changes:
        now += timedelta(seconds=step)
        new_due = reprioritised_due(due, now, policy.ticket_target(priority))
        assert new_due >= due
        assert new_due >= now + policy.ticket_target(priority)
        due = new_due


def test_default_ticket_targets_are_designs() -> None:
    """URGENT 1 h, HIGH 2 h, MEDIUM 4 h, LOW 24 h; first response 30 s."""
    policy = SlaPolicy()
    hours = {p: policy.ticket_target(p) / timedelta(hours=1) for p in TicketPriority}
    assert hours == {
        TicketPriority.URGENT: 1,
        TicketPriority.HIGH: 2,
        TicketPriority.MEDIUM: 4,
        TicketPriority.LOW: 24,
    }
    assert policy.first_response == timedelta(seconds=30)
