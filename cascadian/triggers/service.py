"""The trigger service: a strategy's triggers set (checked, looked up, saved in one
call) and read; and, for the tick (the TickEvents port), the armed triggers priced
once from REST and their event runs claimed.

`evaluate` never raises: a tick whose prices cannot be read runs its due strategies
all the same, and the next tick prices again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any
from uuid import UUID

from cascadian.clock import Clock, SystemClock
from cascadian.data import (
    Actor,
    ClaimedRun,
    StrategyDetail,
    StrategyDraft,
    TriggerEvent,
    scope,
)
from cascadian.errors import NotFound
from cascadian.ports import FullStore
from cascadian.strategies import StrategyService
from cascadian.triggers.definitions import parse_triggers
from cascadian.triggers.lookup import stored_triggers
from cascadian.triggers.prices import observe_rest
from cascadian.workflow.market import MarketData

log = logging.getLogger(__name__)

# A listener is shown as current while it has reported within this many seconds.
LISTENER_FRESH_SECONDS = 60.0


class TriggerService:
    def __init__(
        self,
        store: FullStore,
        markets: MarketData,
        strategies: StrategyService,
        clock: Clock | None = None,
        *,
        rest_prices: bool = True,
    ) -> None:
        self.store, self.markets, self.strategies = store, markets, strategies
        self.clock = clock or SystemClock()
        # Whether each tick prices the armed triggers from REST (the serverless tier);
        # a worker whose listener watches the market channel turns it off.
        self.rest_prices = rest_prices

    async def set_triggers(self, strategy_id: UUID, raw: Any, actor: Actor) -> list[dict[str, Any]]:
        """Replace the strategy's triggers with `raw` (a list of definitions), by
        `actor`: TriggerInvalid with every problem, MarketUnavailable when Polymarket
        cannot be asked, NotFound for an unknown strategy (or a user's not their own);
        nothing is saved on any of them."""
        await self.strategies.get(strategy_id, actor)  # NotFound before Polymarket is asked
        return await self.save(strategy_id, await self.checked(raw), actor)

    async def checked(self, raw: Any) -> list[dict[str, Any]]:
        """`raw` validated and looked up, as the store saves it (nothing saved)."""
        return await stored_triggers(parse_triggers(raw), self.markets)

    async def create_strategy(
        self, draft: StrategyDraft, raw: Any, actor: Actor, start: bool, imported: bool = False
    ) -> StrategyDetail:
        """Create a strategy with its triggers (a document's `triggers`): both checked
        before anything is saved, the triggers saved once the strategy is."""
        checked = await self.checked(raw) if raw else []
        detail = await self.strategies.create(draft, actor, start=start, imported=imported)
        if checked:
            await self.save(detail.id, checked, actor)
        return detail

    async def save(
        self, strategy_id: UUID, checked: list[dict[str, Any]], actor: Actor
    ) -> list[dict[str, Any]]:
        """Save triggers `checked` gave, audited in the same transaction."""
        saved = await self.store.set_triggers(strategy_id, checked, self.clock.now(), actor)
        if saved is None:
            raise NotFound("strategy not found")
        return saved

    async def definitions(self, strategy_id: UUID) -> list[dict[str, Any]]:
        """The strategy's triggers as a document writes them (no state), for export."""
        return [definition(t) for t in await self.triggers(strategy_id)]

    async def triggers(self, strategy_id: UUID, actor: Actor | None = None) -> list[dict[str, Any]]:
        """The strategy's triggers with their state; NotFound for an unknown strategy
        (or, for a user `actor`, one they do not own: the read's own SQL checks)."""
        found = await self.store.triggers(strategy_id, scope(actor))
        if found is None:
            raise NotFound("strategy not found")
        return found

    async def events(
        self, strategy_id: UUID, limit: int = 50, actor: Actor | None = None
    ) -> list[dict[str, Any]]:
        """The strategy's newest events; NotFound as for `triggers`."""
        found = await self.store.trigger_events(strategy_id, limit, scope(actor))
        if found is None:
            raise NotFound("strategy not found")
        return found

    async def overview(self, actor: Actor | None = None) -> dict[str, Any]:
        """The listeners, armed triggers, pending events and lag; for a user, of their
        own strategies (and only whether each listener is connected)."""
        return await self.store.trigger_overview(
            self.clock.now(), LISTENER_FRESH_SECONDS, scope(actor)
        )

    async def evaluate(self, within: float) -> int:
        """TickEvents: price every armed trigger once and write the crossings; how
        many were written."""
        if not self.rest_prices or within <= 0:
            return 0
        try:
            async with asyncio.timeout(within):
                events = await self.evaluate_now()
        except Exception as exc:
            log.warning("triggers not evaluated this tick: %s: %s", type(exc).__name__, exc)
            return 0
        if events:
            log.info("triggers: %d crossing(s) from REST prices", len(events))
        return len(events)

    async def evaluate_now(self) -> list[TriggerEvent]:
        armed = await self.store.armed_triggers()
        if not armed:
            return []
        observations = await observe_rest(armed, self.markets, self.clock.now())
        return await self.store.observe(observations, self.clock.now())

    async def claim(self, now: datetime, limit: int, lease_seconds: float) -> list[ClaimedRun]:
        """TickEvents: event runs, claimed as the tick claims due ones."""
        return await self.store.claim_events(now, limit, lease_seconds)


def definition(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored trigger as it was defined: by market and outcome if it was given so."""
    if stored["kind"] == "resolved":
        return {"name": stored["name"], "kind": "resolved", "market_id": stored["market_id"]}
    where = (
        {"market_id": stored["market_id"], "outcome": stored["outcome"]}
        if stored.get("market_id") and stored.get("outcome")
        else {"token_id": stored["token_id"]}
    )
    return {
        "name": stored["name"],
        "kind": "price",
        **where,
        "level": stored["level"],
        "direction": stored["direction"],
        "band": stored["band"],
        "price_kind": stored["price_kind"],
    }
