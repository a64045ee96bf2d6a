"""Hostile requests get a short answer in the documented shape and change nothing.

Before: control-API bodies had no size limit and a 5 MB `cron` value came back whole
in the 422; unknown routes and wrong methods answered `{"detail": ...}` rather than
the documented error body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from cascadian.store.sql_store import SqlStore
from tests.api_client import client
from tests.factories import add_strategy, strategy

CAP = 1_048_576


def documented(body: dict[str, Any], error: str) -> None:
    assert body["success"] is False and body["error"] == error
    assert "timestamp" in body and "detail" not in body


@pytest.fixture
def paused(db: Any) -> Any:
    return add_strategy(db, next_execution_at=None, status="paused", auto_run=False)


async def test_a_body_over_the_limit_is_refused_with_413_unread(
    store: SqlStore, db: Any, paused: Any
) -> None:
    big = b'{"cron": "' + b"*" * (CAP + 10) + b'"}'
    async with client(store) as c:
        reply = await c.post(
            f"/api/strategies/{paused}/start",
            content=big,
            headers={"content-type": "application/json"},
        )
    assert reply.status_code == 413
    documented(reply.json(), "Payload Too Large")
    assert "CASCADIAN_MAX_REQUEST_BYTES" in reply.json()["message"]
    assert strategy(db, paused)["status"] == "paused"


async def test_a_chunked_body_is_cut_off_at_the_limit_too(
    store: SqlStore, db: Any, paused: Any
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"cron": "'
        for _ in range(40):
            yield b"*" * 65_536  # 2.5 MiB in all, with no Content-Length
        yield b'"}'

    async with client(store) as c:
        reply = await c.post(f"/api/strategies/{paused}/start", content=chunks())
    assert reply.status_code == 413
    assert strategy(db, paused)["status"] == "paused"


async def test_a_body_under_the_limit_still_works(store: SqlStore, db: Any, paused: Any) -> None:
    async with client(store, CASCADIAN_MAX_REQUEST_BYTES=2048) as c:
        reply = await c.post(f"/api/strategies/{paused}/start", json={"interval_minutes": 15})
    assert reply.status_code == 200, reply.text
    assert strategy(db, paused)["status"] == "running"


@pytest.mark.parametrize("field", ["cron", "timezone"])
async def test_an_error_echoes_only_a_short_prefix_of_a_huge_value(
    store: SqlStore, db: Any, paused: Any, field: str
) -> None:
    huge = "x" * 5_000_000
    async with client(store, CASCADIAN_MAX_REQUEST_BYTES=10 * CAP) as c:
        reply = await c.post(f"/api/strategies/{paused}/start", json={field: huge})
    assert reply.status_code == 422
    documented(reply.json(), "Validation Error")
    assert len(reply.content) < 2_000, f"a {len(reply.content):,}-byte answer"
    assert strategy(db, paused)["status"] == "paused"


async def test_an_unknown_route_is_404_in_the_documented_shape(store: SqlStore, db: Any) -> None:
    async with client(store) as c:
        reply = await c.get("/api/no-such-thing")
    assert reply.status_code == 404
    documented(reply.json(), "Not Found")


async def test_a_wrong_method_is_405_in_the_documented_shape_with_allow(
    store: SqlStore, db: Any, paused: Any
) -> None:
    async with client(store) as c:
        reply = await c.delete("/api/cron/strategy-executor")
    assert reply.status_code == 405
    documented(reply.json(), "Method Not Allowed")
    assert "POST" in reply.headers["allow"]  # Starlette names the first matching route's
