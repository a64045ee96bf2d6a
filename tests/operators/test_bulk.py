"""Bulk pause, resume and stop (operators/bulk.py over cascadian_bulk_selection_v1
and the control functions), on both schemas and both transports: the selection
is exactly what the filter says, each strategy's result is changed, unchanged or
refused with its reason, and a selection that changed since it was shown, or is
too large, changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian.clock import FakeClock
from cascadian.control import ControlService
from cascadian.data import Actor, BulkFilter
from cascadian.errors import Conflict, InvalidInput
from cascadian.operators import bulk
from cascadian.operators.bulk import BulkService, selection_key
from cascadian.ports import FullStore
from tests.factories import OTHER_USER, add_strategy, rows, strategy

pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HOUR = 3600.0
OPERATOR = Actor.operator("cli")


def service(store: FullStore) -> BulkService:
    clock = FakeClock(NOW)
    return BulkService(store, ControlService(store, clock), clock)


def auto_paused(db: Any, name: str, ago: timedelta, **columns: Any) -> Any:
    return add_strategy(
        db,
        next_execution_at=None,
        name=name,
        status="error",
        auto_run=False,
        error_count=3,
        last_executed_at=NOW - ago,
        **columns,
    )


async def test_resume_every_strategy_auto_paused_in_the_last_hour(
    any_store: FullStore, db: Any
) -> None:
    recent = auto_paused(db, "Recent", timedelta(minutes=20))
    old = auto_paused(db, "Old", timedelta(hours=3))
    add_strategy(db, next_execution_at=NOW, name="Healthy")
    add_strategy(db, next_execution_at=None, name="Paused", status="paused", auto_run=False)
    s = service(any_store)
    within_hour = BulkFilter(auto_paused_within_seconds=HOUR)
    selection = await s.select(within_hour)
    assert [t.name for t in selection.targets] == ["Recent"] and selection.total == 1
    assert selection.targets[0].auto_paused

    _, outcomes = await s.apply("resume", within_hour, OPERATOR, selection_key(selection.targets))
    assert [(o.name, o.outcome, o.status) for o in outcomes] == [("Recent", "changed", "running")]
    assert strategy(db, recent)["status"] == "running" and strategy(db, recent)["auto_run"]
    assert strategy(db, old)["status"] == "error"  # outside the hour: untouched


async def test_pause_all_of_one_owners_strategies_each_with_its_result(
    any_store: FullStore, db: Any
) -> None:
    add_strategy(db, next_execution_at=NOW, name="A running")
    add_strategy(db, next_execution_at=None, name="B paused", status="paused", auto_run=False)
    add_strategy(db, next_execution_at=None, name="C archived", status="archived", auto_run=False)
    add_strategy(db, next_execution_at=NOW, name="D old version", is_current_version=False)
    theirs = add_strategy(db, next_execution_at=NOW, name="E theirs", user_id=OTHER_USER)
    mine = BulkFilter(user_id=add_user_of(db, "A running"))

    _, outcomes = await service(any_store).apply("pause", mine, OPERATOR)
    # Archived strategies and old versions are never selected.
    assert [(o.name, o.outcome, o.status) for o in outcomes] == [
        ("A running", "changed", "paused"),
        ("B paused", "unchanged", "paused"),
    ]
    assert strategy(db, theirs)["status"] == "running"
    # Each change is the control function's: the owner is told of the one that changed.
    told = rows(db, "select title from notifications where type = 'strategy_paused'")
    assert [r["title"] for r in told] == ["Strategy paused: A running"]
    # ... and the audit log has the one change, as the operator's at the shell.
    logged = rows(db, "select action, source, workflow_id from cascadian_audit_log")
    assert [(r["action"], r["source"]) for r in logged] == [("pause", "cli")]


def add_user_of(db: Any, name: str) -> Any:
    [row] = rows(db, "select user_id from workflow_sessions where name = %s", name)
    return row["user_id"]


async def test_a_refusal_names_its_reason_and_never_stops_the_others(
    any_store: FullStore, db: Any
) -> None:
    add_strategy(db, next_execution_at=None, name="A draft", status="draft", auto_run=False)
    add_strategy(
        db,
        next_execution_at=None,
        name="B in flight",
        status="paused",
        auto_run=False,
        lease_expires_at=NOW + timedelta(minutes=1),
    )
    add_strategy(db, next_execution_at=None, name="C stopped", status="stopped", auto_run=False)
    add_strategy(db, next_execution_at=NOW, name="D running")

    _, outcomes = await service(any_store).apply("resume", BulkFilter(), OPERATOR)
    assert [(o.name, o.outcome) for o in outcomes] == [
        ("A draft", "refused"),
        ("B in flight", "refused"),
        ("C stopped", "changed"),
        ("D running", "unchanged"),
    ]
    assert "only a paused, stopped or errored strategy" in (outcomes[0].reason or "")
    assert "in flight" in (outcomes[1].reason or "")


async def test_a_selection_that_changed_since_it_was_shown_changes_nothing(
    any_store: FullStore, db: Any
) -> None:
    first = add_strategy(db, next_execution_at=NOW, name="A")
    s = service(any_store)
    shown = await s.select(BulkFilter(status="running"))
    add_strategy(db, next_execution_at=NOW, name="B")  # arrives before the confirmation
    with pytest.raises(Conflict, match="changed since it was shown: 2 strategies") as refused:
        await s.apply("pause", BulkFilter(status="running"), OPERATOR, selection_key(shown.targets))
    assert refused.value.code == "selection_changed"
    assert strategy(db, first)["status"] == "running"


async def test_a_selection_over_the_limit_is_refused_whole(
    any_store: FullStore, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "MAX_SELECTION", 2)
    made = [add_strategy(db, next_execution_at=NOW, name=f"S{i}") for i in range(3)]
    with pytest.raises(InvalidInput, match="3 strategies match; a bulk change acts on at most 2"):
        await service(any_store).apply("stop", BulkFilter(), OPERATOR)
    assert {strategy(db, sid)["status"] for sid in made} == {"running"}


async def test_filters_by_status_name_and_auto_pause(any_store: FullStore, db: Any) -> None:
    auto_paused(db, "Cheap markets", timedelta(days=2))
    add_strategy(db, next_execution_at=NOW, name="cheap watch")
    add_strategy(db, next_execution_at=NOW, name="Other")
    add_strategy(db, next_execution_at=None, name="Errored once", status="error")
    s = service(any_store)

    async def names(**f: Any) -> list[str]:
        return [t.name for t in (await s.select(BulkFilter(**f))).targets]

    assert await names(q="CHEAP") == ["Cheap markets", "cheap watch"]
    assert await names(status="auto-paused") == ["Cheap markets"]
    assert await names(status="error") == ["Cheap markets", "Errored once"]
    assert await names(status="running", q="cheap") == ["cheap watch"]
    with pytest.raises(InvalidInput, match="unknown status 'sleeping'"):
        await s.select(BulkFilter(status="sleeping"))
