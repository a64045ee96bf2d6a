"""A Polymarket market as strategies see it, normalised from a Gamma record.

Gamma sends `outcomes`, `outcomePrices` and `clobTokenIds` as JSON-encoded strings
and most amounts as strings; `Market` turns a record into typed fields. A record
that does not fit is skipped and counted, so one odd market never fails a run.

The output field names (`to_output`) are a contract for downstream nodes: fields
are added, never renamed. `outcome_prices` are Gamma's (cached at its edge for up to
5 minutes) unless live CLOB prices replaced them, which `price_source` says.

A market's output is built once (a frozen market never changes; a repriced one is a
new market) and kept while the market lives: the strategies sharing one Gamma
answer share its markets, and each run gets its own copy of the output's top level.
"""

from __future__ import annotations

import json
import logging
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

log = logging.getLogger(__name__)

# id(market) -> its output, for the markets alive (each removed when its market goes).
_OUTPUTS: dict[int, dict[str, Any]] = {}


Price = Annotated[float, Field(ge=0, le=1)]
Amount = Annotated[float, Field(ge=0)]
PriceSource = Literal["gamma", "clob"]


class Market(BaseModel):
    """One Polymarket market, normalised from a Gamma record (or built by field name)."""

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
        coerce_numbers_to_str=True,
        allow_inf_nan=False,
    )

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    slug: str
    outcomes: list[str] = Field(min_length=1)
    outcome_prices: list[Price] = Field(validation_alias="outcomePrices")
    # Gamma leaves amounts out (or null) for markets that never traded: those are 0.
    volume: Amount = Field(default=0.0, validation_alias=AliasChoices("volume", "volumeNum"))
    volume_24h: Amount = Field(default=0.0, validation_alias="volume24hr")
    liquidity: Amount = Field(
        default=0.0, validation_alias=AliasChoices("liquidity", "liquidityNum")
    )
    end_date: datetime | None = Field(default=None, validation_alias="endDate")
    active: bool
    closed: bool
    # What a trading strategy needs to find and price the market on the CLOB.
    condition_id: str | None = Field(default=None, validation_alias="conditionId")
    # One per outcome, in the outcomes' order; empty for markets without an order book.
    clob_token_ids: list[str] = Field(default=[], validation_alias="clobTokenIds")
    # Of the first outcome's token, as Gamma last saw them.
    best_bid: Price | None = Field(default=None, validation_alias="bestBid")
    best_ask: Price | None = Field(default=None, validation_alias="bestAsk")
    spread: Price | None = None
    last_trade_price: Price | None = Field(default=None, validation_alias="lastTradePrice")
    accepting_orders: bool | None = Field(default=None, validation_alias="acceptingOrders")
    enable_order_book: bool | None = Field(default=None, validation_alias="enableOrderBook")
    neg_risk: bool | None = Field(default=None, validation_alias="negRisk")
    tick_size: Price | None = Field(default=None, validation_alias="orderPriceMinTickSize")
    min_order_size: Amount | None = Field(default=None, validation_alias="orderMinSize")
    category: str | None = None
    price_source: PriceSource = "gamma"

    @field_validator("outcomes", "outcome_prices", "clob_token_ids", mode="before")
    @classmethod
    def _decode_json_list(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("clob_token_ids", mode="before")
    @classmethod
    def _no_tokens_is_empty(cls, value: Any) -> Any:
        return [] if value is None or value == "" else value

    @field_validator("volume", "volume_24h", "liquidity", mode="before")
    @classmethod
    def _missing_amount_is_zero(cls, value: Any) -> Any:
        return 0.0 if value is None or value == "" else value

    @field_validator(
        "best_bid",
        "best_ask",
        "spread",
        "last_trade_price",
        "tick_size",
        "min_order_size",
        "end_date",
        "condition_id",
        "category",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("end_date")
    @classmethod
    def _naive_is_utc(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value

    @model_validator(mode="after")
    def _one_price_and_token_per_outcome(self) -> Market:
        if len(self.outcomes) != len(self.outcome_prices):
            raise ValueError(f"{len(self.outcomes)} outcomes but {len(self.outcome_prices)} prices")
        if self.clob_token_ids and len(self.clob_token_ids) != len(self.outcomes):
            raise ValueError(
                f"{len(self.outcomes)} outcomes but {len(self.clob_token_ids)} CLOB token ids"
            )
        return self

    @property
    def yes_price(self) -> float | None:
        """The first outcome's price ("Yes" in binary markets)."""
        return self.outcome_prices[0] if self.outcome_prices else None

    def to_output(self) -> dict[str, Any]:
        """A JSON-serialisable dict, end_date as an ISO string, plus yes_price: a new
        dict at each call, its values shared with the market's other outputs."""
        kept = _OUTPUTS.get(id(self))
        if kept is None:
            kept = {**self.model_dump(mode="json"), "yes_price": self.yes_price}
            _OUTPUTS[id(self)] = kept
            weakref.finalize(self, _OUTPUTS.pop, id(self), None)
        return dict(kept)


def parse_markets(records: Any) -> tuple[list[Market], int]:
    """The valid markets among `records` (a list of Gamma market records) and how many
    were skipped."""
    if not isinstance(records, list):
        raise ValueError(f"expected a list of markets, got {type(records).__name__}")
    markets: list[Market] = []
    skipped = 0
    for record in records:
        try:
            markets.append(Market.model_validate(record))
        except ValidationError as exc:
            skipped += 1
            market_id = record.get("id") if isinstance(record, dict) else None
            log.info("skipping Gamma market %r: %s", market_id, exc.errors()[0]["msg"])
    return markets, skipped


@dataclass(frozen=True)
class MarketPage:
    """What one listing gave: the markets (at most the limit asked for), how many
    records were malformed or partial, and how many pages were read."""

    markets: list[Market]
    skipped: int
    pages: int = 1


@dataclass(frozen=True)
class LiveQuote:
    """One token's prices on the CLOB order book, read just now. None where the book
    has no such price (no bids, no asks, or no book)."""

    token_id: str
    midpoint: float | None = None
    best_bid: float | None = None
    best_ask: float | None = None


@dataclass(frozen=True)
class ExactQuote:
    """A LiveQuote as the CLOB wrote it: its decimal strings as Decimal. What a
    trigger compares with its level (a float can land on the other side of it)."""

    token_id: str
    midpoint: Decimal | None = None
    best_bid: Decimal | None = None
    best_ask: Decimal | None = None

    def live(self) -> LiveQuote:
        def f(p: Decimal | None) -> float | None:
            return None if p is None else float(p)

        return LiveQuote(self.token_id, f(self.midpoint), f(self.best_bid), f(self.best_ask))
