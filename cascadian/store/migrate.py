"""Apply the migrations in order, once each, and refuse edited ones.

The top-level migrations/ folder is the source of truth. A wheel ships it inside
the package as `cascadian.migrations`, so an installed cascadian migrates from
any directory; an editable install or a checkout reads the folder itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import psycopg

from cascadian.errors import MigrationError

SOURCE_MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
# How long `migrate` waits for the server before saying it cannot connect.
CONNECT_TIMEOUT_SECONDS = 10

# Any fixed number: serialises concurrent `cascadian migrate` runs.
_LOCK_KEY = 0x6361736361646961

_LEDGER = """
create table if not exists cascadian_migrations (
    name text primary key,
    checksum text not null,
    applied_at timestamptz not null default now()
)
"""


def migrations_dir() -> Path:
    """The installed package's migrations, else the source tree's folder."""
    spec = find_spec("cascadian.migrations")  # a data-only package, in a wheel install
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return SOURCE_MIGRATIONS  # an editable install, or a checkout


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path | None = None) -> list[Migration]:
    where = directory if directory is not None else migrations_dir()
    files = sorted(where.glob("*.sql"))
    if not files:
        raise MigrationError(f"no migrations found in {where}")
    return [Migration(f.name, f.read_text(encoding="utf-8")) for f in files]


def _connect(conninfo: str) -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(
            conninfo,
            autocommit=True,
            prepare_threshold=None,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
        )
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MigrationError(f"cannot connect to the database: {first_line}") from exc


def migrate(conninfo: str, directory: Path | None = None) -> list[str]:
    """Apply pending migrations, each in its own transaction; return their names."""
    migrations = load_migrations(directory)
    applied_now: list[str] = []
    with _connect(conninfo) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(_LEDGER)
            rows = conn.execute("select name, checksum from cascadian_migrations").fetchall()
            applied: dict[str, str] = {str(name): str(checksum) for name, checksum in rows}
            for m in migrations:
                if m.name in applied:
                    if applied[m.name] != m.checksum:
                        raise MigrationError(
                            f"migration {m.name} was edited after it was applied; "
                            "add a new migration file instead of changing an applied one"
                        )
                    continue
                try:
                    with conn.transaction():
                        conn.execute(m.sql.encode())
                        conn.execute(
                            "insert into cascadian_migrations (name, checksum) values (%s, %s)",
                            (m.name, m.checksum),
                        )
                except psycopg.Error as exc:
                    raise MigrationError(f"{m.name} failed and was rolled back: {exc}") from exc
                applied_now.append(m.name)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


def pending(conninfo: str, directory: Path | None = None) -> list[str]:
    """Names of migrations not yet applied (all of them on an empty database)."""
    names = [m.name for m in load_migrations(directory)]
    with _connect(conninfo) as conn:
        exists = conn.execute("select to_regclass('cascadian_migrations')").fetchone()
        if not exists or exists[0] is None:
            return names
        done = {r[0] for r in conn.execute("select name from cascadian_migrations")}
    return [n for n in names if n not in done]
