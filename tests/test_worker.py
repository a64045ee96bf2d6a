"""`cascadian worker` as real processes: graceful shutdown, and several workers sharing a load.

Each test starts worker subprocesses on the test database, waits for the state
it needs by polling the database (bounded), and signals them like an operator.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from cascadian.tick import CUT_SHORT
from tests.factories import HELLO, USER, add_strategy, chain, node, rows

SLOW = chain(node("start", "start"), node("wait", "delay", seconds=2), node("end", "end"))
STUCK = chain(node("start", "start"), node("wait", "delay", seconds=20), node("end", "end"))


class Workers:
    """Starts `cascadian worker` processes and makes sure none outlives its test."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SUPABASE")}
        self.env |= {"DATABASE_URL": database_url, "CASCADIAN_DB_POOL_SIZE": "4"}
        script = Path(sys.executable).with_name("cascadian")
        self.command = (
            [str(script)]
            if script.exists()
            else [sys.executable, "-c", "from cascadian.cli.main import app; app()"]
        )
        self.procs: list[subprocess.Popen[bytes]] = []
        self.log_files: list[Any] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.tmp_path / f"worker{len(self.procs)}.log").open("wb")
        self.log_files.append(log)
        proc = subprocess.Popen(  # noqa: S603 - our own command line
            [*self.command, "worker", *args],
            env=self.env,
            cwd=self.tmp_path,  # no stray .env
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.tmp_path.glob("worker*.log")))

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=timeout)

    def kill_leftovers(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for log in self.log_files:
            log.close()


@pytest.fixture
def workers(database_url: str, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(database_url, tmp_path)
    yield w
    w.kill_leftovers()


def wait_for(check: Callable[[], bool], what: str, workers: Workers, timeout: float = 30) -> None:
    """Poll the database until `check()` holds; fail, with the workers' logs, after `timeout`."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; worker logs:\n{workers.logs()}")
        time.sleep(0.05)


def count(db: Any, query: str, *params: Any) -> int:
    return int(rows(db, query, *params)[0]["n"])


@pytest.mark.slow
def test_sigterm_mid_run_lets_the_runs_finish_and_loses_or_doubles_nothing(
    workers: Workers, db: Any
) -> None:
    sids = [
        add_strategy(db, next_execution_at=_now(db), graph=SLOW, name=f"slow {i}") for i in range(6)
    ]
    proc = workers.start("--concurrency", "3", "--interval", "0.2")
    wait_for(
        lambda: (
            count(db, "select count(*) as n from workflow_executions where status = 'running'") > 0
        ),
        "a run in flight",
        workers,
    )
    assert workers.stop(proc) == 0, workers.logs()

    assert count(db, "select count(*) as n from workflow_executions where status = 'running'") == 0
    completed = 0
    for sid in sids:
        [s] = rows(db, "select * from workflow_sessions where id = %s", sid)
        runs = rows(db, "select status from workflow_executions where workflow_id = %s", sid)
        assert s["lease_token"] is None and s["lease_expires_at"] is None
        if s["execution_count"] == 1:  # ran once, and was recorded once
            assert runs == [{"status": "completed"}]
            assert s["next_execution_at"] > s["last_executed_at"]
            completed += 1
        else:  # never started: due again, nothing half-written
            assert (s["execution_count"], runs, s["last_executed_at"]) == (0, [], None)
    assert completed >= 1  # the runs in flight at SIGTERM finished within the grace period
    assert "stopping: no new claims" in workers.logs()


@pytest.mark.slow
def test_runs_outlasting_the_grace_period_are_cancelled_and_their_slots_given_back(
    workers: Workers, db: Any
) -> None:
    slot = _now(db)
    sids = [add_strategy(db, next_execution_at=slot, graph=STUCK) for _ in range(2)]
    proc = workers.start("--grace", "0.2", "--interval", "0.2")
    wait_for(
        lambda: (
            count(db, "select count(*) as n from workflow_executions where status = 'running'") == 2
        ),
        "both runs in flight",
        workers,
    )
    assert workers.stop(proc) == 0, workers.logs()

    cut = rows(db, "select status, error_message, attempt from workflow_executions")
    assert cut == [{"status": "cancelled", "error_message": CUT_SHORT, "attempt": 1}] * 2
    for sid in sids:
        [s] = rows(db, "select * from workflow_sessions where id = %s", sid)
        assert (s["execution_count"], s["lease_token"], s["next_execution_at"]) == (0, None, slot)
    [tick] = rows(db, "select summary from cron_ticks where (summary ->> 'cancelled')::int > 0")
    assert tick["summary"]["cancelled"] == 2


@pytest.mark.slow
def test_three_workers_drain_a_thousand_due_strategies_each_exactly_once(
    workers: Workers, db: Any
) -> None:
    nodes, edges = HELLO
    db.execute(
        """
        insert into workflow_sessions (
            user_id, name, nodes, edges, status, auto_run, execution_interval_minutes,
            next_execution_at
        )
        select %s, 'bulk ' || g, %s, %s, 'running', false, 5, now() - interval '1 second'
        from generate_series(1, 1000) g
        """,
        (USER, Jsonb(nodes), Jsonb(edges)),
    )
    procs = [workers.start("--concurrency", "10", "--interval", "0.1") for _ in range(3)]
    # Turned on only once all three are ticking: one worker alone drains a thousand
    # runs in about a second, before the others have started.
    wait_for(
        lambda: (
            all(
                "worker: ticking" in log.read_text() for log in workers.tmp_path.glob("worker*.log")
            )
            and len(list(workers.tmp_path.glob("worker*.log"))) == 3
        ),
        "all three workers to tick",
        workers,
        timeout=60,
    )
    db.execute("update workflow_sessions set auto_run = true")
    wait_for(
        lambda: (
            count(db, "select count(*) as n from workflow_sessions where execution_count > 0")
            == 1000
        ),
        "every strategy to run",
        workers,
        timeout=120,
    )
    assert [workers.stop(p) for p in procs] == [0, 0, 0], workers.logs()

    assert rows(db, "select execution_count, count(*) as n from workflow_sessions group by 1") == [
        {"execution_count": 1, "n": 1000}
    ]
    assert rows(db, "select status, count(*) as n from workflow_executions group by 1") == [
        {"status": "completed", "n": 1000}
    ]
    assert (
        count(
            db, "select count(distinct (workflow_id, scheduled_for)) as n from workflow_executions"
        )
        == 1000
    )
    executed = "select sum(strategies_executed) as n from cron_ticks where trigger = 'worker'"
    assert count(db, executed) == 1000
    # The load was shared: more than one worker claimed strategies.
    shares = [
        sum(int(n) for n in re.findall(r"tick \(worker\): (\d+) claimed", log.read_text()))
        for log in sorted(workers.tmp_path.glob("worker*.log"))
    ]
    assert sum(shares) == 1000 and sum(1 for n in shares if n > 0) >= 2, shares


def _now(db: Any) -> Any:
    return rows(db, "select now() as now")[0]["now"]
