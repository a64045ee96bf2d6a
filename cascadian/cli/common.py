"""What the `cascadian` commands share: the console, and settings errors shown
as a line to fix instead of a traceback."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.console import Console

from cascadian.bootstrap import database_url
from cascadian.config import Settings
from cascadian.errors import ConfigurationError

console = Console()


def load_settings() -> Settings:
    """The settings, or a readable error and exit 2 instead of a traceback."""
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            console.print(f"[red]configuration error[/red] ({where}): {error['msg']}")
        raise typer.Exit(2) from None


def cli_database_url(settings: Settings) -> str:
    try:
        return database_url(settings)
    except ConfigurationError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None
