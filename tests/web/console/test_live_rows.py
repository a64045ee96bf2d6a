"""The live lists' endpoints (live_rows.py), from the real database, signed in with
the test client: an unchanged list answers 204 and no body, a changed one its rows
as the page renders them with a new version; the filters are the page's, a bad one
refused as the page refuses it; signed out, the sign-in page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from cascadian.store.sql_store import SqlStore
from cascadian.web.console.base import PAGE_SIZE
from tests.factories import add_run, add_strategy, set_lease
from tests.web.console.helpers import console_client, sign_in


def version_of(page: str, box: str) -> str:
    found = re.search(rf'id="{box}"[^>]*data-live-version="([0-9a-f]+)"', page)
    assert found, f"no live version on #{box}"
    return found.group(1)


async def test_an_unchanged_list_answers_no_content_and_a_changed_one_its_rows(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None, name="Quiet one")
    async with console_client(store) as c:
        await sign_in(c)
        version = version_of((await c.get("/console/runs?status=failed")).text, "runs-rows")
        same = await c.get("/console/live/runs", params={"status": "failed", "v": version})
        assert (same.status_code, same.content) == (204, b"")
        run = add_run(db, sid, started_at=datetime.now(UTC), status="failed", error_message="boom")
        changed = await c.get("/console/live/runs", params={"status": "failed", "v": version})
        assert changed.status_code == 200
        body = changed.json()
        assert body["v"] != version
        assert re.findall(r'data-run="([0-9a-f-]+)"', body["html"]) == [str(run)]
        assert "Quiet one" in body["html"] and "boom" in body["html"]
        again = await c.get("/console/live/runs", params={"status": "failed", "v": body["v"]})
        assert again.status_code == 204
        # A filter the page refuses, refused alike.
        refused = await c.get("/console/live/runs", params={"window": "2y"})
        assert refused.status_code == 422


async def test_the_running_list_and_the_audit_log_answer_their_changes(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None, name="Busy one")
    async with console_client(store) as c:
        await sign_in(c)
        overview = (await c.get("/console")).text
        assert "Nothing is running now." in overview
        running_version = version_of(overview, "running-rows")
        audit_version = version_of((await c.get("/console/audit")).text, "audit-rows")
        run = add_run(
            db, sid, started_at=datetime.now(UTC) - timedelta(seconds=3), status="running"
        )
        set_lease(db, sid, run, datetime.now(UTC) + timedelta(minutes=1))  # as a claim holds it
        running = (await c.get("/console/live/running", params={"v": running_version})).json()
        assert re.findall(r'data-run="([0-9a-f-]+)"', running["html"]) == [str(run)]
        db.execute(
            "insert into cascadian_audit_log (at, actor_kind, source, action, workflow_id, after)"
            " values (now(), 'operator', 'cli', 'pause', %s, '{}')",
            (sid,),
        )
        audit = (await c.get("/console/live/audit", params={"v": audit_version})).json()
        assert "Busy one" in audit["html"] and "pause" in audit["html"]


async def test_signed_out_the_live_lists_send_to_the_sign_in_page(store: SqlStore) -> None:
    async with console_client(store) as c:
        reply = await c.get("/console/live/runs", follow_redirects=False)
    assert reply.status_code == 303 and "/console/sign-in" in reply.headers["location"]


async def test_an_older_page_of_runs_updates_its_rows_in_place(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None, name="Long history")
    start = datetime.now(UTC) - timedelta(hours=1)
    runs = [
        add_run(db, sid, started_at=start + timedelta(seconds=i), status="running")
        for i in range(PAGE_SIZE + 3)
    ]
    async with console_client(store) as c:
        await sign_in(c)
        first = (await c.get("/console/runs")).text
        older = re.search(r'href="(\?[^"]*cursor=[^"]+)" id="older"', first)
        assert older, "no link to the older page"
        page = (await c.get("/console/runs" + older.group(1).replace("&amp;", "&"))).text
        live = re.search(r'id="runs-rows"[^>]*data-live-rows="([^"]+)"', page)
        assert live and "cursor=" in live.group(1), "the older page does not poll with its cursor"
        assert "new runs appear on the newest page" in page
        version = version_of(page, "runs-rows")
        url = live.group(1).replace("&amp;", "&")
        # (httpx's params would replace the link's query string, so v is appended.)
        assert (await c.get(f"{url}&v={version}")).status_code == 204
        # The oldest run (on the older page) ends; the newest page's runs do not change.
        db.execute(
            "update workflow_executions set status = 'failed', error_message = 'late boom'"
            " where id = %s",
            (runs[0],),
        )
        changed = (await c.get(f"{url}&v={version}")).json()
        shown = re.findall(r'data-run="([0-9a-f-]+)"', changed["html"])
        assert str(runs[0]) in shown and str(runs[-1]) not in shown
        assert "late boom" in changed["html"]
