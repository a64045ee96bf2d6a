"""Polymarket's public price history, for prices before recording began.

The CLOB publishes each token's price history (docs.polymarket.com, "Get prices
history"):

- `GET /prices-history?market=<token>&startTs=<s>&endTs=<s>&fidelity=<minutes>`
  answers `{"history": [{"t": <unix seconds>, "p": <price>}, ...]}`;
- `POST /batch-prices-history` with `{"markets": [<token>, ...] (at most 20),
  "start_ts", "end_ts", "fidelity"}` answers `{"history": {<token>: [{"t", "p"}]}}`.

Both are public reads. Points are imported into the price history with source
`prices-history`, each valid until the next point (the last for one fidelity), so
a backtest reads them as it reads recorded quotes (a midpoint, no bid or ask).
Nothing else is public: no volume, liquidity, listing or book before recording.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cascadian.errors import NodeError
from cascadian.ports import MarketHistoryStore
from cascadian.workflow.market.upstream import PolymarketError, Upstream

HISTORY_PATH = "/prices-history"
BATCH_PATH = "/batch-prices-history"
BATCH = 20  # the CLOB's documented maximum per batch request


def _points(raw: Any, fidelity_minutes: int) -> list[dict[str, Any]]:
    """[{t, until, p}] from the CLOB's [{t, p}], in time order; ValueError otherwise."""
    if not isinstance(raw, list):
        raise ValueError("a history is not a list of points")
    found = []
    for point in raw:
        if not isinstance(point, dict):
            raise ValueError("a history point is not an object")
        t, p = point.get("t"), point.get("p")
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
            raise ValueError(f"a point's time is not a number: {t!r}")
        price = float(p)  # type: ignore[arg-type]
        if not 0 <= price <= 1:
            raise ValueError(f"a point's price is out of range: {p!r}")
        found.append((datetime.fromtimestamp(t, UTC), price))
    return spans(sorted(found), timedelta(minutes=fidelity_minutes))


def spans(found: Sequence[tuple[datetime, float]], step: timedelta) -> list[dict[str, Any]]:
    """[{t, until, p}] from prices in time order: each from when it was known until
    the next was (the last: one `step`)."""
    return [
        {
            "t": at.isoformat(),
            "until": (found[i + 1][0] if i + 1 < len(found) else at + step).isoformat(),
            "p": repr(price),
        }
        for i, (at, price) in enumerate(found)
    ]


class PublicPriceHistory:
    """The CLOB's price history, through the process's CLOB upstream (its rate limit)."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    async def history(
        self, token_id: str, start: datetime, end: datetime, fidelity_minutes: int = 5
    ) -> list[dict[str, Any]]:
        params = {
            "market": token_id,
            "startTs": str(int(start.timestamp())),
            "endTs": str(int(end.timestamp())),
            "fidelity": str(fidelity_minutes),
        }
        answer = await self.upstream.call("GET", HISTORY_PATH, params=params)
        try:
            if not isinstance(answer, dict):
                raise ValueError('expected {"history": [...]}')
            return _points(answer.get("history"), fidelity_minutes)
        except (TypeError, ValueError) as exc:
            raise PolymarketError(
                f"{self.upstream.where} sent an unexpected reply: {exc}"
            ) from None

    async def batch(
        self, token_ids: Sequence[str], start: datetime, end: datetime, fidelity_minutes: int = 5
    ) -> dict[str, list[dict[str, Any]]]:
        if len(token_ids) > BATCH:
            raise NodeError(f"at most {BATCH} tokens per batch request")
        body = {
            "markets": list(token_ids),
            "start_ts": int(start.timestamp()),
            "end_ts": int(end.timestamp()),
            "fidelity": fidelity_minutes,
        }
        answer = await self.upstream.call("POST", BATCH_PATH, body=body)
        try:
            history = answer.get("history") if isinstance(answer, dict) else None
            if not isinstance(history, dict):
                raise ValueError('expected {"history": {token: [...]}}')
            return {str(t): _points(raw, fidelity_minutes) for t, raw in history.items()}
        except (TypeError, ValueError) as exc:
            raise PolymarketError(
                f"{self.upstream.where} sent an unexpected reply: {exc}"
            ) from None

    def _unexpected(self, exc: Exception) -> PolymarketError:
        return PolymarketError(f"{self.upstream.where} sent an unexpected reply: {exc}")

    async def import_into(
        self,
        store: MarketHistoryStore,
        token_ids: Sequence[str],
        start: datetime,
        end: datetime,
        fidelity_minutes: int = 5,
    ) -> int:
        """Import the tokens' history, batch by batch; how many points were new."""
        tokens = sorted(set(token_ids))
        added = 0
        for i in range(0, len(tokens), BATCH):
            found = await self.batch(tokens[i : i + BATCH], start, end, fidelity_minutes)
            rows = [{"token_id": t, "points": pts} for t, pts in found.items() if pts]
            if rows:
                added += await store.import_price_history(rows)
        return added
