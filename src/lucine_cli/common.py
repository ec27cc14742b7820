"""What every command shares: one-line errors with exit code 2, and the settings."""

from __future__ import annotations

from typing import NoReturn

import typer

from lucine_adapters.settings import Settings
from lucine_core.errors import LucineError

__all__ = ["fail", "load_settings"]


def fail(message: str) -> NoReturn:
    """Print one line to stderr and exit with code 2 (bad input, nothing changed)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def load_settings() -> Settings:
    """The settings from the environment (and LUCINE_CONFIG), or exit 2 naming the bad one."""
    try:
        return Settings.from_env()
    except LucineError as error:
        fail(error.message)
