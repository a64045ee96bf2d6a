"""What `cascadian worker` runs beside its ticks: the market listener, and the event
runner it wakes. Both stop with the worker; neither blocks its scheduled runs (they
share the event loop, and neither holds it for long)."""

from __future__ import annotations

import asyncio

from cascadian.config import Settings
from cascadian.ports import FullStore
from cascadian.tick import TickService
from cascadian.triggers.listener import MarketListener
from cascadian.triggers.runner import EventRunner


async def watch_market(
    store: FullStore, ticks: TickService, settings: Settings, stop: asyncio.Event, grace: float
) -> None:
    """Listen to the market channel and run the crossings, until `stop`."""
    runner = EventRunner(
        store,
        ticks,
        clock=ticks.clock,
        max_concurrency=settings.max_concurrency,
        lease_seconds=settings.lease_seconds,
    )
    listener = MarketListener(
        store,
        settings.market_ws_url,
        clock=ticks.clock,
        on_events=runner.wake,
        tokens_per_connection=settings.trigger_tokens_per_connection,
    )
    await asyncio.gather(listener.run(stop), runner.run(stop, grace))
