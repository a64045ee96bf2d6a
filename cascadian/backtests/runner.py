"""The backtest runner: a graph run at every slot of its schedule over a window, in
simulated time, on the market as it was at each slot, writing nothing.

Before anything runs, the request is checked whole (BacktestInvalid, nothing run):
the window (T1 after T0, no longer than CASCADIAN_BACKTEST_MAX_DAYS, at most
CASCADIAN_BACKTEST_MAX_SLOTS slots, some recorded history inside it), the variables
(each one the graph declares), the graph itself, and every node against the history
(lookahead.py). Then, for each combination of the variables' values (a sweep), the
same GraphExecutor the ticks use runs the graph at each slot on services that read
history and write nothing: the market data at the slot (markets.py), a clock that
reads the slot, the dry run's node store (watchlist entries and notifications become
nothing), and an in-memory paper book (book.py). Between slots positions in resolved
markets settle and equity is marked.

Bounded (slots, combinations), cancellable (`cancel` is checked between slots, and
the task may be cancelled), reporting progress (`progress(done, total)`), and it
yields to the event loop after every slot, so live ticks in the same process go on
between slots (bench/backtest.py measures how late they are woken).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from cascadian.backtests import lookahead
from cascadian.backtests.book import BacktestBook
from cascadian.backtests.history import KeyedHistory
from cascadian.backtests.markets import HistoricalMarkets, grace, payouts
from cascadian.backtests.results import YEAR_SECONDS, Point, curve, metrics
from cascadian.config import Settings
from cascadian.data import GraphProblem, HistorySpan, Schedule, TradingLimits, Workflow
from cascadian.errors import BacktestCancelled, BacktestInvalid
from cascadian.ports import MarketHistoryStore
from cascadian.schedule import next_slot
from cascadian.schedule import problems as schedule_problems
from cascadian.trading import amounts
from cascadian.workflow.dry_run import DryRunStore
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.node_api import NodeServices
from cascadian.workflow.registry import NodeRegistry, default_registry
from cascadian.workflow.sandbox.pool import JsSandbox

MAX_COMBINATIONS = 64
MAX_VARIABLES = 64
SHARPE_METHOD = (
    "mean over standard deviation (population) of per-slot simple returns of marked "
    "equity, times the square root of the schedule's slots per 365 days; no risk-free rate"
)
Progress = Callable[[int, int], None]


class SlotClock:
    """The clock nodes read in a backtest: the slot being run."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass(frozen=True)
class BacktestRequest:
    workflow: Workflow
    schedule: Schedule
    start: datetime
    end: datetime
    # Each variable's values: one is a plain run, several a sweep (one row each).
    variables: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    allow_llm: bool = False
    # The strategy's trading limits, its bankroll the starting cash unless `bankroll`
    # says otherwise; the fee rate CASCADIAN_DEFAULT_FEE_RATE unless `fee_rate` does.
    limits: TradingLimits = field(default_factory=TradingLimits)
    bankroll: Decimal | None = None
    fee_rate: Decimal | None = None

    @property
    def cash(self) -> Decimal:
        return self.limits.initial_bankroll if self.bankroll is None else self.bankroll


@dataclass(frozen=True)
class Plan:
    """A request checked: its slots, the combinations to run, and what was flagged."""

    slots: list[datetime]
    combinations: list[dict[str, Any]]
    span: HistorySpan
    flags: list[GraphProblem]


def slots_of(schedule: Schedule, start: datetime, end: datetime, cap: int) -> list[datetime]:
    """The schedule's slots in [start, end], at most cap + 1 (to tell it is over)."""
    found: list[datetime] = []
    if schedule.cron is None:
        step = timedelta(minutes=schedule.interval_minutes)
        at = start
        while at <= end and len(found) <= cap:
            found.append(at)
            at += step
        return found
    at = next_slot(schedule, start - timedelta(seconds=1), start - timedelta(seconds=1))
    while at <= end and len(found) <= cap:
        found.append(at)
        at = next_slot(schedule, at, at)
    return found


def _problem(message: str) -> BacktestInvalid:
    return BacktestInvalid(message)


def _combinations(
    declared: Mapping[str, Any], wanted: Mapping[str, Sequence[Any]]
) -> list[dict[str, Any]]:
    # Sized from the lists' lengths before anything is built: the product of 4 lists
    # of 60 values is 13 million dicts (minutes and gigabytes) before it is refused.
    if len(wanted) > MAX_VARIABLES:
        raise _problem(f"the sweep sets {len(wanted)} variables; at most {MAX_VARIABLES}")
    unknown = sorted(set(wanted) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise _problem(f"unknown variable(s) {', '.join(unknown)}: the graph declares {known}")
    for name, values in wanted.items():
        if not values:
            raise _problem(f"variable {name} has no value")
        if len(values) > MAX_COMBINATIONS:
            raise _problem(f"variable {name} has {len(values)} values; at most {MAX_COMBINATIONS}")
    size = math.prod(len(values) for values in wanted.values())
    if size > MAX_COMBINATIONS:
        raise _problem(f"the sweep has {size} combinations; at most {MAX_COMBINATIONS} run at once")
    names = sorted(wanted)
    grid = [
        dict(zip(names, combo, strict=True))
        for combo in itertools.product(*(wanted[n] for n in names))
    ]
    return grid or [{}]


class Backtester:
    def __init__(
        self,
        store: MarketHistoryStore,
        settings: Settings,
        registry: NodeRegistry | None = None,
        javascript: JsSandbox | None = None,
    ) -> None:
        self.store, self.settings = store, settings
        self.registry = registry or default_registry()
        self.javascript = javascript
        self.grace = grace(settings.history_every_seconds)

    def _executor(self, markets: Any, book: BacktestBook, clock: SlotClock) -> GraphExecutor:
        services = NodeServices(
            self.settings,
            store=DryRunStore(),
            clock=clock,
            markets=markets,
            javascript=self.javascript,
            orders=book,
        )
        return GraphExecutor(self.registry, services)

    async def plan(self, request: BacktestRequest) -> Plan:
        """The request checked whole; BacktestInvalid naming every problem found."""
        s = self.settings
        start, end = request.start, request.end
        if start.tzinfo is None or end.tzinfo is None:
            raise _problem("--from and --to need a time zone (e.g. 2026-11-01T00:00Z)")
        if end <= start:
            raise _problem(f"--to ({end.isoformat()}) must be after --from ({start.isoformat()})")
        if end - start > timedelta(days=s.backtest_max_days):
            raise _problem(
                f"the window is {(end - start) / timedelta(days=1):.1f} days; at most "
                f"{s.backtest_max_days:g} (CASCADIAN_BACKTEST_MAX_DAYS)"
            )
        _money_checks(request)
        found = schedule_problems(request.schedule)
        if found:
            raise _problem(f"the schedule cannot be used: {found[0]}")
        combinations = _combinations(request.workflow.variables, request.variables)
        slots = slots_of(request.schedule, start, end, s.backtest_max_slots)
        if not slots:
            raise _problem("the schedule has no slot in the window")
        if len(slots) > s.backtest_max_slots:
            raise _problem(
                f"the window holds more than {s.backtest_max_slots} slots of the schedule "
                "(CASCADIAN_BACKTEST_MAX_SLOTS): shorten it"
            )
        span = await self.store.history_span()
        recorded = [
            (a, b)
            for a, b in ((span.markets_from, span.markets_to), (span.prices_from, span.prices_to))
            if a is not None and b is not None
        ]
        if not any(a <= end and b + self.grace >= start for a, b in recorded):
            have = "; ".join(f"{a.isoformat()} to {b.isoformat()}" for a, b in recorded)
            raise _problem(
                f"no recorded history between {start.isoformat()} and {end.isoformat()} "
                f"(history held: {have or 'none'})"
            )
        executor = GraphExecutor(self.registry, NodeServices(s))
        checked = executor.validated(request.workflow)
        if checked.graph is None or checked.problems:
            answers = [a for p in checked.problems for a in p.answers()]
            raise BacktestInvalid("the graph cannot run", answers)
        refused, flags = lookahead.check(checked.graph, span, start, request.allow_llm)
        if refused:
            raise BacktestInvalid(
                f"{len(refused)} node(s) are not backtestable over this window", refused
            )
        return Plan(slots, combinations, span, flags)

    async def run(
        self,
        request: BacktestRequest,
        progress: Progress | None = None,
        cancel: asyncio.Event | None = None,
    ) -> dict[str, Any]:
        """Every combination run over the window; the report as JSON values."""
        plan = await self.plan(request)
        total = len(plan.slots) * len(plan.combinations)
        done = 0

        def step() -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total)

        runs = []
        for combination in plan.combinations:
            runs.append(await self._run_one(request, plan, combination, step, cancel))
        window = {"from": request.start.isoformat(), "to": request.end.isoformat()}
        return {
            "strategy_id": str(request.workflow.id),
            "name": request.workflow.name,
            "window": window,
            "slots": len(plan.slots),
            "schedule": {
                "interval_minutes": request.schedule.interval_minutes,
                "cron": request.schedule.cron,
                "timezone": request.schedule.timezone,
            },
            "history": {
                "markets_from": _iso(plan.span.markets_from),
                "markets_to": _iso(plan.span.markets_to),
                "prices_from": _iso(plan.span.prices_from),
                "books_from": _iso(plan.span.books_from),
            },
            "flags": [_problem_json(p) for p in plan.flags],
            "sharpe_method": SHARPE_METHOD,
            "fill_model": (
                "the trading book's fill (trading/fills.py) against the recorded book, or "
                "where none was recorded the midpoint with "
                f"{self.settings.backtest_half_spread} either side and unbounded depth; "
                f"taker fee at {self._fee_rate(request)}; the strategy's trading limits "
                "and daily loss halt as the live book applies them"
            ),
            "bankroll": str(request.cash),
            "fee_rate": str(self._fee_rate(request)),
            "limits": _limits_json(request.limits),
            "rows": [{"variables": r["variables"], **r["metrics"]} for r in runs],
            "runs": runs,
        }

    async def _run_one(
        self,
        request: BacktestRequest,
        plan: Plan,
        combination: dict[str, Any],
        step: Callable[[], None],
        cancel: asyncio.Event | None,
    ) -> dict[str, Any]:
        start, end, g = request.start, request.end, self.grace.total_seconds()
        statics = await self.store.history_markets(start, end, g)
        markets = HistoricalMarkets(
            statics,
            KeyedHistory(self.store.history_rows("market", start, end, g), self.grace),
            KeyedHistory(self.store.history_rows("price", start, end, g), self.grace),
            KeyedHistory(self.store.history_rows("book", start, end, g), self.grace),
            self._fee_rate(request),
            self.settings.backtest_half_spread,
        )
        book = BacktestBook(
            request.limits, request.schedule.timezone, request.cash, variables=combination
        )
        clock = SlotClock(plan.slots[0])
        executor = self._executor(markets, book, clock)
        workflow = replace(
            request.workflow,
            variables={**request.workflow.variables, **combination},
            stored_text=None,
        )
        loop = asyncio.get_running_loop()
        points: list[Point] = []
        errors: list[dict[str, Any]] = []
        failed = 0
        for slot in plan.slots:
            if cancel is not None and cancel.is_set():
                raise BacktestCancelled(f"stopped at {slot.isoformat()}")
            await markets.advance(slot)
            self._settle(markets, book, slot)
            clock.at = slot
            # A halt auto-pauses a live strategy: its slots after it do not run, its
            # positions are still settled and marked.
            if book.halt is None:
                deadline = loop.time() + self.settings.strategy_timeout_seconds
                result = await executor.execute(workflow, deadline)
                if not result.success:
                    failed += 1
                    if len(errors) < 50:
                        errors.append({"at": slot.isoformat(), "error": result.error_message})
            points.append(_mark(markets, book, slot))
            step()
            await asyncio.sleep(0)  # live ticks in this process go on between slots
        seconds = (plan.slots[-1] - plan.slots[0]).total_seconds()
        per_year = (len(plan.slots) - 1) / seconds * YEAR_SECONDS if seconds > 0 else 0.0
        return {
            "variables": combination,
            "metrics": {
                **metrics(points, book.closed, book.orders, book.start_cash, per_year),
                "failed_slots": failed,
            },
            "halt": None if book.halt is None else book.halt.json(),
            "equity_curve": curve(points),
            "orders": book.orders,
            "positions": [
                {"market_id": m, "outcome": o, "shares": str(p.shares), "cost": str(p.cost)}
                for (m, o), p in book.positions.items()
            ],
            "errors": errors,
        }

    def _fee_rate(self, request: BacktestRequest) -> Decimal:
        return self.settings.default_fee_rate if request.fee_rate is None else request.fee_rate

    @staticmethod
    def _settle(markets: HistoricalMarkets, book: BacktestBook, at: datetime) -> None:
        for market_id in {m for m, _ in book.positions}:
            market = markets.state(market_id)
            pay = payouts(market) if market is not None else None
            if market is not None and pay is not None:
                book.settle(at, market_id, list(market.outcomes), pay)


def _mark(markets: HistoricalMarkets, book: BacktestBook, at: datetime) -> Point:
    """Each position marked at its token's price at the slot (a position without one
    keeps its last mark, or its cost), as the live marking step marks them."""
    prices: dict[tuple[str, str], Decimal] = {}
    for market_id, outcome in book.positions:
        static = markets.statics.get(market_id, {})
        names = [str(o).strip().lower() for o in static.get("outcomes") or []]
        tokens = static.get("clob_token_ids") or []
        index = names.index(outcome.strip().lower()) if outcome.strip().lower() in names else None
        price = None
        if index is not None and index < len(tokens):
            price = markets.midpoint(str(tokens[index]))
        if price is not None:
            prices[(market_id, outcome)] = price
    book.mark(at, prices)
    exposure = book.positions_value()
    return Point(at, book.cash + exposure, book.cash, exposure, book.realized)


def _money_checks(request: BacktestRequest) -> None:
    if request.cash <= 0:
        raise _problem(f"the starting cash (bankroll) must be above 0; it is {request.cash}")
    # The override only: a strategy's own bankroll was checked by its limits' route.
    why = None if request.bankroll is None else amounts.problem(request.bankroll)
    if why is not None:
        raise _problem(f"the starting cash (bankroll) cannot be used: {why}")
    rate = request.fee_rate
    if rate is not None and not 0 <= rate <= 1:
        raise _problem(f"the fee rate is a fraction from 0 to 1 (0.02 is 2%); it is {rate}")
    why = None if rate is None else amounts.problem(rate, is_rate=True)
    if why is not None:
        raise _problem(f"the fee rate cannot be used: {why}")


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat()


def _problem_json(p: GraphProblem) -> dict[str, Any]:
    return {"node_id": p.node_id, "node_type": p.node_type, "field": p.field, "message": p.message}


def _limits_json(limits: TradingLimits) -> dict[str, str | int | None]:
    money = (
        limits.max_order_usd,
        limits.max_position_usd,
        limits.daily_loss_usd,
        limits.min_cash_reserve_usd,
    )
    names = ("max_order_usd", "max_position_usd", "daily_loss_usd", "min_cash_reserve_usd")
    found: dict[str, str | int | None] = {
        n: None if v is None else str(v) for n, v in zip(names, money, strict=True)
    }
    found["max_open_positions"] = limits.max_open_positions
    return found
