"""The console's runs list, re-run button and bulk changes, from the real database
(signed in with the test client): filters and pages, a re-run linked both ways,
and a bulk change that acts on exactly the selection it showed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from cascadian.store.sql_store import SqlStore
from tests.factories import OTHER_USER, add_run, add_strategy, rows, strategy
from tests.web.console.helpers import console_client, csrf_of, failing_strategy, sign_in


def now() -> datetime:
    return datetime.now(UTC)


async def test_the_runs_list_shows_every_failed_run_of_the_last_hour_across_strategies(
    store: SqlStore, db: Any
) -> None:
    a = add_strategy(db, next_execution_at=None, name="Alpha")
    b = add_strategy(db, next_execution_at=None, name="Beta", user_id=OTHER_USER)
    recent_a = add_run(
        db,
        a,
        started_at=now() - timedelta(minutes=5),
        status="failed",
        error_message="node 'x': boom",
    )
    recent_b = add_run(
        db, b, started_at=now() - timedelta(minutes=9), status="failed", user_id=OTHER_USER
    )
    old = add_run(db, a, started_at=now() - timedelta(hours=3), status="failed")
    fine = add_run(db, b, started_at=now() - timedelta(minutes=1), user_id=OTHER_USER)
    async with console_client(store) as c:
        await sign_in(c)
        page = (await c.get("/console/runs", params={"status": "failed", "window": "1h"})).text
        owner = (await c.get("/console/runs", params={"owner": str(OTHER_USER)})).text
        bad = await c.get("/console/runs", params={"strategy": "nope"})
    shown = re.findall(r'data-run="([0-9a-f-]+)"', page)
    assert shown == [str(recent_a), str(recent_b)]
    assert "node &#39;x&#39;: boom" in page and "Beta" in page
    assert str(old) not in page and str(fine) not in page
    assert re.findall(r'data-run="([0-9a-f-]+)"', owner) == [str(fine), str(recent_b)]
    assert bad.status_code == 422 and "must be an id" in bad.text


async def test_the_runs_list_pages_older_by_its_link(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None)
    made = [str(add_run(db, sid, started_at=now() - timedelta(seconds=s))) for s in range(55)]
    async with console_client(store) as c:
        await sign_in(c)
        first = (await c.get("/console/runs")).text
        older = re.search(r'href="([^"]+)" id="older"', first)
        assert older
        second = (await c.get("/console/runs" + older.group(1).replace("&amp;", "&"))).text
    assert re.findall(r'data-run="([0-9a-f-]+)"', first) == made[:50]
    assert re.findall(r'data-run="([0-9a-f-]+)"', second) == made[50:]
    assert 'id="older"' not in second and "← newest" in second


async def test_a_failed_run_is_rerun_from_its_page_and_each_links_to_the_other(
    store: SqlStore, db: Any
) -> None:
    sid = await failing_strategy(store, db)
    [failed] = rows(db, "select id from workflow_executions where workflow_id = %s", sid)
    async with console_client(store) as c:
        csrf = await sign_in(c)
        page = (await c.get(f"/console/runs/{failed['id']}")).text
        assert 'id="rerun"' in page
        reply = await c.post(f"/console/runs/{failed['id']}/rerun", data={"csrf": csrf})
        assert reply.status_code == 303
        new = reply.headers["location"]
        again = (await c.get(new)).text
        original = (await c.get(f"/console/runs/{failed['id']}")).text
    # The graph still fails: said in red, never as "ran now" good news.
    assert "Re-ran the failed run, and it failed again" in again
    assert f'href="/console/runs/{failed["id"]}" id="rerun-of"' in again
    new_id = new.split("/runs/")[1].split("?")[0]
    assert f'href="/console/runs/{new_id}"' in original and 'id="reruns"' in original
    assert strategy(db, sid)["execution_count"] == 2


async def test_bulk_shows_how_many_and_which_then_changes_exactly_those(
    store: SqlStore, db: Any
) -> None:
    add_strategy(
        db,
        next_execution_at=None,
        name="Auto one",
        status="error",
        auto_run=False,
        error_count=3,
        last_executed_at=now() - timedelta(minutes=10),
    )
    old = add_strategy(
        db,
        next_execution_at=None,
        name="Auto old",
        status="error",
        auto_run=False,
        error_count=3,
        last_executed_at=now() - timedelta(days=2),
    )
    params = {"action": "resume", "status": "auto-paused", "within": "1h"}
    async with console_client(store) as c:
        await sign_in(c)
        shown = (await c.get("/console/bulk", params=params)).text
        assert "Resume these 1 strategy?" in shown and "Auto one" in shown
        assert "Auto old" not in shown
        key = re.search(r'name="expect" value="([0-9a-f]+)"', shown)
        assert key
        form = params | {"csrf": csrf_of(shown), "owner": "", "q": "", "expect": key.group(1)}
        done = await c.post("/console/bulk", data=form)
        stale = await c.post("/console/bulk", data=form | {"expect": "0" * 16})
    assert done.status_code == 200
    assert "Resume: 1 changed, 0 already so, 0 refused." in done.text
    assert 'data-outcome="changed"' in done.text
    # The same form again: the selection is empty now, so it is not the one shown.
    assert stale.status_code == 409 and "Nothing changed" in stale.text
    assert strategy(db, old)["status"] == "error"


async def test_a_bulk_change_without_the_csrf_token_is_refused(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=now(), name="Running")
    async with console_client(store) as c:
        await sign_in(c)
        reply = await c.post("/console/bulk", data={"action": "pause", "expect": "x"})
    assert reply.status_code == 403
    assert strategy(db, sid)["status"] == "running"
