"""Exactly what the store sends to PostgREST for each store call: path, method, headers, body.

Each call goes through respx to the real database (tests/supabase_forwarder.py),
so the request is also proven to be one PostgREST answers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from cascadian.data import (
    Actor,
    Notification,
    RunOutcome,
    RunResult,
    Schedule,
    StrategyChanges,
    StrategyDraft,
    StrategyGraph,
    StrategyQuery,
    WatchlistEntry,
)
from cascadian.reports import TickReport
from cascadian.store.sql_store import SqlStore
from tests.conftest import SUPABASE_KEY
from tests.factories import OPERATOR, USER, add_strategy
from tests.supabase_forwarder import PostgrestForwarder

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NOW_ISO = "2026-06-01T12:00:00+00:00"
ACTOR_JSON = {"kind": "operator", "user_id": None, "source": "api", "address": "127.0.0.1"}
SID = uuid.UUID("22222222-2222-4222-8222-222222222222")
EID = uuid.UUID("33333333-3333-4333-8333-333333333333")
TICK_ID = uuid.UUID("44444444-4444-4444-8444-444444444444")


@pytest.fixture
async def wire(
    forwarder: PostgrestForwarder, db: Any
) -> AsyncIterator[tuple[SqlStore, respx.MockRouter]]:
    add_strategy(db, next_execution_at=None, id=SID)  # for the calls that reference it
    router = forwarder.router()
    store = await forwarder.store(router)
    yield store, router
    await store.close()


def the_request(router: respx.MockRouter) -> httpx.Request:
    [call] = router.calls
    return call.request


def assert_authenticated(request: httpx.Request) -> None:
    assert request.headers["apikey"] == SUPABASE_KEY
    assert request.headers["authorization"] == f"Bearer {SUPABASE_KEY}"
    assert request.headers["x-client-info"].startswith("supabase-py/")


GRAPH = StrategyGraph([{"id": "start", "type": "start"}], [], {"v": 1})
GRAPH_JSON = {"nodes": [{"id": "start", "type": "start"}], "edges": [], "variables": {"v": 1}}
OUTCOME = RunOutcome(EID, SID, RunResult(True, {"end": {}}, [], 2, 40), NOW, NOW)
CALLS: list[tuple[str, Callable[[SqlStore], Awaitable[Any]], dict[str, Any]]] = [
    (
        "cascadian_claim_due_v6",
        lambda s: s.claim_due(NOW, 25, 120.0, 10),
        {"p_now": NOW_ISO, "p_limit": 25, "p_lease_seconds": 120.0, "p_owner_limit": 10},
    ),
    (
        "cascadian_finish_runs_v6",
        lambda s: s.finish_runs([OUTCOME], 3),
        {
            "p_outcomes": [
                {
                    "execution_id": str(EID),
                    "workflow_id": str(SID),
                    "success": True,
                    "finished_at": NOW_ISO,
                    "duration_ms": 40,
                    "nodes_executed": 2,
                    "outputs": {"end": {}},
                    "errors": [],
                    "error_message": None,
                    "next_execution_at": NOW_ISO,
                    "logs": [],
                }
            ],
            "p_pause_threshold": 3,
            "p_log_rows": False,
        },
    ),
    ("cascadian_next_due_v2", lambda s: s.next_due(NOW), {"p_now": NOW_ISO}),
    (
        "cascadian_release_runs_v2",
        lambda s: s.release([EID]),
        {"p_execution_ids": [str(EID)]},
    ),
    (
        "cascadian_record_tick_v3",
        lambda s: s.record_tick(TickReport("cron", NOW, finished_at=NOW, id=TICK_ID)),
        {
            "p_tick": {
                "id": str(TICK_ID),
                "trigger": "cron",
                "started_at": NOW_ISO,
                "finished_at": NOW_ISO,
                "success": True,
                "strategies_checked": 0,
                "strategies_executed": 0,
                "succeeded": 0,
                "failed": 0,
                "released": 0,
                "execution_time_ms": 0,
                "error": None,
                "summary": {"auto_paused": 0, "cancelled": 0},
                "delivery_id": None,
            }
        },
    ),
    (
        "cascadian_add_to_watchlist_v1",
        lambda s: s.add_to_watchlist(SID, None, [WatchlistEntry("m1", "cheap", {"p": 0.3})]),
        {
            "p_workflow_id": str(SID),
            "p_execution_id": None,
            "p_entries": [{"market_id": "m1", "reason": "cheap", "metadata": {"p": 0.3}}],
        },
    ),
    (
        "cascadian_notify_v2",
        lambda s: s.notify(Notification(USER, SID, "Alert", "m1 is cheap", link="/m/m1"), NOW),
        {
            "p_now": NOW_ISO,
            "p": {
                "user_id": str(USER),
                "workflow_id": str(SID),
                "title": "Alert",
                "message": "m1 is cheap",
                "type": "strategy_update",
                "priority": "normal",
                "link": "/m/m1",
                "metadata": {},
            },
        },
    ),
    (
        "cascadian_claim_manual_v5",
        lambda s: s.claim_manual(SID, NOW, 120.0, OPERATOR),
        {
            "p_id": str(SID),
            "p_now": NOW_ISO,
            "p_lease_seconds": 120.0,
            "p_actor": ACTOR_JSON,
        },
    ),
    (
        "cascadian_cancel_runs_v2",
        lambda s: s.cancel_runs([EID], "worker stopped", NOW),
        {"p_execution_ids": [str(EID)], "p_reason": "worker stopped", "p_now": NOW_ISO},
    ),
    (
        "cascadian_start_v6",
        lambda s: s.start(SID, Schedule(15, "*/15 * * * *", "Asia/Tokyo"), NOW, NOW, OPERATOR),
        {
            "p_id": str(SID),
            "p_now": NOW_ISO,
            "p_interval": 15,
            "p_cron": "*/15 * * * *",
            "p_timezone": "Asia/Tokyo",
            "p_next": NOW_ISO,
            "p_actor": ACTOR_JSON,
        },
    ),
    (
        "cascadian_halt_v4",
        lambda s: s.pause(SID, NOW, OPERATOR),
        {"p_id": str(SID), "p_status": "paused", "p_now": NOW_ISO, "p_actor": ACTOR_JSON},
    ),
    (
        "cascadian_halt_v4",
        lambda s: s.stop(SID, NOW, OPERATOR),
        {"p_id": str(SID), "p_status": "stopped", "p_now": NOW_ISO, "p_actor": ACTOR_JSON},
    ),
    (
        "cascadian_resume_v6",
        lambda s: s.resume(SID, NOW, NOW, OPERATOR),
        {"p_id": str(SID), "p_now": NOW_ISO, "p_next": NOW_ISO, "p_actor": ACTOR_JSON},
    ),
    (
        "cascadian_strategies_v3",
        lambda s: s.strategy_status(SID, NOW),
        {"p_now": NOW_ISO, "p_id": str(SID), "p_limit": 1, "p_offset": 0, "p_user": None},
    ),
    (
        "cascadian_strategies_v3",
        lambda s: s.strategy_status(SID, NOW, USER),
        {"p_now": NOW_ISO, "p_id": str(SID), "p_limit": 1, "p_offset": 0, "p_user": str(USER)},
    ),
    (
        "cascadian_executions_v2",
        lambda s: s.executions(SID, 20, 40, USER),
        {"p_workflow_id": str(SID), "p_limit": 20, "p_offset": 40, "p_user": str(USER)},
    ),
    (
        "cascadian_execution_v4",
        lambda s: s.execution(EID),
        {"p_id": str(EID), "p_user": None},
    ),
    (
        "cascadian_count_user_request_v2",
        lambda s: s.count_request(USER, NOW, 60),
        {"p_user": str(USER), "p_now": NOW_ISO, "p_limit": 60},
    ),
    (
        "cascadian_take_user_slot_v1",
        lambda s: s.take_slot(USER, "dry-run", 2, NOW, 120.0),
        {
            "p_user": str(USER),
            "p_kind": "dry-run",
            "p_max": 2,
            "p_now": NOW_ISO,
            "p_seconds": 120.0,
        },
    ),
    (
        "cascadian_give_user_slot_v1",
        lambda s: s.give_slot(EID),
        {"p_id": str(EID)},
    ),
    (
        "cascadian_ticks_v2",
        lambda s: s.ticks(10),
        {"p_limit": 10},
    ),
    (
        "cascadian_create_strategy_v2",
        lambda s: s.create_strategy(
            StrategyDraft(USER, "new", GRAPH, Schedule(5, None, "UTC")), True, NOW, NOW, OPERATOR
        ),
        {
            "p_now": NOW_ISO,
            "p_actor": ACTOR_JSON,
            "p": {
                "user_id": str(USER),
                "name": "new",
                "description": None,
                **GRAPH_JSON,
                "trigger": None,
                "interval_minutes": 5,
                "cron": None,
                "timezone": "UTC",
                "start": True,
                "next_execution_at": NOW_ISO,
                "origin": "create",
            },
        },
    ),
    (
        "cascadian_create_user_strategy_v1",
        lambda s: s.create_user_strategy(
            StrategyDraft(SID, "new", GRAPH, Schedule(5, None, "UTC")),
            False,
            None,
            NOW,
            Actor.user(USER, "api", "127.0.0.1"),
            False,
            3,
        ),
        {
            "p_now": NOW_ISO,
            "p_actor": {
                "kind": "user",
                "user_id": str(USER),
                "source": "api",
                "address": "127.0.0.1",
            },
            "p_max": 3,
            "p": {
                "origin": "create",
                "user_id": str(SID),
                "name": "new",
                "description": None,
                **GRAPH_JSON,
                "trigger": None,
                "interval_minutes": 5,
                "cron": None,
                "timezone": "UTC",
                "start": False,
                "next_execution_at": None,
            },
        },
    ),
    (
        "cascadian_strategy_v3",
        lambda s: s.strategy(SID, NOW, USER),
        {"p_id": str(SID), "p_now": NOW_ISO, "p_user": str(USER)},
    ),
    (
        "cascadian_list_strategies_v3",
        lambda s: s.strategies(StrategyQuery(q="a", sort="last_run", limit=10), NOW),
        {
            "p_user": None,
            "p_now": NOW_ISO,
            "p": {
                "status": None,
                "user_id": None,
                "auto_run": None,
                "q": "a",
                "sort": "last_run",
                "descending": False,
                "limit": 10,
                "offset": 0,
            },
        },
    ),
    (
        "cascadian_new_version_v5",
        lambda s: s.new_version(
            SID, StrategyChanges(name="v2", graph=GRAPH), None, None, NOW, OPERATOR
        ),
        {
            "p_id": str(SID),
            "p_now": NOW_ISO,
            "p": {**GRAPH_JSON, "trigger": None, "name": "v2"},
            "p_actor": ACTOR_JSON,
        },
    ),
    (
        "cascadian_update_strategy_v4",
        lambda s: s.update_strategy(
            SID, StrategyChanges(interval_minutes=7), Schedule(7), NOW, NOW, OPERATOR
        ),
        {
            "p_id": str(SID),
            "p_now": NOW_ISO,
            "p_actor": ACTOR_JSON,
            "p": {
                "schedule": True,
                "interval_minutes": 7,
                "cron": None,
                "timezone": "UTC",
                "next_execution_at": NOW_ISO,
            },
        },
    ),
    (
        "cascadian_archive_strategy_v2",
        lambda s: s.archive_strategy(SID, NOW, OPERATOR),
        {"p_id": str(SID), "p_now": NOW_ISO, "p_actor": ACTOR_JSON},
    ),
]


@pytest.mark.parametrize(
    ("fn", "call", "body"), CALLS, ids=[f"{fn}-{i}" for i, (fn, _, _) in enumerate(CALLS)]
)
async def test_each_store_call_is_one_rpc_post_with_named_arguments(
    wire: tuple[SqlStore, respx.MockRouter],
    fn: str,
    call: Callable[[SqlStore], Awaitable[Any]],
    body: dict[str, Any],
) -> None:
    store, router = wire
    await call(store)
    request = the_request(router)
    assert request.method == "POST"
    assert request.url.path == f"/rest/v1/rpc/{fn}" and not request.url.query
    assert_authenticated(request)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["content-profile"] == "public"
    assert "prefer" not in request.headers  # PostgREST's defaults: no count, full answer
    assert json.loads(request.content) == body


async def test_ping_is_one_function_call_not_a_table_read(
    wire: tuple[SqlStore, respx.MockRouter],
) -> None:
    # Tables created after Supabase's 2026 change have no Data API grants; our
    # functions always do (migrations/019).
    store, router = wire
    await store.ping()
    request = the_request(router)
    assert (request.method, request.url.path) == ("POST", "/rest/v1/rpc/cascadian_ping_v1")
    assert_authenticated(request)
    assert json.loads(request.content) == {}


async def test_a_claim_answer_is_read_from_postgrest_json(
    wire: tuple[SqlStore, respx.MockRouter], db: Any
) -> None:
    # PostgREST answers timestamps as ISO strings and uuids as strings; the
    # store turns them back into datetimes and UUIDs.
    store, router = wire
    db.execute("update workflow_sessions set next_execution_at = %s", (NOW,))
    [claim] = await store.claim_due(NOW, 25, 60)
    [row] = json.loads(router.calls.last.response.content)
    assert row["workflow_id"] == str(SID) and row["scheduled_for"] == NOW_ISO
    assert claim.workflow.id == SID and claim.scheduled_for == NOW
    assert claim.execution_id == uuid.UUID(row["execution_id"])
