"""The console's pages show what an operator on call needs, from the real database,
and its buttons make the control API's changes (signed in with the test client)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from cascadian.data import PaperOrder
from cascadian.reports import TickReport
from cascadian.store.sql_store import SqlStore
from tests.api_client import KEY
from tests.factories import USER, add_strategy, chain, node, rows, strategy
from tests.web.console.helpers import (
    console_client,
    csrf_of,
    failing_strategy,
    notify,
    sign_in,
    ticks_at,
)


async def test_the_overview_shows_health_backlog_failing_strategies_and_missed_ticks(
    store: SqlStore, db: Any
) -> None:
    await ticks_at(store, 30, 29, 28, 20, 19)  # minutes 27-21 missed
    await failing_strategy(store, db, name="Broken filter")
    late = datetime.now(UTC) - timedelta(minutes=7)
    add_strategy(db, next_execution_at=late, name="Late one")
    async with console_client(store) as c:
        await sign_in(c)
        page = (await c.get("/console")).text
    assert "Broken filter" in page and "Needs attention" in page
    backlog = re.search(r'id="backlog".*?<strong>(\d+)</strong>.*?oldest (.*?) late', page, re.S)
    assert backlog and backlog.group(1) == "1" and backlog.group(2).startswith("7 min")
    assert page.count('class="gap"') >= 2  # 21-27 minutes ago, and since the last tick
    assert '<svg class="chart"' in page


async def test_the_strategies_list_filters_failing_ones_and_searches_by_name(
    store: SqlStore, db: Any
) -> None:
    await failing_strategy(store, db, name="Broken filter")
    add_strategy(db, next_execution_at=None, name="Quiet watcher", status="paused", auto_run=False)
    async with console_client(store) as c:
        await sign_in(c)
        failing = (await c.get("/console/strategies", params={"filter": "failing"})).text
        search = (await c.get("/console/strategies", params={"q": "quiet"})).text
        bad = await c.get("/console/strategies", params={"filter": "nonsense"})
    assert "Broken filter" in failing and "Quiet watcher" not in failing
    assert "node &#39;cheap&#39;" in failing  # the last error, escaped
    assert "Quiet watcher" in search and "Broken filter" not in search
    assert bad.status_code == 422 and "Choose a filter" in bad.text


async def test_an_auto_paused_strategy_is_shown_as_auto_paused_on_every_page_and_the_api(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(
        db,
        next_execution_at=None,
        name="Paused by errors",
        status="error",
        auto_run=False,
        error_count=3,
        last_error="boom",
    )
    first = add_strategy(
        db,
        next_execution_at=datetime.now(UTC),
        name="Failing once",
        error_count=1,
        last_error="boom",
    )
    async with console_client(store) as c:
        await sign_in(c)
        overview = (await c.get("/console")).text
        listed = (await c.get("/console/strategies", params={"filter": "failing"})).text
        one = (await c.get(f"/console/strategies/{sid}")).text
        other = (await c.get(f"/console/strategies/{first}")).text
        api = await c.get(
            f"/api/strategies/{sid}/status", headers={"Authorization": f"Bearer {KEY}"}
        )
    for page in (overview, listed):
        row = re.search(r"Paused by errors.*?</tr>", page, re.S)
        assert row and ">auto-paused</span>" in row.group(0)
        row = re.search(r"Failing once.*?</tr>", page, re.S)
        assert row and "auto-paused" not in row.group(0)
    assert "auto-paused after 3 consecutive errors" in one
    assert "failing: 1 consecutive error" in other and "auto-paused" not in other
    assert api.json()["data"]["auto_paused"] is True


async def test_a_strategy_page_draws_its_graph_coloured_by_the_latest_run(
    store: SqlStore, db: Any
) -> None:
    sid = await failing_strategy(store, db)
    async with console_client(store) as c:
        await sign_in(c)
        page = (await c.get(f"/console/strategies/{sid}")).text
    assert '<svg class="diagram' in page
    recent = re.search(r'id="recent-lag">(.*?)</dd>', page, re.S)
    assert recent and "over 1 scheduled run" in recent.group(1)  # issue 15's schedule lag
    assert re.search(r'class="node node-error" data-node-id="cheap"', page)
    assert re.search(r'class="node node-success" data-node-id="start"', page)
    assert re.search(r'class="node node-skipped" data-node-id="end"', page)
    [run] = rows(db, "select id from workflow_executions where workflow_id = %s", sid)
    assert f"/console/runs/{run['id']}" in page


async def test_a_run_page_shows_each_nodes_status_timing_and_error(
    store: SqlStore, db: Any
) -> None:
    sid = await failing_strategy(store, db)
    [run] = rows(db, "select id from workflow_executions where workflow_id = %s", sid)
    async with console_client(store) as c:
        await sign_in(c)
        page = (await c.get(f"/console/runs/{run['id']}")).text
    errors = re.findall(r'<pre class="error-text wrap node-error">(.*?)</pre>', page, re.S)
    assert len(errors) == 1 and "${start.missing}" in errors[0]
    assert page.count('class="node-log log-') == 3


async def test_pausing_from_the_console_pauses_the_strategy(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=datetime.now(UTC) + timedelta(minutes=5))
    async with console_client(store) as c:
        csrf = await sign_in(c)
        reply = await c.post(f"/console/strategies/{sid}/pause", data={"csrf": csrf})
        assert reply.status_code == 303
        page = (await c.get(reply.headers["location"])).text
        again = await c.post(f"/console/strategies/{sid}/pause", data={"csrf": csrf})
    assert (strategy(db, sid)["status"], strategy(db, sid)["auto_run"]) == ("paused", False)
    assert "Paused: it will not run until resumed." in page
    assert again.status_code == 409 and "Refused:" in again.text


async def test_run_now_from_the_console_opens_the_recorded_run(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=datetime.now(UTC) + timedelta(minutes=5))
    async with console_client(store) as c:
        csrf = await sign_in(c)
        reply = await c.post(f"/console/strategies/{sid}/run-now", data={"csrf": csrf})
        assert reply.status_code == 303 and "/console/runs/" in reply.headers["location"]
        page = (await c.get(reply.headers["location"])).text
    assert "Ran now" in page and "run-completed" in page
    assert strategy(db, sid)["execution_count"] == 1


async def test_a_run_page_shows_each_nodes_config_and_resolved_inputs_secrets_redacted(
    store: SqlStore, db: Any
) -> None:
    graph = chain(
        node("start", "start"),
        node("tell", "notify", title="Weather in ${start.city}", message="Bearer s3cret"),
    )
    sid = add_strategy(
        db, next_execution_at=None, graph=graph, variables={"city": "Paris"}, auto_run=False
    )
    async with console_client(store) as c:
        csrf = await sign_in(c)
        reply = await c.post(f"/console/strategies/{sid}/run-now", data={"csrf": csrf})
        page = (await c.get(reply.headers["location"])).text
    tell = re.search(r'<li[^>]*data-node-id="tell".*?</li>', page, re.S)
    assert tell, page
    config = re.search(
        r'class="node-config".*?<pre class="output">(.*?)</pre>', tell.group(0), re.S
    )
    inputs = re.search(
        r'class="node-inputs".*?<pre class="output">(.*?)</pre>', tell.group(0), re.S
    )
    assert config and "Weather in ${start.city}" in config.group(1)
    assert inputs and "Weather in Paris" in inputs.group(1)
    assert "s3cret" not in page and "[redacted]" in config.group(1)


async def test_the_live_endpoint_answers_the_figures_the_pages_update(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(
        db,
        next_execution_at=None,
        name="Paused by errors",
        status="error",
        auto_run=False,
        error_count=3,
    )
    add_strategy(db, next_execution_at=datetime.now(UTC) - timedelta(minutes=2))
    async with console_client(store) as c:
        refused = await c.get("/console/live")
        await sign_in(c)
        overview = (await c.get("/console/live")).json()
        before = (await c.get("/console/live", params={"strategy": str(sid)})).json()
        csrf = (await c.get(f"/console/strategies/{sid}")).text
        await c.post(f"/console/strategies/{sid}/run-now", data={"csrf": csrf_of(csrf)})
        after = (await c.get("/console/live", params={"strategy": str(sid)})).json()
        bad = await c.get("/console/live", params={"strategy": "nope"})
    assert refused.status_code == 303 and "/sign-in" in refused.headers["location"]
    assert (overview["due"], overview["failing"], overview["in_flight"]) == (1, 1, 0)
    assert before["strategy"]["status"] == "auto-paused"
    assert before["strategy"]["newest_run"] is None and before["strategy"]["runs"] == 0
    assert after["strategy"]["runs"] == 1
    assert after["strategy"]["newest_run"]["status"] == "completed"
    assert bad.status_code == 404


async def test_notifications_and_paper_orders_are_listed_with_their_strategy(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=None, name="Trader")
    await notify(store, sid, "Strategy paused")
    order = PaperOrder(
        sid, None, "buy", "m1", "Will it rain?", "Yes", "buy", "market", 10.0, 0.5, "gamma"
    )
    await store.record_paper_order(order, datetime.now(UTC))
    async with console_client(store) as c:
        await sign_in(c)
        notes = (await c.get("/console/notifications")).text
        paper = (await c.get("/console/paper")).text
    assert "Strategy paused" in notes and "Trader" in notes
    assert "Will it rain?" in paper and "Trader" in paper and "$10.00" in paper
    assert "never places a real order" in paper


async def test_an_unknown_or_malformed_id_is_a_404_page(store: SqlStore, db: Any) -> None:
    async with console_client(store) as c:
        await sign_in(c)
        unknown = await c.get("/console/strategies/00000000-0000-4000-8000-000000000000")
        malformed = await c.get("/console/runs/not-a-uuid")
    assert unknown.status_code == 404 and "text/html" in unknown.headers["content-type"]
    assert malformed.status_code == 404 and "Not found" in malformed.text


async def test_what_users_named_is_escaped(store: SqlStore, db: Any) -> None:
    add_strategy(db, next_execution_at=None, name="<script>alert(1)</script>")
    async with console_client(store) as c:
        await sign_in(c)
        page = (await c.get("/console/strategies")).text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_with_the_database_down_the_overview_says_so_and_pages_answer_503() -> None:
    dead = SqlStore.postgres("postgresql://postgres:pw@127.0.0.1:9/secretdb", timeout=0.5)
    await dead.open()
    try:
        async with console_client(dead) as c:
            await c.post("/console/sign-in", data={"key": KEY})
            overview = await c.get("/console")
            strategies = await c.get("/console/strategies")
    finally:
        await dead.close()
    assert overview.status_code == 503 and "database unavailable" in overview.text
    assert strategies.status_code == 503 and "database unavailable" in strategies.text
    assert "secretdb" not in overview.text


async def test_failing_ticks_make_the_overview_degraded(store: SqlStore, db: Any) -> None:
    now = datetime.now(UTC)
    for seconds in (90, 30):
        at = now - timedelta(seconds=seconds)
        await store.record_tick(TickReport("cron", at, finished_at=at, error="database down"))
    async with console_client(store) as c:
        await sign_in(c)
        page = (await c.get("/console")).text
    health = re.search(r'id="health">(.*?)</div>', page, re.S)
    assert health and "degraded" in health.group(1) and "the last 2 ticks failed" in health.group(1)
    failed = re.search(r'id="failed-ticks">(.*?)</section>', page, re.S)
    assert failed and failed.group(1).count("database down") == 2


async def test_a_strategys_notifications_have_a_page_of_their_own(store: SqlStore, db: Any) -> None:
    mine = add_strategy(db, next_execution_at=None, name="Mine")
    other = add_strategy(db, next_execution_at=None, name="Other")
    await notify(store, mine, "Mine spoke")
    await notify(store, other, "Other spoke")
    async with console_client(store) as c:
        await sign_in(c)
        page = (await c.get("/console/notifications", params={"strategy": str(mine)})).text
    assert "Mine spoke" in page and "Other spoke" not in page and "Notifications of" in page


async def test_older_runs_are_a_page_away(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None, name="Busy")
    db.execute(
        "insert into workflow_executions (workflow_id, user_id, status, execution_started_at, "
        "error_message) select %s, %s, 'failed', now() - make_interval(mins => i), 'run ' || i "
        "from generate_series(1, 22) as i",
        (sid, USER),
    )
    async with console_client(store) as c:
        await sign_in(c)
        first = (await c.get(f"/console/strategies/{sid}")).text
        second = (await c.get(f"/console/strategies/{sid}", params={"runs": 2})).text
    assert "page 1 of 2" in first and ">run 1<" in first and ">run 21<" not in first
    assert ">run 21<" in second and ">run 22<" in second and ">run 1<" not in second
