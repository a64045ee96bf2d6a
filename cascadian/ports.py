"""The ports: the store and the workflow executor the tick service talks to, the
observers that watch it, and the control store operators' requests go through.

Adapters implement these Protocols; the services and the web layer only see
these names. The data crossing them is in data.py, the errors in errors.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from cascadian.data import (
    Actor,
    ArmedTrigger,
    AuditPage,
    AuditQuery,
    Backlog,
    Bookkeeping,
    BulkFilter,
    BulkSelection,
    ClaimedRun,
    ConsoleOverview,
    ControlResult,
    CopyObservation,
    Decision,
    DecisionAnswer,
    DecisionDraft,
    DryRun,
    EquityCurve,
    Execution,
    ExecutionDetail,
    Gauges,
    GraphProblem,
    HistoryKind,
    HistoryPruned,
    HistoryRecording,
    HistoryRow,
    HistorySpan,
    KillSwitch,
    KillSwitchChange,
    ManualClaim,
    MarketBook,
    MarketState,
    MarkResult,
    NodeTypeInfo,
    Notification,
    NotificationEntry,
    Observation,
    OpenMarket,
    OrderIntent,
    OrderOutcome,
    Page,
    PaperBook,
    PaperFill,
    PaperMark,
    PaperOrder,
    PaperOrderEntry,
    PaperPlacement,
    Portfolio,
    PositionMark,
    PruneResult,
    Recorded,
    RetentionPolicy,
    RunOutcome,
    RunPage,
    RunQuery,
    RunResult,
    Schedule,
    ScheduleLag,
    Settlement,
    SourceTrade,
    StrategyChanges,
    StrategyDetail,
    StrategyDraft,
    StrategyQuery,
    StrategyRow,
    StrategyStatus,
    TickEntry,
    TradingGauges,
    TradingHalt,
    TradingLimits,
    TradingOrder,
    TriggerEvent,
    WalletClaim,
    Watched,
    WatchlistEntry,
    Workflow,
)
from cascadian.reports import RunReport, TickReport


class WorkflowExecutor(Protocol):
    async def execute(self, workflow: Workflow, deadline: float | None = None) -> RunResult:
        """Run the workflow once. Failures are reported in the result, not raised.

        `deadline` is when the run must be over, on the event loop's clock
        (loop.time()); the caller also cancels the run then.
        """
        ...


class GraphRunner(Protocol):
    """Checks graphs and dry-runs them (workflow/dry_run.py): nothing it runs is
    recorded or written."""

    def problems(self, workflow: Workflow) -> list[GraphProblem]:
        """Every reason the graph cannot run, one per field; empty when it can."""
        ...

    async def dry_run(self, workflow: Workflow, allow_llm: bool = False) -> DryRun:
        """Run it now, every write switched to a report of what it would have done;
        `allow_llm`: the LLM provider's chat completions are really asked."""
        ...

    def node_types(self) -> list[NodeTypeInfo]:
        """The node types a graph may use, by name."""
        ...

    def over_limits(self, workflow: Workflow) -> list[GraphProblem]:
        """The size and depth limits the graph passes (empty when within them)."""
        ...


class NodeStore(Protocol):
    """What nodes may write while a strategy runs (NodeServices.store)."""

    async def add_to_watchlist(
        self, workflow_id: UUID, execution_id: UUID | None, entries: Sequence[WatchlistEntry]
    ) -> tuple[int, int]:
        """Add entries; return (added, duplicates)."""
        ...

    async def watch_markets(
        self, workflow_id: UUID, execution_id: UUID | None, entries: Sequence[WatchlistEntry]
    ) -> Watched:
        """Add entries; say which were added and which were there already."""
        ...

    async def notify(self, notification: Notification, now: datetime) -> int | None:
        """The new notification's id; None when the owner's settings suppress it."""
        ...

    async def record_paper_order(self, order: PaperOrder, now: datetime) -> PaperFill:
        """Record a simulated order (never a real one) and the position it leaves."""
        ...


class Store(NodeStore, Protocol):
    async def claim_due(
        self, now: datetime, limit: int, lease_seconds: float, owner_limit: int = 0
    ) -> list[ClaimedRun]:
        """Claim up to `limit` due strategies at `now` (each run's claimed_at), fairly
        across owners: each owner's earliest first, never more than `owner_limit` of
        one owner's in flight at once (0: no cap)."""
        ...

    async def claim_manual(
        self, strategy_id: UUID, now: datetime, lease_seconds: float, actor: Actor
    ) -> ManualClaim:
        """Claim one strategy for a run now, unless a run of it holds a lease; the
        claim is the actor's (audited; a user claims only their own strategies)."""
        ...

    async def claim_rerun(
        self, execution_id: UUID, now: datetime, lease_seconds: float, actor: Actor
    ) -> ManualClaim:
        """Claim the strategy of a failed run to run again with the run's recorded
        graph, as a manual run marked `rerun`, unless a run of it holds a lease; the
        claim is the actor's (audited; a user re-runs only their own runs)."""
        ...

    async def cancel_runs(self, execution_ids: Sequence[UUID], reason: str, now: datetime) -> int:
        """Give back started runs that were cut short; return how many were still held."""
        ...

    async def finish_runs(
        self, outcomes: Sequence[RunOutcome], pause_threshold: int
    ) -> list[Recorded]: ...

    async def release(self, execution_ids: Sequence[UUID]) -> int: ...

    async def next_due(self, now: datetime) -> datetime | None:
        """The earliest slot of a scheduled strategy not running now; None if none."""
        ...

    async def record_tick(self, report: TickReport) -> None: ...

    async def ticks(self, limit: int) -> list[TickEntry]:
        """The newest ticks of the ledger, newest first."""
        ...

    async def prune(
        self,
        now: datetime,
        policy: RetentionPolicy,
        dry_run: bool = False,
        after: UUID | None = None,
    ) -> PruneResult:
        """Delete history past its retention, within the policy's caps, going on
        from the strategy `after` (a dry run counts everything due, deleting nothing)."""
        ...

    async def prune_audit(self, before: datetime, max_rows: int, dry_run: bool) -> int:
        """Delete at most `max_rows` audit entries older than `before`, oldest first
        (a dry run counts them all); how many."""
        ...

    async def prune_history(
        self,
        before: datetime | None,
        imported_before: datetime | None,
        max_rows: int,
        dry_run: bool = False,
    ) -> HistoryPruned:
        """Delete at most `max_rows` per table of the market states the ticks recorded
        last seen before `before`, and of the imported prices (`import-prices`) last
        seen before `imported_before`; None keeps them (a dry run: count them all,
        and delete nothing)."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class ControlStore(Protocol):
    """What operators and dashboards use: each change is one SQL function call, made
    by an actor: audited in its transaction, and not_found for a user acting on a
    strategy that is not theirs."""

    async def start(
        self,
        strategy_id: UUID,
        schedule: Schedule,
        next_execution_at: datetime,
        now: datetime,
        actor: Actor,
    ) -> ControlResult: ...

    async def pause(self, strategy_id: UUID, now: datetime, actor: Actor) -> ControlResult: ...

    async def stop(self, strategy_id: UUID, now: datetime, actor: Actor) -> ControlResult: ...

    async def resume(
        self, strategy_id: UUID, next_execution_at: datetime, now: datetime, actor: Actor
    ) -> ControlResult: ...

    async def lift_trading_halt(self, strategy_id: UUID, now: datetime, actor: Actor) -> str:
        """Lift the strategy's daily-loss halt (migrations/064): ok, not_halted,
        not_found, or forbidden for a user actor (nothing changes)."""
        ...

    # `user`, on the reads: the acting user, who sees only their own strategies and
    # runs (another's answers None, as a missing one does); None: the operator.
    async def strategy_status(
        self, strategy_id: UUID, now: datetime, user: UUID | None = None
    ) -> StrategyStatus | None: ...

    async def executions(
        self, strategy_id: UUID, limit: int, offset: int, user: UUID | None = None
    ) -> Page[Execution] | None:
        """A page of the strategy's runs, newest first; None if there is no such strategy."""
        ...

    async def execution(
        self, execution_id: UUID, user: UUID | None = None
    ) -> ExecutionDetail | None: ...

    async def ticks(self, limit: int) -> list[TickEntry]:
        """The newest ticks of the ledger, newest first."""
        ...

    async def paper_book(
        self,
        strategy_id: UUID,
        marks: Sequence[PaperMark],
        order_limit: int,
        user: UUID | None = None,
    ) -> PaperBook | None:
        """The strategy's paper positions valued at `marks`, its P&L and newest
        orders; None if there is no such strategy."""
        ...

    async def schedule_lag(self, strategy_id: UUID, runs: int) -> ScheduleLag:
        """How late its newest `runs` scheduled runs started against their slots."""
        ...

    async def backlog(self, now: datetime) -> Backlog:
        """The strategies due now that no live lease holds, and the oldest's lag."""
        ...

    async def gauges(self, now: datetime) -> Gauges:
        """The figures /api/metrics reads from the database."""
        ...


class ConsoleStore(Protocol):
    """What the operators' console reads besides the control store (read-only)."""

    async def console_overview(self, now: datetime) -> ConsoleOverview: ...

    async def console_strategies(
        self, now: datetime, filter: str, search: str | None, sort: str, limit: int, offset: int
    ) -> Page[StrategyStatus]:
        """A page of current strategies matching `filter` and `search`, sorted by `sort`."""
        ...

    async def notifications(
        self, strategy_id: UUID | None, limit: int, offset: int
    ) -> Page[NotificationEntry]:
        """The newest notifications (of one strategy, or of all when None)."""
        ...

    async def paper_orders(self, limit: int, offset: int) -> Page[PaperOrderEntry]:
        """The newest paper orders of every strategy."""
        ...


class StrategyStore(Protocol):
    """Strategies as a resource (strategies.py): each change one SQL function call,
    made by an actor as the control store's are."""

    async def create_strategy(
        self,
        draft: StrategyDraft,
        start: bool,
        next_execution_at: datetime | None,
        now: datetime,
        actor: Actor,
        imported: bool = False,
    ) -> UUID:
        """Save a new strategy (a draft unless `start`); its id. A user's is theirs,
        whatever the draft says; `imported` logs it as an import."""
        ...

    async def create_user_strategy(
        self,
        draft: StrategyDraft,
        start: bool,
        next_execution_at: datetime | None,
        now: datetime,
        actor: Actor,
        imported: bool,
        max_strategies: int,
    ) -> UUID | None:
        """As create_strategy for a user (the actor), within their share: None, and
        nothing saved, when they already have `max_strategies` (0: no limit)."""
        ...

    async def strategy(
        self, strategy_id: UUID, now: datetime, user: UUID | None = None
    ) -> StrategyDetail | None: ...

    async def strategies(
        self, query: StrategyQuery, now: datetime, user: UUID | None = None
    ) -> Page[StrategyRow]:
        """A page of current versions matching the query (`user`'s only, when given),
        and how many match."""
        ...

    async def new_version(
        self,
        strategy_id: UUID,
        changes: StrategyChanges,
        schedule: Schedule | None,
        next_execution_at: datetime | None,
        now: datetime,
        actor: Actor,
    ) -> tuple[ControlResult, UUID | None]:
        """A new version with the changed graph (and schedule, unless None); the
        result and, when ok, the new version's id."""
        ...

    async def update_strategy(
        self,
        strategy_id: UUID,
        changes: StrategyChanges,
        schedule: Schedule | None,
        next_execution_at: datetime | None,
        now: datetime,
        actor: Actor,
    ) -> ControlResult:
        """Rename or reschedule in place (`schedule` None: leave it)."""
        ...

    async def archive_strategy(
        self, strategy_id: UUID, now: datetime, actor: Actor
    ) -> ControlResult: ...


class TradingStore(Protocol):
    async def place_paper_order(self, placement: PaperPlacement, now: datetime) -> OrderOutcome:
        """Record a paper order once per strategy, slot and node (or per strategy and
        order key), checking the kill switch, the halt, the limits, the cash and the
        position under the portfolio's lock; a daily loss breach halts and
        auto-pauses the strategy in the same transaction."""
        ...

    async def set_trading_limits(
        self, strategy_id: UUID, changes: Mapping[str, Any], now: datetime, actor: Actor
    ) -> TradingLimits | None:
        """Set the named settings (a None value: no limit), keep the others, written to
        the audit log as the actor; None for an unknown strategy (or, for a user,
        one not theirs)."""
        ...

    async def set_kill_switch(
        self,
        strategy_id: UUID | None,
        on: bool,
        set_by: str | None,
        reason: str | None,
        now: datetime,
        actor: Actor,
    ) -> KillSwitchChange | None:
        """The global switch (strategy_id None; an operator's alone) or a strategy's,
        on (with who and why) or off, written to the audit log as the actor; None
        for an unknown strategy (or, for a user, one not theirs), "operator_switch"
        when a user tries to turn off a switch an operator turned on (nothing
        changed)."""
        ...

    async def kill_switches(self, user: UUID | None = None) -> list[KillSwitch]:
        """Every switch that is on, the global one first (for `user`: the global one
        and their own strategies')."""
        ...

    async def paper_portfolio(
        self, strategy_id: UUID, now: datetime, user: UUID | None = None
    ) -> Portfolio | None:
        """The portfolio, its settings, switches, halt and day; None: unknown strategy
        (or not `user`'s)."""
        ...

    async def trading_orders(
        self,
        strategy_id: UUID,
        result: str | None,
        limit: int,
        offset: int,
        user: UUID | None = None,
    ) -> Page[TradingOrder] | None:
        """A page of its orders, newest first (of one result if given); None: unknown
        (or not `user`'s)."""
        ...

    async def trading_gauges(self) -> TradingGauges: ...


class TradingObserver(Protocol):
    """Who hears what recorded orders did (observers/: the metrics count them, the
    operators' alerts hear of a halt). Each returns at once and never raises."""

    def order_placed(self, order: OrderIntent, outcome: OrderOutcome) -> None:
        """An order was recorded (a replay is not told again)."""
        ...

    def trading_halted(self, order: OrderIntent, halt: TradingHalt) -> None:
        """That order halted its strategy's trading and auto-paused it."""
        ...


class OrderExecutor(Protocol):
    """Where an order node's order goes: the paper executor today (trading/); a live
    one could sit behind this port, and the same limits, without changing a node."""

    async def place(self, order: OrderIntent, market: MarketBook, now: datetime) -> OrderOutcome:
        """Fill `order` against `market`, and record it unless this is a dry run.
        A refusal is an outcome, never an exception."""
        ...


class MarkStore(Protocol):
    """Settlements of resolved markets and marks from live books (migrations/025)."""

    async def open_markets(self) -> list[OpenMarket]:
        """Every market some strategy holds a position in, with the outcomes held."""
        ...

    async def settle_market(
        self, market_id: str, payouts: Mapping[str, Decimal], now: datetime
    ) -> Settlement:
        """Settle every open position in a resolved market at its outcome's payout,
        once, under each portfolio's lock."""
        ...

    async def mark_portfolios(
        self,
        marks: Sequence[PositionMark],
        now: datetime,
        *,
        min_gap: timedelta,
        keep_after: datetime | None,
        prune_limit: int,
    ) -> MarkResult:
        """Keep the marks, value every portfolio holding them, write equity points
        (one per strategy per `min_gap` at most), prune points before `keep_after`."""
        ...

    async def equity_curve(
        self, strategy_id: UUID, since: datetime | None, limit: int, user: UUID | None = None
    ) -> EquityCurve | None:
        """A strategy's equity points (the newest `limit` since `since`, oldest first)
        and its value now at the stored marks; None for an unknown strategy (or one
        not `user`'s)."""
        ...


class MarketStates(Protocol):
    """What the bookkeeping step asks of the market data (workflow/market/): one
    batched read of Gamma for the markets, one of the CLOB for the books."""

    async def market_states(
        self, market_ids: Sequence[str], *, deadline: float | None = None
    ) -> list[MarketState]:
        """The markets Gamma knows among `market_ids`, resolved or not."""
        ...

    async def best_bids(
        self, token_ids: Sequence[str], *, deadline: float | None = None
    ) -> dict[str, Decimal]:
        """Each token's best bid now; a token without a book or without bids is missing."""
        ...


class Bookkeeper(Protocol):
    """The tick's settle-and-mark step (trading/marking.py); the tick runs it beside
    its claims, bounded by a deadline, and never fails because of it."""

    def due(self) -> bool:
        """Whether this tick should run the step (it runs at most every so often)."""
        ...

    async def keep(self, deadline: float) -> Bookkeeping:
        """Settle what resolved, mark the rest; never raises (a failure is in the
        answer's `error`). `deadline` is on the event loop's clock."""
        ...

    async def settle(self, market_ids: Sequence[str], deadline: float) -> int:
        """Settle the positions in these markets (Gamma ids) now if Gamma shows them
        resolved, as each step would: for a `market_resolved` event. Answers how many
        settled; raises what the market data or the store raise."""
        ...


class MarketHistoryStore(Protocol):
    """Recorded market history, for backtests (backtests/, migrations/029)."""

    async def record_history(self, recording: HistoryRecording, at: datetime) -> dict[str, int]:
        """Write one recording: unchanged states extend their rows, changed ones add."""
        ...

    async def import_price_history(self, points: Sequence[dict[str, Any]]) -> int:
        """Polymarket's public price history; how many points were new."""
        ...

    def history_rows(
        self, kind: HistoryKind, start: datetime, end: datetime, grace_seconds: float
    ) -> AsyncIterator[HistoryRow]:
        """The rows of `kind` whose state overlaps [start - grace, end], in time order."""
        ...

    async def history_markets(
        self, start: datetime, end: datetime, grace_seconds: float
    ) -> dict[str, dict[str, Any]]: ...

    async def history_span(self) -> HistorySpan: ...


class WalletStore(Protocol):
    """Wallet metrics from Polymarket's public data, shared by every strategy and
    worker (workflow/wallets/): read while fresh, each wallet read upstream by one
    reader at a time, which claims it first."""

    async def claim_wallet_metrics(
        self, wallets: Sequence[str], max_age_seconds: float, lease_seconds: float, now: datetime
    ) -> WalletClaim:
        """Of `wallets`: the stored metrics younger than `max_age_seconds`, the ones
        the caller now holds the claim to read (for `lease_seconds`), and the ones
        another reader holds."""
        ...

    async def put_wallet_metrics(
        self, metrics: Mapping[str, Mapping[str, Any]], fetched_at: datetime
    ) -> int:
        """Store metrics read at `fetched_at`, by wallet, ending their claims; an older
        read never replaces a newer one. How many rows were written."""
        ...

    async def release_wallet_metrics(self, wallets: Sequence[str]) -> int:
        """End the claims on `wallets` without metrics (their read failed)."""


class TriggerStore(Protocol):
    """Triggers (triggers/, migrations/028): definitions, their state, event runs."""

    async def set_triggers(
        self, workflow_id: UUID, definitions: list[dict[str, Any]], now: datetime, actor: Actor
    ) -> list[dict[str, Any]] | None:
        """Replace a strategy's triggers (validated definitions), audited; None: no such
        strategy, or a user actor's not their own."""
        ...

    async def triggers(
        self, workflow_id: UUID, user: UUID | None = None
    ) -> list[dict[str, Any]] | None: ...

    async def armed_triggers(self) -> list[ArmedTrigger]:
        """The triggers of strategies that run, that can still fire."""
        ...

    async def observe(self, observations: list[Observation], now: datetime) -> list[TriggerEvent]:
        """Hand prices seen to the triggers watching them; the crossings written."""
        ...

    async def claim_events(
        self, now: datetime, limit: int, lease_seconds: float
    ) -> list[ClaimedRun]:
        """Claim up to `limit` event runs, one per strategy, each under a lease."""
        ...

    async def trigger_events(
        self, workflow_id: UUID, limit: int, user: UUID | None = None
    ) -> list[dict[str, Any]] | None: ...

    async def record_listener(self, state: dict[str, Any], now: datetime) -> None: ...

    async def trigger_overview(
        self, now: datetime, fresh_seconds: float, user: UUID | None = None
    ) -> dict[str, Any]: ...


class TickEvents(Protocol):
    """Market events the tick runs besides due strategies (triggers/): evaluated once
    at the start of a tick, their runs claimed before due ones. The tick never
    imports who implements it."""

    async def evaluate(self, within: float) -> int:
        """Price the armed triggers and write their crossings, within `within`
        seconds; how many were written. Never raises."""
        ...

    async def claim(self, now: datetime, limit: int, lease_seconds: float) -> list[ClaimedRun]:
        """Claim event runs (store.claim_events); may raise StoreUnavailable."""
        ...


class CopyTradeStore(Protocol):
    """What copy-trading nodes keep (migrations/038): each wallet's read cursor, every
    source trade once, each consensus triggered once, and the copies owed."""

    async def copy_trade_cursors(
        self, workflow_id: UUID, node_id: str, wallets: Sequence[str]
    ) -> dict[str, int]:
        """The newest source trade (unix seconds) seen of each wallet read before."""
        ...

    async def observe_copy_trades(
        self,
        workflow_id: UUID,
        node_id: str,
        wallets: Sequence[str],
        trades: Sequence[SourceTrade],
        required: int | None,
        now: datetime,
    ) -> CopyObservation:
        """Record `trades` once each, advance the cursors of `wallets` (a wallet read
        for the first time starts at `now`), trigger each consensus `required`
        wallets now meet (None: watch only), and answer the copies owed."""
        ...


class DecisionWriter(Protocol):
    """Where the orchestrator's approval mode writes (NodeServices.decisions)."""

    async def create_decisions(
        self,
        workflow_id: UUID,
        execution_id: UUID | None,
        node_id: str,
        slot: str | None,
        drafts: Sequence[DecisionDraft],
        now: datetime,
    ) -> list[Decision]:
        """Write the pending decisions not written yet (`slot` None: the run's own),
        telling the owner of the new ones; every one of `drafts`, as stored (none in
        a dry run, which writes nothing). A run not recorded (`execution_id` None)
        cannot have decisions: NodeError."""
        ...

    async def pending_decisions(self, workflow_id: UUID, now: datetime) -> list[Decision]:
        """The strategy's decisions pending and not expired at `now` (a bet sized, not
        placed yet: the orchestrator counts them as spent); none in a dry run."""
        ...


class DecisionStore(DecisionWriter, Protocol):
    """The orchestrator's decisions (migrations/046): written once per run slot, node,
    market and outcome; each approved (its paper order placed through the trading
    book) or rejected once, before it expires, in one transaction with its audit
    entry."""

    async def decisions(
        self,
        strategy_id: UUID | None,
        status: str | None,
        limit: int,
        offset: int,
        now: datetime,
        user: UUID | None = None,
    ) -> Page[Decision] | None:
        """A page of decisions, newest first (of one strategy, or of all: None);
        None for a strategy not found (or not the user's)."""
        ...

    async def decision(
        self, decision_id: UUID, now: datetime, user: UUID | None = None
    ) -> Decision | None: ...

    async def decide(
        self,
        decision_id: UUID,
        approve: bool,
        placement: PaperPlacement | None,
        reason: str | None,
        now: datetime,
        actor: Actor,
    ) -> DecisionAnswer | None:
        """Approve (placing `placement`, its fill now) or reject a pending decision;
        None for a decision not found (or not the actor's)."""
        ...


class AuditStore(Protocol):
    """The audit log, read (the changes write it themselves, in their SQL)."""

    async def audit_log(self, query: AuditQuery, user: UUID | None = None) -> AuditPage:
        """A page of the entries matching `query`, newest first; for `user`, those
        they made or about their own strategies."""
        ...


class OperatorStore(Protocol):
    """What operators read across strategies (read-only): the runs list, and the
    strategies a bulk change would act on."""

    async def runs(self, query: RunQuery) -> RunPage:
        """A page of runs of every strategy matching the query, newest first."""
        ...

    async def bulk_selection(
        self, filter: BulkFilter, now: datetime, limit: int, user: UUID | None = None
    ) -> BulkSelection:
        """Up to `limit` current strategies matching `filter`, by name, and how many
        match in all (`user`'s only, whatever owner the filter names)."""
        ...


class QuotaStore(Protocol):
    """Each signed-in user's share (auth/quotas.py), counted where it is written."""

    async def count_request(self, user: UUID, now: datetime, limit: int) -> int:
        """Count one request of `user`: 0 if within `limit` this minute, else the
        seconds until it may try again."""
        ...

    async def take_slot(
        self, user: UUID, kind: str, most: int, now: datetime, seconds: float
    ) -> UUID | None:
        """One of `user`'s `most` slots of `kind` (a dry run...) until `seconds` from
        `now`; None when all are taken."""
        ...

    async def give_slot(self, slot: UUID) -> None: ...


class FullStore(
    Store,
    AuditStore,
    ControlStore,
    StrategyStore,
    ConsoleStore,
    TradingStore,
    MarkStore,
    MarketHistoryStore,
    WalletStore,
    CopyTradeStore,
    DecisionStore,
    OperatorStore,
    TriggerStore,
    QuotaStore,
    Protocol,
):
    """A process's store: the tick's side, the operators' side, strategies, the
    console's reads, the trading book, the recorded market history, wallet
    metrics, copy trading, the reads across strategies, triggers and the users'
    quotas (both adapters)."""


class TickObserver(Protocol):
    """Who watches the tick: this process's metrics, the operators' alerts
    (observers/). The tick calls these as things happen and goes on at once: each
    returns without waiting and never raises; one with slow work (an alert to send)
    starts it on a task of its own. The tick never imports its observers;
    bootstrap.py hands them to it."""

    def claimed(self, n: int) -> None:
        """A claim took `n` strategies (none included)."""
        ...

    def store_error(self, operation: str) -> None:
        """A store call of the tick failed: claim, release, finish_runs or record_tick."""
        ...

    def tick_finished(self, report: TickReport) -> None:
        """A tick ended, after its ledger row was written (or not wanted); its runs
        are in the report."""
        ...

    def run_now_finished(self, report: RunReport) -> None:
        """A run outside any tick (run now) ended and was recorded."""
        ...


class TickObservers:
    """Several observers as one, each told in the order given."""

    def __init__(self, observers: Sequence[TickObserver] = ()) -> None:
        self.observers = tuple(observers)

    def claimed(self, n: int) -> None:
        for o in self.observers:
            o.claimed(n)

    def store_error(self, operation: str) -> None:
        for o in self.observers:
            o.store_error(operation)

    def tick_finished(self, report: TickReport) -> None:
        for o in self.observers:
            o.tick_finished(report)

    def run_now_finished(self, report: RunReport) -> None:
        for o in self.observers:
            o.run_now_finished(report)
