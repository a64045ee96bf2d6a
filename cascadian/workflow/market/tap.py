"""What the process's market data fetched, kept for the recorded history.

The live clients hand every answer they fetched upstream (not the answers they
shared from their cache) to the tap; it keeps only the newest state of each market,
token quote and book, so it holds at most one entry per key between recordings,
however many strategies and ticks read them. `take()` empties it into one
HistoryRecording, which the recorder (backtests/recording.py) writes after the tick.
Noting is a dict assignment: the live tick pays next to nothing for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cascadian.data import HistoryRecording
from cascadian.workflow.market.record import LiveQuote, Market

# What rarely changes of a market, kept once per market (the rest is its state).
STATIC_FIELDS = frozenset(
    {
        "id",
        "question",
        "slug",
        "outcomes",
        "clob_token_ids",
        "condition_id",
        "end_date",
        "category",
        "neg_risk",
        "tick_size",
        "min_order_size",
    }
)


def split_market(market: Market) -> tuple[dict[str, Any], dict[str, Any]]:
    """A market as (what rarely changes, what moves), JSON values by field name.
    `price_source` is left out: the history says where each price came from."""
    data = market.model_dump(mode="json", exclude={"price_source"})
    static = {k: v for k, v in data.items() if k in STATIC_FIELDS}
    state = {k: v for k, v in data.items() if k not in STATIC_FIELDS}
    return static, state


class HistoryTap:
    def __init__(self) -> None:
        self._markets: dict[str, Market] = {}
        self._quotes: dict[str, LiveQuote] = {}
        self._books: dict[str, Any] = {}

    def markets(self, markets: Iterable[Market]) -> None:
        for market in markets:
            if market.price_source == "gamma":  # a market as Gamma listed it
                self._markets[market.id] = market

    def quotes(self, quotes: Iterable[LiveQuote]) -> None:
        for quote in quotes:
            self._quotes[quote.token_id] = quote

    def book(self, token_id: str, book: Any) -> None:
        if isinstance(book, dict):
            self._books[token_id] = book

    def __len__(self) -> int:
        return len(self._markets) + len(self._quotes) + len(self._books)

    def take(self) -> HistoryRecording:
        """What was noted since the last take, as one recording; the tap is empty after."""
        markets, quotes, books = self._markets, self._quotes, self._books
        self._markets, self._quotes, self._books = {}, {}, {}
        rows = []
        for market in markets.values():
            static, state = split_market(market)
            rows.append({"id": market.id, "static": static, "state": state})
        prices = [
            {
                "token_id": q.token_id,
                "midpoint": _text(q.midpoint),
                "best_bid": _text(q.best_bid),
                "best_ask": _text(q.best_ask),
            }
            for q in quotes.values()
        ]
        book_rows = [{"token_id": t, "book": _book(b)} for t, b in books.items()]
        return HistoryRecording(rows, prices, book_rows)


def _text(price: float | None) -> str | None:
    # Prices are floats in the live path (clob.py); as text, numeric keeps them exact.
    return None if price is None else repr(price)


def _book(book: dict[str, Any]) -> dict[str, Any]:
    """The book's levels and rules, without what changes at every read (its hash and
    timestamp), so that an unchanged book is recorded once."""
    keep = ("bids", "asks", "tick_size", "min_order_size", "neg_risk")
    return {k: book[k] for k in keep if k in book}
