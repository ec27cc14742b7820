"""Shared fixtures and Hypothesis profiles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings

from lucine_adapters.bootstrap import bootstrap_in_memory
from lucine_adapters.notify import InMemoryNotifier
from lucine_adapters.system import FixedClock
from lucine_core.enums import Role
from lucine_core.services import Services
from lucine_core.services.operators import create_operator
from tests.databases import postgres_url
from tests.lengths import HYPOTHESIS_EXAMPLES, MODE
from tests.pg_cluster import pg_cluster

__all__ = ["PASSWORD", "make_operator", "minutes", "pg_cluster", "postgres_url"]

for _mode, _examples in HYPOTHESIS_EXAMPLES.items():
    settings.register_profile(
        _mode,
        max_examples=_examples,
        deadline=None,
        suppress_health_check=[] if _mode == "dev" else [HealthCheck.too_slow],
    )
settings.load_profile(MODE)  # --hypothesis-profile overrides it

PASSWORD = "a long enough test passphrase"


@pytest.fixture
def clock() -> FixedClock:
    """A clock that moves only when a test says so."""
    return FixedClock()


@pytest.fixture
def notifier() -> InMemoryNotifier:
    """A notifier that records what it is asked to send."""
    return InMemoryNotifier()


@pytest.fixture
def services(clock: FixedClock, notifier: InMemoryNotifier) -> Services:
    """The whole product in memory with the sample knowledge base."""
    return bootstrap_in_memory(clock=clock, notifier=notifier)


async def make_operator(
    services: Services, username: str, *, role: Role = Role.OPERATOR, capacity: int = 3
) -> str:
    """Create an operator and return their id."""
    view = await create_operator(
        services,
        actor_id=None,
        username=username,
        display_name=username.title(),
        password=PASSWORD,
        role=role,
        capacity=capacity,
    )
    return view.id


def minutes(n: float) -> timedelta:
    """A readable duration."""
    return timedelta(minutes=n)
