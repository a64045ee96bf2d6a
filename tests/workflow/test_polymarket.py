"""Polymarket markets: normalising Gamma records, skipping bad ones, filtering, failing plainly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import respx
from pydantic import ValidationError

from cascadian.config import Settings
from cascadian.data import Workflow
from cascadian.workflow.node_api import NodeContext, NodeError, NodeServices
from cascadian.workflow.nodes.polymarket_markets import POLYMARKET_MARKETS, PolymarketMarketsConfig
from cascadian.workflow.polymarket import Market, parse_markets
from cascadian.workflow.retry import RetryPolicy

GAMMA = "https://gamma.test"
RECORDS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "gamma_markets.json").read_text()
)
OUTPUT_KEYS = {
    "id", "question", "slug", "outcomes", "outcome_prices", "volume", "volume_24h",
    "liquidity", "end_date", "active", "closed", "yes_price",
}  # fmt: skip


def context(waits: list[float] | None = None) -> NodeContext:
    async def sleep(seconds: float) -> None:
        if waits is not None:
            waits.append(seconds)

    return NodeContext(
        workflow=Workflow(id=uuid4(), name="strategy", nodes=[], edges=[]),
        node_id="markets",
        inputs={},
        services=NodeServices(
            Settings(polymarket_base_url=GAMMA + "/"),
            retry=RetryPolicy(sleep=sleep, random=lambda: 1.0, clock=lambda: 0.0),
        ),
    )


async def run(ctx: NodeContext, **config: Any) -> Any:
    return await POLYMARKET_MARKETS.run(PolymarketMarketsConfig.model_validate(config), ctx)


def test_gamma_record_is_normalised_to_typed_fields() -> None:
    markets, _ = parse_markets(RECORDS)
    fed = markets[0]
    assert fed == Market(
        id="253591",
        question="Will the Fed cut interest rates at the December 2025 meeting?",
        slug="will-the-fed-cut-interest-rates-at-the-december-2025-meeting",
        outcomes=["Yes", "No"],
        outcome_prices=[0.355, 0.645],
        volume=2730514.338072,
        volume_24h=128441.61,
        liquidity=184302.5521,
        end_date=datetime(2025, 12, 10, 12, tzinfo=UTC),
        active=True,
        closed=False,
    )
    assert fed.yes_price == 0.355


def test_malformed_and_partial_records_are_skipped_and_counted() -> None:
    markets, skipped = parse_markets(RECORDS)
    assert [m.id for m in markets] == ["253591", "501122", "517740", "530001", "530017", "488203"]
    assert skipped == 2


def test_missing_amounts_are_zero_and_missing_end_date_is_none() -> None:
    markets = {m.id: m for m in parse_markets(RECORDS)[0]}
    assert markets["530001"].volume_24h == 0.0
    assert markets["530017"].end_date is None
    assert markets["517740"].outcomes == ["Democratic", "Republican", "Other"]


@pytest.mark.parametrize(
    "change",
    [
        {"outcomePrices": '["0.5"]'},  # fewer prices than outcomes
        {"outcomePrices": '["1.5", "-0.5"]'},  # not probabilities
        {"outcomes": "Yes, No"},  # not JSON
        {"volume": "lots"},
        {"volume24hr": "NaN"},
        {"endDate": "someday"},
        {"id": None},
    ],
)
def test_records_with_bad_fields_are_skipped(change: dict[str, Any]) -> None:
    assert parse_markets([{**RECORDS[0], **change}]) == ([], 1)


def test_non_list_payload_is_an_error() -> None:
    with pytest.raises(ValueError, match="expected a list"):
        parse_markets({"error": "nope"})


@respx.mock
async def test_node_lists_markets_with_query_from_config() -> None:
    route = respx.get(f"{GAMMA}/markets").respond(200, json=RECORDS)
    out = await run(context(), order="volume24hr", tag_id=2, limit=50)
    params = dict(route.calls.last.request.url.params)
    assert params == {
        "active": "true",
        "closed": "false",
        "limit": "50",
        "order": "volume24hr",
        "ascending": "false",
        "tag_id": "2",
    }
    assert out["count"] == 6 == len(out["items"])
    assert out["skipped"] == 2
    first = out["items"][0]
    assert set(first) == OUTPUT_KEYS
    assert first["end_date"] == "2025-12-10T12:00:00Z"
    assert first["yes_price"] == 0.355
    json.dumps(out)  # serialisable as is


@respx.mock
async def test_min_volume_and_liquidity_filters_apply_locally() -> None:
    route = respx.get(f"{GAMMA}/markets").respond(200, json=RECORDS)
    out = await run(context(), min_volume_24h=40000, min_liquidity=100000)
    assert [m["id"] for m in out["items"]] == ["253591", "517740"]
    assert out["count"] == 2
    assert "min_volume_24h" not in route.calls.last.request.url.params


@respx.mock
async def test_unreachable_api_says_so_plainly_after_retries() -> None:
    waits: list[float] = []
    respx.get(f"{GAMMA}/markets").mock(side_effect=httpx.ConnectError("Connection refused"))
    with pytest.raises(NodeError) as info:
        await run(context(waits))
    message = str(info.value)
    assert message.startswith(f"The Polymarket API at {GAMMA} could not be reached")
    assert "ConnectError: Connection refused" in message
    assert "retried 3 times" in message
    assert waits == [0.5, 1.0, 2.0]


@respx.mock
async def test_server_errors_exhausting_retries_are_reported() -> None:
    respx.get(f"{GAMMA}/markets").respond(502)
    with pytest.raises(NodeError, match=r"could not be reached.*HTTP 502 Bad Gateway"):
        await run(context())


@respx.mock
async def test_rejected_request_names_the_status() -> None:
    respx.get(f"{GAMMA}/markets").respond(422, json={"error": "invalid order"})
    with pytest.raises(NodeError, match="rejected the request: HTTP 422"):
        await run(context(), order="nonsense")
    assert respx.calls.call_count == 1


@respx.mock
async def test_non_json_reply_is_reported() -> None:
    respx.get(f"{GAMMA}/markets").respond(200, text="<html>maintenance</html>")
    with pytest.raises(NodeError, match="not JSON"):
        await run(context())


@pytest.mark.parametrize(
    "config", [{"limit": 0}, {"limit": 501}, {"order": "x&y=1"}, {"min_liquidity": -1}]
)
def test_invalid_configs_are_rejected(config: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PolymarketMarketsConfig.model_validate(config)


def test_config_defaults() -> None:
    config = PolymarketMarketsConfig()
    assert config.gamma_params() == {
        "active": True,
        "closed": False,
        "limit": 100,
        "order": None,
        "ascending": False,
        "tag_id": None,
    }
    assert POLYMARKET_MARKETS.name == "polymarket-markets"
