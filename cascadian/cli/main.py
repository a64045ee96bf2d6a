"""The `cascadian` command: migrate, serve, tick, worker, prune, strategies,
kill-switch, audit, config, demo.

Results go to stdout; notices and every error (one line each) to stderr, through
cli/common.py.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import socket
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import httpx
import typer
from pydantic import SecretStr
from rich.table import Table

from cascadian.bootstrap import describe, services
from cascadian.cli import audit as cli_audit
from cascadian.cli import backtests as cli_backtests
from cascadian.cli import decisions as cli_decisions
from cascadian.cli import operators as cli_operators
from cascadian.cli import strategies as cli_strategies
from cascadian.cli import trading as cli_trading
from cascadian.cli.common import (
    OneLineErrors,
    cli_database_url,
    configure_logging,
    console,
    error_line,
    fail,
    load_settings,
    note,
)
from cascadian.config import MAX_CLAIM, Settings
from cascadian.data import PruneResult
from cascadian.errors import MigrationError
from cascadian.reports import TickReport, TickSummary
from cascadian.retention import retention_policy
from cascadian.store.migrate import migrate, migrations_dir
from cascadian.triggers.worker import watch_market
from cascadian.worker import Worker

app = typer.Typer(
    cls=OneLineErrors,
    help="Runs users' trading strategies on their schedules.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(cli_strategies.app, name="strategies")
app.command("import-prices")(cli_backtests.import_prices)
app.command("audit")(cli_audit.audit)
app.add_typer(cli_trading.kill_switch, name="kill-switch")
app.add_typer(cli_decisions.app, name="decisions")
app.add_typer(cli_operators.runs_app, name="runs")


def package_version() -> str:
    try:
        return version("cascadian")
    except PackageNotFoundError:  # a checkout that was never installed
        return "unknown (not installed)"


def _show_version(value: bool) -> None:
    if value:
        console.print(f"cascadian {package_version()}")
        raise typer.Exit()


@app.callback()
def main_options(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit"
        ),
    ] = False,
) -> None:
    """Runs users' trading strategies on their schedules."""


def _stop_on_sigterm(signum: int, _frame: object) -> None:
    # SIGTERM's default action kills the process before `atexit` runs, and the
    # embedded PostgreSQL is stopped from there; exiting normally runs it.
    raise SystemExit(0)


def main() -> None:
    """The console script (also `python -m cascadian`)."""
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    app()


def _migrate_or_exit(url: str) -> None:
    try:
        applied = migrate(url)
    except MigrationError as exc:
        if str(exc).startswith("cannot connect"):
            fail(str(exc), "check DATABASE_URL, and that the database server is running")
        fail(f"migration refused: {exc}")
    if applied:
        console.print(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        console.print("database is up to date")


@app.command("migrate")
def migrate_cmd() -> None:
    """Apply the migrations in order; re-running is a no-op."""
    url = cli_database_url(load_settings(may_create=True))
    note(f"migrating {describe(url)} with the migrations in {migrations_dir()}")
    _migrate_or_exit(url)


@app.command("config")
def config_cmd() -> None:
    """Print the effective settings and where each came from; secrets are hidden."""
    from cascadian.cli.config_view import config_table, summary_line

    settings = load_settings(opens_database=False)
    console.print(summary_line(settings), markup=False, soft_wrap=True)
    console.print(config_table(settings))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind")] = 8000,
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    from cascadian.cli.serving import Server
    from cascadian.web.app import create_app

    settings = load_settings()
    # Ours for every logger, uvicorn's too (log_config=None), so the store line at
    # start-up shows, and CASCADIAN_LOG_FORMAT=json covers every line.
    configure_logging(logging.INFO, with_time=True, log_format=settings.log_format)
    server = Server(uvicorn.Config(create_app(settings), host=host, port=port, log_config=None))
    server.run()
    if not server.started:  # uvicorn said why (a busy port, say), as uvicorn.run exits
        raise typer.Exit(3)


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
        note_text = e.error or ""
        if e.auto_paused:
            note_text = f"[bold]auto-paused[/bold] {note_text}"
        table.add_row(
            e.workflow_name,
            f"[{style}]{e.status}[/{style}]",
            str(e.duration_ms),
            str(e.nodes_executed),
            note_text,
        )
    return table


def _not_the_tick_summary(record: logging.LogRecord) -> bool:
    return not getattr(record, "tick_summary", False)


async def _tick_once(settings: Settings, trigger: str) -> TickReport:
    async with services(settings) as s:
        return await s.ticks.tick(trigger=trigger)


@app.command()
def tick(
    as_json: Annotated[bool, typer.Option("--json", help="Print the endpoint's JSON")] = False,
) -> None:
    """Run one tick in this process and print its summary; exits 1 if the tick failed."""
    settings = load_settings()
    configure_logging(log_format=settings.log_format)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_not_the_tick_summary)  # this command prints the tick itself
    report = asyncio.run(_tick_once(settings, "cli"))
    if as_json:
        print(report.response().model_dump_json(indent=2))
    else:
        console.print(tick_table(report.summary(), report.trigger))
    if report.error:
        error_line(f"the tick failed: {report.error}")
    if not report.success:
        raise typer.Exit(1)


@app.command()
def worker(
    interval: Annotated[
        float,
        typer.Option(
            help="Longest wait between ticks; a worker wakes at the next slot before that",
            min=0.01,
        ),
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
    listen: Annotated[
        bool,
        typer.Option(
            help="Watch the market channel for the armed triggers' crossings (else each "
            "tick prices them from REST)"
        ),
    ] = True,
) -> None:
    """Tick continuously until SIGTERM or SIGINT; run as many workers as you like."""
    settings = load_settings()
    configure_logging(logging.INFO, with_time=True, log_format=settings.log_format)
    if concurrency is not None:  # claims as wide as the runs it may start at once
        wide = {"max_concurrency": concurrency, "claim_limit": min(concurrency, MAX_CLAIM)}
        settings = settings.model_copy(update=wide)
    if listen:  # the listener sees the prices; the ticks need not read them
        settings = settings.model_copy(update={"triggers_rest_prices": False})
    asyncio.run(_work(settings, interval, grace, listen))


async def _work(settings: Settings, interval: float, grace: float, listen: bool = False) -> None:
    async with services(settings) as s:
        logging.getLogger(__name__).info(
            "worker: ticking at each slot, at least every %gs, %d run(s) at once%s",
            interval,
            settings.max_concurrency,
            "; watching the market channel for triggers" if listen else "",
        )
        worker = Worker(s.ticks, interval, grace)
        market = (
            asyncio.create_task(watch_market(s.store, s.ticks, settings, worker.stopping, grace))
            if listen
            else None
        )
        try:
            await worker.run_until_signalled()
        finally:
            if market is not None:
                worker.stopping.set()
                await market


def prune_table(result: PruneResult, dry_run: bool) -> Table:
    verb = "would delete" if dry_run else "deleted"
    table = Table(title=f"prune: {verb} {result.rows} row(s) in {result.elapsed_ms} ms")
    table.add_column("history")
    table.add_column(verb, justify="right")
    for what, n in (
        ("runs", result.runs),
        ("node logs", result.node_logs),
        ("ticks", result.ticks),
        ("read notifications", result.notifications),
        ("audit entries", result.audit_entries),
        ("market history", result.market_history),
        ("deleted strategies' leases", result.leases),
    ):
        table.add_row(what, str(n))
    return table


async def _prune(settings: Settings, dry_run: bool) -> PruneResult:
    from cascadian.retention import Pruner

    async with services(settings) as s:
        return await Pruner(s.store, settings).everything(dry_run=dry_run)


@app.command()
def prune(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing")
    ] = False,
) -> None:
    """Delete the history past its retention (CASCADIAN_RETENTION_*), in bounded
    batches; ticks do the same a little at a time."""
    settings = load_settings()
    configure_logging(log_format=settings.log_format)
    policy = retention_policy(settings)
    note(
        "keeping "
        + ", ".join(
            f"{what} {_days(seconds)}"
            for what, seconds in (
                ("runs", policy.run_retention_seconds),
                ("ticks", policy.tick_retention_seconds),
                ("read notifications", policy.notification_retention_seconds),
            )
        )
        + f", and the newest {policy.keep_runs} runs of each strategy"
    )
    console.print(prune_table(asyncio.run(_prune(settings, dry_run)), dry_run))


def _days(seconds: float | None) -> str:
    return "for ever" if seconds is None else f"{seconds / 86_400:g} days"


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port for the API")] = 8000,
    every: Annotated[float, typer.Option(help="Seconds between ticks", min=1)] = 15.0,
) -> None:
    """Migrate, seed demo strategies, serve the API, and tick every few seconds."""
    from cascadian.cli.demo import demo_strategies, seed
    from cascadian.cli.demo_screen import strategy_lines

    # Bound before anything is created, seeded or printed, so a busy port is one
    # line and nothing announces a demo that never started.
    listening = _listen("127.0.0.1", port)
    settings = load_settings(may_create=True)
    url = cli_database_url(settings)
    note(f"database: {describe(url)}")
    _migrate_or_exit(url)
    strategies = demo_strategies()
    console.print(f"seeded {seed(url, strategies)} demo strategies, due now and every minute:")
    for line in strategy_lines(strategies):
        console.print(line, markup=False)
    asyncio.run(_serve_and_tick(settings, listening, every, str(strategies[0]["id"])))


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or one line naming the port and exit 1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        fail(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            "stop what uses that port, or pass another with --port",
        )
    return sock


def _demo_secrets(settings: Settings) -> tuple[Settings, dict[str, str]]:
    """Make the secrets the environment does not set, so the demo's API is never open."""
    made: dict[str, str] = {}
    if settings.tick_secret is None:
        made["CRON_SECRET"] = secrets.token_urlsafe(24)
    if settings.admin_api_key is None:
        made["ADMIN_API_KEY"] = secrets.token_urlsafe(24)
    update = {name.lower(): SecretStr(value) for name, value in made.items()}
    return settings.model_copy(update=update), made


async def _serve_and_tick(
    settings: Settings, listening: socket.socket, every: float, example_id: str
) -> None:
    import uvicorn

    from cascadian.cli.demo_screen import curl_lines, secret_lines, tick_line
    from cascadian.cli.serving import Server
    from cascadian.web.app import create_app

    settings, made = _demo_secrets(settings)
    port = listening.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_level="warning")
    server = Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    base = f"http://127.0.0.1:{port}"
    secret = settings.tick_secret
    assert secret is not None  # _demo_secrets made one
    cron_var = "CRON_SECRET" if settings.cron_secret is not None else "ADMIN_API_KEY"
    console.print(f"API on {base} (docs: {base}/docs; console: {base}/console)")
    for line in [*secret_lines(made), "try:", *curl_lines(base, made, cron_var, example_id)]:
        console.print(line, markup=False, soft_wrap=True)
    console.print(f"GET {base}/api/cron/strategy-executor every {every:g}s; Ctrl-C to stop")
    headers = {"Authorization": f"Bearer {secret.get_secret_value()}"}
    try:
        async with httpx.AsyncClient(timeout=settings.tick_budget_seconds + 10) as client:
            while not serving.done():
                await asyncio.sleep(every)
                if serving.done():
                    break
                try:
                    reply = await client.get(f"{base}/api/cron/strategy-executor", headers=headers)
                except httpx.HTTPError as exc:
                    error_line(f"the tick request failed: {type(exc).__name__}: {exc}")
                    continue
                body = reply.json()
                if body.get("data"):
                    data = TickSummary.model_validate(body["data"])
                    console.print(tick_line(datetime.now(), data), markup=False)
                if not body.get("success"):
                    error_line(f"tick answered {reply.status_code}: {body.get('error')}")
    finally:
        server.should_exit = True
        await serving
