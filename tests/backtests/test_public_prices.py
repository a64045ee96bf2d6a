"""Polymarket's public price history (the CLOB's /prices-history and
/batch-prices-history, mocked with respx in their documented shapes) is imported
into the price history, and a backtest prices from it where nothing was recorded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest
import respx

from cascadian.backtests.public import PublicPriceHistory
from cascadian.backtests.runner import Backtester, BacktestRequest
from cascadian.outbound.retry import RetryPolicy
from cascadian.ports import FullStore
from cascadian.workflow.market.upstream import PolymarketError, Upstream
from tests.backtests.history_fixture import HOUR, HOURLY, T0, graph, write_history
from tests.factories import rows
from tests.polymarket_fixtures import CLOB, no_wait_retry, settings

S0 = int(T0.timestamp())


def upstream(http: httpx.AsyncClient) -> Upstream:
    retry: RetryPolicy = no_wait_retry()
    return Upstream(http, CLOB, "Polymarket CLOB API", retry)


async def test_one_tokens_history_reads_the_documented_shape() -> None:
    with respx.mock() as mock:
        route = mock.get(f"{CLOB}/prices-history").respond(
            json={"history": [{"t": S0 + 3600, "p": 0.41}, {"t": S0, "p": 0.4}]}
        )
        async with httpx.AsyncClient() as http:
            points = await PublicPriceHistory(upstream(http)).history(
                "m1-yes", T0, T0 + 2 * HOUR, 60
            )
    params = dict(route.calls.last.request.url.params)
    assert params == {
        "market": "m1-yes",
        "startTs": str(S0),
        "endTs": str(S0 + 7200),
        "fidelity": "60",
    }
    assert points == [
        {"t": T0.isoformat(), "until": (T0 + HOUR).isoformat(), "p": "0.4"},
        {"t": (T0 + HOUR).isoformat(), "until": (T0 + 2 * HOUR).isoformat(), "p": "0.41"},
    ]


async def test_a_reply_in_another_shape_is_a_plain_error() -> None:
    with respx.mock() as mock:
        mock.get(f"{CLOB}/prices-history").respond(json={"history": "soon"})
        async with httpx.AsyncClient() as http:
            with pytest.raises(PolymarketError, match="unexpected reply"):
                await PublicPriceHistory(upstream(http)).history("t", T0, T0 + HOUR)


@pytest.mark.both_schemas
async def test_imported_prices_feed_a_backtest_where_nothing_was_recorded(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    await write_history(any_store)
    answer = {
        "history": {
            "m1-yes": [{"t": S0, "p": 0.5}, {"t": S0 + 3600, "p": 0.45}],
            "m2-yes": [],
        }
    }
    with respx.mock() as mock:
        batch = mock.post(f"{CLOB}/batch-prices-history").respond(json=answer)
        async with httpx.AsyncClient() as http:
            added = await PublicPriceHistory(upstream(http)).import_into(
                any_store, ["m2-yes", "m1-yes"], T0, T0 + 2 * HOUR, 60
            )
    assert added == 2
    sent = batch.calls.last.request
    assert sent.read() == (
        b'{"markets":["m1-yes","m2-yes"],"start_ts":%d,"end_ts":%d,"fidelity":60}' % (S0, S0 + 7200)
    )
    found = rows(db, "select source, midpoint from cascadian_price_history order by seen_at")
    assert [(r["source"], str(r["midpoint"])) for r in found] == [
        ("prices-history", "0.5"),
        ("prices-history", "0.45"),
    ]
    config = settings(CASCADIAN_HISTORY_EVERY_SECONDS=3600)
    request = BacktestRequest(graph(0.35), HOURLY, T0, T0 + timedelta(minutes=1))
    [run] = (await Backtester(any_store, config).run(request))["runs"]
    [order] = run["orders"]  # m1's listing says 0.30; the CLOB's history says 0.50
    assert order["based_on"]["midpoint"] == "0.5"
    assert order["average_price"] == "0.51"


def test_cascadian_import_prices_imports_a_tokens_history_from_the_clob(
    database_url: str, db: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cascadian.cli.main import app

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CASCADIAN_CLOB_URL", CLOB)
    answer = {"history": {"m1-yes": [{"t": S0, "p": 0.5}]}}
    with respx.mock() as mock:
        mock.post(f"{CLOB}/batch-prices-history").respond(json=answer)
        result = CliRunner().invoke(
            app,
            [
                *["import-prices", "m1-yes", "--from", T0.isoformat(), "--to", "2026-11-03"],
                *["--source", "clob"],
            ],
        )
    assert result.exit_code == 0, result.output
    assert "imported 1 new price point(s) of 1 token(s)" in result.stdout
    assert rows(db, "select token_id from cascadian_price_history") == [{"token_id": "m1-yes"}]
