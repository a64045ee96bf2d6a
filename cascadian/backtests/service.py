"""Backtests as a service: a saved strategy (or a posted graph with its schedule)
over a window, for the CLI and the API alike.

A saved strategy is read as it is (its current graph, its schedule, its trading
limits and bankroll); nothing of it changes. `vars` maps a variable to its values:
one value replaces the graph's, several are a sweep. `bankroll` (the starting cash)
and `fee_rate` replace the strategy's bankroll and CASCADIAN_DEFAULT_FEE_RATE.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from cascadian.backtests.process import ProcessBacktester
from cascadian.backtests.runner import Backtester, BacktestRequest, Progress
from cascadian.clock import Clock, SystemClock
from cascadian.data import Actor, Schedule, StrategyGraph, TradingLimits
from cascadian.ports import TradingStore
from cascadian.strategies import StrategyService, workflow_of


class BacktestService:
    def __init__(
        self,
        strategies: StrategyService,
        backtester: Backtester | ProcessBacktester,
        trading: TradingStore,
        clock: Clock | None = None,
    ) -> None:
        self.strategies, self.backtester, self.trading = strategies, backtester, trading
        self.clock = clock or SystemClock()

    async def backtest(
        self,
        strategy_id: UUID,
        start: datetime,
        end: datetime,
        variables: Mapping[str, Sequence[Any]] | None = None,
        *,
        allow_llm: bool = False,
        bankroll: Decimal | None = None,
        fee_rate: Decimal | None = None,
        progress: Progress | None = None,
        cancel: asyncio.Event | None = None,
        actor: Actor | None = None,
    ) -> dict[str, Any]:
        """NotFound for an unknown strategy (or, a user acting, another user's);
        BacktestInvalid for a request that cannot run."""
        s = await self.strategies.get(strategy_id, actor)
        portfolio = await self.trading.paper_portfolio(s.id, self.clock.now())
        limits = TradingLimits() if portfolio is None else portfolio.limits
        workflow = workflow_of(s.graph, id=s.id, name=s.name, user_id=s.user_id)
        request = BacktestRequest(
            workflow,
            s.schedule,
            start,
            end,
            variables or {},
            allow_llm,
            limits=limits,
            bankroll=bankroll,
            fee_rate=fee_rate,
        )
        return await self.backtester.run(request, progress, cancel)

    async def backtest_graph(
        self,
        graph: StrategyGraph,
        schedule: Schedule,
        start: datetime,
        end: datetime,
        variables: Mapping[str, Sequence[Any]] | None = None,
        *,
        allow_llm: bool = False,
        limits: TradingLimits | None = None,
        bankroll: Decimal | None = None,
        fee_rate: Decimal | None = None,
    ) -> dict[str, Any]:
        workflow = workflow_of(graph, name="backtest")
        request = BacktestRequest(
            workflow,
            schedule,
            start,
            end,
            variables or {},
            allow_llm,
            limits=limits or TradingLimits(),
            bankroll=bankroll,
            fee_rate=fee_rate,
        )
        return await self.backtester.run(request)
