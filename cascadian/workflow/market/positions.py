"""What the trading book's bookkeeping step reads of the markets its open positions
are in, in as few requests as there are batches (the MarketStates port).

- Gamma, `GET /markets/keyset?id=…&id=…&closed=true|false`: the markets by id. The
  listing leaves closed markets out unless asked for them, so each batch of ids is
  asked twice at once, closed and not. A market has resolved when it is `closed`,
  its UMA resolution is final (`umaResolutionStatus` "resolved", or absent) and its
  `outcomePrices` (a JSON-encoded list of strings) are the payouts: 1 and 0, or 0.5
  each for a 50-50 resolution. Anything else (a proposed or disputed resolution, a
  price still trading) is not settled yet.
- Gamma, `GET /markets/keyset?clob_token_ids=…`: the market an outcome token
  belongs to (a copied trade names its token and condition, not Gamma's id).
- The CLOB, `POST /books` with `[{"token_id": t}, …]`: every token's book in one
  request per batch, answered as a list of `{asset_id, bids: [{price, size}], asks,
  …}`; a long position is marked at its token's best bid (the highest bid, whatever
  order the levels come in). A token without a book or without bids is not marked.

Both go through the process's upstreams, so their rate limiters count these too.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from cascadian.data import MarketState
from cascadian.workflow.market.service import MarketData
from cascadian.workflow.market.upstream import PolymarketError, PolymarketRejected, Upstream

log = logging.getLogger(__name__)

KEYSET_PATH = "/markets/keyset"
BOOKS_PATH = "/books"
# Ids per Gamma request: a URL of 100 ids stays far under the ~8 KB URLs Gamma takes.
GAMMA_BATCH = 100
# Tokens per /books request (a POST body; the CLOB documents no cap).
BOOKS_BATCH = 100
PAYOUTS = {Decimal(0), Decimal("0.5"), Decimal(1)}


class PositionMarkets:
    def __init__(self, gamma: Upstream, clob: Upstream) -> None:
        self.gamma, self.clob = gamma, clob

    @classmethod
    def of(cls, markets: MarketData) -> PositionMarkets:
        """Over the process's market data: its upstreams and their rate limiters."""
        return cls(markets.gamma.upstream, markets.books.upstream)

    async def market_states(
        self, market_ids: Sequence[str], *, deadline: float | None = None
    ) -> list[MarketState]:
        """The markets Gamma knows among `market_ids` (Gamma's ids are numbers; other
        ids are left out), each with its payouts once resolved."""
        ids = sorted({m for m in market_ids if m.isdigit()})
        wanted = set(ids)
        batches = [ids[i : i + GAMMA_BATCH] for i in range(0, len(ids), GAMMA_BATCH)]
        pages = await asyncio.gather(
            *(self._markets(b, closed, deadline) for b in batches for closed in (True, False))
        )
        found: dict[str, MarketState] = {}
        for page in pages:
            for record in page:
                state = market_state(record)
                if state is None or state.market_id not in wanted:
                    continue
                # A market closing between the two requests: the closed one wins.
                if state.payouts is not None or state.market_id not in found:
                    found[state.market_id] = state
        return [found[m] for m in ids if m in found]

    async def market_of_token(
        self, token_id: str, *, deadline: float | None = None
    ) -> MarketState | None:
        """The open market whose outcome `token_id` is (`GET /markets/keyset?
        clob_token_ids=…&closed=false`), so a position in that token is kept under
        the market's Gamma id and outcome, as the order nodes keep theirs; None when
        Gamma lists no open market with it."""
        params = {"clob_token_ids": token_id, "closed": "false", "limit": "1"}
        payload = await self.gamma.call("GET", KEYSET_PATH, params=params, deadline=deadline)
        if not isinstance(payload, dict) or not isinstance(payload.get("markets"), list):
            where = self.gamma.where
            raise PolymarketError(f"{where} sent an unexpected reply: expected a markets list")
        for record in payload["markets"]:
            state = market_state(record)
            if state is not None and token_id in state.token_ids:
                return state
        return None

    async def best_bids(
        self, token_ids: Sequence[str], *, deadline: float | None = None
    ) -> dict[str, Decimal]:
        tokens = sorted(set(token_ids))
        batches = [tokens[i : i + BOOKS_BATCH] for i in range(0, len(tokens), BOOKS_BATCH)]
        answers = await asyncio.gather(*(self._books(b, deadline) for b in batches))
        return {token: bid for answer in answers for token, bid in answer.items()}

    async def _markets(self, ids: list[str], closed: bool, deadline: float | None) -> list[Any]:
        params = httpx.QueryParams(
            {"id": ids, "closed": "true" if closed else "false", "limit": str(len(ids))}
        )
        payload = await self.gamma.call("GET", KEYSET_PATH, params=params, deadline=deadline)
        if not isinstance(payload, dict) or not isinstance(payload.get("markets"), list):
            where = self.gamma.where
            raise PolymarketError(f"{where} sent an unexpected reply: expected a markets list")
        return list(payload["markets"])

    async def _books(self, tokens: list[str], deadline: float | None) -> dict[str, Decimal]:
        body = [{"token_id": t} for t in tokens]
        try:
            payload = await self.clob.call("POST", BOOKS_PATH, body=body, deadline=deadline)
        except PolymarketRejected as exc:
            log.warning("no books for %d token(s): %s", len(tokens), exc)
            return {}
        if not isinstance(payload, list):
            raise PolymarketError(f"{self.clob.where} sent an unexpected reply: expected a list")
        bids: dict[str, Decimal] = {}
        for book in payload:
            token = book.get("asset_id") if isinstance(book, dict) else None
            best = _best_bid(book.get("bids")) if isinstance(book, dict) else None
            if isinstance(token, str) and token in tokens and best is not None:
                bids[token] = best
        return bids


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _best_bid(levels: Any) -> Decimal | None:
    """The highest bid with size, in (0, 1); None for an empty or malformed side."""
    if not isinstance(levels, list):
        return None
    prices = []
    for level in levels:
        if not isinstance(level, dict):
            continue
        price, size = _decimal(level.get("price")), _decimal(level.get("size"))
        if price is not None and size is not None and 0 < price < 1 and size > 0:
            prices.append(price)
    return max(prices, default=None)


def _json_list(value: Any) -> list[Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, list) else None


def market_state(record: Any) -> MarketState | None:
    """A Gamma market record as marking needs it; None when it cannot be read."""
    if not isinstance(record, dict) or record.get("id") in (None, ""):
        return None
    outcomes = _json_list(record.get("outcomes"))
    tokens = _json_list(record.get("clobTokenIds")) or []
    if not outcomes or (tokens and len(tokens) != len(outcomes)):
        return None
    return MarketState(
        market_id=str(record["id"]),
        outcomes=tuple(str(o) for o in outcomes),
        token_ids=tuple(str(t) for t in tokens),
        payouts=payouts(record, len(outcomes)),
    )


def payouts(record: dict[str, Any], n: int) -> tuple[Decimal, ...] | None:
    """Each outcome's payout per share once the market has resolved, else None."""
    if record.get("closed") is not True:
        return None
    status = record.get("umaResolutionStatus")
    if status not in (None, "", "resolved"):
        return None  # proposed or disputed: not final yet
    prices = [_decimal(p) for p in _json_list(record.get("outcomePrices")) or []]
    if len(prices) != n or any(p not in PAYOUTS for p in prices):
        return None
    if sum(p for p in prices if p is not None) != 1:
        return None
    return tuple(p for p in prices if p is not None)
