"""Markets from Gamma's keyset listing, `GET /markets/keyset`, page by page.

The old `GET /markets` (offset paging) is deprecated (Sunset: 1 May 2026). The
keyset endpoint answers `{"markets": [...], "next_cursor": "..."}`; the next page is
asked for with `after_cursor=<next_cursor>`, and the last page has no `next_cursor`.
It refuses `offset`. Public clients disagree on its page-size cap (100 or 1,000), so
pages are `page_size` markets (100 unless configured) and paging goes on while the
server hands out a cursor, whatever size it chose to send.

Every page is requested with the same `limit` and an explicit `order`, whatever the
caller's own limit, so strategies that differ only in how many markets they want
share the same upstream pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from cascadian.workflow.market.record import Market, MarketPage, parse_markets
from cascadian.workflow.market.shared import RequestKey, SharedRequests
from cascadian.workflow.market.tap import HistoryTap
from cascadian.workflow.market.upstream import PolymarketError, Upstream

MARKETS_PATH = "/markets/keyset"
# Without an order the keyset walks markets by id, oldest first: never what a strategy means.
DEFAULT_ORDER = "volume24hr"


@dataclass(frozen=True)
class MarketQuery:
    """The filters Gamma applies itself. Equal queries are the same upstream requests."""

    active: bool | None = True
    closed: bool | None = False
    archived: bool | None = None
    tag_id: int | None = None
    liquidity_min: float | None = None
    liquidity_max: float | None = None
    volume_min: float | None = None
    volume_max: float | None = None
    end_date_min: datetime | None = None
    end_date_max: datetime | None = None
    order: str = DEFAULT_ORDER
    ascending: bool = False

    def params(self) -> dict[str, str]:
        """Gamma's query parameters: lowercase booleans, ISO dates, unset ones left out."""
        named: dict[str, Any] = {
            "active": self.active,
            "closed": self.closed,
            "archived": self.archived,
            "tag_id": self.tag_id,
            "liquidity_num_min": self.liquidity_min,
            "liquidity_num_max": self.liquidity_max,
            "volume_num_min": self.volume_min,
            "volume_num_max": self.volume_max,
            "end_date_min": self.end_date_min,
            "end_date_max": self.end_date_max,
            "order": self.order,
            "ascending": self.ascending,
        }
        return {k: _text(v) for k, v in named.items() if v is not None}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


@dataclass(frozen=True)
class KeysetPage:
    markets: tuple[Market, ...]
    skipped: int
    next_cursor: str | None


def parse_keyset_page(payload: Any) -> KeysetPage:
    """A `/markets/keyset` answer; ValueError when it is not that envelope."""
    if not isinstance(payload, dict) or not isinstance(payload.get("markets"), list):
        raise ValueError('expected {"markets": [...], "next_cursor": ...}')
    cursor = payload.get("next_cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise ValueError(f"next_cursor is a {type(cursor).__name__}, not a string")
    markets, skipped = parse_markets(payload["markets"])
    return KeysetPage(tuple(markets), skipped, cursor or None)


class GammaClient:
    def __init__(
        self,
        upstream: Upstream,
        shared: SharedRequests | None = None,
        page_size: int = 100,
        tap: HistoryTap | None = None,
    ) -> None:
        self.upstream, self.shared, self.page_size = upstream, shared, page_size
        # Told of every page fetched upstream, for the recorded history; None: nobody.
        self.tap = tap

    async def markets(
        self, query: MarketQuery, limit: int, *, deadline: float | None = None
    ) -> MarketPage:
        """Up to `limit` markets matching `query`, in its order, each market once."""
        params = query.params()
        markets: dict[str, Market] = {}
        skipped = pages = 0
        cursor: str | None = None
        while len(markets) < limit:
            page = await self._page(params, cursor, deadline)
            pages += 1
            skipped += page.skipped
            before = len(markets)
            for market in page.markets:
                markets.setdefault(market.id, market)  # values move between pages
            # A repeated cursor or a page of nothing new would loop for ever.
            if page.next_cursor in (None, cursor) or len(markets) == before:
                break
            cursor = page.next_cursor
        return MarketPage(list(markets.values())[:limit], skipped, pages)

    async def market(self, market_id: str, *, deadline: float | None = None) -> Any:
        """One market's raw record by its Gamma id (GET /markets/{id}); a missing one
        is a PolymarketRejected with status 404."""
        path = f"/markets/{quote(market_id, safe='')}"
        record = await self.upstream.call("GET", path, deadline=deadline)
        if self.tap is not None:
            self.tap.markets(parse_markets([record])[0])
        return record

    async def _page(
        self, params: Mapping[str, str], cursor: str | None, deadline: float | None
    ) -> KeysetPage:
        query = {**params, "limit": str(self.page_size)}
        if cursor is not None:
            query["after_cursor"] = cursor
        if self.shared is None:
            return await self._fetch(query, deadline)
        key = RequestKey("GET", self.upstream.url(MARKETS_PATH), tuple(sorted(query.items())))
        return await self.shared.get(key, lambda: self._fetch(query, deadline))

    async def _fetch(self, query: Mapping[str, str], deadline: float | None) -> KeysetPage:
        payload = await self.upstream.call("GET", MARKETS_PATH, params=query, deadline=deadline)
        try:
            page = parse_keyset_page(payload)
        except ValueError as exc:
            where = self.upstream.where
            raise PolymarketError(f"{where} sent an unexpected reply: {exc}") from None
        if self.tap is not None:
            self.tap.markets(page.markets)
        return page
