"""Backtests as a service: a saved strategy (or a posted graph with its schedule)
over a window, for the CLI and the API alike.

A saved strategy is read as it is (its current graph, its schedule); nothing of it
changes. `vars` maps a variable to its values: one value replaces the graph's, several
are a sweep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from cascadian.backtests.runner import Backtester, BacktestRequest, Progress
from cascadian.data import Actor, Schedule, StrategyGraph
from cascadian.strategies import StrategyService, workflow_of


class BacktestService:
    def __init__(self, strategies: StrategyService, backtester: Backtester) -> None:
        self.strategies, self.backtester = strategies, backtester

    async def backtest(
        self,
        strategy_id: UUID,
        start: datetime,
        end: datetime,
        variables: Mapping[str, Sequence[Any]] | None = None,
        *,
        allow_llm: bool = False,
        bankroll: Decimal = Decimal(10_000),
        progress: Progress | None = None,
        cancel: asyncio.Event | None = None,
        actor: Actor | None = None,
    ) -> dict[str, Any]:
        """NotFound for an unknown strategy (or, a user acting, another user's);
        BacktestInvalid for a request that cannot run."""
        s = await self.strategies.get(strategy_id, actor)
        workflow = workflow_of(s.graph, id=s.id, name=s.name, user_id=s.user_id)
        request = BacktestRequest(
            workflow, s.schedule, start, end, variables or {}, allow_llm, bankroll
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
        bankroll: Decimal = Decimal(10_000),
    ) -> dict[str, Any]:
        workflow = workflow_of(graph, name="backtest")
        request = BacktestRequest(
            workflow, schedule, start, end, variables or {}, allow_llm, bankroll
        )
        return await self.backtester.run(request)
