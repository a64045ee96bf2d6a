"""On a database shaped like an existing Cascadian deployment (tests/fixtures/
existing_deployment.sql, then our migrations): what differed there, each a test.

The key scenarios (tick, logs, auto-pause, notify, watchlist, the control API, run
now, the store contract) run on this schema as well; these are the cases only it
has: its constraints, its anonymous owner, its versions, its notification
settings, its security policies, and that our migrations leave its tables as
they were.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from tests.api_client import client
from tests.executors import ScriptedExecutor, failed, returns
from tests.factories import (
    NODE_LOGS,
    OTHER_USER,
    USER,
    add_strategy,
    chain,
    node,
    rows,
    strategy,
)

pytestmark = pytest.mark.parametrize("schema", ["existing"], indirect=True, scope="session")

NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)
ANONYMOUS = uuid.UUID("00000000-0000-0000-0000-000000000000")


def ticks(store: SqlStore, executor: Any = None) -> TickService:
    settings = Settings(CASCADIAN_STRATEGY_TIMEOUT_SECONDS=5, CASCADIAN_LEASE_SECONDS=60)
    return TickService(store, executor or ScriptedExecutor(), settings, FakeClock(NOW))


async def fail_three_times(store: SqlStore, db: Any, sid: uuid.UUID) -> list[Any]:
    """Three ticks in which the strategy fails; the reports of its runs."""
    reports = []
    executor = ScriptedExecutor(broken=returns(failed("the market is closed")))
    for _ in range(3):
        db.execute("update workflow_sessions set next_execution_at = %s", (NOW,))
        report = await ticks(store, executor).tick()
        reports.append(report.executions[0])
    return reports


# Node logs


@pytest.mark.parametrize("log_rows", [False, True], ids=["jsonb", "rows"])
async def test_every_node_is_logged_skipped_ones_with_the_run_end_as_their_start(
    store: SqlStore, db: Any, log_rows: bool
) -> None:
    graph = chain(
        node("start", "start"),
        node("bad", "filter", items="${start.nope}", conditions=[]),
        node("end", "end"),
    )
    sid = add_strategy(db, next_execution_at=NOW, graph=graph)
    settings = Settings(CASCADIAN_STRATEGY_TIMEOUT_SECONDS=5, CASCADIAN_LEASE_SECONDS=60)
    from cascadian.workflow.executor import GraphExecutor

    store.node_log_rows = log_rows
    try:
        report = await TickService(store, GraphExecutor(), settings, FakeClock(NOW)).tick()
    finally:
        store.node_log_rows = False
    [run] = report.executions
    assert run.recorded and run.side_errors == []
    logs = rows(
        db,
        f"select node_id, node_type, status, started_at from {NODE_LOGS} "
        "where workflow_id = %s order by node_index",
        sid,
    )
    assert [(log["node_id"], log["status"]) for log in logs] == [
        ("start", "success"),
        ("bad", "error"),
        ("end", "skipped"),
    ]
    assert logs[2]["started_at"] == NOW  # a skipped node takes the run's end
    # Rows of the app's table (uuid ids, its NOT NULLs) only with CASCADIAN_NODE_LOG_ROWS.
    table = rows(db, "select id from strategy_execution_logs where workflow_id = %s", sid)
    assert len(table) == (3 if log_rows else 0)
    assert all(isinstance(log["id"], uuid.UUID) for log in table)
    [stored] = rows(db, "select node_logs from workflow_executions where workflow_id = %s", sid)
    assert (stored["node_logs"] is None) == log_rows


# Notifications


async def test_the_anonymous_owners_auto_pause_is_recorded_though_its_notification_is_refused(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="broken", user_id=ANONYMOUS)
    reports = await fail_three_times(store, db, sid)
    assert all(r.recorded for r in reports)
    third = reports[2]
    assert third.auto_paused
    [problem] = third.side_errors
    assert problem.startswith("auto-pause notification not sent:")
    assert "notifications_user_id_fkey" in problem
    s = strategy(db, sid)
    assert (s["status"], s["auto_run"], s["error_count"], s["execution_count"]) == (
        "error",
        False,
        3,
        3,
    )
    [run] = rows(db, "select errors from workflow_executions where id = %s", third.execution_id)
    assert run["errors"][-1]["error"] == problem
    assert rows(db, "select * from notifications") == []
    # Paused: the next tick does not run it again.
    db.execute("update workflow_sessions set next_execution_at = %s", (NOW,))
    assert (await ticks(store).tick()).executions == []


async def test_a_disabled_type_in_the_owners_settings_suppresses_the_notification(
    store: SqlStore, db: Any
) -> None:
    db.execute(
        "insert into notification_settings (user_id, notification_type, enabled) "
        "values (%s, 'strategy_error', false)",
        (USER,),
    )
    sid = add_strategy(db, next_execution_at=NOW, name="broken")
    reports = await fail_three_times(store, db, sid)
    assert reports[2].auto_paused and reports[2].side_errors == []
    assert rows(db, "select * from notifications") == []
    assert strategy(db, sid)["status"] == "error"


@pytest.mark.parametrize(
    ("start", "end", "sent"),
    [
        (time(12, 0), time(13, 0), False),  # NOW (12:00:30) inside
        (time(22, 0), time(12, 1), False),  # across midnight, inside
        (time(12, 1), time(13, 0), True),  # not yet
        (time(9, 0), time(12, 0), True),  # over
    ],
)
async def test_quiet_hours_suppress_notifications_inside_their_window(
    store: SqlStore, db: Any, start: time, end: time, sent: bool
) -> None:
    db.execute(
        "insert into notification_settings (user_id, notification_type, quiet_hours_enabled, "
        "quiet_hours_start, quiet_hours_end) values (%s, 'strategy_error', true, %s, %s)",
        (USER, start, end),
    )
    sid = add_strategy(db, next_execution_at=NOW, name="broken")
    await fail_three_times(store, db, sid)
    assert len(rows(db, "select * from notifications")) == int(sent)


async def test_the_notify_node_sends_a_type_the_original_accepts_and_fails_on_one_it_refuses(
    store: SqlStore, db: Any
) -> None:
    from cascadian.workflow.executor import GraphExecutor
    from cascadian.workflow.node_api import NodeServices

    tell = node("tell", "notify", title="Hi", message="there")
    shout = node("shout", "notify", title="Hi", message="there", type="strategy_alert")
    ok = add_strategy(db, next_execution_at=NOW, name="ok", graph=chain(node("s", "start"), tell))
    bad = add_strategy(
        db, next_execution_at=NOW, name="bad", graph=chain(node("s", "start"), shout)
    )
    settings = Settings(CASCADIAN_STRATEGY_TIMEOUT_SECONDS=5, CASCADIAN_LEASE_SECONDS=60)
    executor = GraphExecutor(services=NodeServices(settings, store=store, clock=FakeClock(NOW)))
    report = await TickService(store, executor, settings, FakeClock(NOW)).tick()
    by_name = {r.workflow_name: r for r in report.executions}
    assert by_name["ok"].status == "completed"
    [n] = rows(db, "select type, workflow_id from notifications")
    assert (n["type"], n["workflow_id"]) == ("strategy_update", ok)
    assert by_name["bad"].status == "failed" and by_name["bad"].recorded
    error = by_name["bad"].error or ""
    assert "the database refused the notification (type 'strategy_alert')" in error
    assert "strategy_update" in error  # the list it accepts
    assert strategy(db, bad)["execution_count"] == 1


# Versions


async def test_only_the_current_version_of_a_strategy_is_claimed(store: SqlStore, db: Any) -> None:
    old = add_strategy(db, next_execution_at=NOW, name="v1", is_current_version=False)
    new = add_strategy(db, next_execution_at=NOW, name="v2", version=2, parent_workflow_id=old)
    executor = ScriptedExecutor()
    await ticks(store, executor).tick()
    assert executor.calls == ["v2"]
    assert strategy(db, old)["execution_count"] == 0 and strategy(db, new)["execution_count"] == 1


async def test_an_old_version_cannot_be_run_now_started_or_resumed(
    store: SqlStore, db: Any
) -> None:
    old = add_strategy(db, next_execution_at=NOW, status="paused", is_current_version=False)
    async with client(store, ScriptedExecutor()) as c:
        for action in ("execute-now", "start", "resume"):
            reply = await c.post(f"/api/strategies/{old}/{action}")
            assert reply.status_code == 409, action
            assert "old version" in reply.json()["message"]
    assert rows(db, "select * from workflow_executions") == []


# The original app's columns keep their meaning


async def test_null_counters_and_interval_from_the_builder_count_as_zero_and_five_minutes(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="builder row")
    db.execute(
        "update workflow_sessions set execution_count = null, success_count = null, "
        "error_count = null, execution_interval_minutes = null where id = %s",
        (sid,),
    )
    [run] = (await ticks(store).tick()).executions
    assert run.status == "completed" and run.recorded
    s = strategy(db, sid)
    assert (s["execution_count"], s["success_count"], s["error_count"]) == (1, 1, 0)
    assert s["next_execution_at"] == NOW + timedelta(minutes=5)


# Security, as PostgREST runs requests: a role, and the JWT's subject


def act_as(c: psycopg.Connection[Any], role: str, user: uuid.UUID | None) -> None:
    c.execute("reset role")
    c.execute("select set_config('request.jwt.claim.sub', %s, false)", (str(user or ""),))
    c.execute(sql.SQL("set role {}").format(sql.Identifier(role)))


@pytest.fixture
def owned(db: Any) -> Iterator[dict[uuid.UUID, uuid.UUID]]:
    """A strategy, a run, a log, a watchlist entry and a notification for each of two
    users, and an anonymous strategy; answers each owner's strategy id."""
    ids = {}
    for user in (USER, OTHER_USER):
        sid = add_strategy(db, next_execution_at=None, user_id=user)
        [[eid]] = db.execute(
            "insert into workflow_executions (workflow_id, user_id, status) "
            "values (%s, %s, 'completed') returning id",
            (sid, user),
        ).fetchall()
        db.execute(
            "insert into strategy_execution_logs (execution_id, workflow_id, node_id, node_type, "
            "status, started_at) values (%s, %s, 'n1', 'start', 'success', now())",
            (eid, sid),
        )
        db.execute(
            "insert into strategy_watchlists (workflow_id, market_id) values (%s, 'm1')", (sid,)
        )
        db.execute(
            "insert into notifications (user_id, workflow_id, type, title, message) "
            "values (%s, %s, 'system', 'title', 'message')",
            (user, sid),
        )
        db.execute(
            "insert into notification_settings (user_id, notification_type) "
            "values (%s, 'strategy_error')",
            (user,),
        )
        ids[user] = sid
    add_strategy(db, next_execution_at=None, user_id=ANONYMOUS, name="anonymous")
    yield ids
    db.execute("reset role")


OWNED_TABLES = [
    "workflow_sessions",
    "workflow_executions",
    "strategy_execution_logs",
    "strategy_watchlists",
    "notifications",
    "notification_settings",
]


def visible(c: psycopg.Connection[Any], table: str) -> list[dict[str, Any]]:
    return rows(c, sql.SQL("select * from {}").format(sql.Identifier(table)).as_string(c))


async def test_anon_reads_nothing_and_writes_nothing(db: Any, owned: Any) -> None:
    act_as(db, "anon", None)
    for table in [*OWNED_TABLES, "cron_ticks", "cascadian_replaced_policies"]:
        assert visible(db, table) == [], table
    for statement in (
        "insert into notifications (type, title, message) values ('system', 't', 'm')",
        f"insert into workflow_sessions (user_id, name) values ('{ANONYMOUS}', 'anon')",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute(statement)
    db.execute("update workflow_sessions set name = 'hijacked'")  # matches no row
    db.execute("reset role")
    assert all(s["name"] != "hijacked" for s in visible(db, "workflow_sessions"))


async def test_a_signed_in_user_reads_only_their_own_rows(db: Any, owned: Any) -> None:
    for user in (USER, OTHER_USER):
        act_as(db, "authenticated", user)
        for table in OWNED_TABLES:
            assert len(visible(db, table)) == 1, (user, table)
        [mine] = visible(db, "workflow_sessions")
        assert mine["id"] == owned[user]


async def test_the_builders_own_writes_still_work_and_nobody_elses(db: Any, owned: Any) -> None:
    act_as(db, "authenticated", USER)
    db.execute("update workflow_sessions set name = 'renamed'")
    db.execute("update notifications set is_read = true, read_at = now()")
    db.execute("insert into workflow_sessions (user_id, name) values (%s, 'new version')", (USER,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute(
            "insert into workflow_sessions (user_id, name) values (%s, 'as someone else')",
            (OTHER_USER,),
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute(  # a forged run in someone else's history
            "insert into workflow_executions (workflow_id, user_id, status) "
            "values (%s, %s, 'completed')",
            (owned[OTHER_USER], USER),
        )
    db.execute("reset role")
    names = {
        s["user_id"]: s["name"]
        for s in visible(db, "workflow_sessions")
        if s["name"] != "new version"
    }
    assert names[USER] == "renamed" and names[OTHER_USER] != "renamed"
    read = {n["user_id"]: n["is_read"] for n in visible(db, "notifications")}
    assert read == {USER: True, OTHER_USER: False}
