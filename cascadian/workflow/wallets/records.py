"""The Data API's answers as our records: exact money, plain errors.

Polymarket sends many amounts as strings ("1234.5") and some as numbers; both
become Decimal here, never float. Field names differ between its v1 routes
(camelCase: `proxyWallet`, `realizedPnl`) and its v2 routes (snake_case:
`proxy_wallet`, `realized_pnl`), so each record reads the names its route sends.
A record without what it needs is skipped and counted, as Gamma's markets are; an
answer that is not the route's envelope is a ValueError the client reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any


def decimal_of(value: Any) -> Decimal | None:
    """A finite Decimal from a string or number; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _text(row: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = row.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _int(row: Mapping[str, Any], *names: str) -> int | None:
    for name in names:
        number = decimal_of(row.get(name))
        if number is not None and number == number.to_integral_value():
            return int(number)
    return None


def wallet_of(row: Mapping[str, Any]) -> str | None:
    """A wallet address, lower-cased (Polymarket mixes cases), or None."""
    found = _text(row, "proxy_wallet", "proxyWallet", "user", "wallet")
    return found.lower() if found else None


@dataclass(frozen=True)
class Page:
    """One page of a v2 route: its rows and the cursor of the next (None: the last)."""

    rows: list[Any]
    next_cursor: str | None


def v2_page(payload: Any) -> Page:
    """`{"data": [...], "pagination": {"next_cursor": ...}}` (or `next_cursor` at the top)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise ValueError('expected {"data": [...], "pagination": {...}}')
    paging = payload.get("pagination")
    cursor = paging.get("next_cursor") if isinstance(paging, dict) else None
    cursor = cursor if cursor is not None else payload.get("next_cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise ValueError(f"next_cursor is a {type(cursor).__name__}, not a string")
    if isinstance(paging, dict) and paging.get("has_more") is False:
        cursor = None
    return Page(payload["data"], cursor or None)


@dataclass(frozen=True)
class Ranked:
    """A wallet on the leaderboard."""

    wallet: str
    rank: int | None
    name: str | None
    pnl: Decimal | None
    volume: Decimal | None


def ranked(row: Any) -> Ranked | None:
    if not isinstance(row, dict) or (wallet := wallet_of(row)) is None:
        return None
    return Ranked(
        wallet,
        _int(row, "rank"),
        _text(row, "user_name", "userName", "name"),
        decimal_of(row.get("pnl")),
        decimal_of(row.get("volume", row.get("vol"))),
    )


@dataclass(frozen=True)
class ClosedPosition:
    """One closed position (GET /closed-positions): what it cost and what it made."""

    condition_id: str
    outcome: str | None
    avg_price: Decimal
    total_bought: Decimal  # shares
    realized_pnl: Decimal
    closed_at: int  # unix seconds
    title: str | None = None

    @property
    def cost(self) -> Decimal:
        """Dollars put in: shares bought at their average price."""
        return self.avg_price * self.total_bought


def closed_position(row: Any) -> ClosedPosition | None:
    if not isinstance(row, dict):
        return None
    condition = _text(row, "conditionId", "condition_id")
    avg = decimal_of(row.get("avgPrice", row.get("avg_price")))
    bought = decimal_of(row.get("totalBought", row.get("total_bought")))
    pnl = decimal_of(row.get("realizedPnl", row.get("realized_pnl")))
    closed_at = _int(row, "timestamp")
    if condition is None or avg is None or bought is None or pnl is None or closed_at is None:
        return None
    return ClosedPosition(
        condition, _text(row, "outcome"), avg, bought, pnl, closed_at, _text(row, "title")
    )


@dataclass(frozen=True)
class Holder:
    """A wallet holding one outcome of a market (GET /v2/holders?include_pnl=true)."""

    wallet: str
    outcome_index: int
    amount: Decimal  # shares
    avg_price: Decimal | None
    entry_cost: Decimal | None
    current_value: Decimal | None
    total_pnl: Decimal | None


def holder(row: Any, outcome_index: int | None) -> Holder | None:
    if not isinstance(row, dict) or (wallet := wallet_of(row)) is None:
        return None
    index = _int(row, "outcome_index", "outcomeIndex")
    index = index if index is not None else outcome_index
    amount = decimal_of(row.get("amount", row.get("size")))
    if index is None or amount is None:
        return None
    return Holder(
        wallet,
        index,
        amount,
        decimal_of(row.get("avg_price")),
        decimal_of(row.get("entry_cost_usdc")),
        decimal_of(row.get("current_value")),
        decimal_of(row.get("total_pnl")),
    )


@dataclass(frozen=True)
class Trade:
    """A wallet's trade (GET /trades?user=): the identity a copy is keyed by."""

    wallet: str
    side: str  # BUY or SELL
    token_id: str
    condition_id: str
    outcome: str | None
    outcome_index: int | None
    size: Decimal  # shares
    price: Decimal
    timestamp: int
    transaction_hash: str
    title: str | None = None

    @property
    def notional(self) -> Decimal:
        return self.size * self.price

    @property
    def key(self) -> str:
        """One fill of one wallet: its transaction, token and side (a transaction may
        fill several orders of one wallet, so the size and price are in it too)."""
        return f"{self.transaction_hash}:{self.token_id}:{self.side}:{self.size}@{self.price}"


def trade(row: Any) -> Trade | None:
    if not isinstance(row, dict) or (wallet := wallet_of(row)) is None:
        return None
    side = (_text(row, "side") or "").upper()
    token = _text(row, "asset", "token_id")
    condition = _text(row, "conditionId", "condition_id")
    size = decimal_of(row.get("size"))
    price = decimal_of(row.get("price"))
    at = _int(row, "timestamp")
    tx = _text(row, "transactionHash", "transaction_hash")
    if side not in ("BUY", "SELL") or None in (token, condition, size, price, at, tx):
        return None
    assert token and condition and size is not None and price is not None and at and tx
    return Trade(
        wallet,
        side,
        token,
        condition,
        _text(row, "outcome"),
        _int(row, "outcomeIndex", "outcome_index"),
        size,
        price,
        at,
        tx,
        _text(row, "title"),
    )
