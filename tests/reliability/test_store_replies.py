"""Supabase's replies are checked before they are believed.

Before: a claim answer whose rows lacked keys raised `KeyError` in the tick; a record
call the database carried out but whose answer came back garbled was reported as
"not recorded", so the tick said its runs would run again although they were done.
Here the real SQL runs (tests/supabase_forwarder.py) and only the reply is garbled,
as a broken proxy or gateway would.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
import respx

from cascadian.data import RunOutcome, RunResult, Schedule
from cascadian.errors import StoreReplyMalformed, StoreUnavailable
from cascadian.store import console, control, runs, strategies
from cascadian.store.sql_store import SqlStore
from tests.factories import OPERATOR, add_strategy
from tests.supabase_forwarder import PostgrestForwarder

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
RPC = r"^/rest/v1/rpc/"


Wire = tuple[SqlStore, respx.MockRouter, PostgrestForwarder]


@pytest.fixture
async def wire(forwarder: PostgrestForwarder, db: psycopg.Connection[Any]) -> AsyncIterator[Wire]:
    router = respx.MockRouter(base_url=forwarder.url, assert_all_called=False)
    store = await forwarder.store(router)
    yield store, router, forwarder
    await store.close()


def answer(wire: Wire, fn: str, body: bytes) -> None:
    """`fn` runs for real; what comes back is `body` instead of its answer."""
    _, router, forwarder = wire

    async def garble(request: httpx.Request, **_: Any) -> httpx.Response:
        await forwarder.rpc(request, fn)
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    router.post(path__regex=f"{RPC}{fn}$").mock(side_effect=garble)


def forward_the_rest(wire: Wire) -> None:
    """Every other call goes to the real SQL; respx tries routes in order, so last."""
    _, router, forwarder = wire
    forwarder.install(router)


@pytest.mark.parametrize(
    "body",
    [
        b'[{"execution_id": "33333333-3333-4333-8333-333333333333"}]',  # rows lack keys
        b'[{"execution_id": 7, "workflow_id": [], "name": null}]',  # keys of the wrong type
        b'["not", "rows"]',
        b'{"rows": []}',
        b"<html>502 Bad Gateway</html>",
    ],
)
async def test_a_malformed_claim_answer_is_a_clear_store_error_not_a_key_error(
    wire: Wire, body: bytes
) -> None:
    store = wire[0]
    answer(wire, runs.CLAIM_DUE, body)
    forward_the_rest(wire)
    with pytest.raises(StoreReplyMalformed, match="malformed") as info:
        await store.claim_due(NOW, 25, 120.0)
    assert isinstance(info.value, StoreUnavailable), "a tick answers 503 for it, as for an outage"


async def claimed(store: SqlStore, db: psycopg.Connection[Any]) -> RunOutcome:
    strategy = add_strategy(db, next_execution_at=NOW - timedelta(minutes=1))
    [run] = await store.claim_due(NOW, 25, 120.0)
    assert run.workflow.id == strategy
    result = RunResult(True, {"end": {}}, [], 2, 40)
    return RunOutcome(run.execution_id, strategy, result, NOW + timedelta(minutes=5), NOW)


def status_of(db: psycopg.Connection[Any], outcome: RunOutcome) -> tuple[str, int]:
    row = db.execute(
        "select e.status, s.execution_count from workflow_executions e "
        "join workflow_sessions s on s.id = e.workflow_id where e.id = %s",
        (outcome.execution_id,),
    ).fetchone()
    assert row is not None
    return row[0], row[1]


@pytest.mark.parametrize("body", [b'[{"nonsense": true}]', b"[]", b'{"garbled'])
async def test_a_record_whose_answer_is_garbled_is_reported_as_the_database_shows_it(
    wire: Wire, db: psycopg.Connection[Any], body: bytes
) -> None:
    store = wire[0]
    answer(wire, runs.FINISH_RUNS, body)
    forward_the_rest(wire)
    outcome = await claimed(store, db)
    [recorded] = await store.finish_runs([outcome], 3)
    assert status_of(db, outcome) == ("completed", 1), "the call itself went through"
    assert recorded.execution_id == outcome.execution_id
    assert recorded.accepted, "the database shows it recorded, so the report must too"
    assert (
        "unreadable" in recorded.side_errors[0] and "read back: recorded" in recorded.side_errors[0]
    )


async def test_when_the_read_back_fails_too_the_record_is_reported_unknown(
    wire: Wire, db: psycopg.Connection[Any]
) -> None:
    store, router, _ = wire
    answer(wire, runs.FINISH_RUNS, json.dumps([{"nonsense": 1}]).encode())
    router.post(path__regex=f"{RPC}{control.EXECUTION}$").respond(
        503, json={"code": "PGRST000", "message": "upstream went away"}
    )
    forward_the_rest(wire)
    outcome = await claimed(store, db)
    with pytest.raises(
        StoreReplyMalformed, match="whether 1 outcome\\(s\\) were recorded is unknown"
    ):
        await store.finish_runs([outcome], 3)


async def test_a_run_that_reads_back_unwritten_is_not_reported_recorded(
    wire: Wire, db: psycopg.Connection[Any]
) -> None:
    store, router, _ = wire
    # The answer is garbled and the call never reached the database.
    router.post(path__regex=f"{RPC}{runs.FINISH_RUNS}$").respond(200, json=[{"x": 1}])
    forward_the_rest(wire)
    outcome = await claimed(store, db)
    with pytest.raises(StoreReplyMalformed, match="reads back running"):
        await store.finish_runs([outcome], 3)
    assert status_of(db, outcome) == ("running", 0)


SID = uuid.UUID("44444444-4444-4444-8444-444444444444")
LACKING_KEYS = b'[{"execution_id": "33333333-3333-4333-8333-333333333333", "result": "ok"}]'
Call = Callable[[SqlStore], Awaitable[object]]


# Each call, and an answer to it that cannot be read.
NAMED_ANSWERS: list[tuple[str, Call, bytes]] = [
    (runs.CLAIM_DUE, lambda s: s.claim_due(NOW, 25, 120.0), LACKING_KEYS),
    (runs.CLAIM_MANUAL, lambda s: s.claim_manual(SID, NOW, 120.0, OPERATOR), LACKING_KEYS),
    (runs.NEXT_DUE, lambda s: s.next_due(NOW), b'"not a time"'),
    (runs.TICKS, lambda s: s.ticks(10), b'[{"id": "not a uuid"}]'),
    (control.START, lambda s: s.start(SID, Schedule(5), NOW, NOW, OPERATOR), b'"perhaps"'),
    (control.HALT, lambda s: s.pause(SID, NOW, OPERATOR), b'"perhaps"'),
    (control.STRATEGIES, lambda s: s.strategy_status(SID, NOW), b'[{"id": 7}]'),
    (strategies.ARCHIVE_STRATEGY, lambda s: s.archive_strategy(SID, NOW, OPERATOR), b'"perhaps"'),
    (strategies.STRATEGY, lambda s: s.strategy(SID, NOW), b'{"id": "x"}'),
    (console.CONSOLE_OVERVIEW, lambda s: s.console_overview(NOW), b'{"in_flight": 1}'),
]


@pytest.mark.parametrize(
    ("function", "call", "body"), NAMED_ANSWERS, ids=[f for f, _, _ in NAMED_ANSWERS]
)
async def test_a_malformed_answer_names_the_function_that_was_called(
    wire: Wire, function: str, call: Call, body: bytes
) -> None:
    answer(wire, function, body)
    forward_the_rest(wire)
    with pytest.raises(StoreReplyMalformed, match=f"answer to {function} is malformed"):
        await call(wire[0])
