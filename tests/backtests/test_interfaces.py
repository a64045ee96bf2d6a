"""`cascadian strategies backtest` and `POST /api/strategies/{id}/backtest` (and for a
posted graph): the same report, a sweep's rows, and bad input refused with reasons."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from typer.testing import CliRunner

from cascadian.cli import strategies as cli_strategies
from cascadian.cli.main import app
from cascadian.store.sql_store import SqlStore
from tests.api_client import client
from tests.backtests.history_fixture import HOUR, T0, graph, write_history
from tests.factories import add_strategy

runner = CliRunner()
ENV = {"CASCADIAN_HISTORY_EVERY_SECONDS": "3600", "CASCADIAN_DEFAULT_FEE_RATE": "0.02"}
WINDOW = {"from": T0.isoformat(), "to": (T0 + 3 * HOUR).isoformat()}


def saved(db: psycopg.Connection[Any]) -> str:
    g = graph()
    sid = add_strategy(
        db,
        next_execution_at=None,
        graph=(g.nodes, g.edges),
        interval=60,
        variables=Jsonb(g.variables),
    )
    return str(sid)


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(cli_strategies.console, "width", 200)


def record(url: str) -> None:
    """The fixture history, from a test that is not async (the CLI runs its own loop)."""

    async def go() -> None:
        store = SqlStore.postgres(url)
        await store.open()
        try:
            await write_history(store)
        finally:
            await store.close()

    asyncio.run(go())


def cli(*args: str) -> Any:
    return runner.invoke(app, ["strategies", "backtest", *args])


def test_the_cli_prints_a_table_and_the_json_the_api_answers(
    env: None, database_url: str, db: psycopg.Connection[Any]
) -> None:
    record(database_url)
    sid = saved(db)
    table = cli(sid, "--from", WINDOW["from"], "--to", WINDOW["to"])
    assert table.exit_code == 0, table.output
    assert "3.44%" in table.output and "343.65" in table.output  # ROI, total P&L
    assert "spread model" in table.output
    swept = cli(sid, "--from", WINDOW["from"], "--to", WINDOW["to"], "--var", "threshold=0.2,0.5")
    assert swept.exit_code == 0, swept.output
    assert "threshold=0.2" in swept.output and "threshold=0.5" in swept.output
    as_json = json.loads(cli(sid, "--from", WINDOW["from"], "--to", WINDOW["to"], "--json").stdout)
    assert as_json["rows"][0]["total_pnl"] == "343.65420000"


async def test_the_api_answers_the_same_rows_for_a_saved_strategy(
    pg_store: SqlStore, db: psycopg.Connection[Any]
) -> None:
    await write_history(pg_store)
    sid = saved(db)
    async with client(pg_store, **ENV) as http:
        answer = await http.post(f"/api/strategies/{sid}/backtest", json=WINDOW)
    assert answer.status_code == 200, answer.text
    [row] = answer.json()["data"]["rows"]
    assert (row["total_pnl"], row["orders"], row["win_rate"]) == ("343.65420000", 2, 1.0)


def test_the_cli_refuses_bad_input_with_its_reason(
    env: None, database_url: str, db: psycopg.Connection[Any]
) -> None:
    record(database_url)
    sid = saved(db)
    backwards = cli(sid, "--from", WINDOW["to"], "--to", WINDOW["from"])
    assert backwards.exit_code == 1 and "must be after --from" in backwards.output
    unknown = cli(sid, "--from", WINDOW["from"], "--to", WINDOW["to"], "--var", "nope=1")
    assert unknown.exit_code == 1 and "unknown variable(s) nope" in unknown.output


async def test_the_api_backtests_a_posted_graph_and_names_what_cannot_run(
    pg_store: SqlStore, db: psycopg.Connection[Any]
) -> None:
    await write_history(pg_store)
    g = graph()
    body = {
        "nodes": g.nodes,
        "edges": g.edges,
        "variables": g.variables,
        "schedule": {"interval_minutes": 60},
        "sweep": {"threshold": [0.2, 0.35]},
        **WINDOW,
    }
    async with client(pg_store, **ENV) as http:
        answer = await http.post("/api/strategies/backtest", json=body)
        early = await http.post(
            "/api/strategies/backtest", json={**body, "from": (T0 - HOUR).isoformat()}
        )
        missing = await http.post(
            "/api/strategies/00000000-0000-4000-8000-000000000000/backtest", json=WINDOW
        )
    assert answer.status_code == 200, answer.text
    rows = answer.json()["data"]["rows"]
    assert [r["variables"] for r in rows] == [{"threshold": 0.2}, {"threshold": 0.35}]
    assert rows[1]["total_pnl"] == "343.65420000"
    assert early.status_code == 422
    fields = {(d["node_id"], d["field"]) for d in early.json()["details"]}
    assert ("stream", "markets") in fields
    assert missing.status_code == 404


async def test_the_api_refuses_a_sweep_of_millions_of_combinations_from_its_size(
    pg_store: SqlStore, db: psycopg.Connection[Any]
) -> None:
    """4 variables of 60 values each: 12,960,000 runs, refused by the product of the
    lists' lengths (building them first took minutes and gigabytes)."""
    await write_history(pg_store)
    g = graph()
    names = ["threshold", "a", "b", "c"]
    body = {
        "nodes": g.nodes,
        "edges": g.edges,
        "variables": {name: 0.5 for name in names},
        "schedule": {"interval_minutes": 60},
        "sweep": {name: [i / 100 for i in range(60)] for name in names},
        **WINDOW,
    }
    async with client(pg_store, **ENV) as http:
        answer = await http.post("/api/strategies/backtest", json=body)
    assert answer.status_code == 422
    assert "the sweep has 12960000 combinations; at most 64" in answer.text
