"""The market data a process reads, built once by the composition root.

One `MarketData` per process holds what must be shared by every strategy that
process runs: the rate limiters (one for Gamma, one for the CLOB, so the process
stays within Polymarket's published limits however many strategies it runs) and
the shared requests (identical public requests made once). Nodes reach it through
`NodeServices.market_data()`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from cascadian.config import Settings
from cascadian.data import MarketBook
from cascadian.outbound.retry import RetryPolicy
from cascadian.workflow.market.clob import ClobClient
from cascadian.workflow.market.gamma import GammaClient, MarketQuery
from cascadian.workflow.market.limiter import RateLimiter
from cascadian.workflow.market.orderbook import OrderBooks
from cascadian.workflow.market.record import LiveQuote, Market, MarketPage
from cascadian.workflow.market.shared import SharedRequests
from cascadian.workflow.market.tap import HistoryTap
from cascadian.workflow.market.upstream import Upstream

# Polymarket's limits are per 10 s sliding window.
RATE_WINDOW = 10.0


class MarketSource(Protocol):
    """What nodes read of the market: MarketData live, or the market as it was at a
    backtest's slot (backtests/markets.py), behind the same calls."""

    async def markets(
        self, query: MarketQuery, limit: int, *, deadline: float | None = None
    ) -> MarketPage: ...

    async def market(self, market_id: str, *, deadline: float | None = None) -> Any: ...

    async def live_quotes(
        self, token_ids: Iterable[str], *, deadline: float | None = None
    ) -> dict[str, LiveQuote]: ...

    async def market_book(self, token_id: str, *, deadline: float | None = None) -> MarketBook: ...

    async def with_live_prices(
        self, markets: Sequence[Market], *, deadline: float | None = None
    ) -> list[Market]: ...


@dataclass(frozen=True)
class MarketData:
    gamma: GammaClient
    clob: ClobClient
    books: OrderBooks

    @classmethod
    def create(
        cls,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        retry: RetryPolicy | None = None,
        share: bool = True,
        limit: bool = True,
        clock: Callable[[], float] = time.monotonic,
        tap: HistoryTap | None = None,
    ) -> MarketData:
        """The clients `settings` describe over `http`. `share=False` and `limit=False`
        turn sharing and rate limiting off (benchmarks compare with them). `tap` is told
        of what is fetched upstream, for the recorded history."""
        retry = retry or RetryPolicy()

        def upstream(url: str, name: str, per_window: int) -> Upstream:
            limiter = RateLimiter(per_window, RATE_WINDOW, clock=clock) if limit else None
            return Upstream(http, url, name, retry, limiter, settings.node_http_timeout_seconds)

        def shared(ttl: float) -> SharedRequests | None:
            return SharedRequests(ttl, clock) if share else None

        gamma = upstream(settings.polymarket_base_url, "Polymarket API", settings.gamma_rate_limit)
        clob = upstream(settings.clob_url, "Polymarket CLOB API", settings.clob_rate_limit)
        return cls(
            GammaClient(
                gamma, shared(settings.market_cache_seconds), settings.gamma_page_size, tap
            ),
            ClobClient(clob, shared(settings.price_cache_seconds), tap),
            OrderBooks(
                clob,
                settings.default_fee_rate,
                shared(settings.price_cache_seconds),
                shared(settings.fee_rate_cache_seconds),
                tap,
            ),
        )

    async def markets(
        self, query: MarketQuery, limit: int, *, deadline: float | None = None
    ) -> MarketPage:
        """Up to `limit` markets from Gamma that match `query` (see gamma.py)."""
        return await self.gamma.markets(query, limit, deadline=deadline)

    async def market(self, market_id: str, *, deadline: float | None = None) -> Any:
        """One market's raw Gamma record by id (see GammaClient.market)."""
        return await self.gamma.market(market_id, deadline=deadline)

    async def live_quotes(
        self, token_ids: Iterable[str], *, deadline: float | None = None
    ) -> dict[str, LiveQuote]:
        """Live CLOB quotes for `token_ids`; a token without an order book is missing."""
        return await self.clob.quotes(token_ids, deadline=deadline)

    async def market_book(self, token_id: str, *, deadline: float | None = None) -> MarketBook:
        """A token's order book and taker fee rate, for a paper order (orderbook.py)."""
        return await self.books.market_book(token_id, deadline=deadline)

    async def with_live_prices(
        self, markets: Sequence[Market], *, deadline: float | None = None
    ) -> list[Market]:
        """`markets` with CLOB prices where the order book has them (`price_source`
        "clob"): each outcome's midpoint, and the first outcome's best bid and ask.
        A market missing any outcome's midpoint keeps all of Gamma's prices."""
        tokens = [t for m in markets if m.enable_order_book is not False for t in m.clob_token_ids]
        quotes = await self.live_quotes(tokens, deadline=deadline) if tokens else {}
        return [live_priced(m, quotes) for m in markets]


def live_priced(market: Market, quotes: dict[str, LiveQuote]) -> Market:
    """`market` with the prices in `quotes`, or as it is when one outcome has none."""
    found = [quotes.get(t) for t in market.clob_token_ids]
    mids = [q.midpoint if q else None for q in found]
    if not found or any(mid is None for mid in mids):
        return market
    first = found[0]
    assert first is not None
    bid, ask = first.best_bid, first.best_ask
    return market.model_copy(
        update={
            "outcome_prices": mids,
            "best_bid": bid,
            "best_ask": ask,
            "spread": round(ask - bid, 6) if bid is not None and ask is not None else None,
            "price_source": "clob",
        }
    )
