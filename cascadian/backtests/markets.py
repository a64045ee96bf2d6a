"""The market nodes see in a backtest: the recorded history at the slot, behind the
same calls as the live market data (workflow/market/service.py's MarketSource).

- `markets(query, limit)`: the markets recorded as listed at the slot, filtered as
  Gamma filters them and ordered by the query's field. The listing is what was
  recorded: markets some strategy read; a query for markets nobody read finds fewer
  than Gamma would have (docs/backtests.md);
- `market(id)`: the market's state at the slot (404 when there is none);
- `live_quotes`, `with_live_prices`: the token prices at the slot (recorded CLOB
  quotes, or Polymarket's public price history);
- `market_book(token)`: the book recorded at the slot; where none was, a book made
  from the midpoint with CASCADIAN_BACKTEST_HALF_SPREAD either side and unbounded
  depth (the spread model). The fee rate is CASCADIAN_DEFAULT_FEE_RATE: fee rates are
  not recorded.

What each order was based on (the market's state, the book's source) is noted for
the order's task in `basis`, which the backtest's book reads back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from pydantic import ValidationError

from cascadian.backtests.history import KeyedHistory
from cascadian.data import MarketBook
from cascadian.errors import NodeError
from cascadian.workflow.market import LiveQuote, Market, MarketPage, MarketQuery
from cascadian.workflow.market.service import live_priced
from cascadian.workflow.market.upstream import PolymarketRejected

# Gamma's order fields, as the Market's.
ORDERS = {
    "volume24hr": "volume_24h",
    "volume": "volume",
    "volumeNum": "volume",
    "liquidity": "liquidity",
    "liquidityNum": "liquidity",
    "endDate": "end_date",
}
DEPTH = "1000000"  # the spread model's shares at each side: unbounded, said so

basis: ContextVar[dict[str, Any] | None] = ContextVar("cascadian_backtest_basis", default=None)


def _note(**fields: Any) -> None:
    found = basis.get()
    if found is None:
        found = {}
        basis.set(found)
    found.update(fields)


class HistoricalMarkets:
    def __init__(
        self,
        statics: dict[str, dict[str, Any]],
        markets: KeyedHistory,
        prices: KeyedHistory,
        books: KeyedHistory,
        fee_rate: Decimal,
        half_spread: Decimal,
    ) -> None:
        self.statics, self.fee_rate, self.half_spread = statics, fee_rate, half_spread
        self.history_markets, self.prices, self.books = markets, prices, books
        self._built: dict[str, tuple[datetime, Market]] = {}
        # Each token's market and outcome index, from what rarely changes.
        self.tokens: dict[str, tuple[str, int]] = {
            str(t): (mid, i)
            for mid, s in statics.items()
            for i, t in enumerate(s.get("clob_token_ids") or [])
        }

    @property
    def now(self) -> datetime:
        assert self.history_markets.now is not None
        return self.history_markets.now

    async def advance(self, t: datetime) -> None:
        for kind in (self.history_markets, self.prices, self.books):
            await kind.advance(t)

    def state(self, market_id: str) -> Market | None:
        """The market as recorded at the slot; None when there is no valid state."""
        row = self.history_markets.at(market_id)
        static = self.statics.get(market_id)
        if row is None or static is None:
            return None
        held = self._built.get(market_id)
        if held is not None and held[0] == row.seen_at:
            return held[1]
        try:
            built = Market.model_validate({**static, **row.value})
        except ValidationError:
            return None
        self._built[market_id] = (row.seen_at, built)  # the current state only
        return built

    async def markets(
        self, query: MarketQuery, limit: int, *, deadline: float | None = None
    ) -> MarketPage:
        if query.tag_id is not None or query.archived is not None:
            raise NodeError(
                "tags and archived markets are not recorded: a backtest cannot filter on them"
            )
        field = ORDERS.get(query.order)
        if field is None:
            raise NodeError(f"a backtest cannot order markets by {query.order!r}")
        found = [m for k in self.history_markets.valid_keys() if (m := self.state(k)) is not None]
        kept = [m for m in found if _matches(m, query)]
        if field == "end_date":
            far = datetime.max.replace(tzinfo=self.now.tzinfo)
            kept.sort(key=lambda m: m.end_date or far, reverse=not query.ascending)
        else:
            kept.sort(key=lambda m: getattr(m, field), reverse=not query.ascending)
        return MarketPage(kept[:limit], 0, 1)

    async def market(self, market_id: str, *, deadline: float | None = None) -> Any:
        market = self.state(market_id)
        if market is None:
            raise PolymarketRejected(
                f"no recorded state of market {market_id!r} at {self.now.isoformat()}", 404
            )
        row = self.history_markets.at(market_id)
        assert row is not None
        _note(market_id=market_id, market_seen_at=row.seen_at.isoformat())
        return market.model_dump(mode="json")

    def quote(self, token_id: str) -> LiveQuote | None:
        row = self.prices.at(token_id)
        if row is None:
            return None
        v = row.value
        quote = LiveQuote(
            token_id,
            _float(v.get("midpoint")),
            _float(v.get("best_bid")),
            _float(v.get("best_ask")),
        )
        return None if quote == LiveQuote(token_id) else quote

    async def live_quotes(
        self, token_ids: Iterable[str], *, deadline: float | None = None
    ) -> dict[str, LiveQuote]:
        return {t: q for t in set(token_ids) if (q := self.quote(t)) is not None}

    async def with_live_prices(
        self, markets: Sequence[Market], *, deadline: float | None = None
    ) -> list[Market]:
        tokens = [t for m in markets if m.enable_order_book is not False for t in m.clob_token_ids]
        quotes = await self.live_quotes(tokens)
        return [live_priced(m, quotes) for m in markets]

    def midpoint(self, token_id: str) -> Decimal | None:
        """The token's price at the slot: its quote's midpoint, else the market's
        recorded outcome price."""
        quote = self.quote(token_id)
        if quote is not None and quote.midpoint is not None:
            return Decimal(str(quote.midpoint))
        where = self.tokens.get(token_id)
        market = self.state(where[0]) if where else None
        if market is None or where is None or where[1] >= len(market.outcome_prices):
            return None
        return Decimal(str(market.outcome_prices[where[1]]))

    async def market_book(self, token_id: str, *, deadline: float | None = None) -> MarketBook:
        row = self.books.at(token_id)
        if row is not None:
            _note(book="recorded", book_seen_at=row.seen_at.isoformat())
            return MarketBook(row.value.get("book", row.value), self.fee_rate, "default")
        mid = self.midpoint(token_id)
        if mid is None:
            raise NodeError(
                f"no recorded price or book of token {token_id} at {self.now.isoformat()}"
            )
        where = self.tokens.get(token_id)
        tick = Decimal(
            str((self.statics.get(where[0], {}) if where else {}).get("tick_size") or "0.01")
        )
        bid = ((mid - self.half_spread) / tick).to_integral_value(ROUND_FLOOR) * tick
        ask = ((mid + self.half_spread) / tick).to_integral_value(ROUND_CEILING) * tick
        bid, ask = max(bid, tick), min(ask, Decimal(1) - tick)
        _note(book="spread model", midpoint=str(mid), half_spread=str(self.half_spread))
        book = {
            "bids": [{"price": str(bid), "size": DEPTH}] if bid < mid else [],
            "asks": [{"price": str(ask), "size": DEPTH}] if ask > mid else [],
            "tick_size": str(tick),
            "min_order_size": "0",
        }
        return MarketBook(book, self.fee_rate, "default")


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _within(value: Any, low: Any, high: Any) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _matches(m: Market, q: MarketQuery) -> bool:
    if q.active is not None and m.active != q.active:
        return False
    if q.closed is not None and m.closed != q.closed:
        return False
    if not _within(m.liquidity, q.liquidity_min, q.liquidity_max):
        return False
    if not _within(m.volume, q.volume_min, q.volume_max):
        return False
    if q.end_date_min or q.end_date_max:
        return m.end_date is not None and _within(m.end_date, q.end_date_min, q.end_date_max)
    return True


def payouts(market: Market) -> list[Decimal] | None:
    """Each outcome's payout once the market has resolved (closed, every price 0, 1
    or 0.5 and summing to 1, as Gamma shows a resolution); None while it has not."""
    if not market.closed:
        return None
    prices = [Decimal(str(p)) for p in market.outcome_prices]
    allowed = {Decimal(0), Decimal("0.5"), Decimal(1)}
    if not prices or any(p not in allowed for p in prices) or sum(prices) != 1:
        return None
    return prices


def grace(every_seconds: float) -> timedelta:
    """How long a state stays valid after it was last seen: two recording periods."""
    return timedelta(seconds=2 * every_seconds)
