"""Polymarket answers in their real shapes (tests/fixtures/), and services to read them.

Gamma's keyset pages: `gamma_markets_keyset_page1.json` has a `next_cursor`, page 2
(the last) has none; both carry JSON-encoded `outcomes`, `outcomePrices` and
`clobTokenIds`, and page 2 ends with a malformed and a partial record. The CLOB's
`/midpoints` and `/prices` answers cover the tokens of markets 253591 and 501122.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from cascadian.config import Settings
from cascadian.outbound.retry import RetryPolicy
from cascadian.workflow.market import MarketData

FIXTURES = Path(__file__).parent / "fixtures"
GAMMA = "https://gamma.test"
CLOB = "https://clob.test"
KEYSET = f"{GAMMA}/markets/keyset"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


PAGE1: dict[str, Any] = load("gamma_markets_keyset_page1.json")
PAGE2: dict[str, Any] = load("gamma_markets_keyset_page2.json")
RECORDS: list[dict[str, Any]] = PAGE1["markets"] + PAGE2["markets"]
# Every record on one page, the last: what most node tests are served.
ONE_PAGE: dict[str, Any] = {"markets": RECORDS}
MIDPOINTS: dict[str, str] = load("clob_midpoints.json")
PRICES: dict[str, dict[str, str]] = load("clob_prices.json")
FED_TOKENS: list[str] = json.loads(RECORDS[0]["clobTokenIds"])
BTC_TOKENS: list[str] = json.loads(RECORDS[1]["clobTokenIds"])


def rate_limited() -> httpx.Response:
    """The 429 Cloudflare answers with, Retry-After included."""
    answer = load("gamma_rate_limited.json")
    return httpx.Response(answer["status"], headers=answer["headers"], text=answer["body"])


def settings(**env: Any) -> Settings:
    return Settings(**({"CASCADIAN_POLYMARKET_URL": GAMMA, "CASCADIAN_CLOB_URL": CLOB} | env))


def no_wait_retry(waits: list[float] | None = None) -> RetryPolicy:
    """Retries that record their waits instead of sleeping."""

    async def sleep(seconds: float) -> None:
        if waits is not None:
            waits.append(seconds)

    return RetryPolicy(sleep=sleep, random=lambda: 1.0, clock=lambda: 0.0)


def market_data(
    http: httpx.AsyncClient, waits: list[float] | None = None, **env: Any
) -> MarketData:
    return MarketData.create(settings(**env), http, retry=no_wait_retry(waits))
