"""The Supabase store: which store a process picks, how its client is set up, and errors.

Errors of every kind (PostgREST's, the gateway's, the network's) become
StoreUnavailable, never carry the key, and never leave a change half-written.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from cascadian.bootstrap import database_url, open_store
from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.data import NodeRun, RunOutcome, RunResult
from cascadian.errors import ConfigurationError, StoreUnavailable
from cascadian.store.postgrest_transport import PostgrestTransport
from cascadian.store.psycopg_transport import PsycopgTransport
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from cascadian.web.app import create_app
from tests.conftest import SUPABASE_KEY, SUPABASE_URL
from tests.executors import ScriptedExecutor
from tests.factories import add_strategy, rows, strategy
from tests.supabase_forwarder import PostgrestForwarder, error

NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)
FINISH = "/rest/v1/rpc/cascadian_finish_runs_v6"
CLAIM = "/rest/v1/rpc/cascadian_claim_due_v6"


def settings(**env: Any) -> Settings:
    base: dict[str, Any] = {
        "CASCADIAN_TICK_BUDGET_SECONDS": 50,
        "CASCADIAN_STRATEGY_TIMEOUT_SECONDS": 5,
        "CASCADIAN_LEASE_SECONDS": 60,
    }
    return Settings(**(base | env))


def router_with(forwarder: PostgrestForwarder, **routes: Any) -> respx.MockRouter:
    """A router whose given routes (path=side effect) come before the forwarder's."""
    router = respx.MockRouter(base_url=SUPABASE_URL, assert_all_called=False)
    for path, effect in routes.items():
        router.post(path=path).mock(side_effect=effect)
    return forwarder.install(router)


# Which store


@pytest.mark.parametrize("url_var", ["SUPABASE_URL", "NEXT_PUBLIC_SUPABASE_URL"])
async def test_supabase_settings_select_the_supabase_store_over_database_url(
    url_var: str, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cascadian.bootstrap")
    chosen = await open_store(
        settings(
            **{
                url_var: "https://abcd.supabase.co",
                "SUPABASE_SERVICE_ROLE_KEY": "sb_secret_do-not-log-me",
                "DATABASE_URL": database_url,
            }
        )
    )
    try:
        assert isinstance(chosen.transport, PostgrestTransport)
    finally:
        await chosen.close()
    assert "store: supabase abcd.supabase.co" in caplog.text
    assert "do-not-log-me" not in caplog.text


async def test_without_supabase_settings_database_url_selects_the_postgres_store(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cascadian.bootstrap")
    # A front-end's public URL alone (no service key) does not select Supabase.
    env = {"DATABASE_URL": database_url, "NEXT_PUBLIC_SUPABASE_URL": "https://abcd.supabase.co"}
    chosen = await open_store(settings(**env))
    try:
        assert isinstance(chosen.transport, PsycopgTransport)
    finally:
        await chosen.close()
    assert "(DATABASE_URL)" in caplog.text
    assert "password" not in caplog.text and "@" not in caplog.text


@pytest.mark.parametrize("supabase", [False, True], ids=["postgres", "supabase"])
@pytest.mark.parametrize("value", ["true", None])
async def test_node_log_rows_reaches_the_store_on_either_transport(
    supabase: bool, value: str | None, database_url: str
) -> None:
    env = {"DATABASE_URL": database_url}
    if supabase:
        env |= {"SUPABASE_URL": "https://abcd.supabase.co", "SUPABASE_SERVICE_ROLE_KEY": "k"}
    if value is not None:
        env["CASCADIAN_NODE_LOG_ROWS"] = value
    chosen = await open_store(settings(**env))
    try:
        assert chosen.node_log_rows is (value is not None)
    finally:
        await chosen.close()


def test_migrations_with_supabase_need_a_direct_database_url() -> None:
    env = {"SUPABASE_URL": "https://abcd.supabase.co", "SUPABASE_SERVICE_ROLE_KEY": "k"}
    with pytest.raises(ConfigurationError, match="session mode"):
        database_url(settings(**env))


def test_a_supabase_url_that_is_not_a_url_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="SUPABASE_URL"):
        settings(SUPABASE_URL="abcd.supabase.co", SUPABASE_SERVICE_ROLE_KEY="k")


def test_a_placeholder_service_key_is_refused_in_production() -> None:
    with pytest.raises(ValueError, match="SUPABASE_SERVICE_ROLE_KEY is a placeholder"):
        settings(
            SUPABASE_URL="https://abcd.supabase.co",
            SUPABASE_SERVICE_ROLE_KEY="changeme",
            ENVIRONMENT="production",
        )


# The client


async def test_the_client_uses_our_http_client_and_never_retries() -> None:
    store = await open_store(
        settings(SUPABASE_URL="https://abcd.supabase.co/", SUPABASE_SERVICE_ROLE_KEY="sb_secret_x")
    )
    assert isinstance(store.transport, PostgrestTransport)
    # Well under the 50 s tick budget: a fifth of it, at most 10 s.
    assert store.transport._http.timeout == httpx.Timeout(10.0, connect=5.0)
    with respx.mock(assert_all_called=True) as router:
        busy = router.post("https://abcd.supabase.co/rest/v1/rpc/cascadian_ping_v1").respond(
            503, json={"message": "busy"}
        )
        with pytest.raises(StoreUnavailable):
            await store.ping()
    # A retried call would have slept 1, 2, 4 s of the tick budget.
    assert busy.call_count == 1
    await store.close()
    assert store.transport._http.is_closed


async def test_the_app_lifespan_creates_the_client_once_and_closes_it() -> None:
    app = create_app(
        settings(SUPABASE_URL="https://abcd.supabase.co", SUPABASE_SERVICE_ROLE_KEY="sb_secret_x")
    )
    async with app.router.lifespan_context(app):
        store = app.state.store
        assert isinstance(store.transport, PostgrestTransport)
        assert not store.transport._http.is_closed
    assert store.transport._http.is_closed


# Errors


async def test_a_postgrest_error_is_store_unavailable_without_the_key(
    forwarder: PostgrestForwarder, db: Any
) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        return error(500, "XX000", f"internal error near {SUPABASE_KEY}")

    store = await forwarder.store(router_with(forwarder, **{CLAIM: broken}))
    try:
        with pytest.raises(StoreUnavailable) as caught:
            await store.claim_due(NOW, 25, 60)
    finally:
        await store.close()
    message = str(caught.value)
    assert "cascadian_claim_due_v6" in message and "XX000" in message
    assert SUPABASE_KEY not in message


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("bye")],
    ids=["connect", "timeout", "protocol"],
)
async def test_a_transport_error_is_store_unavailable(
    forwarder: PostgrestForwarder, db: Any, failure: Exception
) -> None:
    store = await forwarder.store(router_with(forwarder, **{CLAIM: failure}))
    try:
        with pytest.raises(
            StoreUnavailable, match=f"database unavailable: supabase {type(failure).__name__}"
        ):
            await store.claim_due(NOW, 25, 60)
    finally:
        await store.close()


async def test_a_gateway_page_instead_of_json_is_store_unavailable(
    forwarder: PostgrestForwarder, db: Any
) -> None:
    def gateway(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad gateway</html>")

    store = await forwarder.store(router_with(forwarder, **{CLAIM: gateway}))
    try:
        with pytest.raises(StoreUnavailable, match="502"):
            await store.claim_due(NOW, 25, 60)
    finally:
        await store.close()


async def test_a_wrong_key_says_which_setting_to_check_without_echoing_it(
    forwarder: PostgrestForwarder, db: Any
) -> None:
    store = await forwarder.store(key="sb_secret_wrong-key")
    try:
        with pytest.raises(StoreUnavailable, match="SUPABASE_SERVICE_ROLE_KEY") as caught:
            await store.ping()
    finally:
        await store.close()
    assert "wrong-key" not in str(caught.value)


async def test_a_missing_function_says_to_migrate(forwarder: PostgrestForwarder, db: Any) -> None:
    def not_in_cache(request: httpx.Request) -> httpx.Response:
        message = "Could not find the function public.cascadian_claim_due_v6 in the schema cache"
        return error(404, "PGRST202", message)

    store = await forwarder.store(router_with(forwarder, **{CLAIM: not_in_cache}))
    try:
        with pytest.raises(StoreUnavailable, match="run `cascadian migrate`"):
            await store.claim_due(NOW, 25, 60)
    finally:
        await store.close()


async def test_a_batch_that_fails_in_sql_writes_none_of_its_outcomes(
    supabase_store: SqlStore, db: Any
) -> None:
    for _ in range(2):
        add_strategy(db, next_execution_at=NOW)
    good, bad = await supabase_store.claim_due(NOW, 25, 60)
    outcomes = [
        RunOutcome(good.execution_id, good.workflow.id, RunResult(True, {}, [], 1, 5), NOW, NOW),
        # A duration no integer column holds: the outcome itself cannot be written.
        RunOutcome(bad.execution_id, bad.workflow.id, RunResult(True, {}, [], 1, 2**40), NOW, NOW),
    ]
    with pytest.raises(StoreUnavailable, match="22003"):  # numeric value out of range
        await supabase_store.finish_runs(outcomes, 3)
    assert rows(db, "select status from workflow_executions") == [
        {"status": "running"},
        {"status": "running"},
    ]
    assert all(strategy(db, c.workflow.id)["execution_count"] == 0 for c in (good, bad))


async def test_node_logs_the_database_refuses_leave_the_run_recorded(
    supabase_store: SqlStore, db: Any
) -> None:
    supabase_store.node_log_rows = True  # CASCADIAN_NODE_LOG_ROWS: the table checks each log
    add_strategy(db, next_execution_at=NOW)
    [claim] = await supabase_store.claim_due(NOW, 25, 60)
    broken_log = NodeRun("n1", "filter", "exploded")  # type: ignore[arg-type]
    result = RunResult(True, {}, [], 1, 5, [broken_log])
    [recorded] = await supabase_store.finish_runs(
        [RunOutcome(claim.execution_id, claim.workflow.id, result, NOW, NOW)], 3
    )
    assert recorded.accepted
    assert recorded.side_errors[0].startswith("node logs not stored:")
    assert "strategy_execution_logs_status_check" in recorded.side_errors[0]
    [run] = rows(db, "select status, errors from workflow_executions")
    assert run["status"] == "completed"
    assert run["errors"][-1]["error"] == recorded.side_errors[0]
    assert strategy(db, claim.workflow.id)["execution_count"] == 1
    assert rows(db, "select * from strategy_execution_logs") == []


async def test_a_tick_records_the_others_when_one_outcome_gets_a_500(
    forwarder: PostgrestForwarder, db: Any
) -> None:
    poisoned = add_strategy(db, next_execution_at=NOW, name="poisoned")
    others = [add_strategy(db, next_execution_at=NOW) for _ in range(3)]

    def refuse_poisoned(request: httpx.Request) -> httpx.Response | None:
        if str(poisoned) in request.content.decode():
            return error(500, "XX000", "simulated failure for one outcome")
        return None  # not this route: the forwarder records it

    store = await forwarder.store(router_with(forwarder, **{FINISH: refuse_poisoned}))
    try:
        report = await TickService(store, ScriptedExecutor(), settings(), FakeClock(NOW)).tick()
    finally:
        await store.close()
    assert len(report.executions) == 4
    assert [e.workflow_name for e in report.executions if not e.recorded] == ["poisoned"]
    assert all(strategy(db, s)["execution_count"] == 1 for s in others)
    # Unrecorded: still leased, so a later tick re-runs it once the lease expires.
    assert strategy(db, poisoned)["lease_token"] is not None
    assert not report.success and "1 outcome(s) not recorded" in (report.error or "")
    assert "simulated failure" in (report.error or "")


async def test_the_cron_endpoint_answers_503_when_supabase_is_unreachable(
    forwarder: PostgrestForwarder, db: Any
) -> None:
    add_strategy(db, next_execution_at=NOW - timedelta(minutes=1))
    down = httpx.ConnectError("connection refused")
    store = await forwarder.store(
        router_with(forwarder, **{CLAIM: down, "/rest/v1/rpc/cascadian_record_tick_v3": down})
    )
    executor = ScriptedExecutor()
    app = create_app(settings(CRON_SECRET="s3cr3t-cron"), store=store, executor=executor)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                reply = await client.post(
                    "/api/cron/strategy-executor", headers={"Authorization": "Bearer s3cr3t-cron"}
                )
    finally:
        await store.close()
    assert reply.status_code == 503
    body = reply.json()
    assert (
        body["success"] is False and "database unavailable: supabase ConnectError" in body["error"]
    )
    assert executor.calls == []
    assert rows(db, "select * from workflow_executions") == []
