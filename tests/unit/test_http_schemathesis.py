"""Schemathesis against the served OpenAPI schema: no 5xx, responses as documented.

One run generates at least 1,000 cases over every operation (positive and negative
data, with an admin's bearer token on each; some ids replaced by real ones so cases get
past the 404s), records what each check says, and the tests below judge the record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import attrs
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from lucine_adapters.bootstrap import bootstrap_in_memory
from lucine_core.enums import Role
from lucine_core.services import Services
from lucine_core.services.chat import visitor_message
from lucine_core.services.handoff import take_chat
from lucine_core.services.operators import login
from lucine_core.services.tickets import create_ticket_from_widget
from lucine_http.app import create_app
from lucine_http.config import HttpConfig, Limit
from tests.conftest import PASSWORD, make_operator
from tests.lengths import repetitions

# Cases per operation and generation mode (small input spaces give fewer): 30 at a desk and
# in CI, which makes over 1,000 in all, and ten times as many in `nox -s stress`.
PER_OPERATION = repetitions("LUCINE_SCHEMATHESIS_CASES", dev=30, ci=30, stress=300)
MIN_CASES = 1000
# Event streams answer until the client leaves, which costs each case a keep-alive; they
# have no body to check against a schema either. Real-server tests cover them
# (tests/unit/test_http_stream.py).
STREAMS = frozenset({"/api/chat/stream/{session_id}", "/api/operators/stream"})
UNLIMITED = Limit(count=10**6, window=timedelta(minutes=1))
CHECKS = {
    "not_a_server_error": not_a_server_error,
    "response_schema_conformance": response_schema_conformance,
}


@attrs.define
class Finding:
    """One check that failed on one case."""

    check: str
    operation: str
    mode: str
    request: str
    status: int
    response: str
    message: str

    def __str__(self) -> str:
        return (
            f"[{self.check}] {self.operation} ({self.mode}) {self.request}\n"
            f"  -> {self.status} {self.response}\n  {self.message}"
        )


@attrs.define
class Run:
    """What the generated cases did."""

    cases: Counter[str] = attrs.Factory(Counter)
    statuses: Counter[int] = attrs.Factory(Counter)
    findings: list[Finding] = attrs.Factory(list)
    operations: list[str] = attrs.Factory(list)
    not_generated: list[str] = attrs.Factory(list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        """Cases sent, over every operation and mode."""
        return sum(self.cases.values())

    def failed(self, check: str, *, status: int | None = None) -> list[Finding]:
        """Findings of ``check`` (only those with response ``status`` if given)."""
        return [
            f for f in self.findings if f.check == check and (status is None or f.status == status)
        ]


@attrs.define
class Scene:
    """Services with an admin logged in and some real ids for cases to use."""

    services: Services
    token: str
    admin_id: str
    ids: dict[str, list[str]]

    def refresh_token(self) -> None:
        """A new token after a generated case logged the admin out."""
        operator = asyncio.run(login(self.services, username="boss", password=PASSWORD))
        self.token, _ = self.services.tokens.issue(operator, self.services.clock.now())


def build_scene() -> Scene:
    """An admin logged in, another operator, chats (one held by the admin) and a ticket."""
    services = bootstrap_in_memory()

    async def setup() -> Scene:
        admin_id = await make_operator(services, "boss", role=Role.ADMIN)
        ada_id = await make_operator(services, "ada")
        admin = await login(services, username="boss", password=PASSWORD)
        token, _ = services.tokens.issue(admin, services.clock.now())
        sessions = [
            (await visitor_message(services, text=text, session_id=None)).session_id
            for text in ("quanto costa il biglietto?", "orari di apertura", "voglio un operatore")
        ]
        await take_chat(services, operator_id=admin_id, session_id=sessions[0])
        ticket = await create_ticket_from_widget(
            services, session_id=sessions[1], message="Richiamatemi", email="ada@example.org"
        )
        return Scene(
            services=services,
            token=token,
            admin_id=admin_id,
            ids={
                "session_id": sessions,
                "sessionId": sessions,
                "ticket_id": [ticket.id],
                "ticketId": [ticket.id],
                "operator_id": [ada_id, admin_id],
                "toOperatorId": [ada_id, admin_id],
            },
        )

    return asyncio.run(setup())


def with_real_ids(case: schemathesis.Case, scene: Scene, data: st.DataObject) -> None:
    """Replace some generated ids (path or body) by ids that exist, as Hypothesis decides."""
    for container in (case.path_parameters, case.body):
        if not isinstance(container, dict):
            continue
        for key in list(container):
            if key in scene.ids and data.draw(st.booleans(), label=f"real {key}"):
                container[key] = data.draw(st.sampled_from(scene.ids[key]), label=key)


def describe(case: schemathesis.Case) -> str:
    """The request of ``case`` in one line."""
    query = f" query={case.query}" if case.query else ""
    body = "" if case.body is None else f" body={case.body!r}"
    return f"{case.method.upper()} {case.formatted_path}{query}{body}"[:600]


def run_checks(case: schemathesis.Case, response: Any, mode: str, record: Run) -> None:
    """Run each check on its own and record what fails."""
    for name, check in CHECKS.items():
        try:
            case.validate_response(response, checks=[check])
        except FailureGroup as group:
            for failure in group.exceptions:
                record.findings.append(
                    Finding(
                        check=name,
                        operation=case.operation.label,
                        mode=mode,
                        request=describe(case),
                        status=response.status_code,
                        response=response.text[:300],
                        message=f"{failure.title}: {failure.message}".replace("\n", " ")[:400],
                    )
                )


def fuzzer(operation: Any, mode: GenerationMode, scene: Scene, record: Run) -> Any:
    """A Hypothesis test sending PER_OPERATION cases of ``operation`` in ``mode``."""

    @settings(
        max_examples=PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def send(case: schemathesis.Case, data: st.DataObject) -> None:
        with_real_ids(case, scene, data)
        response = case.call(headers={"Authorization": f"Bearer {scene.token}"})
        record.cases[f"{case.operation.label} {mode.value}"] += 1
        record.statuses[response.status_code] += 1
        run_checks(case, response, mode.value, record)
        if case.operation.path == "/api/operators/logout" and response.status_code == 204:
            scene.refresh_token()

    return send


def fuzz(schema: Any, scene: Scene) -> Run:
    """Every operation, positive then negative, PER_OPERATION examples each."""
    record = Run()
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in STREAMS:
            continue
        record.operations.append(operation.label)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzzer(operation, mode, scene, record)()
            except Unsatisfiable as error:  # e.g. no invalid data for a GET without inputs
                record.not_generated.append(f"{operation.label} {mode.value}: {error!r}"[:200])
    record.seconds = time.monotonic() - started
    return record


@pytest.fixture(scope="module")
def run() -> Run:
    """One schemathesis run over the in-memory app, limits raised so 429s do not dominate."""
    scene = build_scene()
    config = HttpConfig(chat_limit=UNLIMITED, new_sessions_limit=UNLIMITED, login_limit=UNLIMITED)
    app = create_app(scene.services, config)
    quiet = logging.getLogger("lucine.http")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # expected 5xx would log tracebacks per case
    try:
        schema = schemathesis.openapi.from_asgi("/api/docs/openapi.json", app)
        record = fuzz(schema, scene)
    finally:
        quiet.setLevel(level)
    return record


def report(findings: list[Finding], limit: int = 15) -> str:
    """The first findings, one block each, with a count per operation."""
    per_operation = Counter(f"{f.operation} -> {f.status}" for f in findings)
    lines = [f"{len(findings)} findings: {dict(per_operation)}"]
    lines += [str(f) for f in findings[:limit]]
    return "\n".join(lines)


def test_generates_at_least_1000_cases_over_every_operation(run: Run) -> None:
    """The run sends >= 1,000 cases and touches every documented operation."""
    covered = {label.rsplit(" ", 1)[0] for label in run.cases}
    assert run.total >= MIN_CASES, (run.total, run.cases)
    assert len(run.operations) >= 30
    assert set(run.operations) <= covered, set(run.operations) - covered
    assert run.statuses[200] + run.statuses[201] + run.statuses[204] > 100, run.statuses
    print(f"\n{run.total} cases in {run.seconds:.1f} s; statuses {dict(run.statuses)}")


def test_no_server_errors(run: Run) -> None:
    """No generated case, valid or invalid, gets a 5xx."""
    failures = run.failed("not_a_server_error")
    assert not failures, report(failures)


def test_success_responses_match_the_schema(run: Run) -> None:
    """Every response other than the 400s (see the xfail below) matches its documented schema."""
    failures = [f for f in run.failed("response_schema_conformance") if f.status != 400]
    assert not failures, report(failures)


def test_every_response_matches_the_schema(run: Run) -> None:
    """Every response, 400s included, matches the schema documented for its status."""
    failures = run.failed("response_schema_conformance")
    assert not failures, report(failures)
