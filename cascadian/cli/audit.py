"""`cascadian audit`: the audit log at a shell, newest first, with the API's filters.

A table (or the API's JSON with --json) of who changed which strategy, when, from
where and what changed; when more entries are older, the command says how to ask
for them (--cursor).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated, Any, get_args
from uuid import UUID

import typer
from rich import box
from rich.table import Table

from cascadian.audit.service import (
    MAX_LIMIT,
    AuditService,
    BadCursor,
    cursor_token,
    parse_cursor,
)
from cascadian.bootstrap import services
from cascadian.cli.common import console, err, fail, load_settings
from cascadian.clock import as_utc
from cascadian.data import ActorKind, ActorSource, AuditAction, AuditEntry, AuditPage, AuditQuery
from cascadian.errors import StoreUnavailable
from cascadian.web.audit import entry_model


def _value(v: Any) -> str:
    text = "-" if v is None else json.dumps(v) if not isinstance(v, str) else v
    return text if len(text) <= 40 else f"{text[:39]}…"


def changes_text(entry: AuditEntry) -> str:
    """One line per changed field: `field: before -> after`."""
    if entry.before is None:
        return "\n".join(f"{k}: {_value(a)}" for k, _, a in entry.changes)
    return "\n".join(f"{k}: {_value(b)} -> {_value(a)}" for k, b, a in entry.changes)


def who(entry: AuditEntry) -> str:
    a = entry.actor
    return f"user {a.user_id}" if a.user_id else a.kind


def audit_table(page: AuditPage) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title=f"audit: {len(page.items)} entr(ies)")
    for column in ("when (UTC)", "who", "from", "action", "strategy", "changes"):
        table.add_column(column, overflow="fold")
    for e in page.items:
        strategy = e.strategy_name or (str(e.workflow_id) if e.workflow_id else "-")
        where = e.actor.source + (f" {e.actor.address}" if e.actor.address else "")
        table.add_row(
            e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            who(e),
            where,
            e.action,
            strategy,
            changes_text(e),
        )
    return table


async def _entries(query: AuditQuery) -> AuditPage:
    async with services(load_settings()) as s:
        return await AuditService(s.store).entries(query)


def audit(
    strategy: Annotated[UUID | None, typer.Option(help="Only this strategy's")] = None,
    actor: Annotated[
        str | None, typer.Option(help="Only this kind of actor: operator, user or system")
    ] = None,
    user: Annotated[UUID | None, typer.Option(help="Only this user's changes")] = None,
    source: Annotated[str | None, typer.Option(help="Only from api, cli, console or cron")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action (start, pause, …)")] = None,
    since: Annotated[
        datetime | None, typer.Option(help="At or after this time (UTC unless given)")
    ] = None,
    until: Annotated[datetime | None, typer.Option(help="Before this time")] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help="How many")] = 50,
    cursor: Annotated[str | None, typer.Option(help="The next page, as the last one said")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The API's JSON")] = False,
) -> None:
    """Who changed which strategy, when, from where, and what changed; newest first."""
    kinds: tuple[ActorKind, ...] = ("operator", "user", "system")
    sources: tuple[ActorSource, ...] = ("api", "cli", "console", "cron")
    actions: tuple[AuditAction, ...] = get_args(AuditAction)
    if actor is not None and actor not in kinds:
        fail(f"unknown actor {actor!r}", f"use one of {', '.join(kinds)}")
    if source is not None and source not in sources:
        fail(f"unknown source {source!r}", f"use one of {', '.join(sources)}")
    if action is not None and action not in actions:
        fail(f"unknown action {action!r}", f"use one of {', '.join(actions)}")
    try:
        before = None if cursor is None else parse_cursor(cursor)
    except BadCursor as exc:
        fail(str(exc), "pass the --cursor the previous page printed")
    query = AuditQuery(
        workflow_id=strategy,
        actor_kind=next((k for k in kinds if k == actor), None),
        user_id=user,
        source=next((s for s in sources if s == source), None),
        action=next((a for a in actions if a == action), None),
        since=as_utc(since) if since else None,
        until=as_utc(until) if until else None,
        limit=limit,
        before=before,
    )
    try:
        page = asyncio.run(_entries(query))
    except StoreUnavailable as exc:
        fail(str(exc))
    token = None if page.next is None else cursor_token(page.next)
    if as_json:
        data = [entry_model(e).model_dump(mode="json") for e in page.items]
        console.print_json(json.dumps({"data": data, "next_cursor": token}))
        return
    console.print(audit_table(page))
    if token is not None:
        err.print(f"older entries: cascadian audit --cursor {token} (with the same filters)")
