"""`cascadian decisions list|approve|reject`: the orchestrator's pending decisions at a
shell, through the same service as the API (trading/decisions.py), as the operator.

An approval places the decision's PAPER buy through the trading book, once; an expired
or rejected decision never places. A refusal (not found, a bad status) is one line on
stderr and exit 1, and nothing changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar
from uuid import UUID

import typer
from rich.markup import escape
from rich.table import Table

from cascadian.bootstrap import services
from cascadian.cli.common import CLI_ACTOR, console, fail, load_settings
from cascadian.data import Decision, DecisionAnswer
from cascadian.errors import InvalidInput, MarketUnavailable, NotFound, StoreUnavailable
from cascadian.trading.decisions import DecisionService

T = TypeVar("T")

app = typer.Typer(
    help="The orchestrator's decisions: approve one (its PAPER buy is placed through "
    "the trading book; nothing is ever sent to Polymarket) or reject it."
)


def call(action: Callable[[DecisionService], Awaitable[T]]) -> T:
    async def go() -> T:
        async with services(load_settings()) as s:
            assert s.decisions is not None
            return await action(s.decisions)

    try:
        return asyncio.run(go())
    except NotFound as exc:
        fail(f"not found: {exc}", "`cascadian decisions list` shows the ids")
    except InvalidInput as exc:
        fail(f"refused: {exc}")
    except (StoreUnavailable, MarketUnavailable) as exc:
        fail(str(exc))


def decisions_table(items: list[Decision], total: int) -> Table:
    table = Table(title=f"decisions ({len(items)} of {total})")
    for column in ("id", "strategy", "market", "side", "size", "risk", "status", "expires"):
        table.add_column(column)
    for d in items:
        table.add_row(
            str(d.id),
            str(d.workflow_id),
            escape((d.market_question or d.market_id)[:48]),
            f"{d.direction} ({d.outcome})",
            f"${d.recommended_size:,.2f}",
            str(d.risk_score),
            d.status,
            "-" if d.expires_at is None else d.expires_at.strftime("%Y-%m-%d %H:%M %Z"),
        )
    return table


def answer_lines(answer: DecisionAnswer) -> str:
    d = answer.decision
    # Gamma's text is anyone's: printed as written, never read as rich markup.
    market = d.market_question or d.market_id
    line = escape(f"{answer.outcome}: {d.direction} {d.outcome} on {market}")
    order = answer.order
    if order is None:
        return line
    if order.result == "refused":
        return (
            f"{line}; the paper order was refused ({order.refusal}): {escape(order.detail or '')}"
        )
    again = " (the first approval's order)" if order.replayed else ""
    return (
        f"{line}; paper order {order.result}{again}: {order.shares} shares for "
        f"${order.notional_usd:,.2f} plus ${order.fee_usd:,.4f} fee"
    )


@app.command("list")
def list_decisions(
    strategy: Annotated[UUID | None, typer.Option(help="Only this strategy's")] = None,
    status: Annotated[
        str | None, typer.Option(help="pending, expired, approved or rejected")
    ] = "pending",
    limit: Annotated[int, typer.Option(help="At most this many, newest first")] = 50,
) -> None:
    """The decisions waiting for approval (or of another status), newest first."""
    page = call(lambda s: s.decisions(strategy, status, limit, 0))
    console.print(decisions_table(page.items, page.total))


@app.command("approve")
def approve(
    decision_id: Annotated[UUID, typer.Argument(help="The decision's id")],
) -> None:
    """Approve a pending decision: its paper buy is filled now and placed, once."""
    answer = call(lambda s: s.approve(decision_id, CLI_ACTOR))
    console.print(answer_lines(answer))
    if answer.outcome not in ("approved", "already_approved"):
        raise typer.Exit(1)


@app.command("reject")
def reject(
    decision_id: Annotated[UUID, typer.Argument(help="The decision's id")],
    reason: Annotated[str | None, typer.Option(help="Why (kept with the decision)")] = None,
) -> None:
    """Reject a pending decision: nothing is placed, ever."""
    answer = call(lambda s: s.reject(decision_id, reason, CLI_ACTOR))
    console.print(answer_lines(answer))
    if answer.outcome != "rejected":
        raise typer.Exit(1)
