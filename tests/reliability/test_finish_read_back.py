"""A Supabase record call that commits and then answers 5xx (or drops the connection)
is read back, not reported as lost.

Before: the PostgREST finish call (`cascadian_finish_runs_v6`) carried out and
committed, then answered 500 by the gateway in front, was reported "not recorded":
the tick said its runs would run again although they were done. Here the real SQL
runs (tests/supabase_forwarder.py), commits, and only then the answer goes wrong.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
import respx

from cascadian.data import RunOutcome, RunResult
from cascadian.errors import StoreAnswerLost, StoreRejected, StoreUnavailable
from cascadian.store.sql_store import SqlStore
from tests.factories import add_strategy
from tests.supabase_forwarder import PostgrestForwarder

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FINISH = r"^/rest/v1/rpc/cascadian_finish_runs_v6$"
READ_BACK = r"^/rest/v1/rpc/cascadian_execution_v4$"

Wire = tuple[SqlStore, respx.MockRouter, PostgrestForwarder]


@pytest.fixture
async def wire(forwarder: PostgrestForwarder, db: psycopg.Connection[Any]) -> AsyncIterator[Wire]:
    router = respx.MockRouter(base_url=forwarder.url, assert_all_called=False)
    store = await forwarder.store(router)
    yield store, router, forwarder
    await store.close()


def gateway_500(_: httpx.Request) -> httpx.Response:
    return httpx.Response(500, text="<html><body>500 Internal Server Error</body></html>")


def gateway_504_json(_: httpx.Request) -> httpx.Response:
    return httpx.Response(504, json={"message": "upstream request timeout"})


def dropped(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("Server disconnected without sending a response.")


def read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out waiting for the answer", request=request)


def after_commit(wire: Wire, answer: Callable[[httpx.Request], httpx.Response]) -> None:
    """The finish call runs and commits for real; then `answer` is what comes back."""
    _, router, forwarder = wire

    async def commit_then(request: httpx.Request, **_: Any) -> httpx.Response:
        await forwarder.rpc(request, "cascadian_finish_runs_v6")
        return answer(request)

    router.post(path__regex=FINISH).mock(side_effect=commit_then)


async def claimed(store: SqlStore, db: psycopg.Connection[Any]) -> RunOutcome:
    strategy = add_strategy(db, next_execution_at=NOW - timedelta(minutes=1))
    [run] = await store.claim_due(NOW, 25, 120.0)
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


@pytest.mark.parametrize("answer", [gateway_500, gateway_504_json, dropped, read_timeout])
async def test_a_finish_that_commits_and_then_fails_to_answer_is_read_back_as_recorded(
    wire: Wire, db: psycopg.Connection[Any], answer: Callable[[httpx.Request], httpx.Response]
) -> None:
    store, router, forwarder = wire
    after_commit(wire, answer)
    forwarder.install(router)
    outcome = await claimed(store, db)
    [recorded] = await store.finish_runs([outcome], 3)
    assert status_of(db, outcome) == ("completed", 1), "the call itself was committed"
    assert recorded.execution_id == outcome.execution_id
    assert recorded.accepted, "the database shows it recorded, so the report must too"
    assert "was lost" in recorded.side_errors[0]
    assert recorded.side_errors[0].endswith("read back: recorded")


async def test_a_5xx_before_anything_ran_reads_back_running_and_stays_unrecorded(
    wire: Wire, db: psycopg.Connection[Any]
) -> None:
    store, router, forwarder = wire
    router.post(path__regex=FINISH).mock(side_effect=gateway_500)
    forwarder.install(router)
    outcome = await claimed(store, db)
    with pytest.raises(StoreAnswerLost, match="reads back running") as info:
        await store.finish_runs([outcome], 3)
    assert isinstance(info.value, StoreUnavailable) and not isinstance(info.value, StoreRejected)
    assert status_of(db, outcome) == ("running", 0)


async def test_when_the_read_back_fails_too_the_outcome_is_unknown_not_recorded(
    wire: Wire, db: psycopg.Connection[Any]
) -> None:
    store, router, forwarder = wire
    after_commit(wire, gateway_500)
    router.post(path__regex=READ_BACK).respond(503, json={"code": "PGRST000", "message": "gone"})
    forwarder.install(router)
    outcome = await claimed(store, db)
    with pytest.raises(StoreAnswerLost, match="whether 1 outcome\\(s\\) were recorded is unknown"):
        await store.finish_runs([outcome], 3)


async def test_the_databases_own_refusal_is_believed_without_a_read_back(
    wire: Wire, db: psycopg.Connection[Any]
) -> None:
    store, router, forwarder = wire
    router.post(path__regex=FINISH).respond(
        503, json={"code": "PGRST001", "message": "could not connect to the database"}
    )
    read_back = router.post(path__regex=READ_BACK)
    forwarder.install(router)
    outcome = await claimed(store, db)
    with pytest.raises(StoreUnavailable) as info:
        await store.finish_runs([outcome], 3)
    assert type(info.value) is StoreUnavailable
    assert not read_back.called
