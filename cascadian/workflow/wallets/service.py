"""The wallet data a process reads, built once by the composition root.

One `WalletData` per process holds the Data API's rate limiters (one per route
family, so the process stays below Polymarket's published limits however many
strategies it runs) and its shared requests. Wallet metrics go through the
database (the WalletStore port): a wallet's metrics are read upstream only when
the database has none younger than the TTL, and then written there for every
other strategy and worker; concurrent reads of one wallet in this process share
one upstream read. Nodes reach it through `NodeServices.wallet_data()`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from cascadian.config import Settings
from cascadian.data import WalletClaim
from cascadian.errors import NodeError
from cascadian.outbound.retry import RetryPolicy
from cascadian.ports import WalletStore
from cascadian.workflow.market.limiter import RateLimiter
from cascadian.workflow.market.shared import SharedRequests
from cascadian.workflow.market.upstream import Upstream
from cascadian.workflow.wallets.client import (
    Board,
    DataApiClient,
    Universe,
    Window,
)
from cascadian.workflow.wallets.metrics import WalletMetrics, wallet_metrics
from cascadian.workflow.wallets.records import Holder, Trade

log = logging.getLogger(__name__)

RATE_WINDOW = 10.0
# How long a claim to read a wallet lasts (a reader that died leaves it this long).
LEASE_SECONDS = 60.0
# How often a reader waiting for another worker's read looks again.
POLL_SECONDS = 0.25
# Leaderboard and holders answers are kept this long in the process (public data).
SHARED_SECONDS = 30.0


@dataclass
class WalletData:
    client: DataApiClient
    settings: Settings
    # Where metrics are kept for every strategy and worker; None: this process only
    # (a dry run, a tool), nothing written.
    store: WalletStore | None = None
    # Upstream reads of closed positions this process made, by wallet (for tests,
    # benchmarks and metrics).
    fetched: dict[str, int] = field(default_factory=dict)
    # How a reader waits for a wallet another worker is reading.
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # This process's reads in flight, by wallet: concurrent strategies share them.
    _reading: dict[str, asyncio.Task[WalletMetrics]] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        settings: Settings,
        http: httpx.AsyncClient,
        store: WalletStore | None = None,
        *,
        retry: RetryPolicy | None = None,
        limit: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> WalletData:
        retry = retry or RetryPolicy()

        def upstream(per_window: int) -> Upstream:
            limiter = RateLimiter(per_window, RATE_WINDOW, clock=clock) if limit else None
            return Upstream(
                http,
                settings.data_api_url,
                "Polymarket Data API",
                retry,
                limiter,
                settings.node_http_timeout_seconds,
                max_body_bytes=settings.http_max_response_bytes,
            )

        client = DataApiClient(
            upstream(settings.data_api_rate_limit),
            upstream(settings.data_api_trades_rate_limit),
            upstream(settings.data_api_positions_rate_limit),
            settings.wallet_universe_max,
            SharedRequests(SHARED_SECONDS, clock),
        )
        return cls(client, settings, store)

    async def universe(
        self,
        limit: int,
        *,
        window: Window = "month",
        category: str = "overall",
        board: Board = "PNL",
        deadline: float | None = None,
    ) -> Universe:
        """Up to `limit` wallets from the leaderboard (see DataApiClient.leaderboard)."""
        return await self.client.leaderboard(
            limit, window=window, category=category, board=board, deadline=deadline
        )

    async def metrics(
        self,
        wallets: Sequence[str],
        clock: Callable[[], datetime],
        *,
        deadline: float | None = None,
    ) -> dict[str, WalletMetrics]:
        """Each wallet's metrics as of `clock()`: from the database while younger than
        the TTL; else read upstream by the one reader that claims it (in this process
        or another) and stored, while the others wait for it."""
        wanted = list(dict.fromkeys(w.lower() for w in wallets))
        found: dict[str, WalletMetrics] = {}
        pending = wanted
        while pending:
            reads = [self._reading[w] for w in pending if w in self._reading]
            claim = await self._claim([w for w in pending if w not in self._reading], clock())
            for wallet, record in claim.fresh.items():
                found[wallet] = WalletMetrics.from_record(record)
            reads += [self._start(wallet, clock(), deadline) for wallet in claim.claimed]
            for metrics in await asyncio.gather(*(asyncio.shield(t) for t in reads)):
                found[metrics.wallet_address] = metrics
            pending = [w for w in claim.busy if w not in found]
            if pending:
                await self._wait_for_others(pending, deadline)
        return {w: found[w] for w in wanted}

    async def _claim(self, wallets: list[str], now: datetime) -> WalletClaim:
        ttl = self.settings.wallet_metrics_ttl_seconds
        if not wallets or self.store is None or ttl <= 0:
            return WalletClaim({}, wallets, [])
        return await self.store.claim_wallet_metrics(wallets, ttl, LEASE_SECONDS, now)

    def _start(
        self, wallet: str, now: datetime, deadline: float | None
    ) -> asyncio.Task[WalletMetrics]:
        task = asyncio.ensure_future(self._fetch(wallet, now, deadline))
        self._reading[wallet] = task
        task.add_done_callback(lambda _: self._reading.pop(wallet, None))
        return task

    async def _wait_for_others(self, wallets: list[str], deadline: float | None) -> None:
        retry = self.client.positions.retry
        if deadline is not None and retry.now() + POLL_SECONDS > deadline:
            raise NodeError(
                f"the metrics of {len(wallets)} wallet(s) (such as {wallets[0]}) are being "
                "read by another worker and were not ready before the run's deadline"
            )
        await self.sleep(POLL_SECONDS)

    async def _fetch(self, wallet: str, now: datetime, deadline: float | None) -> WalletMetrics:
        self.fetched[wallet] = self.fetched.get(wallet, 0) + 1
        keep = self.store is not None and self.settings.wallet_metrics_ttl_seconds > 0
        try:
            positions = await self.client.closed_positions(
                wallet, self.settings.wallet_closed_positions_max, deadline=deadline
            )
        except BaseException:
            if keep:
                assert self.store is not None
                await asyncio.shield(self.store.release_wallet_metrics([wallet]))
            raise
        metrics = wallet_metrics(wallet, positions, now)
        if keep:
            assert self.store is not None
            await self.store.put_wallet_metrics({wallet: metrics.to_record()}, now)
        return metrics

    async def holders(self, condition_id: str, *, deadline: float | None = None) -> list[Holder]:
        return await self.client.holders(condition_id, deadline=deadline)

    async def trades(
        self, wallet: str, limit: int, *, start: int | None = None, deadline: float | None = None
    ) -> list[Trade]:
        return await self.client.trades(wallet, limit, start=start, deadline=deadline)
