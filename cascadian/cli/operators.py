"""`cascadian runs` and `cascadian strategies bulk`: the runs of every strategy,
re-running a failed one, and one change over many strategies, at a shell.

The same services as the API (operators/runs.py, operators/bulk.py, and the tick
service's re-run), against the configured database.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar
from uuid import UUID

import typer
from rich import box
from rich.table import Table

from cascadian.bootstrap import Services, services
from cascadian.cli.common import (
    CLI_ACTOR,
    console,
    error_line,
    fail,
    load_settings,
    note,
    parse_instant,
)
from cascadian.data import BulkFilter, BulkOutcome, BulkTarget, RunCursor, RunEntry, RunQuery
from cascadian.errors import Conflict, InvalidInput, NotFound, StoreUnavailable
from cascadian.operators.bulk import ACTIONS, STATUSES, selection_key
from cascadian.operators.runs import cursor_text, parse_cursor

T = TypeVar("T")
runs_app = typer.Typer(help="Runs of every strategy: list them, re-run a failed one.")
SPAN = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Below this many columns the runs table leaves out the error (`GET /api/executions/ID`
# and the console have it), so each run's whole id still fits its line.
WIDE_COLUMNS = 120


def call(action: Callable[[Services], Awaitable[T]]) -> T:
    """One action against the database; a refusal is one line on stderr, exit 1."""

    async def go() -> T:
        async with services(load_settings()) as s:
            return await action(s)

    try:
        return asyncio.run(go())
    except NotFound as exc:
        fail(f"not found: {exc}", "`cascadian runs list` shows the ids")
    except Conflict as exc:
        fail(f"refused: {exc}")
    except InvalidInput as exc:
        fail(str(exc))
    except StoreUnavailable as exc:
        fail(str(exc))


def span_seconds(text: str) -> float:
    """`90s`, `30m`, `1h`, `2d` as seconds; exit 1 naming the option otherwise."""
    found = SPAN.fullmatch(text.strip().lower())
    if not found or float(found.group(1)) <= 0:
        fail(f"cannot read the span {text[:40]!r}", "write it as 90s, 30m, 1h or 2d")
    return float(found.group(1)) * UNITS[found.group(2)]


def _short(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%m-%d %H:%M:%S") if at else "-"


def runs_table(runs: list[RunEntry], width: int | None = None) -> Table:
    wide = (width or console.width) >= WIDE_COLUMNS
    table = Table(
        title=f"{len(runs)} run{'' if len(runs) == 1 else 's'}, newest first",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("run id", no_wrap=True)
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("strategy", overflow="fold")
    table.add_column("status")
    table.add_column("trigger")
    if wide:
        table.add_column("error", overflow="fold", max_width=50)
    for r in runs:
        style = {"failed": "red", "completed": "green", "running": "yellow"}.get(r.status)
        status = f"[{style}]{r.status}[/{style}]" if style else r.status
        trigger = r.trigger_kind + (f" of {str(r.rerun_of)[:8]}" if r.rerun_of else "")
        row = [str(r.id), _short(r.execution_started_at), r.workflow_name or "-", status, trigger]
        table.add_row(*row, *([r.error_message or ""] if wide else []))
    return table


@runs_app.command("list")
def list_runs(
    status: Annotated[
        str | None, typer.Option(help="running, completed, failed or cancelled")
    ] = None,
    strategy: Annotated[UUID | None, typer.Option(help="Only this strategy's runs")] = None,
    owner: Annotated[UUID | None, typer.Option(help="Only this owner's strategies")] = None,
    trigger: Annotated[
        str | None, typer.Option(help="scheduled, manual, rerun, or a kind triggers add")
    ] = None,
    last: Annotated[str | None, typer.Option(help="Started within this span: 30m, 1h, 2d")] = None,
    since: Annotated[str | None, typer.Option(help="Started at or after (ISO 8601)")] = None,
    until: Annotated[str | None, typer.Option(help="Started before (ISO 8601)")] = None,
    limit: Annotated[int, typer.Option(help="Most runs to show", min=1, max=200)] = 50,
    cursor: Annotated[str | None, typer.Option(help="Go on from where a list ended")] = None,
) -> None:
    """Runs of every strategy, newest first: e.g. `--status failed --last 1h`."""
    start = parse_instant(since, "--since") if since else None
    if last is not None:
        start = datetime.now(UTC) - timedelta(seconds=span_seconds(last))
    query = RunQuery(
        status=status,
        workflow_id=strategy,
        user_id=owner,
        trigger=trigger,
        since=start,
        until=parse_instant(until, "--until") if until else None,
        before=parse_or_fail(cursor),
        limit=limit,
    )
    page = call(lambda s: s.runs.runs(query))
    console.print(runs_table(page.items))
    if page.next is not None:
        note(f"older runs: add --cursor {cursor_text(page.next)}")


def parse_or_fail(cursor: str | None) -> RunCursor | None:
    if cursor is None:
        return None
    try:
        return parse_cursor(cursor)
    except InvalidInput as exc:
        fail(str(exc), "pass the --cursor a list printed")


@runs_app.command()
def rerun(run_id: Annotated[UUID, typer.Argument(help="The failed run's id")]) -> None:
    """Run a failed run again with the inputs it had (its graph, variables and
    trigger), as a manual run marked rerun; exits 1 if the new run failed."""
    report = call(lambda s: s.ticks.rerun(run_id, CLI_ACTOR))
    style = "green" if report.status == "completed" else "red"
    console.print(
        f"re-ran {run_id} as run {report.execution_id}: [{style}]{report.status}[/{style}]"
        + (f": {report.error}" if report.error else "")
    )
    if report.record_error:
        error_line(f"the run was not recorded: {report.record_error}")
    if report.status != "completed" or report.record_error:
        raise typer.Exit(1)


def selection_table(action: str, targets: list[BulkTarget], total: int) -> Table:
    table = Table(
        title=f"{action} would act on {total} strateg{'y' if total == 1 else 'ies'}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("id", no_wrap=True)
    table.add_column("name", overflow="fold")
    table.add_column("status")
    for t in targets:
        table.add_row(str(t.id), t.name, "auto-paused" if t.auto_paused else t.status)
    return table


def outcome_table(action: str, outcomes: list[BulkOutcome]) -> Table:
    counts = {k: sum(o.outcome == k for o in outcomes) for k in ("changed", "unchanged", "refused")}
    table = Table(
        title=f"{action}: {counts['changed']} changed, {counts['unchanged']} already so, "
        f"{counts['refused']} refused",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("id", no_wrap=True)
    table.add_column("name", overflow="fold")
    table.add_column("result")
    table.add_column("reason", overflow="fold")
    for o in outcomes:
        shown = {"changed": "[green]changed[/green]", "refused": "[red]refused[/red]"}
        result = shown.get(o.outcome, "already so")
        table.add_row(str(o.id), o.name, f"{result} ({o.status})", o.reason or "")
    return table


def bulk(
    action: Annotated[str, typer.Argument(help="pause, resume or stop")],
    status: Annotated[
        str | None, typer.Option(help=f"Only this status: {', '.join(STATUSES)}")
    ] = None,
    owner: Annotated[UUID | None, typer.Option(help="Only this owner's strategies")] = None,
    search: Annotated[str | None, typer.Option(help="Name contains (any case)")] = None,
    auto_paused_within: Annotated[
        str | None, typer.Option(help="Auto-paused within this span: 30m, 1h, 2d")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask; act at once")] = False,
    preview: Annotated[
        bool, typer.Option(help="Show what it would act on; change nothing")
    ] = False,
) -> None:
    """Pause, resume or stop every strategy the filters select, each as its own
    change (e.g. `resume --auto-paused-within 1h`); shows them and asks first.
    Exits 1 if any was refused."""
    if action not in ACTIONS:
        fail(f"unknown bulk action {action!r}", f"use one of {', '.join(ACTIONS)}")
    within = span_seconds(auto_paused_within) if auto_paused_within else None
    chosen = BulkFilter(status, owner, (search or "").strip() or None, within)
    selection = call(lambda s: s.bulk.select(chosen))
    console.print(selection_table(action, selection.targets, selection.total))
    if not selection.targets or preview:
        return
    if not yes and not typer.confirm(
        f"{action.capitalize()} these {selection.total} strategies?", default=False
    ):
        note("nothing changed")
        raise typer.Exit(1)
    key = selection_key(selection.targets)
    _, outcomes = call(lambda s: s.bulk.apply(action, chosen, CLI_ACTOR, key))
    console.print(outcome_table(action, outcomes))
    if any(o.outcome == "refused" for o in outcomes):
        raise typer.Exit(1)
