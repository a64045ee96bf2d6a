"""`cascadian strategies create | import | export | validate | dry-run`: strategies as
files at a shell, through the same strategy service (strategies.py) as the HTTP API.

A file is a strategy document (what `export` writes: name, description, user_id,
schedule, nodes, edges, variables, trigger) or, for `create` and `validate`, a bare
graph (`{"nodes": [...], "edges": [...]}`, as the builder saves it) with the rest
given as options. `export ID > s.json` then `import s.json` makes the same strategy
again, unchanged.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar
from uuid import UUID

import typer
from pydantic import ValidationError
from rich import box
from rich.table import Table

from cascadian.bootstrap import Services, services
from cascadian.cli.common import CLI_ACTOR, console, error_line, fail, load_settings
from cascadian.config import Settings
from cascadian.data import DryRun, GraphProblem, StrategyDetail
from cascadian.errors import (
    Conflict,
    GraphInvalid,
    MarketUnavailable,
    NotFound,
    ScheduleError,
    StoreUnavailable,
    TriggerInvalid,
)
from cascadian.schedule import MAX_INTERVAL_MINUTES
from cascadian.strategies import StrategyService, workflow_of
from cascadian.workflow.format import Graph, StrategyDocument, document, shape_problems

T = TypeVar("T")
File = Annotated[
    Path,
    typer.Argument(help="A JSON file: a strategy document or a graph", dir_okay=False),
]
GRAPH_KEYS = ("nodes", "edges", "variables", "trigger")
IDENTITY = ("name", "user_id")
# What `validate` checks a bare graph's document shape with (never saved).
PLACEHOLDER_IDENTITY = {"name": "-", "user_id": "00000000-0000-0000-0000-000000000000"}


def call(action: Callable[[StrategyService], Awaitable[T]]) -> T:
    """Run one action against the database; a refusal is one line on stderr, exit 1
    (a graph that cannot run: one line per problem)."""
    return call_services(lambda s: action(s.strategies))


def call_services(action: Callable[[Services], Awaitable[T]]) -> T:
    """`call`, for an action that needs more than the strategy service."""

    async def go() -> T:
        async with services(load_settings()) as s:
            return await action(s)

    try:
        return asyncio.run(go())
    except GraphInvalid as exc:
        problems_out(exc.problems)
        raise typer.Exit(1) from None
    except TriggerInvalid as exc:
        error_line(f"the triggers cannot be used: {len(exc.problems)} problem(s)")
        for index, field, message in exc.problems:
            error_line(f"trigger {index + 1}, {field}: {message}")
        raise typer.Exit(1) from None
    except MarketUnavailable as exc:
        fail(str(exc))
    except NotFound as exc:
        fail(f"not found: {exc}", "`cascadian strategies list` shows the ids")
    except Conflict as exc:
        fail(f"refused: {exc}")
    except ScheduleError as exc:
        fail(f"invalid schedule: {exc}")
    except StoreUnavailable as exc:
        fail(str(exc))


def problems_out(problems: list[GraphProblem], path: Path | None = None) -> None:
    what = f"{path}" if path else "the graph"
    error_line(f"{what} cannot be used: {len(problems)} problem(s)")
    for p in problems:
        where = ", ".join(x for x in (p.node_id and f"node {p.node_id!r}", p.field) if x)
        error_line(f"{where or 'graph'}: {p.message}")


def read_json_value(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    except ValueError as exc:
        fail(f"{path} is not JSON: {exc}")


def read_json(path: Path) -> dict[str, Any]:
    value = read_json_value(path)
    if not isinstance(value, dict):
        fail(f"{path} must hold a JSON object (a strategy document or a graph)")
    return value


def checked(value: dict[str, Any], path: Path, *, identity: bool = True) -> StrategyDocument:
    """The file as a strategy document, or exit 1 listing every problem at once: its
    shape (the schedule included) and, when the graph's shape holds, whether the graph
    can run. Without `identity`, a missing name or owner is no problem (`validate`
    of a bare graph, whose name and owner `create` takes as options)."""
    found: list[GraphProblem] = []
    doc: StrategyDocument | None = None
    try:
        doc = StrategyDocument.model_validate(value)
    except ValidationError as exc:
        found = [
            p
            for p in shape_problems(exc)
            if identity or p.field not in IDENTITY or "required" not in p.message
        ]
    try:
        graph: Graph | None = Graph.model_validate({k: value[k] for k in GRAPH_KEYS if k in value})
    except ValidationError:
        graph = None  # its shape errors are in `found` already
    if graph is not None:
        found += _problems(load_settings(opens_database=False), graph)
    if found:
        problems_out(found, path)
        raise typer.Exit(1)
    return doc or StrategyDocument.model_validate(value | PLACEHOLDER_IDENTITY)


def detail_line(s: StrategyDetail, verb: str) -> None:
    nxt = s.next_execution_at.isoformat() if s.next_execution_at else "not scheduled"
    console.print(f"{verb} {s.id} ({s.name}, version {s.version}, {s.status}; next run {nxt})")


def create(
    file: File,
    start: Annotated[bool, typer.Option(help="Start it on its schedule now")] = False,
    name: Annotated[str | None, typer.Option(help="Its name (else the file's)")] = None,
    owner: Annotated[UUID | None, typer.Option(help="Its owner's user id")] = None,
    description: Annotated[str | None, typer.Option(help="Its description")] = None,
    interval: Annotated[
        int | None, typer.Option(help="Run every N minutes", min=1, max=MAX_INTERVAL_MINUTES)
    ] = None,
    cron: Annotated[str | None, typer.Option(help="Run on a 5-field cron expression")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA time zone for --cron")] = None,
) -> None:
    """Create a strategy from a graph or a strategy document (a draft unless --start)."""
    value = read_json(file)
    given = {"name": name, "user_id": owner and str(owner), "description": description}
    value |= {k: v for k, v in given.items() if v is not None}
    schedule = value.get("schedule") or {}
    if isinstance(schedule, dict):  # else a problem checked() names, as given
        asked = {"interval_minutes": interval, "cron": cron, "timezone": timezone}
        schedule = schedule | {k: v for k, v in asked.items() if v is not None}
        if interval is not None and cron is None:
            schedule["cron"] = None  # an interval alone makes it an interval schedule
        if schedule:
            value["schedule"] = schedule
    missing = [o for k, o in (("name", "--name"), ("user_id", "--owner")) if not value.get(k)]
    if missing:
        fail(f"{file} names no {' and no '.join(m[2:] for m in missing)}", f"give {missing[0]}")
    doc = checked(value, file)
    detail_line(call_services(lambda s: _create(s, doc, start)), "created")


async def _create(
    s: Services, doc: StrategyDocument, start: bool, imported: bool = False
) -> StrategyDetail:
    draft = doc.to_draft()
    return await s.triggers.create_strategy(draft, doc.triggers, CLI_ACTOR, start, imported)


def import_cmd(
    file: File,
    start: Annotated[bool, typer.Option(help="Start it on its schedule now")] = False,
) -> None:
    """Create a strategy from a document `export` wrote, unchanged."""
    doc = checked(read_json(file), file)
    detail_line(call_services(lambda s: _create(s, doc, start, imported=True)), "imported")


def export(strategy_id: Annotated[UUID, typer.Argument(help="The strategy's id")]) -> None:
    """Print the strategy as a document (JSON) that `import` takes, triggers included."""
    print(
        json.dumps(call_services(lambda s: _exported(s, strategy_id)), indent=2, ensure_ascii=False)
    )


async def _exported(s: Services, strategy_id: UUID) -> dict[str, Any]:
    doc = document(await s.strategies.export(strategy_id))
    if defined := await s.triggers.definitions(strategy_id):
        doc["triggers"] = defined
    return doc


def validate(file: File) -> None:
    """Check a strategy document or a graph without saving it (no database needed): its
    shape, its schedule and its graph; exits 1 listing every problem at once."""
    doc = checked(read_json(file), file, identity=False)
    console.print(f"{file}: valid ({len(doc.nodes)} nodes, {len(doc.edges)} edges)")


def _problems(settings: Settings, graph: Graph) -> list[GraphProblem]:
    from cascadian.workflow.node_api import NodeServices
    from cascadian.workflow.registry import default_registry
    from cascadian.workflow.validation import problems

    return problems(workflow_of(graph.to_graph()), default_registry(), NodeServices(settings))


def dry_run_table(run: DryRun) -> Table:
    r = run.result
    style = "green" if r.success else "red"
    title = f"dry run: [{style}]{'completed' if r.success else 'failed'}[/{style}] in "
    table = Table(title=title + f"{r.duration_ms} ms (not recorded)", box=box.SIMPLE)
    for col in ("node", "type", "status", "output or error", "would have"):
        table.add_column(col)
    for n in r.node_runs:
        would = [i for i in run.intents if i.node_id == n.node_id]
        shown = n.error if n.error else json.dumps(r.outputs.get(n.node_id), default=str)
        table.add_row(
            n.node_id,
            n.node_type,
            n.status,
            shown if len(shown) <= 120 else shown[:117] + "...",
            "; ".join(f"{i.action} {json.dumps(i.detail, default=str)[:80]}" for i in would) or "-",
        )
    return table


def dry_run(
    strategy_id: Annotated[UUID, typer.Argument(help="The strategy's id")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
    allow_llm: Annotated[
        bool,
        typer.Option(
            "--allow-llm",
            help="Really ask the LLM provider (its chat completions only); without it "
            "an llm-analysis node fails, unsent",
        ),
    ] = False,
) -> None:
    """Run a strategy now, writing and recording nothing; exits 1 if the run failed.

    Each node's output, and the writes it would have made (watchlist, notify, paper
    orders, HTTP other than GET and HEAD, the LLM provider's unless --allow-llm)."""
    run = call(lambda s: s.dry_run(strategy_id, allow_llm))
    if as_json:
        r = run.result
        body = {
            "success": r.success,
            "error": r.error_message,
            "outputs": r.outputs,
            "intents": [i.__dict__ for i in run.intents],
        }
        print(json.dumps(body, indent=2, default=str))
    else:
        console.print(dry_run_table(run))
    if not run.result.success:
        raise typer.Exit(1)
