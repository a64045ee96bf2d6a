"""Live prices from the CLOB API (https://clob.polymarket.com), by token id, in batches.

Gamma's `outcomePrices` can be 5 minutes old (its edge cache); the order book is not.
Two batch reads, both public POSTs that change nothing:

- `POST /midpoints`, body `[{"token_id": t}, ...]`, answers `{t: "0.45", ...}`;
- `POST /prices`, body `[{"token_id": t, "side": "BUY"}, {"token_id": t, "side": "SELL"}]`,
  answers `{t: {"BUY": "0.44", "SELL": "0.46"}}`: BUY is the best bid, SELL the best ask.

A token without an order book is left out of the answers. Token ids are
de-duplicated and sorted before they are cut into batches, so strategies asking for
the same tokens send byte-identical bodies and share the requests. A batch the API
refuses (4xx) gives those tokens no quote, and the caller keeps Gamma's prices for
them. Prices are read as Decimal from the CLOB's strings (`exact_quotes`, what
triggers compare with their levels); `quotes` gives them as the floats strategies'
market records carry.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from cascadian.workflow.market.record import ExactQuote, LiveQuote
from cascadian.workflow.market.shared import RequestKey, SharedRequests
from cascadian.workflow.market.tap import HistoryTap
from cascadian.workflow.market.upstream import PolymarketError, PolymarketRejected, Upstream

log = logging.getLogger(__name__)

MIDPOINTS_PATH = "/midpoints"
PRICES_PATH = "/prices"
# Tokens per batch request. The API documents no cap (public clients send up to 500);
# 50 keeps bodies and answers small, and a /prices body has two entries per token.
BATCH = 50


def decimal_price(value: Any) -> Decimal | None:
    """A price in [0, 1] from the CLOB's strings (or numbers); None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        price = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return price if price.is_finite() and 0 <= price <= 1 else None


def _object(payload: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(payload, dict):
        raise ValueError(f"expected an object of {what} by token id")
    return payload


class ClobClient:
    def __init__(
        self,
        upstream: Upstream,
        shared: SharedRequests | None = None,
        tap: HistoryTap | None = None,
    ) -> None:
        self.upstream, self.shared = upstream, shared
        self.tap = tap  # told of the quotes read, for the recorded history

    async def quotes(
        self, token_ids: Iterable[str], *, deadline: float | None = None
    ) -> dict[str, LiveQuote]:
        """Each token's midpoint, best bid and best ask; tokens with no book are missing."""
        exact = await self.exact_quotes(token_ids, deadline=deadline)
        return {token: q.live() for token, q in exact.items()}

    async def exact_quotes(
        self, token_ids: Iterable[str], *, deadline: float | None = None
    ) -> dict[str, ExactQuote]:
        """The same, as the CLOB wrote them (Decimal)."""
        tokens = sorted(set(token_ids))
        batches = [tokens[i : i + BATCH] for i in range(0, len(tokens), BATCH)]
        answers = await asyncio.gather(*(self._batch(b, deadline) for b in batches))
        return {q.token_id: q for answer in answers for q in answer}

    async def _batch(self, tokens: list[str], deadline: float | None) -> list[ExactQuote]:
        mids_body = [{"token_id": t} for t in tokens]
        sides_body = [{"token_id": t, "side": side} for t in tokens for side in ("BUY", "SELL")]
        try:
            mids, sides = await asyncio.gather(
                self._post(MIDPOINTS_PATH, mids_body, deadline),
                self._post(PRICES_PATH, sides_body, deadline),
            )
        except PolymarketRejected as exc:
            log.warning("no live prices for %d token(s): %s", len(tokens), exc)
            return []
        try:
            quotes = self._quotes(tokens, _object(mids, "midpoints"), _object(sides, "prices"))
        except ValueError as exc:
            where = self.upstream.where
            raise PolymarketError(f"{where} sent an unexpected reply: {exc}") from None
        if self.tap is not None:
            self.tap.quotes(q.live() for q in quotes)
        return quotes

    @staticmethod
    def _quotes(
        tokens: list[str], mids: Mapping[str, Any], sides: Mapping[str, Any]
    ) -> list[ExactQuote]:
        quotes = []
        for token in tokens:
            side = sides.get(token)
            side = side if isinstance(side, dict) else {}
            quote = ExactQuote(
                token,
                decimal_price(mids.get(token)),
                decimal_price(side.get("BUY")),
                decimal_price(side.get("SELL")),
            )
            if quote != ExactQuote(token):
                quotes.append(quote)
        return quotes

    async def _post(self, path: str, body: list[dict[str, str]], deadline: float | None) -> Any:
        async def fetch() -> Any:
            return await self.upstream.call("POST", path, body=body, deadline=deadline)

        if self.shared is None:
            return await fetch()
        key = RequestKey("POST", self.upstream.url(path), body=json.dumps(body))
        return await self.shared.get(key, fetch)
