"""The data that crosses the ports: plain frozen dataclasses, and the result codes
of the control functions.

Ids stay UUIDs and times datetimes here; they become strings only where they are
rendered (the store's wire format, the web layer's JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

NodeStatus = Literal["success", "error", "skipped"]
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a longer list (runs, strategies, notifications, paper orders), and
    how many match in all, not only on this page."""

    items: list[T]
    total: int


ActorKind = Literal["operator", "user", "system"]
ActorSource = Literal["api", "cli", "console", "cron"]
ACTOR_KINDS: tuple[ActorKind, ...] = ("operator", "user", "system")
ACTOR_SOURCES: tuple[ActorSource, ...] = ("api", "cli", "console", "cron")


@dataclass(frozen=True)
class Actor:
    """Who makes a change, passed from every entry point to every change: the SQL
    writes it to the audit log in the change's transaction, and a user (not an
    operator or the system) may change only the strategies they own.

    `user_id` is set for a user and only for one; `address` is the client's
    address where there is one (the API, the console), else None.
    """

    kind: ActorKind
    source: ActorSource
    user_id: UUID | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ACTOR_KINDS:
            raise ValueError(f"an actor's kind is operator, user or system, not {self.kind!r}")
        if self.source not in ACTOR_SOURCES:
            raise ValueError(f"an actor's source is api, cli, console or cron, not {self.source!r}")
        if (self.kind == "user") != (self.user_id is not None):
            raise ValueError("a user actor has a user id, and only a user actor has one")

    @classmethod
    def operator(cls, source: ActorSource, address: str | None = None) -> Actor:
        return cls("operator", source, None, address)

    @classmethod
    def user(cls, user_id: UUID, source: ActorSource = "api", address: str | None = None) -> Actor:
        return cls("user", source, user_id, address)

    @classmethod
    def system(cls, source: ActorSource = "cron") -> Actor:
        return cls("system", source)

    def owns(self, user_id: UUID) -> bool:
        """Whether this actor may see and change a strategy owned by `user_id`."""
        return self.kind != "user" or self.user_id == user_id


AuditAction = Literal[
    "start",
    "pause",
    "stop",
    "resume",
    "run_now",
    "create",
    "import",
    "new_version",
    "update",
    "archive",
    "rerun",
    "set_triggers",
    "set_limits",
    "kill_switch_on",
    "kill_switch_off",
    "lift_halt",
    "approve_decision",
    "reject_decision",
]


@dataclass(frozen=True)
class AuditCursor:
    """Where a page of the audit log ended: the next page is what is older."""

    at: datetime
    id: int


@dataclass(frozen=True)
class AuditQuery:
    """Which entries of the audit log, newest first (each filter None: any)."""

    workflow_id: UUID | None = None
    actor_kind: ActorKind | None = None
    user_id: UUID | None = None  # the acting user's
    source: ActorSource | None = None
    action: AuditAction | None = None
    since: datetime | None = None  # at or after
    until: datetime | None = None  # before
    limit: int = 50
    before: AuditCursor | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One change, as the audit log keeps it: who, what, which strategy (and its
    name while it exists), when, and its changed fields before and after (`before`
    None: a creation)."""

    id: int
    at: datetime
    actor: Actor
    action: str
    workflow_id: UUID | None
    strategy_name: str | None
    before: dict[str, Any] | None
    after: dict[str, Any]

    @property
    def changes(self) -> list[tuple[str, Any, Any]]:
        """Each changed field with its value before (None: a creation, or unset) and
        after, by name, as the CLI and the console show them."""
        before = self.before or {}
        return [
            (k, before.get(k), self.after.get(k)) for k in sorted(set(before) | set(self.after))
        ]


@dataclass(frozen=True)
class AuditPage:
    """A page of entries and the cursor of the next one (None: the last page)."""

    items: list[AuditEntry]
    next: AuditCursor | None


def scope(actor: Actor | None) -> UUID | None:
    """The user a read is scoped to (the store's `user`, SQL's p_user): a user's own
    id; None for the operator, the system, or no actor (everything)."""
    return None if actor is None else actor.user_id


@dataclass(frozen=True, slots=True)
class Workflow:
    """What an executor needs to run one strategy once."""

    id: UUID
    name: str
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    variables: dict[str, Any] = field(default_factory=dict)
    trigger: dict[str, Any] | None = None
    user_id: UUID | None = None
    # The workflow_executions row of this run; nodes that write rows reference it.
    execution_id: UUID | None = None
    # The graph (nodes, edges, variables, trigger) as the database printed it, when it
    # came from there: identical graphs print identically, so it keys the graph cache.
    # Only while the graph is the one read: whatever changes the graph drops it.
    stored_text: str | None = None
    # What an order placed by this run is keyed by, when not the run's own slot: an
    # event run's event, so every attempt at one event places its orders once.
    order_slot: str | None = None


@dataclass(frozen=True, slots=True)
class NodeRun:
    """One node's part in a run; becomes a strategy_execution_logs row."""

    node_id: str
    node_type: str
    status: NodeStatus
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: int = 0
    error: str | None = None
    output: Any = None


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a WorkflowExecutor returns for one run."""

    success: bool
    outputs: dict[str, Any]
    errors: list[dict[str, Any]]  # [{"node_id", "node_type", "error"}]
    nodes_executed: int
    duration_ms: int
    node_runs: list[NodeRun] = field(default_factory=list)
    # The nodes whose outputs went on to others: stored capped, as their logs are;
    # only the graph's last nodes' outputs are stored whole (up to the run's cap).
    intermediate: frozenset[str] = frozenset()

    @property
    def error_message(self) -> str | None:
        if self.success:
            return None
        if not self.errors:
            return "workflow failed"
        first = self.errors[0]
        node, text = first.get("node_id"), str(first.get("error"))
        if node and not text.startswith(f"node {node!r}"):
            return f"node {node!r}: {text}"
        return text


@dataclass(frozen=True, slots=True)
class Schedule:
    interval_minutes: int
    cron: str | None = None
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class ClaimedRun:
    """A strategy claimed for one run, holding a lease fenced by `execution_id`."""

    execution_id: UUID
    workflow: Workflow
    schedule: Schedule
    # The slot a scheduled run is for; None for a manual run ("execute now").
    scheduled_for: datetime | None
    attempt: int
    lease_expires_at: datetime
    # A manual run leaves the schedule alone: this is the strategy's
    # next_execution_at when it was claimed, recorded back unchanged.
    next_execution_at: datetime | None = None
    # Why the claimed strategy cannot run at all (e.g. its stored JSON cannot be
    # read); the run is then recorded as failed with this message.
    problem: str | None = None
    # When it was claimed: its execution_started_at (the claim's `now`).
    claimed_at: datetime | None = None
    # The market event an event run was claimed for (triggers/): its trigger,
    # crossing, prices before and after, when it was seen and by whom. None for a
    # scheduled or manual run.
    event: dict[str, Any] | None = None

    @property
    def manual(self) -> bool:
        return self.scheduled_for is None


# What a control change answers (the SQL functions' result codes, migrations/005).
ControlResult = Literal[
    "ok",
    "not_found",
    "already_running",
    "already_paused",
    "already_stopped",
    "not_resumable",
    "run_in_flight",
    "superseded",
    "archived",
    # a re-run's refusals
    "run_not_found",
    "not_failed",
    "no_snapshot",
]


@dataclass(frozen=True)
class ManualClaim:
    """The answer to a manual claim: `run` is set when `result` is ok."""

    result: ControlResult
    run: ClaimedRun | None = None


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What the tick hands the store to record for one finished run."""

    execution_id: UUID
    workflow_id: UUID
    result: RunResult
    # None only for a manual run of a strategy that had no next slot.
    next_execution_at: datetime | None
    finished_at: datetime


@dataclass(frozen=True, slots=True)
class Recorded:
    """The store's answer for one outcome."""

    execution_id: UUID
    accepted: bool  # False: the lease was taken over; the outcome was discarded
    auto_paused: bool = False
    # Side writes the database refused (node logs, the auto-pause notification);
    # the outcome itself was recorded.
    side_errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class WatchlistEntry:
    market_id: str
    reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


# The types an existing Cascadian deployment's notifications CHECK accepts.
ORIGINAL_NOTIFICATION_TYPES = (
    "whale_activity",
    "market_alert",
    "insider_alert",
    "strategy_update",
    "system",
    "security",
    "account",
    "strategy_started",
    "strategy_paused",
    "strategy_stopped",
    "strategy_error",
    "watchlist_updated",
    "execution_completed",
    "execution_failed",
)


@dataclass(frozen=True)
class Notification:
    user_id: UUID
    workflow_id: UUID | None
    title: str
    message: str
    type: str = "strategy_update"
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    link: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StrategyStatus:
    """A strategy as operators see it."""

    id: UUID
    user_id: UUID
    name: str
    status: str
    auto_run: bool
    schedule: Schedule
    next_execution_at: datetime | None
    last_executed_at: datetime | None
    execution_count: int
    success_count: int
    error_count: int  # consecutive
    success_rate: float | None  # 0 to 1; None before the first run
    average_execution_time_ms: int | None
    last_error: str | None
    run_in_flight: bool  # a run holds an unexpired lease
    lease_expires_at: datetime | None

    @property
    def auto_paused(self) -> bool:
        """Paused by its own consecutive errors: the finish functions record an
        auto-pause as status `error` and off its schedule. A strategy failing for the
        first time stays `running` (on its schedule) with an error streak."""
        return self.status == "error" and not self.auto_run

    @property
    def shown_status(self) -> str:
        """The status as operators read it: `auto-paused` rather than `error`."""
        return "auto-paused" if self.auto_paused else self.status


@dataclass(frozen=True)
class Execution:
    """One run (a workflow_executions row), without its outputs or logs."""

    id: UUID
    workflow_id: UUID
    status: str  # running | completed | failed | cancelled
    trigger_kind: str  # scheduled | manual | rerun | (kinds triggers add): an open set
    scheduled_for: datetime | None
    attempt: int
    execution_started_at: datetime
    execution_completed_at: datetime | None
    duration_ms: int | None
    nodes_executed: int
    error_message: str | None
    rerun_of: UUID | None = None  # the failed run a re-run repeats


@dataclass(frozen=True)
class ExecutionDetail(Execution):
    outputs: Any = None
    errors: Any = None
    logs: list[NodeRun] = field(default_factory=list)


@dataclass(frozen=True)
class RunEntry(Execution):
    """A run in the list across strategies: whose it is, and its strategy's name."""

    user_id: UUID | None = None
    workflow_name: str | None = None


@dataclass(frozen=True)
class RunCursor:
    """Where a page of the runs list ends: the key of its last run, newest first."""

    started_at: datetime
    id: UUID


@dataclass(frozen=True)
class RunQuery:
    """The runs list's filters (each optional) and its page: the runs started
    before `before`, newest first."""

    status: str | None = None
    workflow_id: UUID | None = None
    user_id: UUID | None = None
    trigger: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    rerun_of: UUID | None = None
    before: RunCursor | None = None
    limit: int = 50


@dataclass(frozen=True)
class RunPage:
    """A page of runs, and where the next one starts (None: this is the last)."""

    items: list[RunEntry]
    next: RunCursor | None


@dataclass(frozen=True)
class BulkFilter:
    """Which strategies a bulk change acts on: current, not archived versions
    matching every filter given. `status` may be `auto-paused`;
    `auto_paused_within_seconds`: auto-paused by a run that recent."""

    status: str | None = None
    user_id: UUID | None = None
    q: str | None = None
    auto_paused_within_seconds: float | None = None

    @property
    def empty(self) -> bool:
        return all(
            v is None for v in (self.status, self.user_id, self.q, self.auto_paused_within_seconds)
        )


@dataclass(frozen=True)
class BulkTarget:
    """A strategy a bulk change would act on, as it was when selected."""

    id: UUID
    user_id: UUID
    name: str
    status: str
    auto_run: bool
    error_count: int
    last_executed_at: datetime | None

    @property
    def auto_paused(self) -> bool:
        return self.status == "error" and not self.auto_run


@dataclass(frozen=True)
class BulkSelection:
    """The strategies matching a bulk filter (at most the limit asked for), and how
    many match in all."""

    targets: list[BulkTarget]
    total: int


BulkOutcomeKind = Literal["changed", "unchanged", "refused"]


@dataclass(frozen=True)
class BulkOutcome:
    """What a bulk change did to one strategy: changed; unchanged, as it was
    already so; or refused, with the reason."""

    id: UUID
    name: str
    outcome: BulkOutcomeKind
    status: str | None  # its status afterwards, when known
    reason: str | None = None


@dataclass(frozen=True)
class TickEntry:
    """One row of the tick ledger, with the gap since the tick before it."""

    id: UUID
    trigger: str
    started_at: datetime
    finished_at: datetime
    success: bool
    strategies_checked: int
    strategies_executed: int
    succeeded: int
    failed: int
    released: int
    execution_time_ms: int
    error: str | None
    summary: dict[str, Any]
    gap_seconds: float | None  # None for the oldest tick in the ledger
    # The scheduler's id for the delivery (Vercel Schedules: the run's execution id).
    delivery_id: str | None = None


@dataclass(frozen=True)
class Watched:
    """Which markets a watchlist write added, and which were on it already."""

    added: list[str]
    duplicates: list[str]


PaperSide = Literal["buy", "sell"]
# A recorded entry may also be a settlement: a position closed at its market's
# resolution (migrations/025).
PaperEntrySide = Literal["buy", "sell", "settlement"]


@dataclass(frozen=True)
class PaperOrder:
    """A simulated order a buy or sell node asks to record; never sent anywhere."""

    workflow_id: UUID
    execution_id: UUID | None
    node_id: str
    market_id: str
    market_question: str | None
    outcome: str
    side: PaperSide
    order_type: Literal["market", "limit"]
    amount_usd: float
    price: float
    # clob (the live order book), gamma (Polymarket's listing) or input (the record
    # the node was given).
    price_source: str
    limit_price: float | None = None


OrderResult = Literal["filled", "partly_filled", "refused"]
# FOK: all or nothing (market orders' default); FAK: what the book holds, the rest
# cancelled; limit: at or better than its price, now, the rest cancelled.
TimeInForce = Literal["FOK", "FAK", "limit"]


@dataclass(frozen=True)
class OrderIntent:
    """What an order node asks the trading book for; the executor fills and records
    it (paper: never sent anywhere)."""

    workflow_id: UUID
    execution_id: UUID | None
    node_id: str
    market_id: str
    market_question: str | None
    outcome: str
    side: PaperSide
    # Dollars to spend (a buy) or to raise (a sell, at the best bid's price).
    amount_usd: Decimal
    time_in_force: TimeInForce = "FOK"
    limit_price: Decimal | None = None
    # Overrides the run's slot as the order's key (tests, tools); None: the run's.
    slot: str | None = None
    # The order's own identity within its strategy (copy trading: one per source
    # trade): a node may then place several orders in a run, each exactly once.
    # None: the order is the (slot, node)'s one order.
    order_key: str | None = None
    # The node's own cap on the order (MANUAL_COPY_TRADE's maxCopyPerTradeUsd): an
    # order above it is refused (`node_max_order`) and recorded, as the original
    # refused a copy above its maximum rather than cutting it.
    node_max_usd: Decimal | None = None


@dataclass(frozen=True)
class MarketBook:
    """The order's token as the CLOB shows it now: its GET /book answer, as sent, and
    the taker fee rate (a fraction), from the CLOB or the configured default."""

    book: Any
    fee_rate: Decimal
    fee_rate_source: Literal["clob", "default"]


@dataclass(frozen=True)
class FilledLevel:
    price: Decimal
    shares: Decimal
    fee_usd: Decimal


@dataclass(frozen=True)
class PaperPlacement:
    """A computed fill (or the book's refusal) for the store to check and record."""

    intent: OrderIntent
    result: OrderResult
    levels: tuple[FilledLevel, ...] = ()
    refusal: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class TradingHalt:
    """An order breached the daily loss limit: the strategy's trading is halted and
    the strategy auto-paused (unless archived), in the order's own transaction."""

    reason: str  # the limit: daily_loss_usd
    detail: str
    strategy_name: str | None
    auto_paused: bool


# What operators read and set of the trading book (migrations/032).

LIMIT_NAMES = (
    "initial_bankroll",
    "max_order_usd",
    "max_position_usd",
    "max_open_positions",
    "daily_loss_usd",
    "min_cash_reserve_usd",
)


@dataclass(frozen=True)
class TradingLimits:
    """A strategy's trading settings; None: no limit. `updated_at` None: never set."""

    initial_bankroll: Decimal = Decimal(10000)
    max_order_usd: Decimal | None = None
    max_position_usd: Decimal | None = None
    max_open_positions: int | None = None
    daily_loss_usd: Decimal | None = None
    min_cash_reserve_usd: Decimal | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class KillSwitch:
    """A kill switch that is on: the global one (workflow_id None) or a strategy's."""

    scope: str
    workflow_id: UUID | None
    set_by: str
    reason: str
    set_at: datetime
    workflow_name: str | None = None


# What turning a strategy's switch on or off did: "done", or "operator_switch" when a
# user tried to turn off the switch an operator turned on (nothing changed).
KillSwitchChange = Literal["done", "operator_switch"]


@dataclass(frozen=True)
class HaltState:
    """Why and since when a strategy's trading is halted (until an operator lifts it:
    their resume or start, or DELETE /api/strategies/{id}/halt)."""

    reason: str
    detail: str
    halted_at: datetime


@dataclass(frozen=True)
class TradingDay:
    """The day so far, from midnight in the strategy's time zone."""

    start: datetime
    realized_pnl: Decimal
    orders: int
    refused: int


@dataclass(frozen=True)
class Portfolio:
    """A strategy's paper portfolio with the original app's fields, its settings,
    the switches that stop it, its halt and its day. Unrealised P&L is the paper
    book's (positions at marks), not here."""

    initial_bankroll: Decimal
    available_cash: Decimal
    deployed_capital: Decimal  # the cost of the open positions: the exposure at cost
    realized_pnl: Decimal
    open_positions: int
    total_trades: int
    winning_trades: int
    losing_trades: int
    win_rate: Decimal | None
    average_win: Decimal | None
    average_loss: Decimal | None
    largest_win: Decimal
    largest_loss: Decimal
    max_drawdown: Decimal
    limits: TradingLimits
    kill_switches: list[KillSwitch]
    halt: HaltState | None
    day: TradingDay

    @property
    def trading_stopped_by(self) -> str | None:
        """What refuses its orders now: a kill switch, the halt, or None."""
        if self.kill_switches:
            return "kill_switch"
        return "halted" if self.halt is not None else None


@dataclass(frozen=True)
class TradingOrder:
    """One order of a strategy as recorded: filled, partly filled, refused (with the
    limit, switch or book rule it hit, and why) or settled."""

    order_id: UUID
    execution_id: UUID | None
    node_id: str
    order_key: str | None
    market_id: str
    market_question: str | None
    outcome: str
    side: str
    result: str
    refusal: str | None
    detail: str | None
    shares: Decimal
    notional_usd: Decimal
    fee_usd: Decimal
    average_price: Decimal | None
    realized_pnl: Decimal
    position_shares: Decimal | None
    created_at: datetime


@dataclass(frozen=True)
class TradingGauges:
    """/api/metrics' trading gauges, read from the database."""

    halted_by_limit: dict[str, int]
    global_kill_switch: bool
    strategy_kill_switches: int


@dataclass(frozen=True)
class OrderOutcome:
    """What became of an order: filled, partly filled or refused (with the limit,
    switch or book rule it hit). `recorded` is False in a dry run; `replayed` True
    when this is the first order of a re-run slot, answered again."""

    result: OrderResult
    shares: Decimal = Decimal(0)
    notional_usd: Decimal = Decimal(0)
    fee_usd: Decimal = Decimal(0)
    average_price: Decimal | None = None
    refusal: str | None = None
    detail: str | None = None
    order_id: UUID | None = None
    position_shares: Decimal | None = None
    available_cash: Decimal | None = None
    replayed: bool = False
    recorded: bool = True
    # This order halted its strategy's trading (the first answer of a replay says so too).
    halted: TradingHalt | None = None


@dataclass(frozen=True)
class PaperFill:
    """The store's answer to a paper order: filled, or refused for want of shares."""

    result: Literal["filled", "insufficient_shares"]
    shares: float
    held_shares: float  # after the order; what is held when refused
    order_id: UUID | None = None
    realized_pnl: float = 0.0
    created_at: datetime | None = None


@dataclass(frozen=True)
class PaperMark:
    """A price to value an open paper position at."""

    market_id: str
    outcome: str
    price: float
    source: str


@dataclass(frozen=True)
class PaperPosition:
    market_id: str
    market_question: str | None
    outcome: str
    shares: float
    cost_basis: float
    average_price: float | None
    realized_pnl: float
    mark_price: float
    mark_source: str  # best_bid (the stored mark), clob, gamma, or last_order
    market_value: float
    unrealized_pnl: float
    last_order_at: datetime


@dataclass(frozen=True)
class PaperOrderRecord:
    """A recorded paper order, with the position it left."""

    order_id: UUID
    execution_id: UUID | None
    node_id: str
    market_id: str
    market_question: str | None
    outcome: str
    side: PaperEntrySide
    order_type: str
    amount_usd: float
    price: float
    shares: float
    price_source: str
    limit_price: float | None
    position_shares: float
    realized_pnl: float
    created_at: datetime


@dataclass(frozen=True)
class PaperBook:
    """A strategy's paper trading: positions, P&L and its newest orders."""

    positions: list[PaperPosition]
    orders: list[PaperOrderRecord]
    total_orders: int
    cost_basis: float
    market_value: float
    unrealized_pnl: float
    realized_pnl: float

    @property
    def total_pnl(self) -> float:
        return self.realized_pnl + self.unrealized_pnl

    def open_positions(self) -> list[PaperPosition]:
        return [p for p in self.positions if p.shares > 0]


# What the operators' console reads (migrations/017).


@dataclass(frozen=True)
class ConsoleOverview:
    """The scheduler at a glance: strategies by status, and runs in flight."""

    by_status: dict[str, int]
    in_flight: int  # strategies a run holds the lease of


@dataclass(frozen=True)
class NotificationEntry:
    id: str  # bigserial here, uuid on some existing deployments
    user_id: UUID | None
    workflow_id: UUID | None
    workflow_name: str | None
    type: str
    title: str
    message: str
    link: str | None
    priority: str
    is_read: bool
    created_at: datetime


@dataclass(frozen=True)
class PaperOrderEntry:
    """A paper order with the strategy that placed it."""

    workflow_id: UUID
    workflow_name: str
    order: PaperOrderRecord


@dataclass(frozen=True)
class RetentionPolicy:
    """How long history is kept (None: for ever), and what one prune call may do."""

    run_retention_seconds: float | None
    keep_runs: int  # the newest runs of each strategy kept whatever their age
    tick_retention_seconds: float | None
    notification_retention_seconds: float | None  # read notifications only
    max_rows: int
    max_ms: int


@dataclass(frozen=True)
class PruneResult:
    """What one prune call deleted (or, in a dry run, would delete)."""

    runs: int
    node_logs: int
    ticks: int
    notifications: int
    complete: bool  # False: the caps stopped it with history still to delete
    elapsed_ms: int
    # The strategy a pass over the strategies' runs stopped after (None: it ended).
    resume_after: UUID | None = None
    audit_entries: int = 0  # the audit log's, by its own retention
    # The recorded market history's states (and static rows), by its own retention.
    market_history: int = 0
    # Lease rows of strategies deleted since, that no run holds (migrations/063).
    leases: int = 0

    @property
    def rows(self) -> int:
        kept = self.runs + self.node_logs + self.ticks + self.notifications + self.leases
        return kept + self.audit_entries + self.market_history


@dataclass(frozen=True)
class ScheduleLag:
    """How late a strategy's recent scheduled runs started against their slots."""

    runs: int  # how many recent scheduled runs the figures cover
    last_lag_seconds: float | None
    average_lag_seconds: float | None
    max_lag_seconds: float | None
    last_scheduled_for: datetime | None


@dataclass(frozen=True)
class Backlog:
    """Strategies due now that no live lease holds, and how late the oldest is."""

    due: int
    oldest_due_at: datetime | None
    oldest_lag_seconds: float | None


@dataclass(frozen=True)
class Gauges:
    """The figures /api/metrics reads from the database (`gauges`)."""

    due: int
    oldest_due_lag_seconds: float
    leases_in_flight: int
    strategies_by_status: dict[str, int]
    runs_last_5m_by_status: dict[str, int]
    auto_pauses_last_hour: int
    last_tick_at: datetime | None
    table_rows: dict[str, int]  # the planner's estimates, per table


# Strategies as a resource (strategies.py, migrations/010).

StrategySort = Literal["name", "next_run", "last_run", "error_streak"]


@dataclass(frozen=True)
class StrategyGraph:
    """A strategy's graph in the builder's saved shape (ours or the original's)."""

    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    trigger: dict[str, Any] | None = None


@dataclass(frozen=True)
class StrategyDraft:
    """A strategy to create."""

    user_id: UUID
    name: str
    graph: StrategyGraph
    schedule: Schedule = field(default_factory=lambda: Schedule(interval_minutes=5))
    description: str | None = None


@dataclass(frozen=True)
class StrategyChanges:
    """What an edit changes; None leaves a field as it is. A graph makes a new
    version; the rest change the strategy in place."""

    name: str | None = None
    description: str | None = None
    clear_description: bool = False
    graph: StrategyGraph | None = None
    interval_minutes: int | None = None
    cron: str | None = None
    clear_cron: bool = False
    timezone: str | None = None

    @property
    def reschedules(self) -> bool:
        return (
            self.interval_minutes is not None
            or self.cron is not None
            or self.clear_cron
            or self.timezone is not None
        )


@dataclass(frozen=True)
class StrategyQuery:
    """A page of the list: filters, order and paging."""

    status: str | None = None
    user_id: UUID | None = None
    auto_run: bool | None = None
    q: str | None = None  # a substring of the name, any case
    sort: StrategySort = "name"
    descending: bool = False
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class StrategyRow(StrategyStatus):
    """A strategy in the list: its status, and which version it is."""

    description: str | None = None
    version: int = 1
    is_current_version: bool = True
    parent_workflow_id: UUID | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class StrategyDetail(StrategyRow):
    """One strategy with its graph; `current_version_id` is the version that runs
    (this one, unless a later version replaced it)."""

    graph: StrategyGraph = field(default_factory=lambda: StrategyGraph(nodes=[]))
    current_version_id: UUID | None = None


@dataclass(frozen=True)
class GraphProblem:
    """One reason a graph cannot run: the node (None: the graph as a whole), the
    field (a path such as `data.config.threshold`, `type` or `edges`; None when no
    one field is to blame) and what is wrong."""

    node_id: str | None
    node_type: str | None
    field: str | None
    message: str


@dataclass(frozen=True)
class NodeTypeInfo:
    """A node type a graph may use, with its config's JSON Schema."""

    name: str
    description: str
    config_schema: dict[str, Any]


@dataclass(frozen=True)
class Intent:
    """A write a dry run did not make: what it would have done, and which node asked."""

    node_id: str | None
    action: str  # add-to-watchlist | notify | paper-order | http
    detail: dict[str, Any]


@dataclass(frozen=True)
class DryRun:
    """A dry run's result (never recorded), and the writes it did not make."""

    result: RunResult
    intents: list[Intent] = field(default_factory=list)


# The trading book's marks and settlements (issue 28; migrations/025).


@dataclass(frozen=True)
class OpenMarket:
    """A market some strategy holds a position in, and the outcomes held."""

    market_id: str
    outcomes: tuple[str, ...]


@dataclass(frozen=True)
class MarketState:
    """What marking needs of one market, from Gamma: its outcomes and their CLOB
    tokens (in the same order), and, once it has resolved, each outcome's payout
    (1 or 0; 0.5 each for a 50-50 resolution)."""

    market_id: str
    outcomes: tuple[str, ...]
    token_ids: tuple[str, ...]
    payouts: tuple[Decimal, ...] | None = None


@dataclass(frozen=True)
class SettledPosition:
    workflow_id: UUID
    outcome: str
    shares: Decimal
    price: Decimal  # the payout per share
    payout: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True)
class Settlement:
    """What settling one resolved market did: the positions it closed, and those
    left open because their outcome had no payout."""

    market_id: str
    settled: tuple[SettledPosition, ...]
    unpriced: tuple[tuple[UUID, str], ...] = ()


@dataclass(frozen=True)
class PositionMark:
    """An outcome's token marked at its best bid, now."""

    market_id: str
    outcome: str
    price: Decimal
    token_id: str | None = None


@dataclass(frozen=True)
class MarkResult:
    """What one mark call wrote: marks kept, portfolios valued, equity points
    written, and old points pruned."""

    marks: int
    portfolios: int
    points: int
    pruned: int
    # Strategies whose marks took the day's loss to their limit: halted and
    # auto-paused by the same call (migrations/041), for the operators' alert.
    halts: tuple[MarkHalt, ...] = ()


@dataclass(frozen=True)
class MarkHalt:
    """A strategy the marking step halted: its marks took the day's loss to its limit."""

    workflow_id: UUID
    halt: TradingHalt


@dataclass(frozen=True)
class EquityPoint:
    at: datetime
    equity: Decimal
    cash: Decimal
    positions_value: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal


@dataclass(frozen=True)
class MarkedPosition:
    market_id: str
    outcome: str
    shares: Decimal
    cost: Decimal
    mark_price: Decimal | None  # None: not marked yet, valued at its cost
    marked_at: datetime | None
    value: Decimal
    unrealized_pnl: Decimal
    # The order that opened the position's current holding (migrations/048): a
    # position sold or settled to nothing and bought again is a new holding.
    holding: int | None = None


@dataclass(frozen=True)
class EquityCurve:
    """A portfolio's equity over time, and its value now at the stored marks."""

    points: tuple[EquityPoint, ...]
    initial_bankroll: Decimal
    cash: Decimal
    positions_value: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    equity: Decimal
    peak_equity: Decimal
    max_drawdown: Decimal
    positions: tuple[MarkedPosition, ...]


@dataclass(frozen=True)
class Bookkeeping:
    """What one tick's settle-and-mark step did (trading/marking.py)."""

    markets: int = 0  # markets with open positions
    settled: int = 0  # positions settled
    marked: int = 0  # tokens marked
    points: int = 0  # equity points written
    halts: tuple[MarkHalt, ...] = ()  # strategies the marks halted (daily loss)
    error: str | None = None


@dataclass(frozen=True)
class HistoryRecording:
    """One recording of the market data a tick fetched (the MarketHistoryStore port):
    each market once (`{"id", "static", "state"}`), each token's quote once
    (`{"token_id", "midpoint", "best_bid", "best_ask"}`) and book once
    (`{"token_id", "book"}`), as JSON values."""

    markets: list[dict[str, Any]]
    prices: list[dict[str, Any]]
    books: list[dict[str, Any]]

    def __bool__(self) -> bool:
        return bool(self.markets or self.prices or self.books)


HistoryKind = Literal["market", "price", "book"]


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One recorded state: of a market (`key` its id) or a token (its id), held from
    `seen_at` to `last_seen_at`; `value` the state, as JSON."""

    key: str
    seen_at: datetime
    last_seen_at: datetime
    value: dict[str, Any]


@dataclass(frozen=True)
class HistorySpan:
    """What recorded history there is (None: none of that kind)."""

    markets_from: datetime | None
    markets_to: datetime | None
    prices_from: datetime | None
    prices_to: datetime | None
    recorded_prices_from: datetime | None
    books_from: datetime | None
    books_to: datetime | None


@dataclass(frozen=True)
class HistoryPruned:
    markets: int
    prices: int
    books: int
    static: int
    complete: bool

    @property
    def rows(self) -> int:
        return self.markets + self.prices + self.books + self.static


@dataclass(frozen=True)
class WalletClaim:
    """What the wallet metrics store answers a reader (WalletStore): the stored
    metrics still fresh, by wallet (as stored: the original's field names, numbers as
    decimal strings), the wallets this reader must read and store, and those another
    reader is reading."""

    fresh: dict[str, dict[str, Any]]
    claimed: list[str]
    busy: list[str]


@dataclass(frozen=True)
class SourceTrade:
    """A copied wallet's trade as a copy-trading node records it (CopyTradeStore):
    its identity, the consensus (market, side, outcome) it votes for, whether it
    counts, and the trade itself (JSON, amounts as decimal strings)."""

    trade_key: str
    wallet: str
    consensus_key: str
    traded_at: int
    eligible: bool
    trade: dict[str, Any]


@dataclass(frozen=True)
class OwedCopy:
    """A consensus met whose copy's paper order is not recorded yet."""

    consensus_key: str
    order_key: str
    trade: dict[str, Any]
    wallets: list[str]


@dataclass(frozen=True)
class CopyObservation:
    """What recording a run's source trades answered: the trade keys seen for the
    first time, and every copy the node owes."""

    new: list[str]
    owed: list[OwedCopy]


# Triggers (cascadian/triggers/, migrations/028): what the tick and the listener
# hand the store, and what it answers.
TriggerKind = Literal["price", "resolved"]
PriceKind = Literal["midpoint", "best_bid", "best_ask", "last_trade"]


@dataclass(frozen=True)
class ArmedTrigger:
    """A trigger of a strategy that runs: what to price, or what to subscribe to."""

    id: UUID
    workflow_id: UUID
    name: str
    kind: TriggerKind
    token_id: str | None
    condition_id: str | None
    market_id: str | None
    price_kind: PriceKind | None
    asset_ids: tuple[str, ...]


@dataclass(frozen=True)
class Observation:
    """A price seen (kind price) or a market resolved (kind resolved), in the order
    seen; the store's function decides what it crosses."""

    kind: TriggerKind
    observed_at: datetime
    source: str  # rest | websocket
    token_id: str | None = None
    price_kind: PriceKind | None = None
    price: Decimal | None = None
    condition_id: str | None = None
    winning_token_id: str | None = None
    winning_outcome: str | None = None


@dataclass(frozen=True)
class TriggerEvent:
    """A crossing written: the event key is (trigger_id, crossing)."""

    event_id: UUID
    workflow_id: UUID
    trigger_id: UUID
    crossing: int


DecisionStatus = Literal["pending", "expired", "approved", "rejected"]
DECISION_STATUSES: tuple[DecisionStatus, ...] = ("pending", "expired", "approved", "rejected")


@dataclass(frozen=True)
class DecisionDraft:
    """A bet the orchestrator sized, waiting for its owner's approval (approval mode)."""

    market_id: str
    market_question: str | None
    outcome: str
    token_id: str
    direction: Literal["YES", "NO"]
    recommended_size: Decimal
    risk_score: int  # 1-10
    ai_reasoning: str
    ai_confidence: Decimal  # 0-1
    portfolio_snapshot: dict[str, Any]
    expires_at: datetime


@dataclass(frozen=True)
class Decision:
    """An orchestrator decision as stored (orchestrator_decisions, migrations/046);
    `status` expired: pending past its expiry, never to be placed."""

    id: UUID
    workflow_id: UUID
    execution_id: UUID
    node_id: str
    market_id: str
    market_question: str | None
    outcome: str | None
    token_id: str | None
    direction: str
    recommended_size: Decimal
    actual_size: Decimal | None
    risk_score: int
    ai_reasoning: str
    ai_confidence: Decimal
    status: DecisionStatus
    created_at: datetime
    expires_at: datetime | None
    decided_at: datetime | None
    order_id: UUID | None
    override_reason: str | None
    portfolio_snapshot: dict[str, Any]
    # Whether this answer's call wrote it (a re-run finds it written already).
    created: bool = False


DecisionOutcome = Literal["approved", "rejected", "expired", "already_approved", "already_rejected"]


@dataclass(frozen=True)
class DecisionAnswer:
    """What an approval or a rejection did: `order` is the approval's paper order (a
    second approval answers the first's, replayed)."""

    outcome: DecisionOutcome
    decision: Decision
    order: OrderOutcome | None = None
