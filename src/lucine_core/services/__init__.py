"""The use cases, one module per area; each is an async function over Services."""

from lucine_core.services.context import (
    Policies,
    RetentionPolicy,
    Services,
    TimeoutPolicy,
    transaction,
)

__all__ = ["Policies", "RetentionPolicy", "Services", "TimeoutPolicy", "transaction"]
