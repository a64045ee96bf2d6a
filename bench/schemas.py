"""The claim and the finish on a fresh schema and on one shaped like the original app's.

Two databases on the one server with the same due no-op strategies: one migrated
from empty, one built from tests/fixtures/existing_deployment.sql (the app's tables,
with their constraints, triggers and indexes: ten on workflow_sessions, two of them
GIN) and then migrated. Batches of claims (cascadian_claim_due_v3) and their outcomes
(cascadian_finish_runs_v3, start -> end: two node logs) alternate between the two,
batch by batch, the order reversed every other batch. The time is the client's around
each statement (the server's work plus a local round trip), per run; median of the
batches. Needs a superuser (the fixture's Supabase roles are created cluster-wide).

    .venv/bin/python bench/schemas.py [--quick] [--batches N] [--batch 200]
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import common
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from cascadian.store.migrate import migrate

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "existing_deployment.sql"
DBS = {"fresh": "cascadian_bench_schema_fresh", "the app's": "cascadian_bench_schema_app"}


def app_database(admin: str, name: str, migrations: Path | None = None) -> str:
    """A database built from the fixture, then migrated (this tree's migrations, or
    those in the folder `migrations`); its URL."""
    with psycopg.connect(admin, autocommit=True) as conn:
        for role in ("anon", "authenticated", "service_role"):
            attributes = " nologin bypassrls" if role == "service_role" else " nologin"
            with contextlib.suppress(psycopg.errors.DuplicateObject):
                conn.execute(sql.SQL("create role {}" + attributes).format(sql.Identifier(role)))
        common.drop_database(admin, name)
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(admin, dbname=name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(FIXTURE.read_text())
        conn.execute("insert into auth.users (id) values (%s)", (common.BENCH_USER,))
    migrate(url, migrations)
    return url


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--batches", type=int, default=None, help="batches per schema (default 100)")
    p.add_argument("--batch", type=int, default=200)
    args = p.parse_args()
    batches = args.batches or (10 if args.quick else 100)
    admin = common.admin_url()
    conns: dict[str, psycopg.Connection[Any]] = {}
    for label, name in DBS.items():
        url = common.fresh_database(admin, name) if label == "fresh" else app_database(admin, name)
        common.seed(url, batches * args.batch)
        conns[label] = psycopg.connect(url, autocommit=True, row_factory=dict_row)
    common.print_header("the claim and the finish on two schemas", url, __doc__ or "")
    try:
        claim_us, finish_us = common.paired_claims_and_finishes(conns, batches, args.batch)
        common.print_table(
            ["schema", "batches", "claim µs/run", "finish µs/run"],
            [
                (
                    label,
                    len(claim_us[label]),
                    common.median(claim_us[label]),
                    common.median(finish_us[label]),
                )
                for label in conns
            ],
        )
    finally:
        for conn in conns.values():
            conn.close()
        for name in DBS.values():
            common.drop_database(admin, name)


if __name__ == "__main__":
    main()
