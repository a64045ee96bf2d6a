"""Polymarket's Data API price history (`GET /v2/prices-history`), for prices before
recording began: the default source of `cascadian import-prices`.

Preferred to the CLOB's `/prices-history` (public.py, `--source clob`) because it
says when each price was known, so an imported price is never seen early:

- each point is `{"timestamp", "price", "resolution_seconds"}`: the price observed
  in the window of `resolution_seconds` from `timestamp`. It is imported as known
  from the END of that window (timestamp + resolution_seconds), valid until the
  next point is known: late by up to one bucket, never early. The CLOB's `{t, p}`
  does not say which end of its bucket `t` is;
- `as_of=<start>` reads "the latest observation at or before this instant": the
  price at the window's start, imported as valid from the start, so the first
  slots have a price before the first bucket ends;
- availability: 3-hour and 12-hour buckets back to 2022-11-18, 5-minute for at
  least 60 days, 1-minute for at least 7 (the CLOB gives resolved markets only
  12-hour points).

The request: `token_id`, `start` (epoch seconds, inclusive), `end` (exclusive),
`bucket_seconds`; an explicit window is at most 15 days, so a longer one is asked
in windows of 15 days; each answer is `{"data": [...], "pagination": {"has_more",
"next_cursor"}}`, followed by `cursor` until `next_cursor` is null. Through the
process's Data API upstream (its rate limit and retries).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cascadian.backtests.public import spans
from cascadian.errors import InvalidInput
from cascadian.ports import MarketHistoryStore
from cascadian.workflow.market.upstream import PolymarketError, Upstream

PATH = "/v2/prices-history"
WINDOW = timedelta(days=15)  # the longest explicit window the Data API serves
BUCKETS = (60, 300, 1800, 10800, 43200)  # the grains it keeps (seconds)
MAX_PAGES = 1000  # a runaway cursor stops here rather than loop for ever

Observation = tuple[datetime, float]  # (known from, price)


def bucket_of(fidelity_minutes: int) -> int:
    seconds = fidelity_minutes * 60
    if seconds not in BUCKETS:
        allowed = ", ".join(str(b // 60) for b in BUCKETS)
        raise InvalidInput(
            f"the Data API keeps prices every {allowed} minutes; --fidelity "
            f"{fidelity_minutes} is not one of them"
        )
    return seconds


def _observation(point: Any) -> Observation:
    if not isinstance(point, dict):
        raise ValueError("a point is not an object")
    t, p, width = point.get("timestamp"), point.get("price"), point.get("resolution_seconds", 0)
    for name, value in (("timestamp", t), ("resolution_seconds", width)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"a point's {name} is not a number: {value!r}")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"a point's {name} is out of range: {value!r}")
    price = float(p)  # type: ignore[arg-type]
    if not 0 <= price <= 1:
        raise ValueError(f"a point's price is out of range: {p!r}")
    return datetime.fromtimestamp(t + width, UTC), price


def points(observations: list[Observation], end: datetime, bucket: int) -> list[dict[str, Any]]:
    """[{t, until, p}] as the price history imports them: each price from when it
    was known until the next was (the last: one bucket), none known after `end`. Of
    two known at once, the later in `observations` stands."""
    by_time = {at: price for at, price in observations if at <= end}
    return spans(sorted(by_time.items()), timedelta(seconds=bucket))


class DataApiPriceHistory:
    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    async def history(
        self, token_id: str, start: datetime, end: datetime, bucket_seconds: int = 300
    ) -> list[dict[str, Any]]:
        """The token's prices known in [start, end]; PolymarketError for a reply in
        another shape."""
        try:
            found = await self._as_of(token_id, start)
            at = start
            while at < end:
                until = min(end, at + WINDOW)
                found += await self._series(token_id, at, until, bucket_seconds)
                at = until
            return points(found, end, bucket_seconds)
        except (TypeError, ValueError) as exc:
            raise PolymarketError(
                f"{self.upstream.where} sent an unexpected reply: {exc}"
            ) from None

    async def _as_of(self, token_id: str, start: datetime) -> list[Observation]:
        answer = await self.upstream.call(
            "GET", PATH, params={"token_id": token_id, "as_of": str(int(start.timestamp()))}
        )
        # The latest observation at or before `start` was the price at `start` only if
        # its bucket had ended by then; else it is known from the bucket's end.
        return [
            (max(start, known), price) for known, price in map(_observation, _data(answer)[-1:])
        ]

    async def _series(
        self, token_id: str, start: datetime, end: datetime, bucket: int
    ) -> list[Observation]:
        params = {
            "token_id": token_id,
            "start": str(int(start.timestamp())),
            "end": str(int(end.timestamp())),
            "bucket_seconds": str(bucket),
        }
        found: list[Observation] = []
        for _ in range(MAX_PAGES):
            answer = await self.upstream.call("GET", PATH, params=params)
            found += [_observation(p) for p in _data(answer)]
            cursor = (answer.get("pagination") or {}).get("next_cursor")
            if not cursor:
                return found
            params = {"token_id": token_id, "cursor": str(cursor)}
        raise ValueError(f"more than {MAX_PAGES} pages")

    async def import_into(
        self,
        store: MarketHistoryStore,
        token_ids: Sequence[str],
        start: datetime,
        end: datetime,
        bucket_seconds: int = 300,
    ) -> int:
        """Import each token's history; how many points were new."""
        added = 0
        for token in sorted(set(token_ids)):
            found = await self.history(token, start, end, bucket_seconds)
            if found:
                added += await store.import_price_history([{"token_id": token, "points": found}])
        return added


def _data(answer: Any) -> list[Any]:
    data = answer.get("data") if isinstance(answer, dict) else None
    if data is None:
        return []  # a documented miss
    if isinstance(data, dict):  # one observation (as_of)
        return [data]
    if not isinstance(data, list):
        raise ValueError('expected {"data": [...]}')
    return data
