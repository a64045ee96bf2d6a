"""Hung workflows: a node that never returns is timed out, and the other strategies in the
same tick finish on time."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from cascadian.config import Settings
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeConfig, NodeContext, NodeServices, NodeType
from cascadian.workflow.registry import default_registry
from tests.factories import add_strategy, chain, node, rows

TIMEOUT = 1.0
QUICK = 9
SETTINGS: dict[str, Any] = {
    "CASCADIAN_STRATEGY_TIMEOUT_SECONDS": TIMEOUT,
    "CASCADIAN_TICK_BUDGET_SECONDS": 10,
    "CASCADIAN_LEASE_SECONDS": 30,
    "CASCADIAN_MAX_CONCURRENCY": QUICK + 1,
    "CASCADIAN_HTTP_ALLOWLIST": ["127.0.0.1:*"],
}


class NoConfig(NodeConfig):
    pass


async def _forever(config: NoConfig, ctx: NodeContext) -> Any:
    await asyncio.Event().wait()


async def _stubborn(config: NoConfig, ctx: NodeContext) -> Any:
    """Never returns in time: when cancelled it still does 3 s of clean-up first."""
    try:
        await asyncio.Event().wait()
    finally:
        await asyncio.shield(asyncio.sleep(3))


def registry() -> Any:
    r = default_registry()
    r.register(NodeType("forever", NoConfig, _forever))
    r.register(NodeType("stubborn", NoConfig, _stubborn))
    return r


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A local HTTP server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/never"
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    listener.close()


def arrange(db: psycopg.Connection[Any], hung_node: dict[str, Any]) -> None:
    slot = datetime.now(UTC) - timedelta(minutes=1)
    add_strategy(
        db,
        next_execution_at=slot,
        name="hung",
        graph=chain(node("start", "start"), hung_node, node("end", "end")),
    )
    for i in range(QUICK):
        add_strategy(
            db,
            next_execution_at=slot,
            name=f"quick {i}",
            graph=chain(
                node("start", "start"), node("wait", "delay", seconds=0.1), node("end", "end")
            ),
        )


async def run_tick(store: SqlStore) -> tuple[float, dict[str, Any]]:
    settings = Settings(**SETTINGS)
    async with httpx.AsyncClient() as http:
        services = NodeServices(settings, http=http, store=store)
        service = TickService(store, GraphExecutor(registry(), services), settings)
        t0 = time.perf_counter()
        report = await service.tick()
        elapsed = time.perf_counter() - t0
    return elapsed, {e.workflow_name: e for e in report.executions}


def assert_the_quick_ones_finished_on_time(
    db: psycopg.Connection[Any], by_name: dict[str, Any]
) -> None:
    quick = [by_name[f"quick {i}"] for i in range(QUICK)]
    assert all(e.status == "completed" and e.recorded for e in quick)
    # Each finished, and was recorded, well before the hung run's timeout.
    assert all(e.duration_ms < 750 * TIMEOUT for e in quick)
    recorded = rows(
        db,
        "select s.name, e.execution_completed_at - e.execution_started_at as took "
        "from workflow_executions e join workflow_sessions s on s.id = e.workflow_id",
    )
    assert all(r["took"].total_seconds() < 0.75 * TIMEOUT for r in recorded if r["name"] != "hung")


@pytest.mark.parametrize("hung", ["forever", "http"])
async def test_a_node_that_never_returns_is_timed_out_and_the_others_finish_on_time(
    store: SqlStore, db: psycopg.Connection[Any], black_hole: str, hung: str
) -> None:
    hung_node = (
        node("h", "forever")
        if hung == "forever"
        else node("h", "http-request", url=black_hole, timeout=60)
    )
    arrange(db, hung_node)

    elapsed, by_name = await run_tick(store)

    assert elapsed < TIMEOUT + 0.75
    assert by_name["hung"].status == "failed" and by_name["hung"].recorded
    # The executor stops the run at its deadline itself and names the node it was in.
    assert by_name["hung"].error == f"node 'h': timed out after {TIMEOUT:g}s"
    assert_the_quick_ones_finished_on_time(db, by_name)
    [hung_row] = rows(
        db, "select error_count, last_error from workflow_sessions where name = 'hung'"
    )
    assert hung_row == {"error_count": 1, "last_error": f"node 'h': timed out after {TIMEOUT:g}s"}


async def test_a_node_that_ignores_cancellation_still_cannot_hold_the_tick(
    store: SqlStore, db: psycopg.Connection[Any]
) -> None:
    arrange(db, node("h", "stubborn"))

    elapsed, by_name = await run_tick(store)

    assert_the_quick_ones_finished_on_time(db, by_name)
    assert by_name["hung"].status == "failed"
    assert elapsed < TIMEOUT + 1.0
