"""Apply migrations/*.sql in order, once each, and refuse edited ones."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import psycopg

from cascadian.errors import MigrationError

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

# Any fixed number: serialises concurrent `cascadian migrate` runs.
_LOCK_KEY = 0x6361736361646961

_LEDGER = """
create table if not exists cascadian_migrations (
    name text primary key,
    checksum text not null,
    applied_at timestamptz not null default now()
)
"""


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    files = sorted(directory.glob("*.sql"))
    if not files:
        raise MigrationError(f"no migrations found in {directory}")
    return [Migration(f.name, f.read_text()) for f in files]


def migrate(conninfo: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations, each in its own transaction; return their names."""
    migrations = load_migrations(directory)
    applied_now: list[str] = []
    with psycopg.connect(conninfo, autocommit=True, prepare_threshold=None) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(_LEDGER)
            rows = conn.execute("select name, checksum from cascadian_migrations").fetchall()
            applied: dict[str, str] = {name: checksum for name, checksum in rows}
            for m in migrations:
                if m.name in applied:
                    if applied[m.name] != m.checksum:
                        raise MigrationError(
                            f"migration {m.name} was edited after it was applied; "
                            "add a new migration file instead of changing an applied one"
                        )
                    continue
                with conn.transaction():
                    conn.execute(m.sql.encode())
                    conn.execute(
                        "insert into cascadian_migrations (name, checksum) values (%s, %s)",
                        (m.name, m.checksum),
                    )
                applied_now.append(m.name)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


def pending(conninfo: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Names of migrations not yet applied (all of them on an empty database)."""
    names = [m.name for m in load_migrations(directory)]
    with psycopg.connect(conninfo, autocommit=True, prepare_threshold=None) as conn:
        exists = conn.execute("select to_regclass('cascadian_migrations')").fetchone()
        if not exists or exists[0] is None:
            return names
        done = {r[0] for r in conn.execute("select name from cascadian_migrations")}
    return [n for n in names if n not in done]
