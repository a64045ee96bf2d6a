"""`cascadian strategies backtest ID --from T0 --to T1 [--var NAME=VALUE ...] [--json]`:
a strategy's graph over recorded history, through the same backtest service as
`POST /api/strategies/{id}/backtest` (backtests/service.py).

`--var threshold=0.6,0.65,0.7` is a sweep: one result row per combination of the
values given. Progress goes to stderr, the result to stdout (a table, or the JSON
the API answers). A request that cannot run exits 1 with every reason, one line
each, and nothing runs.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from uuid import UUID

import httpx
import typer
from rich import box
from rich.table import Table

from cascadian.backtests.data_api_prices import DataApiPriceHistory, bucket_of
from cascadian.backtests.public import PublicPriceHistory
from cascadian.bootstrap import services
from cascadian.cli.common import console, fail, load_settings, note, parse_instant
from cascadian.cli.strategy_files import problems_out
from cascadian.config import Settings
from cascadian.errors import (
    BacktestCancelled,
    BacktestInvalid,
    InvalidInput,
    NotFound,
    StoreUnavailable,
)
from cascadian.outbound.retry import RetryPolicy
from cascadian.trading import amounts
from cascadian.workflow.market import MarketData, PolymarketError
from cascadian.workflow.market.limiter import RateLimiter
from cascadian.workflow.market.upstream import Upstream


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_vars(items: list[str]) -> dict[str, list[Any]]:
    """NAME=V1,V2,... each; a value that reads as JSON (a number, true) is that."""
    found: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip():
            fail(f"--var {item!r} is not NAME=VALUE", "e.g. --var threshold=0.6,0.65,0.7")
        found[name.strip()] = [_value(v.strip()) for v in values.split(",")]
    return found


def data_api(settings: Settings, http: httpx.AsyncClient) -> Upstream:
    """The configured Data API, within its rate limit (CASCADIAN_DATA_API_*)."""
    return Upstream(
        http,
        settings.data_api_url,
        "Polymarket Data API",
        RetryPolicy(),
        RateLimiter(settings.data_api_rate_limit, 10.0),
        settings.node_http_timeout_seconds,
        max_body_bytes=settings.http_max_response_bytes,
    )


def parse_decimal(option: str, text: str | None, is_rate: bool = False) -> Decimal | None:
    """A bankroll (or fee rate) option, bounded as the API's body is (amounts.py);
    a bad one exits 2 naming it."""
    if text is None:
        return None
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        fail(f"{option} {text[:40]!r} is not a number", f"e.g. {option} 1000", code=2)
    why = amounts.problem(number, is_rate)
    if why is not None:
        fail(f"{option} {text[:40]!r}: {why}", code=2)
    return number


def rows_table(report: dict[str, Any]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title=f"backtest of {report['name']}")
    heads = ["variables", "ROI", "total P&L", "realised", "orders", "win rate"]
    heads += ["profit factor", "max drawdown", "Sharpe", "failed slots"]
    for head in heads:
        table.add_column(head, justify="left" if head == "variables" else "right")
    for row in report["rows"]:
        shown = ", ".join(f"{k}={v}" for k, v in row["variables"].items()) or "-"
        table.add_row(
            shown,
            f"{row['roi'] * 100:.2f}%",
            _money(row["total_pnl"]),
            _money(row["realized_pnl"]),
            str(row["orders"]),
            "-" if row["win_rate"] is None else f"{row['win_rate'] * 100:.0f}%",
            "-" if row["profit_factor"] is None else f"{row['profit_factor']:.2f}",
            f"{row['max_drawdown'] * 100:.2f}%",
            "-" if row["sharpe"] is None else f"{row['sharpe']:.2f}",
            str(row["failed_slots"]),
        )
    return table


def orders_table(run: dict[str, Any], limit: int = 20) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title="orders (the first 20)")
    for head in ("at", "market", "side", "result", "shares", "price", "fee", "book"):
        table.add_column(head)
    for o in run["orders"][:limit]:
        table.add_row(
            o["at"][:16],
            o["market_id"],
            o["side"],
            o["result"] if not o["refusal"] else f"refused ({o['refusal']})",
            o["shares"],
            o["average_price"] or "-",
            o["fee_usd"],
            str(o["based_on"].get("book", "-")),
        )
    return table


def _money(text: str) -> str:
    return f"{Decimal(text):,.2f}"


def backtest(
    strategy_id: Annotated[UUID, typer.Argument(help="The strategy's id")],
    start: Annotated[str, typer.Option("--from", help="Window start, ISO (UTC unless zoned)")],
    end: Annotated[str, typer.Option("--to", help="Window end, ISO (UTC unless zoned)")],
    var: Annotated[
        list[str] | None,
        typer.Option("--var", help="NAME=VALUE, or NAME=V1,V2,... for a sweep; repeatable"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
    allow_llm: Annotated[
        bool, typer.Option("--allow-llm", help="Let llm-analysis nodes call the provider")
    ] = False,
    bankroll: Annotated[
        str | None,
        typer.Option("--bankroll", help="Starting cash, USD (default: the strategy's bankroll)"),
    ] = None,
    fee_rate: Annotated[
        str | None,
        typer.Option(
            "--fee-rate", help="Taker fee rate, a fraction: 0.02 is 2% (default: the configured)"
        ),
    ] = None,
) -> None:
    """Run a strategy's graph at every slot of its schedule between --from and --to, on
    the market as it was then, under its trading limits; nothing is written."""
    t0, t1 = parse_instant(start, "--from"), parse_instant(end, "--to")
    variables = parse_vars(var or [])
    cash = parse_decimal("--bankroll", bankroll)
    rate = parse_decimal("--fee-rate", fee_rate, is_rate=True)

    def progress(done: int, total: int) -> None:
        if done == total or done % max(1, total // 10) == 0:
            note(f"backtest: {done}/{total} slots")

    async def go() -> dict[str, Any]:
        async with services(load_settings()) as s:
            return await s.backtests.backtest(
                strategy_id,
                t0,
                t1,
                variables,
                allow_llm=allow_llm,
                bankroll=cash,
                fee_rate=rate,
                progress=progress,
            )

    try:
        report = asyncio.run(go())
    except BacktestInvalid as exc:
        if exc.problems:
            problems_out(exc.problems)
            raise typer.Exit(1) from None
        fail(f"cannot backtest: {exc}")
    except NotFound as exc:
        fail(f"not found: {exc}", "`cascadian strategies list` shows the ids")
    except (BacktestCancelled, StoreUnavailable) as exc:
        fail(str(exc))
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return
    console.print(rows_table(report))
    if len(report["runs"]) == 1:
        console.print(orders_table(report["runs"][0]))
    for run in report["runs"]:
        if run["halt"] is not None:
            shown = ", ".join(f"{k}={v}" for k, v in run["variables"].items())
            note(
                f"halted{' (' + shown + ')' if shown else ''} at {run['halt']['at']}: "
                f"{run['halt']['detail']}; later slots did not run"
            )
    for flag in report["flags"]:
        note(f"note: node {flag['node_id']!r}, {flag['field']}: {flag['message']}")


def import_prices(
    tokens: Annotated[list[str], typer.Argument(help="CLOB token ids (a market's clobTokenIds)")],
    start: Annotated[str, typer.Option("--from", help="From, ISO (UTC unless zoned)")],
    end: Annotated[str, typer.Option("--to", help="To, ISO (UTC unless zoned)")],
    fidelity: Annotated[int, typer.Option(help="Minutes between points", min=1)] = 5,
    source: Annotated[
        str,
        typer.Option(
            help="data-api: GET /v2/prices-history (each price from when it was known); "
            "clob: the CLOB's /batch-prices-history"
        ),
    ] = "data-api",
) -> None:
    """Import Polymarket's public price history of tokens for backtests before
    recording began: the Data API's /v2/prices-history, or the CLOB's."""
    t0, t1 = parse_instant(start, "--from"), parse_instant(end, "--to")
    if source not in ("data-api", "clob"):
        fail(f"--source {source!r} is not data-api or clob")
    if t1 <= t0:
        fail(f"--to ({t1.isoformat()}) must be after --from ({t0.isoformat()})")

    async def go() -> int:
        settings = load_settings()
        async with (
            services(settings) as s,
            httpx.AsyncClient(timeout=settings.node_http_timeout_seconds) as http,
        ):
            if source == "clob":
                clob = MarketData.create(settings, http).clob.upstream
                history = PublicPriceHistory(clob)
                return await history.import_into(s.store, tokens, t0, t1, fidelity)
            data = DataApiPriceHistory(data_api(settings, http))
            return await data.import_into(s.store, tokens, t0, t1, bucket_of(fidelity))

    try:
        if source == "data-api":
            bucket_of(fidelity)
        added = asyncio.run(go())
    except InvalidInput as exc:
        fail(str(exc))
    except (PolymarketError, StoreUnavailable) as exc:
        fail(str(exc))
    console.print(f"imported {added} new price point(s) of {len(set(tokens))} token(s)")
