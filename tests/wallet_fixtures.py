"""Polymarket's Data API in its real shapes (tests/fixtures/data_api/), and services
to read them.

The leaderboard's v2 envelope `{"data", "pagination": {"next_cursor", "has_more"}}`
with amounts as strings (page 1 has a cursor and a wallet in upper case, page 2
ends with a row without a wallet); `/closed-positions` (v1, camelCase, numbers as
the OpenAPI spec types them) for one wallet whose metrics are worked out by hand in
tests/workflow/wallets/test_metrics.py. NOW is the instant those metrics are for.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from cascadian.config import Settings
from cascadian.ports import WalletStore
from cascadian.workflow.wallets import WalletData
from tests.polymarket_fixtures import CLOB, GAMMA, no_wait_retry

FIXTURES = Path(__file__).parent / "fixtures" / "data_api"
DATA = "https://data.test"
LEADERBOARD = f"{DATA}/v2/leaderboard"
CLOSED = f"{DATA}/closed-positions"
HOLDERS = f"{DATA}/v2/holders"
TRADES = f"{DATA}/v2/trades"
NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
HAND_WALLET = "0xaaaa000000000000000000000000000000000001"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


BOARD1: dict[str, Any] = load("leaderboard_page1.json")
BOARD2: dict[str, Any] = load("leaderboard_page2.json")
HAND_POSITIONS: list[dict[str, Any]] = load("closed_positions_hand.json")


def wallet(i: int) -> str:
    return f"0x{i:040x}"


def settings(**env: Any) -> Settings:
    base = {
        "CASCADIAN_POLYMARKET_URL": GAMMA,
        "CASCADIAN_CLOB_URL": CLOB,
        "CASCADIAN_DATA_API_URL": DATA,
    }
    return Settings(**(base | env))


def wallet_data(
    http: httpx.AsyncClient,
    store: WalletStore | None = None,
    waits: list[float] | None = None,
    limit: bool = True,
    **env: Any,
) -> WalletData:
    """`limit=False`: no rate limit (its waits are real time; tests of sharing need none)."""
    return WalletData.create(settings(**env), http, store, retry=no_wait_retry(waits), limit=limit)
