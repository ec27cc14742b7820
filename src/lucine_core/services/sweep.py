"""The periodic sweep: inactivity timeouts, ended sessions, SLA warnings and breaches.

Each session is handled in its own unit of work that re-reads it and re-checks the
rule, so a sweep racing a visitor's message (or another sweep on another worker)
changes nothing twice: the versioned update lets only one of them through.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from lucine_core import events as ev
from lucine_core.enums import SessionStatus, TicketStatus
from lucine_core.ports import Notification, RealtimeEvent, UnitOfWork
from lucine_core.services.common import (
    OPERATORS_CHANNEL,
    save_session,
    session_channel,
    system_message,
)
from lucine_core.services.context import Services, publish_all, transaction
from lucine_core.services.handoff import assign_waiting, notify_safely
from lucine_core.sla import SlaCheck, SlaState, check

__all__ = ["SweepReport", "sweep"]

_BATCH = 500
_OPEN_TICKETS = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.WAITING_CUSTOMER)


@attrs.define
class SweepReport:
    """What one sweep did."""

    idle: int = 0
    waiting_client: int = 0
    ended: int = 0
    abandoned: int = 0
    sla_warnings: int = 0
    sla_breaches: int = 0
    assigned: int = 0
    notifications: list[Notification] = attrs.field(factory=list, repr=False)
    statuses: dict[str, str] = attrs.field(factory=dict, repr=False)

    def add(self, other: SweepReport) -> None:
        """Count what ``other`` (one committed unit of work) did."""
        self.idle += other.idle
        self.waiting_client += other.waiting_client
        self.ended += other.ended
        self.abandoned += other.abandoned
        self.sla_warnings += other.sla_warnings
        self.sla_breaches += other.sla_breaches
        self.assigned += other.assigned
        self.notifications.extend(other.notifications)
        self.statuses.update(other.statuses)


async def sweep(services: Services) -> SweepReport:
    """Apply the timeout rules and raise SLA alerts as of the clock's now."""
    report = SweepReport()
    now = services.clock.now()
    timeouts = services.policies.timeouts
    async with services.uow() as uow:
        candidates = [
            s.id
            for s in await uow.sessions.list_inactive_since(now - timeouts.inactivity, limit=_BATCH)
        ]
    for session_id in candidates:

        async def work(uow: UnitOfWork, sid: str = session_id) -> SweepReport:
            done = SweepReport()  # a fresh count for each attempt: only a commit counts
            await _timeout(uow, services, sid, done)
            return done

        done = await transaction(services, work)
        report.add(done)
        await publish_all(
            services,
            [
                RealtimeEvent(channel=session_channel(sid), kind="status", data={"status": status})
                for sid, status in done.statuses.items()
            ],
        )
    await _session_slas(services, report)
    await _ticket_slas(services, report)
    for notification in report.notifications:
        await notify_safely(services, notification)
    if services.policies.auto_assign:
        report.assigned = len(await assign_waiting(services))
    return report


async def _timeout(
    uow: UnitOfWork, services: Services, session_id: str, report: SweepReport
) -> None:
    session = await uow.sessions.get(session_id, for_update=True)
    now = services.clock.now()
    timeouts = services.policies.timeouts
    silent = now - session.last_activity_at
    if session.is_terminal or silent < timeouts.inactivity:
        return
    if silent >= timeouts.end_after:
        entry = await uow.queue.cancel(session_id, now, "session ended")
        if entry is not None:
            session.record(
                ev.ChatAbandoned(
                    stage="queue", waited_seconds=(now - entry.requested_at).total_seconds()
                ),
                now,
            )
            report.abandoned += 1
        session.end(now)
        report.ended += 1
    elif session.status is SessionStatus.ACTIVE and await uow.queue.waiting_for(session_id) is None:
        session.mark_inactive(now, int(timeouts.inactivity.total_seconds() // 60))
        report.idle += 1
    elif session.status is SessionStatus.WITH_OPERATOR:
        session.mark_inactive(now, int(timeouts.inactivity.total_seconds() // 60))
        await system_message(uow, services, session, "timeout", at=now, kind="timeout")
        report.waiting_client += 1
    else:
        return
    await save_session(uow, session)
    report.statuses[session_id] = session.status.value  # published once committed


def _alert(alerts: frozenset[str], key: str, sla: SlaCheck) -> str | None:
    """The alert level to raise now for this clock, unless it was raised before."""
    levels = {SlaState.BREACHED: "breached", SlaState.WARNING: "warning"}
    level = levels.get(sla.state)
    return level if level and f"{key}:{level}" not in alerts else None


def _raise(
    report: SweepReport, *, level: str, target: str, subject_id: str, sla: SlaCheck, now: datetime
) -> list[ev.Payload]:
    """Count the alert, queue its notification, and return the event payload to store."""
    report.notifications.append(
        Notification(
            kind=f"sla_{level}",
            subject=f"SLA {level}: {target.replace('_', ' ')} for {subject_id}",
            body=f"Due at {sla.due_at.isoformat()}.",
            data={"target": target, "subjectId": subject_id, "dueAt": sla.due_at.isoformat()},
        )
    )
    if level != "breached":
        report.sla_warnings += 1
        return []
    report.sla_breaches += 1
    late = (now - sla.due_at).total_seconds()
    return [
        ev.SlaBreached(target=target, subject_id=subject_id, due_at=sla.due_at, late_seconds=late)
    ]


async def _session_slas(services: Services, report: SweepReport) -> None:
    policy = services.policies.sla
    async with services.uow() as uow:
        waiting = {e.session_id: e for e in await uow.queue.list_waiting()}
        held = [
            s.id
            for s in await uow.sessions.list(
                statuses=(SessionStatus.WITH_OPERATOR, SessionStatus.WAITING_CLIENT), limit=10_000
            )
        ]
    for session_id in [*waiting, *held]:

        async def work(uow: UnitOfWork, sid: str = session_id) -> SweepReport:
            done = SweepReport()  # a fresh count for each attempt: only a commit counts
            session = await uow.sessions.get(sid, for_update=True)
            now = services.clock.now()
            entry = await uow.queue.waiting_for(sid)
            if entry is not None:
                key = f"queue_wait:{entry.id}"
                sla = check(
                    started_at=entry.requested_at,
                    target=policy.queue_wait,
                    now=now,
                    warning_ratio=policy.warning_ratio,
                )
                target = "queue_wait"
            elif session.is_held and session.assigned_at is not None:
                key = f"first_response:{session.assigned_at.isoformat()}"
                sla = check(
                    started_at=session.assigned_at,
                    target=policy.first_response,
                    now=now,
                    done_at=session.operator_replied_at,
                    warning_ratio=policy.warning_ratio,
                )
                target = "first_response"
            else:
                return done
            level = _alert(session.sla_alerts, key, sla)
            if level is None:
                return done
            session.sla_alerts = session.sla_alerts | {f"{key}:{level}"}
            for payload in _raise(
                done, level=level, target=target, subject_id=sid, sla=sla, now=now
            ):
                session.record(payload, now, session.operator_id)
            await save_session(uow, session)
            return done

        report.add(await transaction(services, work))
    if report.sla_breaches or report.sla_warnings:
        await publish_all(services, [RealtimeEvent(channel=OPERATORS_CHANNEL, kind="sla", data={})])


async def _ticket_slas(services: Services, report: SweepReport) -> None:
    policy = services.policies.sla

    async def work(uow: UnitOfWork) -> SweepReport:
        done = SweepReport()  # a fresh count for each attempt: only a commit counts
        now = services.clock.now()
        for ticket in await uow.tickets.list(statuses=_OPEN_TICKETS, limit=10_000):
            target = ticket.due_at - ticket.created_at
            sla = check(
                started_at=ticket.created_at,
                target=target,
                now=now,
                warning_ratio=policy.warning_ratio,
            )
            level = _alert(ticket.sla_alerts, "resolution", sla)
            if level is None:
                continue
            ticket.sla_alerts = ticket.sla_alerts | {f"resolution:{level}"}
            payloads = _raise(
                done,
                level=level,
                target="ticket_resolution",
                subject_id=ticket.id,
                sla=sla,
                now=now,
            )
            await uow.tickets.update(ticket)
            await uow.events.add(
                [
                    ev.AnalyticsEvent(
                        payload=p,
                        at=now,
                        session_id=ticket.session_id,
                        operator_id=ticket.operator_id,
                    )
                    for p in payloads
                ]
            )
        return done

    report.add(await transaction(services, work))
