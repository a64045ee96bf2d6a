"""Recorded market history (the MarketHistoryStore port): a tick's recording, the
public price history imported, a backtest's window read page by page, the span, and
the prune (migrations/029_market_history.sql).

A recording is one call whatever it holds; the window is read in pages of
PAGE_ROWS rows, so PostgREST's row cap and the process's memory stay bounded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from cascadian.data import (
    HistoryKind,
    HistoryPruned,
    HistoryRecording,
    HistoryRow,
    HistorySpan,
)
from cascadian.store.readers import answer_of, json_value
from cascadian.store.transport import Json, Transport

# migrations/029: recorded market history.
RECORD_MARKET_HISTORY = "cascadian_record_market_history_v1"
IMPORT_PRICE_HISTORY = "cascadian_import_price_history_v1"
HISTORY_PAGE = "cascadian_history_page_v1"
HISTORY_MARKETS = "cascadian_history_markets_v1"
HISTORY_SPAN = "cascadian_history_span_v1"
# 056: 044's dry run, and imported prices apart from what the ticks recorded.
PRUNE_MARKET_HISTORY = "cascadian_prune_market_history_v3"

PAGE_ROWS = 5000


class SqlMarketHistoryStore:
    transport: Transport

    async def record_history(self, recording: HistoryRecording, at: datetime) -> dict[str, int]:
        """Write one recording at `at`; how many rows it added and extended."""
        payload = {
            "markets": recording.markets,
            "prices": recording.prices,
            "books": recording.books,
        }
        answer = await self.transport.value(RECORD_MARKET_HISTORY, {"p_at": at, "p": Json(payload)})
        return _counts(answer)

    async def import_price_history(self, points: Sequence[dict[str, Any]]) -> int:
        """Public price history, `[{"token_id", "points": [{"t", "until", "p"}]}]`;
        how many points were new."""
        answer = await self.transport.value(IMPORT_PRICE_HISTORY, {"p": Json(list(points))})
        return int(json_value(answer))

    async def history_rows(
        self, kind: HistoryKind, start: datetime, end: datetime, grace_seconds: float
    ) -> AsyncIterator[HistoryRow]:
        """The rows of `kind` whose state overlaps [start - grace, end], in time order."""
        after_at: datetime | None = None
        after_key: str | None = None
        while True:
            page = await self.transport.value(
                HISTORY_PAGE,
                {
                    "p_kind": kind,
                    "p_from": start,
                    "p_to": end,
                    "p_grace_seconds": grace_seconds,
                    "p_after_at": after_at,
                    "p_after_key": after_key,
                    "p_limit": PAGE_ROWS,
                },
            )
            rows = _rows(page)
            for row in rows:
                yield row
            if len(rows) < PAGE_ROWS:
                return
            after_at, after_key = rows[-1].seen_at, rows[-1].key

    async def history_markets(
        self, start: datetime, end: datetime, grace_seconds: float
    ) -> dict[str, dict[str, Any]]:
        """What rarely changes of each market with history in the window, by id."""
        answer = await self.transport.value(
            HISTORY_MARKETS, {"p_from": start, "p_to": end, "p_grace_seconds": grace_seconds}
        )
        return _statics(answer)

    async def history_span(self) -> HistorySpan:
        return _span(await self.transport.value(HISTORY_SPAN, {}))

    async def prune_history(
        self,
        before: datetime | None,
        imported_before: datetime | None,
        max_rows: int,
        dry_run: bool = False,
    ) -> HistoryPruned:
        answer = await self.transport.value(
            PRUNE_MARKET_HISTORY,
            {
                "p_before": before,
                "p_imported_before": imported_before,
                "p_max_rows": max_rows,
                "p_dry_run": dry_run,
            },
        )
        return _pruned(answer)


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _time_or_none(value: Any) -> datetime | None:
    return None if value is None else _time(value)


@answer_of(RECORD_MARKET_HISTORY)
def _counts(value: Any) -> dict[str, int]:
    d = json_value(value)
    return {k: int(d[k]) for k in ("markets", "prices", "books", "extended")}


@answer_of(HISTORY_PAGE)
def _rows(value: Any) -> list[HistoryRow]:
    rows = json_value(value)
    if not isinstance(rows, list):
        raise TypeError(f"expected an array of rows, got {type(rows).__name__}")
    out = []
    for r in rows:
        value_fields = {k: v for k, v in r.items() if k not in ("key", "seen_at", "last_seen_at")}
        state = value_fields.get("state", value_fields)
        out.append(HistoryRow(str(r["key"]), _time(r["seen_at"]), _time(r["last_seen_at"]), state))
    return out


@answer_of(HISTORY_MARKETS)
def _statics(value: Any) -> dict[str, dict[str, Any]]:
    d = json_value(value)
    if not isinstance(d, dict):
        raise TypeError(f"expected an object by market id, got {type(d).__name__}")
    return {str(k): dict(v) for k, v in d.items()}


@answer_of(HISTORY_SPAN)
def _span(value: Any) -> HistorySpan:
    d = json_value(value)
    return HistorySpan(
        markets_from=_time_or_none(d["markets_from"]),
        markets_to=_time_or_none(d["markets_to"]),
        prices_from=_time_or_none(d["prices_from"]),
        prices_to=_time_or_none(d["prices_to"]),
        recorded_prices_from=_time_or_none(d["recorded_prices_from"]),
        books_from=_time_or_none(d["books_from"]),
        books_to=_time_or_none(d["books_to"]),
    )


@answer_of(PRUNE_MARKET_HISTORY)
def _pruned(value: Any) -> HistoryPruned:
    d = json_value(value)
    return HistoryPruned(
        int(d["markets"]), int(d["prices"]), int(d["books"]), int(d["static"]), bool(d["complete"])
    )
