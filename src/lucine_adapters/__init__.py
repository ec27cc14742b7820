"""Implementations of the core's ports, and the composition root that wires them."""

from lucine_adapters.bootstrap import bootstrap, bootstrap_in_memory
from lucine_adapters.settings import Settings

__all__ = ["Settings", "bootstrap", "bootstrap_in_memory"]
