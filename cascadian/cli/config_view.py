"""`cascadian config`: the settings this process would run with, and where each came from.

Secrets are never printed: a secret shows as `set` or `unset`, a database URL as
its host and database, a URL with credentials without them. "From" says which
won: the environment, the `.env` file, or the default (environment variables win
over `.env`, as pydantic-settings reads them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values
from pydantic import AliasChoices, SecretStr
from rich import box
from rich.table import Table

from cascadian.bootstrap import describe
from cascadian.config import Settings
from cascadian.store import embedded


def env_names(field: str) -> list[str]:
    """The variable names a setting is read from, in the order they are tried."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [str(alias)] if alias else [field.upper()]


def _source(names: list[str], dotenv: dict[str, str | None]) -> tuple[str, str]:
    """(the variable that was read, where it came from); case-insensitive, as the settings."""
    environ = {k.upper() for k in os.environ}
    dotenv_names = {k.upper() for k, v in dotenv.items() if v is not None}
    for name in names:
        if name.upper() in environ:
            return name, "environment"
        if name.upper() in dotenv_names:
            return name, ".env"
    return names[0], "default"


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if not (parts.username or parts.password):
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=f"[credentials hidden]@{netloc}"))


def shown(field: str, value: object) -> str:
    """A setting's value as it may be printed."""
    if value is None:
        return "unset"
    if field == "database_url" and isinstance(value, SecretStr):
        return describe(value.get_secret_value())
    if isinstance(value, SecretStr):
        return "set (hidden)"
    if isinstance(value, str) and "://" in value:
        return _without_credentials(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    return str(value)


def rows(settings: Settings, env_file: Path = Path(".env")) -> Iterator[tuple[str, str, str]]:
    """(variable, value, from) for every setting."""
    dotenv = dotenv_values(env_file) if env_file.is_file() else {}
    for field in Settings.model_fields:
        name, source = _source(env_names(field), dotenv)
        yield name, shown(field, getattr(settings, field)), source


def store_line(settings: Settings) -> str:
    if settings.uses_supabase:
        return f"Supabase Data API at {settings.supabase_url}"
    if settings.database_url is not None:
        return describe(settings.database_url.get_secret_value()) + " (DATABASE_URL)"
    where = embedded.data_path(settings.data_dir)
    state = "exists" if embedded.exists(settings.data_dir) else "not created yet"
    return f"embedded PostgreSQL in {where} ({state})"


def summary_line(settings: Settings) -> str:
    mode = "production" if settings.is_production else "development"
    return f"store: {store_line(settings)}; {mode}"


def config_table(settings: Settings, env_file: Path = Path(".env")) -> Table:
    table = Table(box=box.SIMPLE)
    table.add_column("variable", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("from", no_wrap=True)
    for row in rows(settings, env_file):
        table.add_row(*row)
    return table
