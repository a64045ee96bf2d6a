"""The `cascadian` command: migrate, serve, tick, worker, strategies, demo."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Annotated

import httpx
import typer
from pydantic import SecretStr
from rich.table import Table

from cascadian.bootstrap import describe, services
from cascadian.cli import strategies as cli_strategies
from cascadian.cli.common import cli_database_url, console, load_settings
from cascadian.config import MAX_CLAIM, Settings
from cascadian.errors import MigrationError
from cascadian.reports import TickReport, TickSummary
from cascadian.store.migrate import migrate
from cascadian.worker import Worker

app = typer.Typer(help="Runs users' trading strategies on their schedules.", no_args_is_help=True)
app.add_typer(cli_strategies.app, name="strategies")


def _migrate_or_exit(url: str) -> None:
    try:
        applied = migrate(url)
    except MigrationError as exc:
        console.print(f"[red]migration refused:[/red] {exc}")
        raise typer.Exit(1) from exc
    if applied:
        console.print(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        console.print("database is up to date")


@app.command("migrate")
def migrate_cmd() -> None:
    """Apply migrations/*.sql in order; re-running is a no-op."""
    url = cli_database_url(load_settings())
    console.print(f"migrating {describe(url)}")
    _migrate_or_exit(url)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind")] = 8000,
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    from cascadian.web.app import create_app

    uvicorn.run(create_app(), host=host, port=port)


def tick_table(data: TickSummary, trigger: str) -> Table:
    """A tick's summary (the endpoint's `data`) as a table."""
    title = (
        f"tick ({trigger}): {data.strategies_executed} run(s), "
        f"{data.succeeded} ok, {data.failed} failed, {data.execution_time_ms} ms"
    )
    table = Table(title=title)
    for col in ("strategy", "status", "ms", "nodes", "error"):
        table.add_column(col)
    for e in data.executions:
        style = "green" if e.status == "completed" else "red"
        note = e.error or ""
        if e.auto_paused:
            note = f"[bold]auto-paused[/bold] {note}"
        table.add_row(
            e.workflow_name,
            f"[{style}]{e.status}[/{style}]",
            str(e.duration_ms),
            str(e.nodes_executed),
            note,
        )
    return table


async def _tick_once(trigger: str) -> TickReport:
    async with services(load_settings()) as s:
        return await s.ticks.tick(trigger=trigger)


@app.command()
def tick(
    as_json: Annotated[bool, typer.Option("--json", help="Print the endpoint's JSON")] = False,
) -> None:
    """Run one tick in this process and print its summary."""
    report = asyncio.run(_tick_once("cli"))
    if as_json:
        print(report.response().model_dump_json(indent=2))
    else:
        console.print(tick_table(report.summary(), report.trigger))
        if report.error:
            console.print(f"[red]error:[/red] {report.error}")
    if not report.success:
        raise typer.Exit(1)


@app.command()
def worker(
    interval: Annotated[
        float, typer.Option(help="Seconds to wait after a tick that found nothing due", min=0.01)
    ] = 15.0,
    concurrency: Annotated[
        int | None,
        typer.Option(
            help="Most runs in flight at once, and the claim size (default: "
            "CASCADIAN_MAX_CONCURRENCY and CASCADIAN_CLAIM_LIMIT)",
            min=1,
        ),
    ] = None,
    grace: Annotated[
        float, typer.Option(help="Seconds runs in flight get to finish once stopping", min=0)
    ] = 25.0,
) -> None:
    """Tick continuously until SIGTERM or SIGINT; run as many workers as you like."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = load_settings()
    if concurrency is not None:  # claims as wide as the runs it may start at once
        wide = {"max_concurrency": concurrency, "claim_limit": min(concurrency, MAX_CLAIM)}
        settings = settings.model_copy(update=wide)
    asyncio.run(_work(settings, interval, grace))


async def _work(settings: Settings, interval: float, grace: float) -> None:
    async with services(settings) as s:
        logging.getLogger(__name__).info(
            "worker: ticking every %gs when idle, %d run(s) at once",
            interval,
            settings.max_concurrency,
        )
        await Worker(s.ticks, interval, grace).run_until_signalled()


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port for the API")] = 8000,
    every: Annotated[float, typer.Option(help="Seconds between ticks")] = 15.0,
) -> None:
    """Migrate, seed demo strategies, serve the API, and tick every few seconds."""
    from cascadian.cli.demo import seed

    logging.basicConfig(level=logging.WARNING)
    settings = load_settings()
    url = cli_database_url(settings)
    console.print(f"database: {describe(url)}")
    _migrate_or_exit(url)
    console.print(f"seeded {seed(url)} demo strategies (due now, every minute)")
    asyncio.run(_serve_and_tick(port, every))


async def _serve_and_tick(port: int, every: float) -> None:
    import uvicorn

    from cascadian.web.app import create_app

    settings = load_settings()
    if settings.tick_secret is None:
        # The demo authenticates its own ticks rather than running the API open.
        settings = settings.model_copy(update={"cron_secret": SecretStr(secrets.token_urlsafe(24))})
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    url = f"http://127.0.0.1:{port}/api/cron/strategy-executor"
    secret = settings.tick_secret
    headers = {"Authorization": f"Bearer {secret.get_secret_value()}"} if secret else {}
    console.print(f"API docs on http://127.0.0.1:{port}/docs")
    console.print(f"POSTing {url} every {every:g}s, as Vercel Cron would; Ctrl-C to stop")
    try:
        async with httpx.AsyncClient(timeout=settings.tick_budget_seconds + 10) as client:
            while not serving.done():
                await asyncio.sleep(every)
                if serving.done():
                    break
                reply = await client.post(url, headers=headers)
                body = reply.json()
                data = TickSummary.model_validate(body["data"]) if body.get("data") else None
                if data and data.strategies_executed:
                    console.print(tick_table(data, "demo"))
                elif data:
                    console.print(f"tick (demo): nothing due, {data.execution_time_ms} ms")
                if not body.get("success"):
                    console.print(f"[red]{reply.status_code}:[/red] {body.get('error')}")
    finally:
        server.should_exit = True
        await serving
