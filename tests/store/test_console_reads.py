"""The console's reads (migrations/017) answer the same over both transports, on
both schemas: counts, filters, search, sort order, graphs, notifications, orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian.data import Notification, PaperOrder
from cascadian.ports import FullStore
from tests.factories import USER, add_run, add_strategy, set_lease

pytestmark = pytest.mark.both_schemas

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def hold(db: Any, sid: Any, until: datetime) -> Any:
    """A run in flight, its lease held until `until` (run out, not yet reclaimed, if
    that is past)."""
    run = add_run(db, sid, started_at=NOW - timedelta(seconds=5), status="running")
    set_lease(db, sid, run, until)
    return sid


def arrange(db: Any) -> dict[str, Any]:
    return {
        "late": add_strategy(db, next_execution_at=NOW - timedelta(minutes=9), name="Late"),
        "later": add_strategy(db, next_execution_at=NOW - timedelta(minutes=2), name="Later"),
        "streak": add_strategy(
            db,
            next_execution_at=NOW + timedelta(minutes=1),
            name="Streak",
            error_count=2,
            last_error="node 'x': boom",
        ),
        "paused": add_strategy(
            db,
            next_execution_at=None,
            name="Auto-paused",
            status="error",
            auto_run=False,
            error_count=3,
        ),
        "held": hold(
            db,
            add_strategy(db, next_execution_at=NOW - timedelta(minutes=1), name="Held"),
            NOW + timedelta(minutes=1),
        ),
        "draft": add_strategy(
            db, next_execution_at=None, name="Draft", status="draft", auto_run=False
        ),
        "old": add_strategy(
            db, next_execution_at=NOW - timedelta(hours=1), name="Late v1", is_current_version=False
        ),
    }


async def test_the_overview_counts_current_strategies_by_status_and_leases(
    any_store: FullStore, db: Any
) -> None:
    arrange(db)
    o = await any_store.console_overview(NOW)
    assert o.by_status == {"running": 4, "error": 1, "draft": 1}
    assert o.in_flight == 1


async def test_a_run_whose_lease_ran_out_is_in_flight_until_a_claim_takes_it_over(
    any_store: FullStore, db: Any
) -> None:
    sid = hold(db, add_strategy(db, next_execution_at=NOW, name="Dead worker"), NOW)
    assert (await any_store.console_overview(NOW)).in_flight == 1
    [claim] = await any_store.claim_due(NOW, 10, 60)
    assert claim.workflow.id == sid
    assert (await any_store.console_overview(NOW)).in_flight == 1  # the new run only


async def test_failing_strategies_come_first_with_the_longest_streak(
    any_store: FullStore, db: Any
) -> None:
    ids = arrange(db)
    page = await any_store.console_strategies(NOW, "failing", None, "attention", 10, 0)
    assert [s.id for s in page.items] == [ids["paused"], ids["streak"]]
    assert page.total == 2
    assert page.items[1].last_error == "node 'x': boom"


async def test_the_list_filters_by_due_and_status_searches_and_pages_with_a_total(
    any_store: FullStore, db: Any
) -> None:
    ids = arrange(db)
    due = await any_store.console_strategies(NOW, "due", None, "attention", 10, 0)
    assert [s.name for s in due.items] == ["Late", "Later", "Held"]  # most overdue first
    drafts = await any_store.console_strategies(NOW, "draft", None, "name", 10, 0)
    assert [s.id for s in drafts.items] == [ids["draft"]]
    search = await any_store.console_strategies(NOW, "all", "LATE", "name", 10, 0)
    assert [s.name for s in search.items] == ["Late", "Later"]  # never the old version
    by_id = await any_store.console_strategies(NOW, "all", str(ids["held"]), "name", 10, 0)
    assert [s.name for s in by_id.items] == ["Held"]
    second = await any_store.console_strategies(NOW, "all", None, "name", 2, 2)
    assert [s.name for s in second.items] == ["Held", "Late"] and second.total == 6
    empty = await any_store.console_strategies(NOW, "all", "nothing like it", "name", 10, 0)
    assert (empty.items, empty.total) == ([], 0)


async def test_notifications_come_newest_first_with_their_strategys_name(
    any_store: FullStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None, name="Sender")
    for i in range(3):
        await any_store.notify(Notification(USER, sid, f"n{i}", "m"), NOW + timedelta(seconds=i))
    await any_store.notify(Notification(USER, None, "system", "m"), NOW + timedelta(seconds=9))
    everything = await any_store.notifications(None, 2, 0)
    assert everything.total == 4 and [n.title for n in everything.items][:1] == ["system"]
    mine = await any_store.notifications(sid, 10, 0)
    assert [n.title for n in mine.items] == ["n2", "n1", "n0"]
    assert {n.workflow_name for n in mine.items} == {"Sender"}


async def test_paper_orders_of_every_strategy_come_newest_first(
    any_store: FullStore, db: Any
) -> None:
    a = add_strategy(db, next_execution_at=None, name="A")
    b = add_strategy(db, next_execution_at=None, name="B")
    for sid in (a, b):
        order = PaperOrder(sid, None, "buy", "m1", "Q?", "Yes", "buy", "market", 10.0, 0.5, "gamma")
        await any_store.record_paper_order(order, NOW)
    page = await any_store.paper_orders(10, 0)
    assert page.total == 2
    assert [e.workflow_name for e in page.items] == ["B", "A"]
    assert page.items[0].order.shares == pytest.approx(20.0)
