"""The tick's bookkeeping step: settle positions in markets that resolved, and mark
the others at their tokens' best bids (the Bookkeeper port).

Once every CASCADIAN_MARK_EVERY_SECONDS a tick, beside its claims and runs, reads
the markets every strategy holds a position in (one SQL read), asks Gamma for them
and the CLOB for their books (one batched request each per 100 markets or tokens,
whatever the number of strategies or positions: workflow/market/positions.py), then

- settles each resolved market with one SQL call, which closes every position in
  it at its payout under each portfolio's lock, once;
- marks the held outcomes of the others at their best bids with one SQL call, which
  values each portfolio holding them and writes its equity curve.

A strategy whose marks take the day's loss to its daily loss limit is halted and
auto-paused by the mark call itself (migrations/041); the step tells its observers
(the operators' alerts) of each such halt.

All of it within the deadline the tick gives. A failure (Gamma or the CLOB down, the
database refusing) is logged and reported, never raised: the next tick tries again,
and a settlement missed now happens then. Nothing here reads a balance in Python.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Protocol
from uuid import UUID

from cascadian.clock import Clock, SystemClock
from cascadian.config import Settings
from cascadian.data import Bookkeeping, MarketState, OpenMarket, PositionMark, TradingHalt
from cascadian.ports import MarketStates, MarkStore

log = logging.getLogger(__name__)

# At most one equity point per strategy this often: a compact curve.
EQUITY_POINT_GAP = timedelta(minutes=5)
# Equity points past retention one step deletes at most.
PRUNE_LIMIT = 5000
DAY = timedelta(days=1)


class HaltObserver(Protocol):
    def strategy_halted(self, workflow_id: UUID, halt: TradingHalt) -> None:
        """The marking step halted that strategy's trading (its daily loss)."""


class Marking:
    def __init__(
        self,
        store: MarkStore,
        markets: MarketStates,
        settings: Settings,
        clock: Clock | None = None,
        *,
        monotonic: Callable[[], float] | None = None,
        observers: Sequence[HaltObserver] = (),
    ) -> None:
        self.store, self.markets, self.settings = store, markets, settings
        self.observers = tuple(observers)
        self.clock = clock or SystemClock()
        self._monotonic = monotonic or self.clock.monotonic
        self._last: float | None = None

    def due(self) -> bool:
        every = self.settings.mark_every_seconds
        if every <= 0:
            return False
        now = self._monotonic()
        if self._last is not None and now - self._last < every:
            return False
        self._last = now
        return True

    async def keep(self, deadline: float) -> Bookkeeping:
        try:
            return await self._keep(deadline)
        except Exception as exc:  # the next tick tries again
            error = f"{type(exc).__name__}: {exc}"
            log.warning("settling and marking paper positions failed: %s", error)
            return Bookkeeping(error=error)

    async def settle(self, market_ids: Sequence[str], deadline: float) -> int:
        """Settle the positions in these markets now if Gamma shows them resolved (the
        same rule and SQL as each step; a market not final yet is left for a later
        step): what a `market_resolved` event from the CLOB's feed calls, with the
        event's market's Gamma id. Answers how many positions settled; raises what
        the market data or the store raise."""
        states = await self.markets.market_states(market_ids, deadline=deadline)
        return await self._settle(states)

    async def _settle(self, states: Iterable[MarketState]) -> int:
        now = self.clock.now()
        settled = 0
        for state in states:
            if state.payouts is None:
                continue
            done = await self.store.settle_market(
                state.market_id, dict(zip(state.outcomes, state.payouts, strict=True)), now
            )
            settled += len(done.settled)
            if done.settled:
                log.info(
                    "settled %d paper position(s) in resolved market %s",
                    len(done.settled),
                    state.market_id,
                )
        return settled

    async def _keep(self, deadline: float) -> Bookkeeping:
        held = await self.store.open_markets()
        if not held:
            return Bookkeeping()
        states = {
            s.market_id: s
            for s in await self.markets.market_states(
                [m.market_id for m in held], deadline=deadline
            )
        }
        now = self.clock.now()
        settled = await self._settle(states.values())
        wanted = _tokens(held, states)
        bids = await self.markets.best_bids(list(wanted), deadline=deadline) if wanted else {}
        marks = [
            PositionMark(market_id, outcome, bids[token], token)
            for token, held_as in wanted.items()
            if token in bids
            for market_id, outcome in held_as
        ]
        if not marks:
            return Bookkeeping(markets=len(held), settled=settled)
        days = self.settings.retention_equity_days
        result = await self.store.mark_portfolios(
            marks,
            self.clock.now(),
            min_gap=EQUITY_POINT_GAP,
            keep_after=None if days <= 0 else now - DAY * days,
            prune_limit=PRUNE_LIMIT,
        )
        for h in result.halts:
            log.warning(
                "strategy %s halted: its marks took the day's loss to its limit: %s",
                h.workflow_id,
                h.halt.detail,
            )
            for observer in self.observers:
                observer.strategy_halted(h.workflow_id, h.halt)
        return Bookkeeping(
            markets=len(held),
            settled=settled,
            marked=result.marks,
            points=result.points,
            halts=result.halts,
        )


def _tokens(
    held: list[OpenMarket], states: dict[str, MarketState]
) -> dict[str, list[tuple[str, str]]]:
    """The token of each held outcome of each market still trading, with the market
    and the outcome as the positions name them (matched as the order nodes match:
    case and surrounding spaces ignored)."""
    wanted: dict[str, list[tuple[str, str]]] = {}
    for market in held:
        state = states.get(market.market_id)
        if state is None or state.payouts is not None or not state.token_ids:
            continue
        names = [o.strip().lower() for o in state.outcomes]
        for outcome in market.outcomes:
            key = outcome.strip().lower()
            if key in names:
                token = state.token_ids[names.index(key)]
                wanted.setdefault(token, []).append((market.market_id, outcome))
    return wanted
