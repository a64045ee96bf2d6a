"""Polymarket's Data API price history (GET /v2/prices-history, mocked with respx in
its shape: `{"data": [{"timestamp", "price", "resolution_seconds"}], "pagination":
{"has_more", "next_cursor"}}`) is imported with each price known from the end of its
window (late, never early), the price at the start read with `as_of`, long windows
asked 15 days at a time and pages followed by their cursor; a reply in another shape
is a plain error; `cascadian import-prices` uses it by default."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest
import respx
from typer.testing import CliRunner

from cascadian.backtests.data_api_prices import DataApiPriceHistory
from cascadian.cli.main import app
from cascadian.outbound.retry import RetryPolicy
from cascadian.ports import FullStore
from cascadian.workflow.market.upstream import PolymarketError, Upstream
from tests.backtests.history_fixture import HOUR, T0
from tests.factories import rows
from tests.polymarket_fixtures import no_wait_retry
from tests.wallet_fixtures import DATA

S0 = int(T0.timestamp())
PRICES = f"{DATA}/v2/prices-history"


def upstream(http: httpx.AsyncClient) -> Upstream:
    retry: RetryPolicy = no_wait_retry()
    return Upstream(http, DATA, "Polymarket Data API", retry)


def page(points: list[tuple[int, float]], cursor: str | None = None) -> dict[str, Any]:
    return {
        "data": [{"timestamp": t, "price": p, "resolution_seconds": 300} for t, p in points],
        "pagination": {"has_more": cursor is not None, "next_cursor": cursor},
    }


def answer(request: httpx.Request) -> httpx.Response:
    """As of the start: 0.40 observed before it; then the window's 5-minute buckets
    over two pages."""
    params = request.url.params
    if "as_of" in params:
        return httpx.Response(200, json=page([(S0 - 600, 0.40)]))
    if "cursor" in params:
        return httpx.Response(200, json=page([(S0 + 600, 0.43)]))
    return httpx.Response(200, json=page([(S0, 0.41), (S0 + 300, 0.42)], cursor="c2"))


async def test_prices_are_known_from_the_end_of_their_window_and_as_of_the_start() -> None:
    with respx.mock() as mock:
        route = mock.get(PRICES).mock(side_effect=answer)
        async with httpx.AsyncClient() as http:
            points = await DataApiPriceHistory(upstream(http)).history("m1-yes", T0, T0 + HOUR, 300)
    sent = [dict(c.request.url.params) for c in route.calls]
    assert sent == [
        {"token_id": "m1-yes", "as_of": str(S0)},
        {
            "token_id": "m1-yes",
            "start": str(S0),
            "end": str(S0 + 3600),
            "bucket_seconds": "300",
        },
        {"token_id": "m1-yes", "cursor": "c2"},
    ]
    minute = timedelta(minutes=1)
    assert points == [
        {"t": T0.isoformat(), "until": (T0 + 5 * minute).isoformat(), "p": "0.4"},
        {"t": (T0 + 5 * minute).isoformat(), "until": (T0 + 10 * minute).isoformat(), "p": "0.41"},
        {"t": (T0 + 10 * minute).isoformat(), "until": (T0 + 15 * minute).isoformat(), "p": "0.42"},
        {"t": (T0 + 15 * minute).isoformat(), "until": (T0 + 20 * minute).isoformat(), "p": "0.43"},
    ]


async def test_an_as_of_price_whose_bucket_ends_after_the_start_is_known_from_its_end() -> None:
    """The latest observation at the start may be a bucket still open then: [S0-60,
    S0+240) at 0.90 is known at S0+240, not at the start (look-ahead of 4 minutes)."""

    def open_bucket(request: httpx.Request) -> httpx.Response:
        if "as_of" in request.url.params:
            return httpx.Response(200, json=page([(S0 - 60, 0.90)]))
        return httpx.Response(200, json=page([(S0 + 240, 0.91)]))

    with respx.mock() as mock:
        mock.get(PRICES).mock(side_effect=open_bucket)
        async with httpx.AsyncClient() as http:
            points = await DataApiPriceHistory(upstream(http)).history("m1-yes", T0, T0 + HOUR, 300)
    minute = timedelta(minutes=1)
    assert points == [
        {"t": (T0 + 4 * minute).isoformat(), "until": (T0 + 9 * minute).isoformat(), "p": "0.9"},
        {"t": (T0 + 9 * minute).isoformat(), "until": (T0 + 14 * minute).isoformat(), "p": "0.91"},
    ]


async def test_a_window_longer_than_fifteen_days_is_asked_fifteen_days_at_a_time() -> None:
    with respx.mock() as mock:
        route = mock.get(PRICES).respond(json={"data": [], "pagination": {"next_cursor": None}})
        async with httpx.AsyncClient() as http:
            found = await DataApiPriceHistory(upstream(http)).history(
                "t", T0, T0 + timedelta(days=20), 10800
            )
    windows = [
        (c.request.url.params["start"], c.request.url.params["end"])
        for c in route.calls
        if "start" in c.request.url.params
    ]
    day = 86_400
    assert windows == [(str(S0), str(S0 + 15 * day)), (str(S0 + 15 * day), str(S0 + 20 * day))]
    assert found == []


@pytest.mark.parametrize(
    "body",
    [
        {"data": "soon"},
        {"data": [{"timestamp": "yesterday", "price": 0.4}]},
        {"data": [{"timestamp": S0, "price": 1.5, "resolution_seconds": 60}]},
    ],
)
async def test_a_reply_in_another_shape_is_a_plain_error(body: dict[str, Any]) -> None:
    with respx.mock() as mock:
        mock.get(PRICES).respond(json=body)
        async with httpx.AsyncClient() as http:
            with pytest.raises(
                PolymarketError,
                match=r"Polymarket Data API at https://data\.test sent an unexpected reply",
            ):
                await DataApiPriceHistory(upstream(http)).history("t", T0, T0 + HOUR)


@pytest.mark.both_schemas
async def test_imported_prices_are_never_seen_before_they_were_known(
    schema: str, any_store: FullStore, db: psycopg.Connection[Any]
) -> None:
    db.execute("delete from cascadian_price_history where token_id = 'm9-yes'")
    with respx.mock() as mock:
        mock.get(PRICES).mock(side_effect=answer)
        async with httpx.AsyncClient() as http:
            added = await DataApiPriceHistory(upstream(http)).import_into(
                any_store, ["m9-yes"], T0, T0 + HOUR, 300
            )
    assert added == 4
    found = rows(
        db,
        "select seen_at, midpoint from cascadian_price_history where token_id = 'm9-yes' "
        "order by seen_at",
    )
    # The bucket from S0 (0.41) is known at S0 + 5 min, not at S0.
    assert [(r["seen_at"] - T0, str(r["midpoint"])) for r in found] == [
        (timedelta(0), "0.4"),
        (timedelta(minutes=5), "0.41"),
        (timedelta(minutes=10), "0.42"),
        (timedelta(minutes=15), "0.43"),
    ]


def test_cascadian_import_prices_reads_the_data_api_by_default(
    database_url: str, db: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    db.execute("delete from cascadian_price_history where token_id = 'm1-yes'")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CASCADIAN_DATA_API_URL", DATA)
    window = ["--from", T0.isoformat(), "--to", (T0 + HOUR).isoformat()]
    with respx.mock() as mock:
        mock.get(PRICES).mock(side_effect=answer)
        result = CliRunner().invoke(app, ["import-prices", "m1-yes", *window])
        odd = CliRunner().invoke(app, ["import-prices", "m1-yes", *window, "--fidelity", "7"])
    assert result.exit_code == 0, result.output
    assert "imported 4 new price point(s) of 1 token(s)" in result.stdout
    assert odd.exit_code == 1
    assert "the Data API keeps prices every 1, 5, 30, 180, 720 minutes" in odd.output
