"""Polymarket's public Data API (https://data-api.polymarket.com): the leaderboard,
a wallet's closed positions and trades, a market's holders.

Each route family has its own process-wide rate limiter below the published limits
(per 10 s: 1,000 general, 200 for /trades, 150 for /positions and
/closed-positions; settings take half, as for Gamma and the CLOB); every attempt,
retries included, takes a slot. 429 (with Retry-After) and 5xx are retried inside
the run's deadline by the same Upstream the Gamma client uses, and every body is
read streamed, within CASCADIAN_HTTP_MAX_RESPONSE_BYTES.

Paging: the v2 routes (/v2/leaderboard, /v2/holders, /v2/trades) answer
`{"data": [...], "pagination": {"next_cursor"}}`; a cursor pins the query it was
minted for, so the next page is asked for with `cursor` alone. /closed-positions
pages by `offset`, 50 at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cascadian.errors import NodeError
from cascadian.workflow.market.shared import RequestKey, SharedRequests
from cascadian.workflow.market.upstream import PolymarketError, Upstream
from cascadian.workflow.wallets.records import (
    ClosedPosition,
    Holder,
    Page,
    Ranked,
    Trade,
    closed_position,
    holder,
    ranked,
    trade,
    v2_page,
)

LEADERBOARD_PATH = "/v2/leaderboard"
CLOSED_POSITIONS_PATH = "/closed-positions"
HOLDERS_PATH = "/v2/holders"
TRADES_PATH = "/v2/trades"
# /closed-positions answers at most 50 a page.
CLOSED_PAGE = 50
# The first leaderboard page's size (the cursor keeps it for the pages after).
LEADERBOARD_PAGE = 100
# /v2/holders with include_pnl serves at most 100 holders per outcome.
HOLDERS_PAGE = 100

Window = Literal["day", "week", "month", "all"]
Board = Literal["PNL", "VOLUME"]


class UniverseTooLarge(NodeError):
    """A node asked the leaderboard for more wallets than the configured cap."""


@dataclass(frozen=True)
class Universe:
    """Wallets from the leaderboard, best first, each once; how many rows were skipped."""

    wallets: list[Ranked]
    skipped: int
    pages: int


@dataclass
class DataApiClient:
    general: Upstream  # /v2/leaderboard, /v2/holders, and any other route
    trades_upstream: Upstream  # /v2/trades
    positions: Upstream  # /closed-positions (and /positions)
    universe_max: int
    shared: SharedRequests | None = None

    async def leaderboard(
        self,
        limit: int,
        *,
        window: Window = "month",
        category: str = "overall",
        board: Board = "PNL",
        deadline: float | None = None,
    ) -> Universe:
        """Up to `limit` wallets of one board, cursor by cursor; UniverseTooLarge past
        the cap (CASCADIAN_WALLET_UNIVERSE_MAX)."""
        if limit > self.universe_max:
            raise UniverseTooLarge(
                f"{limit} wallets is more than a DATA_SOURCE may read from the leaderboard "
                f"({self.universe_max}, CASCADIAN_WALLET_UNIVERSE_MAX): ask for fewer, "
                "or raise the setting"
            )
        first = {
            "time_period": window,
            "category": category,
            "sort_by": board,
            "limit": str(min(limit, LEADERBOARD_PAGE)),
        }
        found: dict[str, Ranked] = {}
        skipped = pages = 0
        cursor: str | None = None
        while len(found) < limit:
            params = first if cursor is None else {"cursor": cursor}
            payload = await self._get(self.general, LEADERBOARD_PATH, params, deadline)
            page = self._page(self.general, payload)
            pages += 1
            before = len(found)
            for row in page.rows:
                entry = ranked(row)
                if entry is None:
                    skipped += 1
                else:
                    found.setdefault(entry.wallet, entry)
            if page.next_cursor in (None, cursor) or len(found) == before:
                break
            cursor = page.next_cursor
        return Universe(list(found.values())[:limit], skipped, pages)

    async def closed_positions(
        self, wallet: str, most: int, *, deadline: float | None = None
    ) -> list[ClosedPosition]:
        """A wallet's newest `most` closed positions (fewer if it has fewer)."""
        positions: list[ClosedPosition] = []
        offset = 0
        while offset < most:
            params = {
                "user": wallet,
                "limit": str(CLOSED_PAGE),
                "offset": str(offset),
                "sortBy": "TIMESTAMP",
                "sortDirection": "DESC",
            }
            rows = await self.positions.call(
                "GET", CLOSED_POSITIONS_PATH, params=params, deadline=deadline
            )
            if not isinstance(rows, list):
                raise PolymarketError(
                    f"{self.positions.where} sent an unexpected reply: expected a list of "
                    "closed positions"
                )
            positions.extend(p for p in map(closed_position, rows) if p is not None)
            if len(rows) < CLOSED_PAGE:
                break
            offset += CLOSED_PAGE
        return positions[:most]

    async def holders(self, condition_id: str, *, deadline: float | None = None) -> list[Holder]:
        """A market's top holders of each outcome, with their entry price and cost."""
        params = {"condition": condition_id, "include_pnl": "true", "limit": str(HOLDERS_PAGE)}
        payload = await self._get(self.general, HOLDERS_PATH, params, deadline)
        page = self._page(self.general, payload)
        found: list[Holder] = []
        for group in page.rows:
            if not isinstance(group, dict) or not isinstance(group.get("holders"), list):
                continue
            index = group.get("outcome_index")
            default = index if isinstance(index, int) and not isinstance(index, bool) else None
            found.extend(h for h in (holder(r, default) for r in group["holders"]) if h)
        return found

    async def trades(
        self, wallet: str, limit: int, *, start: int | None = None, deadline: float | None = None
    ) -> list[Trade]:
        """A wallet's newest `limit` trades, maker and taker side alike; from `start`
        (unix seconds, inclusive) on when given."""
        params = {"user": wallet, "limit": str(limit), "taker_only": "false"}
        if start is not None:
            params["start"] = str(start)
        payload = await self.trades_upstream.call(
            "GET", TRADES_PATH, params=params, deadline=deadline
        )
        page = self._page(self.trades_upstream, payload)
        return [t for t in map(trade, page.rows) if t is not None]

    async def _get(
        self, upstream: Upstream, path: str, params: dict[str, str], deadline: float | None
    ) -> Any:
        async def fetch() -> Any:
            return await upstream.call("GET", path, params=params, deadline=deadline)

        if self.shared is None:
            return await fetch()
        key = RequestKey("GET", upstream.url(path), tuple(sorted(params.items())))
        return await self.shared.get(key, fetch)

    @staticmethod
    def _page(upstream: Upstream, payload: Any) -> Page:
        try:
            return v2_page(payload)
        except ValueError as exc:
            raise PolymarketError(f"{upstream.where} sent an unexpected reply: {exc}") from None
