"""Strategy control and run history, under ADMIN_API_KEY or a signed-in user's token
(a user's own strategies only: web/users.py).

    POST   /api/strategies/{id}/start | pause | stop | resume | execute-now
    GET    /api/strategies/{id}/status | executions
    DELETE /api/strategies/{id}/halt          (an operator lifts a daily-loss halt)
    GET    /api/executions/{execution_id}

Routes only translate HTTP: the control service (control.py) and the tick
service (run now) do the work; app.py maps NotFound to 404, Conflict to 409 and
an invalid schedule to 422.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from cascadian.data import Actor, StrategyStatus
from cascadian.errors import StoreUnavailable
from cascadian.schedule import MAX_INTERVAL_MINUTES
from cascadian.trading.controls import TradingService
from cascadian.web.deps import Acting, Control, Ticks, Trading
from cascadian.web.responses import error_responses
from cascadian.web.users import user_router

router = user_router()

StrategyId = Annotated[UUID, Path(description="The strategy's id (a workflow_sessions id)")]


class ScheduleModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    interval_minutes: int
    cron: str | None = Field(description="5-field cron expression; wins over the interval")
    timezone: str = Field(description="IANA time zone the cron expression is read in")


class StrategyStatusModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    user_id: UUID
    name: str
    status: str = Field(description="draft, active, running, paused, stopped, error or archived")
    auto_run: bool = Field(description="Whether the scheduler runs it")
    auto_paused: bool = Field(
        description="Paused by its own consecutive errors (status `error`, not scheduled); "
        "a strategy failing for the first time is still `running` with an `error_count`"
    )
    schedule: ScheduleModel
    next_execution_at: datetime | None
    last_executed_at: datetime | None
    execution_count: int
    success_count: int
    error_count: int = Field(description="Consecutive errors; the auto-pause counts these")
    success_rate: float | None = Field(description="Share of runs that succeeded, 0 to 1")
    average_execution_time_ms: int | None
    last_error: str | None
    run_in_flight: bool = Field(description="A run holds the strategy's lease now")
    lease_expires_at: datetime | None


class ScheduleLagModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    runs: int = Field(description="How many of its newest scheduled runs the figures cover")
    last_lag_seconds: float | None = Field(
        description="How late its newest scheduled run started against its slot"
    )
    average_lag_seconds: float | None
    max_lag_seconds: float | None
    last_scheduled_for: datetime | None = Field(description="The newest run's slot")


class StrategyResponse(BaseModel):
    success: bool = True
    data: StrategyStatusModel


HALT_NOTE = (
    "the strategy runs on its schedule, but its orders are refused until an operator "
    "lifts the halt (an operator's start or resume lifts it; DELETE "
    "/api/strategies/{id}/halt lifts it alone)"
)


class TradingHaltModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    reason: str = Field(description="The limit that halted it: daily_loss_usd")
    detail: str = Field(description="The day's loss and the limit when it halted")
    halted_at: datetime
    note: str = Field(default=HALT_NOTE, description="What the halt means for its orders")


class ScheduledResponse(StrategyResponse):
    trading_halt: TradingHaltModel | None = Field(
        description="Set when its trading is still halted by its daily loss limit: a "
        "user's start or resume schedules it but does not lift the halt (an operator's "
        "does); null when its orders are not halted"
    )


class HaltLiftResponse(BaseModel):
    success: bool = True
    lifted: bool = Field(description="False: its trading was not halted (nothing changed)")


class TradingSummaryModel(BaseModel):
    """Its paper trading at a glance (the whole book: GET /api/strategies/{id}/paper)."""

    available_cash: Decimal
    exposure_usd: Decimal = Field(description="The open positions' cost")
    open_positions: int
    day_start: datetime = Field(description="Midnight in the strategy's time zone")
    day_realized_pnl: Decimal = Field(description="Realised since then: what the limit counts")
    stopped_by: str | None = Field(
        description="kill_switch or halted (the daily loss limit: an operator lifts it) "
        "while its orders are refused; null otherwise"
    )


class StrategyStatusWithLagModel(StrategyStatusModel):
    schedule_lag: ScheduleLagModel = Field(
        description="How late its recent scheduled runs started (start minus slot)"
    )
    trading: TradingSummaryModel


class StrategyStatusResponse(BaseModel):
    success: bool = True
    data: StrategyStatusWithLagModel


class StartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interval_minutes: int | None = Field(
        default=None,
        ge=1,
        le=MAX_INTERVAL_MINUTES,
        description="Run every N minutes (at most a year). Given without `cron`, the "
        "strategy becomes an interval schedule; omitted, the strategy's own interval is kept",
    )
    cron: str | None = Field(
        default=None,
        description="Run on a 5-field cron expression, e.g. '*/15 * * * *'; omitted "
        "(and no interval given), the strategy's own cron expression is kept",
    )
    timezone: str | None = Field(
        default=None, description="IANA time zone for the cron expression, e.g. 'Europe/London'"
    )


class ExecutionModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    workflow_id: UUID
    status: str = Field(description="running, completed, failed or cancelled")
    trigger_kind: str = Field(
        description="scheduled, manual, rerun (a failed run run again), or a kind triggers "
        "add: an open set"
    )
    scheduled_for: datetime | None = Field(description="The slot a scheduled run was for")
    attempt: int
    execution_started_at: datetime
    execution_completed_at: datetime | None
    duration_ms: int | None
    nodes_executed: int
    error_message: str | None
    rerun_of: UUID | None = Field(
        default=None, description="For a re-run: the failed run it repeats"
    )


class NodeLogModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    node_id: str
    node_type: str | None
    status: str = Field(description="success, error or skipped")
    started_at: datetime | None
    completed_at: datetime | None
    duration_ms: int
    error: str | None
    output: Any = Field(description="A size-capped summary of the node's output")


class ExecutionDetailModel(ExecutionModel):
    outputs: Any
    errors: Any
    logs: list[NodeLogModel]


class Page(BaseModel):
    total: int
    limit: int
    offset: int


class ExecutionListResponse(BaseModel):
    success: bool = True
    data: list[ExecutionModel]
    metadata: Page


class ExecutionResponse(BaseModel):
    success: bool = True
    data: ExecutionDetailModel


class ExecuteNowResponse(BaseModel):
    success: bool = True
    data: ExecutionDetailModel = Field(description="The recorded run, with its node logs")
    recorded: bool = Field(description="False if a later claim took the lease over first")
    auto_paused: bool = Field(description="This run's error auto-paused the strategy")


def _strategy(status: Any) -> StrategyResponse:
    return StrategyResponse(data=StrategyStatusModel.model_validate(status))


async def _scheduled(
    status: StrategyStatus, trading: TradingService, actor: Actor
) -> ScheduledResponse:
    halt = (await trading.portfolio(status.id, actor)).halt
    return ScheduledResponse(
        data=StrategyStatusModel.model_validate(status),
        trading_halt=None if halt is None else TradingHaltModel.model_validate(halt),
    )


@router.post(
    "/strategies/{strategy_id}/start",
    response_model=ScheduledResponse,
    responses=error_responses(401, 404, 409, 422, 503),
    tags=["strategies"],
    summary="Schedule a strategy and set it running",
)
async def start(
    strategy_id: StrategyId,
    control: Control,
    trading: Trading,
    actor: Acting,
    body: StartRequest | None = None,
) -> ScheduledResponse:
    """Sets `auto_run`, status `running`, `next_execution_at` to the next slot of the
    schedule (the body changes the schedule), and starts a fresh error streak
    (`error_count` 0). 409 if it is already running, or while a run of it is in flight.
    An operator's start lifts a daily-loss halt; a user's leaves it (`trading_halt`)."""
    body = body or StartRequest()
    status = await control.start(
        strategy_id, actor, body.interval_minutes, body.cron, body.timezone
    )
    return await _scheduled(status, trading, actor)


@router.post(
    "/strategies/{strategy_id}/pause",
    response_model=StrategyResponse,
    responses=error_responses(401, 404, 409, 422, 503),
    tags=["strategies"],
    summary="Pause a strategy",
)
async def pause(strategy_id: StrategyId, control: Control, actor: Acting) -> StrategyResponse:
    """Status `paused`, `auto_run` false; the owner is notified. A run in flight finishes
    and is recorded, but does not re-arm it. 409 if already paused."""
    return _strategy(await control.pause(strategy_id, actor))


@router.post(
    "/strategies/{strategy_id}/stop",
    response_model=StrategyResponse,
    responses=error_responses(401, 404, 409, 422, 503),
    tags=["strategies"],
    summary="Stop a strategy",
)
async def stop(strategy_id: StrategyId, control: Control, actor: Acting) -> StrategyResponse:
    """Status `stopped`, `auto_run` false; the owner is notified. A run in flight finishes
    and is recorded, but does not re-arm it. 409 if already stopped."""
    return _strategy(await control.stop(strategy_id, actor))


@router.post(
    "/strategies/{strategy_id}/resume",
    response_model=ScheduledResponse,
    responses=error_responses(401, 404, 409, 422, 503),
    tags=["strategies"],
    summary="Resume a paused, stopped or auto-paused strategy",
)
async def resume(
    strategy_id: StrategyId, control: Control, trading: Trading, actor: Acting
) -> ScheduledResponse:
    """Status `running`, `auto_run` true, `error_count` 0 and `last_error` cleared;
    `next_execution_at` is the schedule's next slot from now. 409 if it is already
    running or was never started, or while a run of it is in flight. An operator's
    resume lifts a daily-loss halt; a user's leaves it, and `trading_halt` says so:
    the strategy runs, its orders refused until an operator lifts the halt."""
    return await _scheduled(await control.resume(strategy_id, actor), trading, actor)


@router.delete(
    "/strategies/{strategy_id}/halt",
    response_model=HaltLiftResponse,
    responses=error_responses(401, 403, 404, 422, 503),
    tags=["strategies"],
    summary="Lift a strategy's daily-loss halt (operators only)",
)
async def lift_halt(strategy_id: StrategyId, control: Control, actor: Acting) -> HaltLiftResponse:
    """Its orders are placed again; its schedule is left as it is. Audited
    (`lift_halt`). 403 for a user, the strategy's owner included: the daily loss limit
    is a circuit breaker its owner cannot lift."""
    return HaltLiftResponse(lifted=await control.lift_halt(strategy_id, actor))


@router.get(
    "/strategies/{strategy_id}/status",
    response_model=StrategyStatusResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=["strategies"],
    summary="A strategy's status, schedule, counters, last error and schedule lag",
)
async def status(
    strategy_id: StrategyId, control: Control, trading: Trading, actor: Acting
) -> StrategyStatusResponse:
    found = StrategyStatusModel.model_validate(await control.status(strategy_id, actor))
    lag = ScheduleLagModel.model_validate(await control.schedule_lag(strategy_id, actor=actor))
    p = await trading.portfolio(strategy_id, actor)
    book = TradingSummaryModel(
        available_cash=p.available_cash,
        exposure_usd=p.deployed_capital,
        open_positions=p.open_positions,
        day_start=p.day.start,
        day_realized_pnl=p.day.realized_pnl,
        stopped_by=p.trading_stopped_by,
    )
    data = StrategyStatusWithLagModel(**found.model_dump(), schedule_lag=lag, trading=book)
    return StrategyStatusResponse(data=data)


@router.get(
    "/strategies/{strategy_id}/executions",
    response_model=ExecutionListResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=["strategies"],
    summary="A strategy's runs, newest first",
)
async def executions(
    strategy_id: StrategyId,
    control: Control,
    actor: Acting,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> ExecutionListResponse:
    """Each run's node logs are at `GET /api/executions/{execution_id}`."""
    page = await control.executions(strategy_id, limit, offset, actor)
    return ExecutionListResponse(
        data=[ExecutionModel.model_validate(e) for e in page.items],
        metadata=Page(total=page.total, limit=limit, offset=offset),
    )


@router.post(
    "/strategies/{strategy_id}/execute-now",
    response_model=ExecuteNowResponse,
    responses=error_responses(401, 404, 409, 422, 503),
    tags=["strategies"],
    summary="Run a strategy now and answer its result",
)
async def execute_now(
    strategy_id: StrategyId,
    control: Control,
    ticks: Ticks,
    actor: Acting,
) -> ExecuteNowResponse:
    """Runs synchronously, within the strategy timeout. It does not move the schedule,
    and counts in the counters and towards the auto-pause like any run. 409 while a run
    of the strategy (scheduled or manual) holds its lease."""
    report = await ticks.run_now(strategy_id, actor)
    if report.record_error:
        raise StoreUnavailable(f"the run finished but was not recorded: {report.record_error}")
    run = await control.execution(report.execution_id, actor)
    return ExecuteNowResponse(
        data=ExecutionDetailModel.model_validate(run),
        recorded=report.recorded,
        auto_paused=report.auto_paused,
    )


@router.get(
    "/executions/{execution_id}",
    response_model=ExecutionResponse,
    responses=error_responses(401, 404, 422, 503),
    tags=["executions"],
    summary="One run, with its outputs and node logs",
)
async def execution(
    execution_id: Annotated[UUID, Path(description="The run's id")],
    control: Control,
    actor: Acting,
) -> ExecutionResponse:
    return ExecutionResponse(
        data=ExecutionDetailModel.model_validate(await control.execution(execution_id, actor))
    )
