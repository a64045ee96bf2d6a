"""Polymarket Gamma API client and the normalisation of its market records.

Gamma sends `outcomes` and `outcomePrices` as JSON-encoded strings and most amounts
as strings; `Market` turns a record into typed fields. A record that does not fit
is skipped and counted, so one odd market never fails a strategy run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cascadian.errors import NodeError
from cascadian.workflow.retry import DEADLINE_SLACK, RetryGaveUp, RetryPolicy, describe_status

log = logging.getLogger(__name__)


Price = Annotated[float, Field(ge=0, le=1)]
Amount = Annotated[float, Field(ge=0)]
ParamValue = str | int | float | bool | None


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

    @field_validator("outcomes", "outcome_prices", mode="before")
    @classmethod
    def _decode_json_list(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("volume", "volume_24h", "liquidity", mode="before")
    @classmethod
    def _missing_amount_is_zero(cls, value: Any) -> Any:
        return 0.0 if value is None or value == "" else value

    @field_validator("end_date", mode="before")
    @classmethod
    def _blank_date_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("end_date")
    @classmethod
    def _naive_is_utc(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value

    @model_validator(mode="after")
    def _one_price_per_outcome(self) -> Market:
        if len(self.outcomes) != len(self.outcome_prices):
            raise ValueError(f"{len(self.outcomes)} outcomes but {len(self.outcome_prices)} prices")
        return self

    @property
    def yes_price(self) -> float | None:
        """The first outcome's price ("Yes" in binary markets)."""
        return self.outcome_prices[0] if self.outcome_prices else None

    def to_output(self) -> dict[str, Any]:
        """A JSON-serialisable dict, end_date as an ISO string, plus yes_price."""
        return {**self.model_dump(mode="json"), "yes_price": self.yes_price}


def parse_markets(records: Any) -> tuple[list[Market], int]:
    """The valid markets among `records` (a Gamma /markets list) and how many were skipped."""
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
    markets: list[Market]
    skipped: int  # records that were malformed or partial


class PolymarketError(NodeError):
    """The Gamma API could not be reached or gave an unusable answer."""


def _query(params: Mapping[str, ParamValue]) -> dict[str, str | int | float]:
    # Gamma wants lowercase booleans; None means "leave the parameter out".
    return {
        key: ("true" if value else "false") if isinstance(value, bool) else value
        for key, value in params.items()
        if value is not None
    }


class GammaClient:
    """Reads markets from the Gamma API at `base_url`, retrying transient failures."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._client = client
        self.base_url = base_url.rstrip("/")
        self._retry = retry or RetryPolicy()
        self._timeout = timeout

    async def list_markets(
        self, params: Mapping[str, ParamValue], *, deadline: float | None = None
    ) -> MarketPage:
        """GET /markets with `params`; raises PolymarketError with a plain message."""
        url = f"{self.base_url}/markets"
        where = f"The Polymarket API at {self.base_url}"
        timeout = self._timeout
        if deadline is not None:
            left = deadline - self._retry.now()
            if left <= 0:
                raise PolymarketError(f"No time left before the run's deadline to call {url}.")
            timeout = min(timeout, left + DEADLINE_SLACK)
        try:
            response = await self._retry.send(
                lambda: self._client.get(url, params=_query(params), timeout=timeout),
                deadline=deadline,
                what=f"GET {url}",
            )
        except RetryGaveUp as exc:
            raise PolymarketError(f"{where} could not be reached: {exc}") from exc
        if not response.is_success:
            raise PolymarketError(
                f"{where} rejected the request: {describe_status(response)}: {response.text[:200]}"
            )
        try:
            payload = response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content-type")
            raise PolymarketError(f"{where} sent a reply that is not JSON ({kind}).") from None
        try:
            markets, skipped = parse_markets(payload)
        except ValueError as exc:
            raise PolymarketError(f"{where} sent an unexpected reply: {exc}") from None
        return MarketPage(markets=markets, skipped=skipped)
