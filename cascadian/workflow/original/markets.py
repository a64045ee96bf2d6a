"""Markets as the original's nodes saw them, from cascadian's market data (workflow/market).

- `original_record`: a market in the original's field names (id, question, category,
  currentPrice, volume, volume24h, liquidity, endsAt, outcomes, active, closed, slug),
  plus what paper trading needs (outcomePrices, clobTokenIds, conditionId, priceSource);
- `category_of`: the original's categories (Politics, Crypto, Sport, Culture, Science,
  Finance, Tech, Other), by its own mapping: Gamma's category text, then its keyword
  lists; a market Gamma gives no category is classed by the words of its question;
- `market_by_id`: the market a paper order names (its fill is the trading book's,
  against the live order book: cascadian/trading/);
- `LiveMarks`: the live prices the paper book values open positions at.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from cascadian.data import PaperMark, PaperPosition
from cascadian.errors import NodeError
from cascadian.workflow.market import Market, MarketData, MarketSource, PolymarketError
from cascadian.workflow.market.upstream import PolymarketRejected

log = logging.getLogger(__name__)

_EXACT = {
    "crypto": "Crypto",
    "cryptocurrency": "Crypto",
    "politics": "Politics",
    "sports": "Sport",
    "entertainment": "Culture",
    "pop-culture": "Culture",
    "science": "Science",
    "business": "Finance",
    "technology": "Tech",
    # Not in the original's map: Gamma's own names for its finance markets.
    "economics": "Finance",
    "economy": "Finance",
}
_KEYWORDS = {
    "Crypto": ("bitcoin", "ethereum", "defi", "nft", "blockchain", "solana", "crypto"),
    "Politics": ("election", "president", "congress", "vote", "senate", "government"),
    "Sport": ("nfl", "nba", "mlb", "nhl", "playoff", "championship", "soccer", "football"),
    "Culture": ("movie", "film", "music", "celebrity", "album", "oscar", "grammy"),
    "Science": ("ai", "space", "climate", "medicine", "covid", "vaccine"),
    "Finance": ("stock", "market", "ceo", "ipo", "earnings", "fed", "gdp"),
}
# The original's vocabulary was not consistent (Sport and Sports, Tech and Technology).
_SYNONYMS = {"sports": "sport", "technology": "tech", "pop culture": "culture"}


def normal_category(name: str) -> str:
    text = name.strip().lower()
    return _SYNONYMS.get(text, text)


def category_of(market: Market) -> str:
    if market.category:
        text = market.category.strip().lower()
        if text in _EXACT:
            return _EXACT[text]
        for category, words in _KEYWORDS.items():
            if any(word in text for word in words):
                return category
    said = set(re.findall(r"[a-z0-9]+", market.question.lower()))
    for category, keywords in _KEYWORDS.items():
        if said.intersection(keywords):
            return category
    return "Other"


def original_record(market: Market) -> dict[str, Any]:
    data = market.to_output()
    return {
        "id": market.id,
        "question": market.question,
        "category": category_of(market),
        "currentPrice": market.yes_price,
        "volume": market.volume,
        "volume24h": market.volume_24h,
        "liquidity": market.liquidity,
        "endsAt": data["end_date"],
        "outcomes": list(market.outcomes),
        "active": market.active and not market.closed,
        "closed": market.closed,
        "slug": market.slug or market.id,
        "outcomePrices": list(market.outcome_prices),
        "clobTokenIds": list(market.clob_token_ids),
        "conditionId": market.condition_id,
        "priceSource": market.price_source,
    }


async def market_by_id(markets: MarketSource, market_id: str, deadline: float | None) -> Market:
    """The market with this Gamma id; NodeError when there is none."""
    try:
        record = await markets.market(market_id, deadline=deadline)
    except PolymarketRejected as exc:
        if exc.status == 404:
            raise NodeError(f"Polymarket has no market with id {market_id!r}") from None
        raise
    try:
        return Market.model_validate(record)
    except ValidationError as exc:
        raise PolymarketError(
            f"Polymarket's record of market {market_id!r} is unusable: {exc.errors()[0]['msg']}"
        ) from None


class LiveMarks:
    """Prices open paper positions at their outcome's live midpoint (else Gamma's
    listed price): cascadian.trading.paper's MarkSource."""

    def __init__(self, markets: MarketData) -> None:
        self.markets = markets

    async def marks(self, positions: Sequence[PaperPosition]) -> list[PaperMark]:
        found: dict[str, Market] = {}
        for market_id in dict.fromkeys(p.market_id for p in positions):
            try:
                found[market_id] = await market_by_id(self.markets, market_id, None)
            except NodeError as exc:
                log.info("no mark for paper market %r: %s", market_id, exc)
        tokens = {t for m in found.values() for t in m.clob_token_ids}
        quotes = await self.markets.live_quotes(tokens) if tokens else {}
        marks = []
        for position in positions:
            market = found.get(position.market_id)
            names = [o.strip().lower() for o in market.outcomes] if market else []
            if market is None or position.outcome.strip().lower() not in names:
                continue
            index = names.index(position.outcome.strip().lower())
            token = market.clob_token_ids[index] if market.clob_token_ids else None
            quote = quotes.get(token) if token else None
            if quote is not None and quote.midpoint is not None:
                marks.append(
                    PaperMark(position.market_id, position.outcome, quote.midpoint, "clob")
                )
            elif index < len(market.outcome_prices):
                price = market.outcome_prices[index]
                marks.append(PaperMark(position.market_id, position.outcome, price, "gamma"))
        return marks
