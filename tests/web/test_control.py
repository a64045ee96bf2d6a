"""The operators' strategy API: auth, every endpoint's answers, and control meeting runs."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian.data import RunResult, Workflow
from cascadian.store.sql_store import SqlStore
from tests.api_client import CRON, KEY, bearer, client
from tests.executors import ScriptedExecutor, failed, ok, returns
from tests.factories import add_strategy, rows, strategy

# The key scenarios: on a fresh database and on one shaped like an existing deployment.
pytestmark = pytest.mark.both_schemas

UNAUTHORIZED = {
    "success": False,
    "error": "Unauthorized",
    "message": "Invalid or missing ADMIN_API_KEY",
}
ENDPOINTS = [
    ("POST", "/api/strategies/{}/start"),
    ("POST", "/api/strategies/{}/pause"),
    ("POST", "/api/strategies/{}/stop"),
    ("POST", "/api/strategies/{}/resume"),
    ("POST", "/api/strategies/{}/execute-now"),
    ("GET", "/api/strategies/{}/status"),
    ("GET", "/api/strategies/{}/executions"),
    ("GET", "/api/executions/{}"),
]


def now() -> datetime:
    return datetime.now(UTC)


def at(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class Gate:
    """A run that waits, once it has started, until the test lets it finish."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, _: Workflow) -> RunResult:
        self.entered.set()
        await self.release.wait()
        return ok()


@pytest.fixture
async def dead_store() -> AsyncIterator[SqlStore]:
    store = SqlStore.postgres("postgresql://postgres@127.0.0.1:9/none", timeout=0.5)
    await store.open()
    yield store
    await store.close()


# Auth, unknown and malformed ids, for every endpoint.


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("token", [None, "wrong", CRON])
async def test_a_missing_or_wrong_key_gets_401_without_touching_the_database(
    dead_store: SqlStore, method: str, path: str, token: str | None
) -> None:
    headers = {"Authorization": ""} if token is None else bearer(token)
    async with client(dead_store) as c:
        reply = await c.request(method, path.format(uuid.uuid4()), headers=headers)
    assert reply.status_code == 401
    body = reply.json()
    assert datetime.fromisoformat(body.pop("timestamp"))
    assert body == UNAUTHORIZED


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_an_unknown_id_gets_404(store: SqlStore, db: Any, method: str, path: str) -> None:
    async with client(store) as c:
        reply = await c.request(method, path.format(uuid.uuid4()))
    assert reply.status_code == 404
    body = reply.json()
    assert body["success"] is False and body["error"] == "Not Found"
    assert body["message"] in ("strategy not found", "execution not found")


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "' or 1=1 --"])
async def test_a_malformed_id_gets_422_not_500(
    dead_store: SqlStore, method: str, path: str, bad_id: str
) -> None:
    async with client(dead_store) as c:
        reply = await c.request(method, path.format(bad_id))
    assert reply.status_code == 422
    body = reply.json()
    assert body["error"] == "Validation Error" and body["details"][0]["loc"][0] == "path"


async def test_production_without_an_admin_key_refuses_every_request(
    dead_store: SqlStore,
) -> None:
    async with client(dead_store, ADMIN_API_KEY=None, ENVIRONMENT="production") as c:
        reply = await c.get(f"/api/strategies/{uuid.uuid4()}/status")
    assert reply.status_code == 503
    assert reply.json()["error"] == "Misconfigured"


async def test_the_key_never_appears_in_answers_or_logs(
    store: SqlStore, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sid = add_strategy(db, next_execution_at=None, status="draft", auto_run=False)
    with caplog.at_level(logging.DEBUG):
        async with client(store) as c:
            texts = [
                (await c.post(f"/api/strategies/{sid}/start")).text,
                (await c.get(f"/api/strategies/{sid}/status", headers=bearer("x"))).text,
            ]
    assert all(KEY not in t for t in texts) and KEY not in caplog.text


# start


async def test_start_schedules_a_strategy_on_the_cron_it_is_given(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None, status="draft", auto_run=False)
    body = {"cron": "*/15 * * * *", "timezone": "Asia/Kolkata"}
    async with client(store) as c:
        reply = await c.post(f"/api/strategies/{sid}/start", json=body)
    assert reply.status_code == 200
    data = reply.json()["data"]
    assert (data["status"], data["auto_run"]) == ("running", True)
    assert data["schedule"] == {
        "interval_minutes": 5,
        "cron": "*/15 * * * *",
        "timezone": body["timezone"],
    }
    nxt = at(data["next_execution_at"])
    assert nxt is not None and now() < nxt <= now() + timedelta(minutes=15)
    assert nxt.minute % 15 == 0 and nxt.second == 0
    assert strategy(db, sid)["next_execution_at"] == nxt


async def test_start_without_a_body_keeps_the_strategys_interval(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None, status="stopped", auto_run=False, interval=10)
    before = now()
    async with client(store) as c:
        reply = await c.post(f"/api/strategies/{sid}/start")
    assert reply.status_code == 200
    nxt = at(reply.json()["data"]["next_execution_at"])
    assert nxt is not None and before + timedelta(minutes=10) <= nxt <= now() + timedelta(
        minutes=10
    )


async def test_start_with_an_interval_replaces_a_cron_schedule(store: SqlStore, db: Any) -> None:
    sid = add_strategy(
        db, next_execution_at=None, status="paused", auto_run=False, cron="0 9 * * *"
    )
    async with client(store) as c:
        reply = await c.post(f"/api/strategies/{sid}/start", json={"interval_minutes": 2})
    assert reply.json()["data"]["schedule"] == {
        "interval_minutes": 2,
        "cron": None,
        "timezone": "UTC",
    }


async def test_start_of_a_running_strategy_is_409(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=now() + timedelta(minutes=3))
    async with client(store) as c:
        reply = await c.post(f"/api/strategies/{sid}/start", json={"interval_minutes": 1})
    assert reply.status_code == 409
    assert reply.json()["message"] == "the strategy is already running"
    assert strategy(db, sid)["execution_interval_minutes"] == 5


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"cron": "every minute"}, "invalid cron expression 'every minute'"),
        ({"cron": "61 * * * *"}, "invalid cron expression '61 * * * *'"),
        ({"cron": "0 0 30 2 *"}, "invalid cron expression '0 0 30 2 *'"),
        ({"cron": "0 9 * * *", "timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"interval_minutes": 0}, "the request is not valid"),
        ({"interval_minutes": 10**12}, "the request is not valid"),
        ({"timezone": "America"}, "unknown time zone 'America'"),
        ({"intervalMinutes": 5}, "the request is not valid"),
    ],
)
async def test_start_with_an_invalid_schedule_is_422_with_a_clear_message(
    store: SqlStore, db: Any, body: dict[str, Any], message: str
) -> None:
    sid = add_strategy(db, next_execution_at=None, status="draft", auto_run=False)
    async with client(store) as c:
        reply = await c.post(f"/api/strategies/{sid}/start", json=body)
    assert reply.status_code == 422
    assert message in reply.json()["message"]
    assert strategy(db, sid)["status"] == "draft"


# pause, stop


@pytest.mark.parametrize("action", ["pause", "stop"])
async def test_pause_and_stop_halt_the_strategy_and_notify_its_owner(
    store: SqlStore, db: Any, action: str
) -> None:
    sid = add_strategy(db, next_execution_at=now() + timedelta(minutes=1), name="Halt me")
    async with client(store) as c:
        reply = await c.post(f"/api/strategies/{sid}/{action}")
        again = await c.post(f"/api/strategies/{sid}/{action}")
    status = {"pause": "paused", "stop": "stopped"}[action]
    assert reply.status_code == 200
    data = reply.json()["data"]
    assert (data["status"], data["auto_run"]) == (status, False)
    [n] = rows(db, "select title, priority from notifications")
    assert n == {"title": f"Strategy {status}: Halt me", "priority": "normal"}
    assert again.status_code == 409
    assert again.json()["message"] == f"the strategy is already {status}"


async def test_stop_during_a_scheduled_run_records_it_but_does_not_rearm(
    store: SqlStore, db: Any
) -> None:
    slot = now() - timedelta(seconds=1)
    sid = add_strategy(db, next_execution_at=slot, name="slow")
    gate = Gate()
    async with client(store, ScriptedExecutor(slow=gate)) as c:
        tick = asyncio.create_task(c.post("/api/cron/strategy-executor", headers=bearer(CRON)))
        await asyncio.wait_for(gate.entered.wait(), timeout=10)
        stopped = await c.post(f"/api/strategies/{sid}/stop")
        gate.release.set()
        ticked = await tick
        after = await c.get(f"/api/strategies/{sid}/status")
    assert stopped.status_code == 200 and stopped.json()["data"]["run_in_flight"] is True
    assert ticked.json()["data"]["executions"][0]["recorded"] is True
    data = after.json()["data"]
    assert (data["status"], data["auto_run"], data["run_in_flight"]) == ("stopped", False, False)
    assert (data["execution_count"], data["success_count"]) == (1, 1)
    assert at(data["next_execution_at"]) == slot  # not re-armed


# resume


async def test_resume_after_an_auto_pause_clears_the_error_state(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=now(), name="flaky", interval=1, error_count=2)
    executor = ScriptedExecutor(flaky=returns(failed("upstream 500")))
    async with client(store, executor) as c:
        await c.post("/api/cron/strategy-executor", headers=bearer(CRON))
        paused = (await c.get(f"/api/strategies/{sid}/status")).json()["data"]
        reply = await c.post(f"/api/strategies/{sid}/resume")
        again = await c.post(f"/api/strategies/{sid}/resume")
    assert (paused["status"], paused["auto_run"], paused["error_count"]) == ("error", False, 3)
    assert paused["last_error"] == "node 'n': upstream 500"
    assert reply.status_code == 200
    data = reply.json()["data"]
    assert (data["status"], data["auto_run"], data["error_count"], data["last_error"]) == (
        "running",
        True,
        0,
        None,
    )
    nxt = at(data["next_execution_at"])
    assert data["execution_count"] == 1 and nxt is not None and nxt > now()
    assert again.status_code == 409


async def test_resume_of_a_strategy_never_started_is_409(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None, status="draft", auto_run=False)
    async with client(store) as c:
        reply = await c.post(f"/api/strategies/{sid}/resume")
    assert reply.status_code == 409 and "use start" in reply.json()["message"]


# status, executions, one execution


async def test_status_reports_schedule_counters_and_the_run_in_flight(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(
        db,
        next_execution_at=now() - timedelta(seconds=1),
        name="Momentum",
        execution_count=4,
        success_count=3,
        average_execution_time_ms=120,
    )
    await store.claim_due(now(), 10, 60)
    async with client(store) as c:
        reply = await c.get(f"/api/strategies/{sid}/status")
    assert reply.status_code == 200
    data = reply.json()["data"]
    assert data["id"] == str(sid) and data["name"] == "Momentum"
    assert data["schedule"] == {"interval_minutes": 5, "cron": None, "timezone": "UTC"}
    assert (data["execution_count"], data["success_count"], data["success_rate"]) == (4, 3, 0.75)
    assert data["average_execution_time_ms"] == 120 and data["last_error"] is None
    assert data["run_in_flight"] is True and data["lease_expires_at"] is not None
    assert set(data) >= {"status", "auto_run", "next_execution_at", "last_executed_at"}


async def test_executions_come_newest_first_with_paging_metadata(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=now() + timedelta(hours=1))
    async with client(store) as c:
        made = [(await c.post(f"/api/strategies/{sid}/execute-now")).json() for _ in range(3)]
        page = (await c.get(f"/api/strategies/{sid}/executions?limit=2&offset=0")).json()
        rest = (await c.get(f"/api/strategies/{sid}/executions?limit=2&offset=2")).json()
        bad = [
            await c.get(f"/api/strategies/{sid}/executions", params=q)
            for q in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"offset": 2**40})
        ]
    ids = [m["data"]["id"] for m in made]
    assert [e["id"] for e in page["data"]] == ids[::-1][:2]
    assert [e["id"] for e in rest["data"]] == ids[:1]
    assert page["metadata"] == {"total": 3, "limit": 2, "offset": 0}
    assert page["data"][0]["trigger_kind"] == "manual" and "logs" not in page["data"][0]
    assert [r.status_code for r in bad] == [422] * 4


async def test_an_execution_comes_with_its_node_logs(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=now() + timedelta(hours=1), variables={"x": 1})
    async with client(store) as c:
        run = (await c.post(f"/api/strategies/{sid}/execute-now")).json()["data"]
        reply = await c.get(f"/api/executions/{run['id']}")
    assert reply.status_code == 200
    data = reply.json()["data"]
    assert data["workflow_id"] == str(sid) and data["status"] == "completed"
    assert [(n["node_id"], n["status"]) for n in data["logs"]] == [
        ("start", "success"),
        ("end", "success"),
    ]
    assert data["logs"][0]["output"] == {"x": 1}


# execute-now


async def test_execute_now_runs_synchronously_without_moving_the_schedule(
    store: SqlStore, db: Any
) -> None:
    slot = (now() + timedelta(hours=1)).replace(microsecond=0)
    sid = add_strategy(db, next_execution_at=slot)
    async with client(store) as c:
        reply = await c.post(f"/api/strategies/{sid}/execute-now")
    assert reply.status_code == 200
    body = reply.json()
    assert body["success"] is True and body["recorded"] is True and body["auto_paused"] is False
    run = body["data"]
    assert (run["status"], run["trigger_kind"], run["scheduled_for"], run["nodes_executed"]) == (
        "completed",
        "manual",
        None,
        2,
    )
    assert len(run["logs"]) == 2
    s = strategy(db, sid)
    assert s["next_execution_at"] == slot
    assert (s["execution_count"], s["success_count"], s["lease_token"]) == (1, 1, None)


async def test_execute_now_counts_towards_the_auto_pause(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=now() + timedelta(hours=1), name="bad", error_count=2)
    async with client(store, ScriptedExecutor(bad=returns(failed("no markets")))) as c:
        reply = await c.post(f"/api/strategies/{sid}/execute-now")
    assert reply.status_code == 200
    body = reply.json()
    assert body["data"]["status"] == "failed" and body["auto_paused"] is True
    assert body["data"]["error_message"] == "node 'n': no markets"
    s = strategy(db, sid)
    assert (s["status"], s["auto_run"], s["error_count"]) == ("error", False, 3)


async def test_execute_now_against_a_held_lease_is_409_and_runs_nothing(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=now() - timedelta(seconds=1))
    await store.claim_due(now(), 10, 60)
    executor = ScriptedExecutor()
    async with client(store, executor) as c:
        reply = await c.post(f"/api/strategies/{sid}/execute-now")
    assert reply.status_code == 409
    assert "in flight" in reply.json()["message"]
    assert executor.calls == []
    assert rows(db, "select count(*) as n from workflow_executions") == [{"n": 1}]


async def test_two_execute_nows_at_once_run_the_strategy_once(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None, status="draft", auto_run=False, name="once")
    gate = Gate()
    executor = ScriptedExecutor(once=gate)
    async with client(store, executor) as c:
        first = asyncio.create_task(c.post(f"/api/strategies/{sid}/execute-now"))
        await asyncio.wait_for(gate.entered.wait(), timeout=10)
        second = await c.post(f"/api/strategies/{sid}/execute-now")
        gate.release.set()
        assert (await first).status_code == 200
    assert second.status_code == 409 and executor.calls == ["once"]
    assert strategy(db, sid)["execution_count"] == 1
