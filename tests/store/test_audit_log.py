"""The audit log read back (migrations/035): filters, keyset pages newest first, and
pruning by its own retention. Over both transports, on both schemas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian.audit.service import AuditService, cursor_token, parse_cursor
from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.data import Actor, AuditQuery, Schedule
from cascadian.ports import FullStore
from cascadian.retention import Pruner
from tests.factories import OPERATOR, OTHER_USER, USER, add_strategy, rows

pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OWNER = Actor.user(USER, "api", "203.0.113.7")


async def pause_and_resume(store: FullStore, sid: Any, actor: Actor, at: datetime) -> None:
    assert await store.pause(sid, at, actor) == "ok"
    assert await store.resume(sid, at + timedelta(minutes=5), at, actor) == "ok"


async def test_filters_pick_by_strategy_actor_user_source_action_and_time(
    any_store: FullStore, db: Any
) -> None:
    mine = add_strategy(db, next_execution_at=NOW, name="Mine")
    theirs = add_strategy(db, next_execution_at=NOW, name="Theirs", user_id=OTHER_USER)
    await pause_and_resume(any_store, mine, OWNER, NOW)
    await pause_and_resume(any_store, theirs, Actor.operator("console", "10.0.0.1"), NOW)
    later = NOW + timedelta(hours=1)
    assert await any_store.stop(theirs, later, Actor.operator("cli")) == "ok"

    async def picked(**filters: Any) -> list[tuple[str, str | None, str]]:
        page = await AuditService(any_store).entries(AuditQuery(**filters))
        return [(e.action, e.strategy_name, e.actor.source) for e in page.items]

    assert await picked() == [
        ("stop", "Theirs", "cli"),
        ("resume", "Theirs", "console"),
        ("pause", "Theirs", "console"),
        ("resume", "Mine", "api"),
        ("pause", "Mine", "api"),
    ]
    assert await picked(workflow_id=mine) == [("resume", "Mine", "api"), ("pause", "Mine", "api")]
    assert await picked(actor_kind="user") == await picked(user_id=USER)
    assert await picked(user_id=OTHER_USER) == []  # a user's own changes, not their strategies'
    assert await picked(source="cli", action="stop") == [("stop", "Theirs", "cli")]
    assert await picked(action="pause", actor_kind="operator") == [("pause", "Theirs", "console")]
    assert await picked(since=later) == [("stop", "Theirs", "cli")]
    assert len(await picked(until=later)) == 4


async def test_keyset_pages_walk_newest_first_without_gaps_or_repeats(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    for i in range(3):  # six entries, two at each instant: ties broken by id
        await pause_and_resume(any_store, sid, OPERATOR, NOW + timedelta(minutes=i))
    audit = AuditService(any_store)
    seen: list[int] = []
    query = AuditQuery(limit=4)
    while True:
        page = await audit.entries(query)
        seen += [e.id for e in page.items]
        if page.next is None:
            break
        # The cursor travels as a token, as the API and the CLI hand it out.
        query = AuditQuery(limit=4, before=parse_cursor(cursor_token(page.next)))
    everything = [r["id"] for r in rows(db, "select id from cascadian_audit_log order by id desc")]
    assert seen == everything and len(seen) == 6


async def test_an_entry_keeps_its_strategy_when_the_strategy_is_gone(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="Gone")
    assert await any_store.pause(sid, NOW, OPERATOR) == "ok"
    db.execute("delete from notifications")
    db.execute("delete from workflow_sessions where id = %s", (sid,))
    [entry] = (await AuditService(any_store).entries(AuditQuery())).items
    assert (entry.workflow_id, entry.strategy_name, entry.action) == (sid, None, "pause")


async def test_prune_deletes_only_entries_past_the_window_oldest_first_within_the_cap(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    for day in (400, 380, 10):
        await pause_and_resume(any_store, sid, OPERATOR, NOW - timedelta(days=day))
    cutoff = NOW - timedelta(days=365)
    assert await any_store.prune_audit(cutoff, 0, True) == 4  # a dry run counts, deletes none
    assert await any_store.prune_audit(cutoff, 3, False) == 3
    left = rows(db, "select at from cascadian_audit_log order by at")
    assert left[0]["at"] == NOW - timedelta(days=380)  # the oldest went first
    assert await any_store.prune_audit(cutoff, 3, False) == 1
    assert await any_store.prune_audit(cutoff, 3, False) == 0
    assert len(rows(db, "select id from cascadian_audit_log")) == 2


async def test_retention_prunes_the_audit_log_by_its_own_setting(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW)
    await pause_and_resume(any_store, sid, OPERATOR, NOW - timedelta(days=40))
    await pause_and_resume(any_store, sid, OPERATOR, NOW - timedelta(days=5))
    kept_for_ever = Settings(CASCADIAN_RETENTION_AUDIT_DAYS=0)  # type: ignore[call-arg]
    assert (await Pruner(any_store, kept_for_ever, FakeClock(NOW)).everything()).audit_entries == 0
    month = Settings(CASCADIAN_RETENTION_AUDIT_DAYS=30)  # type: ignore[call-arg]
    counted = await Pruner(any_store, month, FakeClock(NOW)).everything(dry_run=True)
    assert counted.audit_entries == 2 and len(rows(db, "select id from cascadian_audit_log")) == 4
    in_tick = await Pruner(any_store, month, FakeClock(NOW)).in_tick(1000)
    assert in_tick.audit_entries == 2
    assert len(rows(db, "select id from cascadian_audit_log")) == 2


async def test_a_start_made_through_the_service_is_read_back_with_its_schedule_change(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None, status="draft", auto_run=False)
    assert await any_store.start(sid, Schedule(15), NOW, NOW, OWNER) == "ok"
    [entry] = (await AuditService(any_store).entries(AuditQuery(action="start"))).items
    assert entry.actor == OWNER
    assert entry.before is not None
    assert entry.before["execution_interval_minutes"] == 5
    assert entry.after["execution_interval_minutes"] == 15
    assert (entry.before["status"], entry.after["status"]) == ("draft", "running")
