"""A window's recorded history, read in time order and applied up to the slot.

Each kind (market states, token prices, books) is read from the store page by page
in (seen_at, key) order, and applied only up to the simulated time: what a slot
sees is the newest state of each key seen at or before it, still valid (last seen
no longer ago than the recording period allows). The rows after the slot have not
been read yet, so no node can see them: the runner moves time forward, never back.
Memory holds the current state of each key, not the window.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from cascadian.data import HistoryRow


class KeyedHistory:
    """One kind's rows, applied in time order: the newest state of each key."""

    def __init__(self, rows: AsyncIterator[HistoryRow], grace: timedelta) -> None:
        self._rows = rows
        self._next: HistoryRow | None = None
        self._done = False
        self.grace = grace
        self.current: dict[str, HistoryRow] = {}
        self.now: datetime | None = None
        self.changed: set[str] = set()  # keys whose state changed at the last advance

    async def advance(self, t: datetime) -> None:
        """Apply every row seen at or before `t` (never earlier than the last `t`)."""
        if self.now is not None and t < self.now:
            raise ValueError("history moves forward only")
        self.now = t
        self.changed = set()
        while True:
            if self._next is None:
                if self._done:
                    return
                try:
                    self._next = await anext(self._rows)
                except StopAsyncIteration:
                    self._done = True
                    return
            if self._next.seen_at > t:
                return
            self.current[self._next.key] = self._next
            self.changed.add(self._next.key)
            self._next = None

    def at(self, key: str) -> HistoryRow | None:
        """The key's state now, or None when it has none or it is stale."""
        row = self.current.get(key)
        if row is None or self.now is None or self.now > row.last_seen_at + self.grace:
            return None
        return row

    def valid_keys(self) -> list[str]:
        """The keys with a valid state now."""
        return [k for k in self.current if self.at(k) is not None]
