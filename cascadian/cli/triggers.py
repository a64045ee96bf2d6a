"""`cascadian strategies triggers ID [--set FILE]`: a strategy's triggers and their
state, or replace them from a JSON file (a list of triggers, or a strategy document's
`{"triggers": [...]}`); the same service as `PUT /api/strategies/{id}/triggers`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from rich import box
from rich.table import Table

from cascadian.bootstrap import Services
from cascadian.cli.common import CLI_ACTOR, console, fail
from cascadian.cli.strategy_files import call_services, read_json_value


def triggers(
    strategy_id: Annotated[UUID, typer.Argument(help="The strategy's id")],
    set_from: Annotated[
        Path | None,
        typer.Option("--set", help="Replace them with the triggers in this JSON file"),
    ] = None,
) -> None:
    """Show a strategy's triggers with their state, or replace them (--set FILE)."""
    if set_from is None:
        found = call_services(lambda s: s.triggers.triggers(strategy_id))
    else:
        raw = read_json_value(set_from)
        if isinstance(raw, dict):
            raw = raw.get("triggers", [])
        if not isinstance(raw, list):
            fail(f"{set_from} holds no list of triggers", 'write [{"kind": "price", ...}]')
        found = call_services(lambda s: _set(s, strategy_id, raw))
    console.print(trigger_table(found))


async def _set(s: Services, strategy_id: UUID, raw: list[Any]) -> list[dict[str, Any]]:
    return await s.triggers.set_triggers(strategy_id, raw, CLI_ACTOR)


def trigger_table(found: list[dict[str, Any]]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title=f"{len(found)} trigger(s)")
    for column in ("name", "watches", "fires", "last price", "state", "crossings", "last"):
        table.add_column(column)
    for t in found:
        if t["kind"] == "resolved":
            watches, fires = f"market {t['market_id']}", "on resolution"
        else:
            watches = f"{t['price_kind']} of {str(t['token_id'])[:12]}…"
            fires = f"{t['direction']} {t['level']} (band {t['band']})"
        table.add_row(
            t["name"],
            watches,
            fires,
            t.get("last_price") or "-",
            t["state"],
            str(t["crossings"]),
            str(t.get("last_crossing_at") or "-"),
        )
    return table
