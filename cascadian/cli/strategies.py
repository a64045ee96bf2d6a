"""`cascadian strategies`: operators' control of strategies at a shell.

The same control service (control.py), run-now (TickService.run_now) and strategy
service (strategies.py: `list`, and the file commands in strategy_files.py) as the
HTTP API, against the configured database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar, cast, get_args
from uuid import UUID

import typer
from rich import box
from rich.table import Table

from cascadian.bootstrap import Services, services
from cascadian.cli import backtests as cli_backtests
from cascadian.cli import operators, strategy_files, trading
from cascadian.cli import triggers as cli_triggers
from cascadian.cli.common import CLI_ACTOR, console, error_line, fail, load_settings
from cascadian.control import ControlService
from cascadian.data import Portfolio, Schedule, StrategyQuery, StrategySort, StrategyStatus
from cascadian.errors import Conflict, NotFound, ScheduleError, StoreUnavailable
from cascadian.reports import RunReport
from cascadian.schedule import MAX_INTERVAL_MINUTES
from cascadian.tick import TickService

app = typer.Typer(
    help="List, create, edit as files, inspect, start, pause, stop, resume, run or "
    "dry-run strategies; pause, resume or stop many at once (bulk)."
)

T = TypeVar("T")
SORTS = get_args(StrategySort)
STATUSES = ("draft", "active", "running", "paused", "stopped", "error", "archived")
Id = Annotated[UUID, typer.Argument(help="The strategy's id")]


def _call(action: Callable[[ControlService, TickService], Awaitable[T]]) -> T:
    """Run one action against the database; a refusal is one line on stderr, exit 1."""
    return _call_services(lambda s: action(s.control, s.ticks))


def _call_services(action: Callable[[Services], Awaitable[T]]) -> T:
    async def go() -> T:
        async with services(load_settings()) as s:
            return await action(s)

    try:
        return asyncio.run(go())
    except NotFound as exc:
        fail(f"not found: {exc}", "`cascadian strategies list` shows the ids")
    except Conflict as exc:
        fail(f"refused: {exc}")
    except ScheduleError as exc:
        fail(f"invalid schedule: {exc}")
    except StoreUnavailable as exc:
        fail(str(exc))


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z") if value else "-"


def _short_when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%m-%d %H:%M") if value else "-"


def _schedule(s: Schedule) -> str:
    if s.cron:
        return f"cron '{s.cron}' {s.timezone}"
    return f"every {s.interval_minutes} min"


def _status_style(status: str) -> str:
    style = {"running": "green", "error": "red", "auto-paused": "red", "paused": "yellow"}
    return f"[{style[status]}]{status}[/{style[status]}]" if status in style else status


# Below this many columns `list` drops the schedule and next run (`status ID` has
# them) so that the full id, which the other commands take, still fits on its line.
WIDE_LIST_COLUMNS = 110


def list_table(
    strategies: list[StrategyStatus], total: int | None = None, width: int | None = None
) -> Table:
    """One line per strategy; `status ID` has the rest. Readable at 80 columns."""
    shown = f"{len(strategies)} strateg{'y' if len(strategies) == 1 else 'ies'}"
    if total is not None and total > len(strategies):
        shown += f" of {total}"
    wide = (width or console.width) >= WIDE_LIST_COLUMNS
    table = Table(title=shown, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("id", no_wrap=True)
    table.add_column("name", overflow="fold")
    table.add_column("status")
    if wide:
        table.add_column("schedule")
        table.add_column("next run (UTC)", no_wrap=True)
    table.add_column("runs", no_wrap=True, justify="right")
    for s in strategies:
        status = _status_style(s.shown_status)
        if not s.auto_run and not s.auto_paused:
            status += " (off)"
        if s.run_in_flight:
            status += ", in flight"
        runs = f"{s.execution_count}" + (f" ({s.error_count} err)" if s.error_count else "")
        row = [str(s.id), s.name, status]
        if wide:
            row += [
                _schedule(s.schedule),
                _short_when(s.next_execution_at) if s.auto_run else "-",
            ]
        table.add_row(*row, runs)
    return table


def status_table(s: StrategyStatus, portfolio: Portfolio | None = None) -> Table:
    table = Table(title=s.name, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    rate = "-" if s.success_rate is None else f"{s.success_rate:.1%}"
    avg = "-" if s.average_execution_time_ms is None else f"{s.average_execution_time_ms} ms"
    for field, value in (
        ("id", str(s.id)),
        ("status", _status_style(s.shown_status)),
        ("auto_run", str(s.auto_run).lower()),
        ("schedule", _schedule(s.schedule)),
        ("next run", _when(s.next_execution_at)),
        ("last run", _when(s.last_executed_at)),
        ("runs", f"{s.execution_count} ({s.success_count} ok, success rate {rate})"),
        ("consecutive errors", str(s.error_count)),
        ("average run", avg),
        ("last error", s.last_error or "-"),
        ("run in flight", "yes" if s.run_in_flight else "no"),
        *(trading.portfolio_rows(portfolio) if portfolio is not None else []),
    ):
        table.add_row(field, value)
    return table


def run_table(r: RunReport) -> Table:
    style = "green" if r.status == "completed" else "red"
    table = Table(title=f"run of {r.workflow_name}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for field, value in (
        ("status", f"[{style}]{r.status}[/{style}]"),
        ("execution id", str(r.execution_id)),
        ("duration", f"{r.duration_ms} ms"),
        ("nodes", str(r.nodes_executed)),
        ("error", r.error or "-"),
        ("auto-paused", "yes" if r.auto_paused else "no"),
    ):
        table.add_row(field, value)
    return table


@app.command("list")
def list_cmd(
    status: Annotated[
        str | None, typer.Option(help="Only this status (archived ones only when asked)")
    ] = None,
    owner: Annotated[UUID | None, typer.Option(help="Only this owner's")] = None,
    auto_run: Annotated[
        bool | None, typer.Option("--auto-run/--no-auto-run", help="Only (un)scheduled ones")
    ] = None,
    search: Annotated[str | None, typer.Option(help="Name contains (any case)")] = None,
    sort: Annotated[str, typer.Option(help="name, next_run, last_run or error_streak")] = "name",
    desc: Annotated[bool, typer.Option(help="Descending")] = False,
    limit: Annotated[int, typer.Option(help="Most strategies to show", min=1, max=200)] = 100,
    offset: Annotated[int, typer.Option(help="Skip this many", min=0)] = 0,
) -> None:
    """Strategies (current versions), with status, schedule and counters."""
    if sort not in SORTS:
        fail(f"unknown sort {sort!r}", f"use one of {', '.join(SORTS)}")
    if status is not None and status not in STATUSES:
        fail(f"unknown status {status!r}", f"use one of {', '.join(STATUSES)}")
    query = StrategyQuery(
        status, owner, auto_run, search, cast(StrategySort, sort), desc, limit, offset
    )
    page = strategy_files.call(lambda s: s.list(query))
    console.print(list_table(list(page.items), page.total))


@app.command()
def status(strategy_id: Id) -> None:
    """One strategy's status, schedule, counters and last error; its paper cash,
    exposure, the day's P&L, and a halt or kill switch that stops its trading."""

    async def both(s: Services) -> tuple[StrategyStatus, Portfolio]:
        return await s.control.status(strategy_id), await s.trading.portfolio(strategy_id)

    console.print(status_table(*_call_services(both)))


app.command("limits")(trading.limits)


@app.command()
def start(
    strategy_id: Id,
    interval: Annotated[
        int | None,
        typer.Option(
            help="Run every N minutes (an interval schedule)", min=1, max=MAX_INTERVAL_MINUTES
        ),
    ] = None,
    cron: Annotated[str | None, typer.Option(help="Run on a 5-field cron expression")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA time zone for --cron")] = None,
) -> None:
    """Schedule a strategy and set it running (its own schedule unless given one)."""
    s = _call(lambda c, _: c.start(strategy_id, CLI_ACTOR, interval, cron, timezone))
    console.print(f"started; next run at {_when(s.next_execution_at)}")
    console.print(status_table(s))


@app.command()
def pause(strategy_id: Id) -> None:
    """Pause a strategy (its owner is notified)."""
    console.print(status_table(_call(lambda c, _: c.pause(strategy_id, CLI_ACTOR))))


@app.command()
def stop(strategy_id: Id) -> None:
    """Stop a strategy (its owner is notified)."""
    console.print(status_table(_call(lambda c, _: c.stop(strategy_id, CLI_ACTOR))))


@app.command()
def resume(strategy_id: Id) -> None:
    """Resume a paused, stopped or auto-paused strategy, clearing its error state and
    lifting a daily-loss halt (an operator's decision)."""
    s = _call(lambda c, _: c.resume(strategy_id, CLI_ACTOR))
    console.print(f"resumed; next run at {_when(s.next_execution_at)}")
    console.print(status_table(s))


@app.command("lift-halt")
def lift_halt(strategy_id: Id) -> None:
    """Lift a strategy's daily-loss halt without changing its schedule: its orders are
    placed again (resume and start lift it too)."""
    lifted = _call(lambda c, _: c.lift_halt(strategy_id, CLI_ACTOR))
    console.print("halt lifted: its orders are placed again" if lifted else "not halted")


@app.command()
def run(strategy_id: Id) -> None:
    """Run a strategy now, without moving its schedule; exits 1 if the run failed."""
    report = _call(lambda _, t: t.run_now(strategy_id, CLI_ACTOR))
    console.print(run_table(report))
    if report.record_error:
        error_line(f"the run was not recorded: {report.record_error}")
    if report.status != "completed" or report.record_error:
        raise typer.Exit(1)


app.command()(strategy_files.create)
app.command("import")(strategy_files.import_cmd)
app.command()(strategy_files.export)
app.command()(strategy_files.validate)
app.command("dry-run")(strategy_files.dry_run)
app.command("backtest")(cli_backtests.backtest)
app.command()(operators.bulk)
app.command()(cli_triggers.triggers)
