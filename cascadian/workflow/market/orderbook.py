"""A token's full order book and taker fee rate from the CLOB, for paper orders.

- `GET /book?token_id=…` answers `{bids: [{price, size}], asks: [...], tick_size,
  min_order_size, ...}` (numbers as strings); it is passed on as sent, and the
  trading book parses it (cascadian/trading/fills.py). Read fresh: shared only for
  the short price cache.
- `GET /fee-rate?token_id=…` answers `{"base_fee": 30}` in basis points; rates differ
  by market category and rarely change, so an answer is kept for
  CASCADIAN_FEE_RATE_CACHE_SECONDS. When the CLOB does not answer, the configured
  default (CASCADIAN_DEFAULT_FEE_RATE) is used and the order says so.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from cascadian.data import MarketBook
from cascadian.workflow.market.shared import RequestKey, SharedRequests
from cascadian.workflow.market.tap import HistoryTap
from cascadian.workflow.market.upstream import PolymarketError, Upstream

log = logging.getLogger(__name__)

BOOK_PATH = "/book"
FEE_RATE_PATH = "/fee-rate"
BASIS_POINTS = Decimal(10_000)


class OrderBooks:
    def __init__(
        self,
        upstream: Upstream,
        default_fee_rate: Decimal,
        books: SharedRequests | None = None,
        fee_rates: SharedRequests | None = None,
        tap: HistoryTap | None = None,
    ) -> None:
        self.upstream, self.default_fee_rate = upstream, default_fee_rate
        self.books, self.fee_rates = books, fee_rates
        self.tap = tap  # told of the books read, for the recorded history

    async def market_book(self, token_id: str, *, deadline: float | None = None) -> MarketBook:
        """The token's book and fee rate; PolymarketError when the book cannot be read."""
        book = await self._get(self.books, BOOK_PATH, token_id, deadline)
        if self.tap is not None:
            self.tap.book(token_id, book)
        try:
            answer = await self._get(self.fee_rates, FEE_RATE_PATH, token_id, deadline)
            return MarketBook(book, _rate(answer), "clob")
        except (PolymarketError, ValueError) as exc:
            log.warning("fee rate of token %s from the default: %s", token_id, exc)
            return MarketBook(book, self.default_fee_rate, "default")

    async def _get(
        self, shared: SharedRequests | None, path: str, token_id: str, deadline: float | None
    ) -> Any:
        params = {"token_id": token_id}

        async def fetch() -> Any:
            return await self.upstream.call("GET", path, params=params, deadline=deadline)

        if shared is None:
            return await fetch()
        key = RequestKey("GET", self.upstream.url(path), params=tuple(params.items()))
        return await shared.get(key, fetch)


def _rate(answer: Any) -> Decimal:
    """The fee rate as a fraction, from `{"base_fee": bps}`; ValueError otherwise."""
    if not isinstance(answer, dict) or isinstance(answer.get("base_fee"), bool):
        raise ValueError(f"the fee rate answer is not {{base_fee}}: {str(answer)[:100]}")
    try:
        bps = Decimal(str(answer["base_fee"]))
    except (KeyError, InvalidOperation) as exc:
        raise ValueError(f"the fee rate answer has no number: {str(answer)[:100]}") from exc
    if not bps.is_finite() or not 0 <= bps <= BASIS_POINTS:
        raise ValueError(f"the fee rate {bps} bps is out of range")
    return bps / BASIS_POINTS
