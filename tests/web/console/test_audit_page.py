"""The console's audit page without a browser: its keyset pages, its filters, and
what it makes of a cursor or filter it cannot read."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from cascadian.store.sql_store import SqlStore
from tests.factories import OPERATOR, add_strategy
from tests.web.console.helpers import console_client, sign_in

NOW = datetime.now(UTC)


async def seesaw(store: SqlStore, sid: Any, times: int) -> None:
    for i in range(times):
        at = NOW - timedelta(minutes=times - i)
        assert await store.pause(sid, at, OPERATOR) == "ok"
        assert await store.resume(sid, at + timedelta(minutes=5), at, OPERATOR) == "ok"


def actions(html: str) -> list[str]:
    return re.findall(r'class="badge act-(\w+)"', html)


async def test_older_pages_follow_the_cursor_to_the_end(store: SqlStore, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="Seesaw")
    await seesaw(store, sid, 30)  # 60 entries: a page of 50, then 10
    async with console_client(store) as c:
        await sign_in(c)
        first = (await c.get("/console/audit")).text
        older = re.search(r'href="(\?cursor=[^"]+)">older', first)
        assert older is not None and len(actions(first)) == 50
        second = (await c.get("/console/audit" + older.group(1).replace("&amp;", "&"))).text
    assert len(actions(second)) == 10 and "older →" not in second and "← newest" in second


async def test_filters_narrow_the_page_and_unreadable_ones_are_ignored(
    store: SqlStore, db: Any
) -> None:
    sid = add_strategy(db, next_execution_at=NOW, name="Seesaw")
    other = add_strategy(db, next_execution_at=NOW, name="Other")
    await seesaw(store, sid, 2)
    assert await store.stop(other, NOW, OPERATOR) == "ok"
    async with console_client(store) as c:
        await sign_in(c)
        paused = (await c.get("/console/audit", params={"action": "pause"})).text
        one = (await c.get("/console/audit", params={"strategy": str(other)})).text
        junk = await c.get("/console/audit", params={"action": "drop", "cursor": "%%%"})
        missing = await c.get("/console/audit", params={"strategy": "not-an-id"})
    assert actions(paused) == ["pause", "pause"]
    assert actions(one) == ["stop"] and "Audit log of" in one and "Other" in one
    assert junk.status_code == 200 and len(actions(junk.text)) == 5
    assert missing.status_code == 404


async def test_the_audit_page_needs_the_sign_in(store: SqlStore, db: Any) -> None:
    async with console_client(store) as c:
        reply = await c.get("/console/audit")
    assert reply.status_code == 303 and "/console/sign-in" in reply.headers["location"]
