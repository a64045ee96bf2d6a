"""`cascadian strategies limits` and `cascadian kill-switch`: the trading book's
limits and kill switches at a shell, through the same trading service as the API
(trading/controls.py); and the portfolio lines `cascadian strategies status` shows.

A refusal (an unknown strategy, a limit out of range, a switch without a reason) is
one line on stderr and exit 1, and nothing changes.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Annotated, Any, TypeVar
from uuid import UUID

import typer
from rich.table import Table

from cascadian.bootstrap import services
from cascadian.cli.common import CLI_ACTOR, console, fail, load_settings
from cascadian.data import LIMIT_NAMES, KillSwitch, Portfolio, TradingLimits
from cascadian.errors import InvalidInput, NotFound, StoreUnavailable
from cascadian.trading.controls import TradingService

T = TypeVar("T")

kill_switch = typer.Typer(
    help="The kill switches: while one is on, every order it covers is refused (paper "
    "orders; nothing is ever sent to Polymarket)."
)

# The options' names, as `--help` shows them, and the settings they set.
OPTION_NAMES = {
    "bankroll": "initial_bankroll",
    "max_order": "max_order_usd",
    "max_position": "max_position_usd",
    "max_open_positions": "max_open_positions",
    "daily_loss": "daily_loss_usd",
    "min_cash_reserve": "min_cash_reserve_usd",
}


def call(action: Callable[[TradingService], Awaitable[T]]) -> T:
    async def go() -> T:
        async with services(load_settings()) as s:
            return await action(s.trading)

    try:
        return asyncio.run(go())
    except NotFound as exc:
        fail(f"not found: {exc}", "`cascadian strategies list` shows the ids")
    except InvalidInput as exc:
        fail(f"refused: {exc}")
    except StoreUnavailable as exc:
        fail(str(exc))


def _money(value: Decimal | None) -> str:
    return "no limit" if value is None else f"${value:,.2f}"


def limits_table(limits: TradingLimits) -> Table:
    table = Table(title="trading limits", show_header=False)
    table.add_column("limit", style="bold")
    table.add_column("value")
    table.add_row("bankroll", _money(limits.initial_bankroll))
    table.add_row("max order", _money(limits.max_order_usd))
    table.add_row("max position", _money(limits.max_position_usd))
    opens = limits.max_open_positions
    table.add_row("max open positions", "no limit" if opens is None else str(opens))
    table.add_row("daily loss", _money(limits.daily_loss_usd))
    table.add_row("min cash reserve", _money(limits.min_cash_reserve_usd))
    return table


def portfolio_rows(p: Portfolio) -> list[tuple[str, str]]:
    """What `strategies status` adds: exposure, the day's P&L, and what stops it."""
    stopped = "-"
    if p.kill_switches:
        k = p.kill_switches[0]
        which = "global kill switch" if k.workflow_id is None else "kill switch"
        stopped = f"[red]{which}[/red] (by {k.set_by}: {k.reason})"
    elif p.halt is not None:
        stopped = (
            f"[red]halted[/red] ({p.halt.detail}; an operator's resume or "
            "`strategies lift-halt` lifts it)"
        )
    day = p.day.realized_pnl
    return [
        ("cash", f"${p.available_cash:,.2f} of ${p.initial_bankroll:,.2f}"),
        ("exposure", f"${p.deployed_capital:,.2f} at cost, {_positions(p.open_positions)}"),
        ("day P&L", f"{'-' if day < 0 else ''}${abs(day):,.2f} realised ({p.day.orders} orders)"),
        ("trading stopped", stopped),
    ]


def _positions(n: int) -> str:
    return f"{n} open position" if n == 1 else f"{n} open positions"


def switches_table(switches: list[KillSwitch]) -> Table:
    table = Table(title="kill switches on")
    for column in ("scope", "set by", "when", "reason"):
        table.add_column(column)
    for k in switches:
        scope = "global" if k.workflow_id is None else f"{k.workflow_name} ({k.workflow_id})"
        table.add_row(scope, k.set_by, k.set_at.strftime("%Y-%m-%d %H:%M:%S %Z"), k.reason)
    return table


def limits(
    strategy_id: Annotated[UUID, typer.Argument(help="The strategy's id")],
    bankroll: Annotated[
        str | None, typer.Option(help="Starting cash, USD (applies before a trade)")
    ] = None,
    max_order: Annotated[str | None, typer.Option(help="Largest order before fees, USD")] = None,
    max_position: Annotated[
        str | None, typer.Option(help="Largest position per market at cost, USD")
    ] = None,
    max_open_positions: Annotated[
        int | None, typer.Option(help="Most positions open at once")
    ] = None,
    daily_loss: Annotated[
        str | None,
        typer.Option(help="The day's realised loss, USD, that halts trading and auto-pauses it"),
    ] = None,
    min_cash_reserve: Annotated[str | None, typer.Option(help="Cash a buy must leave, USD")] = None,
    clear: Annotated[
        list[str] | None,
        typer.Option(help="Remove a limit (repeatable): " + ", ".join(OPTION_NAMES)),
    ] = None,
) -> None:
    """Show a strategy's trading limits, or change those given (the others stay)."""
    given: dict[str, Any] = {
        OPTION_NAMES[name]: value
        for name, value in (
            ("bankroll", bankroll),
            ("max_order", max_order),
            ("max_position", max_position),
            ("max_open_positions", max_open_positions),
            ("daily_loss", daily_loss),
            ("min_cash_reserve", min_cash_reserve),
        )
        if value is not None
    }
    for name in clear or []:
        key = OPTION_NAMES.get(name.replace("-", "_"))
        if key is None or key not in LIMIT_NAMES:
            fail(f"unknown limit {name!r}", f"use one of {', '.join(OPTION_NAMES)}")
        if key in given:
            fail(f"--{name} is both given and cleared")
        given[key] = None
    if given:
        found = call(lambda t: t.set_limits(strategy_id, given, CLI_ACTOR))
    else:
        found = call(lambda t: t.limits(strategy_id))
    console.print(limits_table(found))


@kill_switch.command("on")
def switch_on(
    reason: Annotated[str, typer.Option(help="Why: shown with every order it refuses")],
    strategy: Annotated[
        UUID | None, typer.Option(help="Only this strategy's orders (default: every one)")
    ] = None,
    by: Annotated[str | None, typer.Option(help="Who sets it (default: this shell's user)")] = None,
) -> None:
    """Turn the global kill switch on, or a strategy's: its orders are refused."""
    who = by if by is not None else f"{getpass.getuser()} (cli)"
    console.print(switches_table(call(lambda t: t.switch_on(strategy, who, reason, CLI_ACTOR))))


@kill_switch.command("off")
def switch_off(
    strategy: Annotated[UUID | None, typer.Option(help="This strategy's switch")] = None,
) -> None:
    """Turn the global kill switch off, or a strategy's."""
    console.print(switches_table(call(lambda t: t.switch_off(strategy, CLI_ACTOR))))


@kill_switch.command("list")
def switch_list() -> None:
    """Every kill switch that is on, with who set it, when and why."""
    console.print(switches_table(call(lambda t: t.kill_switches())))
