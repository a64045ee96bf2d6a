"""Polymarket market data: Gamma's keyset listing, live CLOB prices, and what keeps
them right at scale (one rate limiter per process, identical requests made once).

    record.py    the market record strategies see, and a live quote
    gamma.py     GET /markets/keyset, cursor by cursor, with the server-side filters
    clob.py      POST /midpoints and /prices: live prices by token id
    orderbook.py GET /book and /fee-rate: a token's book and fee rate, for paper orders
    positions.py open positions' markets by id (resolved or not) and their best bids
    upstream.py  one call: rate-limited, retried, decoded, failing in plain words
    limiter.py   at most N requests in any 10 s
    shared.py    single flight plus a short TTL for public requests
    service.py   MarketData: the above, built once per process
"""

from cascadian.workflow.market.gamma import MarketQuery
from cascadian.workflow.market.record import LiveQuote, Market, MarketPage, parse_markets
from cascadian.workflow.market.service import MarketData, MarketSource
from cascadian.workflow.market.upstream import PolymarketError

__all__ = [
    "LiveQuote",
    "Market",
    "MarketData",
    "MarketPage",
    "MarketQuery",
    "MarketSource",
    "PolymarketError",
    "parse_markets",
]
