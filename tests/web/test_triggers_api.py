"""A strategy's triggers over HTTP: set, shown with their state, exported and imported
with the strategy; a level outside (0, 1), a negative band or a token Polymarket does
not know is a clear 422 and nothing is saved. Polymarket is mocked (respx) in the
shapes it answers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from cascadian.store.sql_store import SqlStore
from tests.api_client import client
from tests.factories import USER, add_strategy, chain, node, rows
from tests.polymarket_fixtures import CLOB, FED_TOKENS, GAMMA, RECORDS

pytestmark = pytest.mark.both_schemas

ENV = {"CASCADIAN_CLOB_URL": CLOB, "CASCADIAN_POLYMARKET_URL": GAMMA}
KNOWN, UNKNOWN = FED_TOKENS[0], "1234567890"
BOOK = {"market": "0x4a3c", "asset_id": KNOWN, "bids": [], "asks": [], "timestamp": "1"}


def polymarket(router: respx.MockRouter) -> None:
    """The CLOB knows KNOWN's book; Gamma knows market 253591."""

    def book(request: httpx.Request) -> httpx.Response:
        if request.url.params["token_id"] == KNOWN:
            return httpx.Response(200, json=BOOK | {"asset_id": KNOWN})
        return httpx.Response(404, json={"error": "No orderbook exists for the requested token id"})

    router.get(f"{CLOB}/book").mock(side_effect=book)
    router.get(f"{CLOB}/fee-rate").respond(200, json={"base_fee": 0})
    router.get(f"{GAMMA}/markets/253591").respond(200, json=RECORDS[0])
    router.get(f"{GAMMA}/markets/999").respond(404, json={"type": "not found"})


def up(**extra: Any) -> dict[str, Any]:
    return {"name": "up", "token_id": KNOWN, "level": "0.6", "direction": "above"} | extra


def strategy_id(db: Any) -> uuid.UUID:
    return add_strategy(db, next_execution_at=datetime.now(UTC) + timedelta(hours=1))


async def test_triggers_are_set_and_shown_with_their_state(store: SqlStore, db: Any) -> None:
    sid = strategy_id(db)
    settled = {"kind": "resolved", "market_id": "253591"}
    by_outcome = {"market_id": "253591", "outcome": "no", "level": "0.3", "direction": "below"}
    with respx.mock(assert_all_called=False) as router:
        polymarket(router)
        async with client(store, **ENV) as c:
            put = await c.put(
                f"/api/strategies/{sid}/triggers",
                json={"triggers": [up(band="0.02"), settled, by_outcome]},
            )
            got = await c.get(f"/api/strategies/{sid}/triggers")
    assert put.status_code == 200, put.text
    assert got.json()["data"] == put.json()["data"]
    first, second, third = got.json()["data"]
    assert (first["name"], first["band"], first["price_kind"], first["state"]) == (
        "up",
        "0.02",
        "midpoint",
        "waiting",
    )
    assert (second["name"], second["kind"], second["condition_id"]) == (
        "trigger-2",
        "resolved",
        RECORDS[0]["conditionId"],
    )
    assert third["token_id"] == FED_TOKENS[1]  # the outcome "No", looked up on Gamma


@pytest.mark.parametrize(
    ("trigger", "field", "says"),
    [
        (up(level="1"), "level", "less than 1"),
        (up(level="0"), "level", "greater than 0"),
        (up(band="-0.01"), "band", "greater than or equal to 0"),
        (up(token_id=UNKNOWN), "token_id", "does not exist"),
        ({"kind": "resolved", "market_id": "999"}, "market_id", "no such market"),
        (up(price_kind="close"), "price_kind", "midpoint"),
    ],
)
async def test_an_unusable_trigger_is_a_422_naming_it_and_nothing_is_saved(
    store: SqlStore, db: Any, trigger: dict[str, Any], field: str, says: str
) -> None:
    sid = strategy_id(db)
    with respx.mock(assert_all_called=False) as router:
        polymarket(router)
        async with client(store, **ENV) as c:
            kept = await c.put(f"/api/strategies/{sid}/triggers", json={"triggers": [up()]})
            bad = await c.put(
                f"/api/strategies/{sid}/triggers", json={"triggers": [up(name="ok"), trigger]}
            )
    assert kept.status_code == 200
    assert bad.status_code == 422, bad.text
    [problem] = bad.json()["details"]
    assert (problem["trigger"], problem["field"]) == (1, field)
    assert says in problem["message"]
    assert [r["name"] for r in rows(db, "select name from cascadian_triggers")] == ["up"]


async def test_triggers_of_an_unknown_strategy_are_a_404(store: SqlStore, db: Any) -> None:
    with respx.mock(assert_all_called=False) as router:
        polymarket(router)
        async with client(store, **ENV) as c:
            answer = await c.put(
                f"/api/strategies/{uuid.uuid4()}/triggers", json={"triggers": [up()]}
            )
    assert answer.status_code == 404


async def test_a_strategy_exports_and_imports_with_its_triggers(store: SqlStore, db: Any) -> None:
    nodes, edges = chain(node("start", "start"), node("end", "end"))
    doc = {
        "name": "breakout",
        "user_id": str(USER),
        "nodes": nodes,
        "edges": edges,
        "triggers": [up(band="0.05"), {"kind": "resolved", "market_id": "253591"}],
    }
    with respx.mock(assert_all_called=False) as router:
        polymarket(router)
        async with client(store, **ENV) as c:
            created = await c.post("/api/strategies", json=doc)
            sid = created.json()["data"]["id"]
            exported = (await c.get(f"/api/strategies/{sid}/export")).json()["data"]
            again = await c.post("/api/strategies", json=exported)
            copied = await c.get(f"/api/strategies/{again.json()['data']['id']}/triggers")
    assert created.status_code == 201, created.text
    assert exported["triggers"] == [
        {
            "name": "up",
            "kind": "price",
            "token_id": KNOWN,
            "level": "0.6",
            "direction": "above",
            "band": "0.05",
            "price_kind": "midpoint",
        },
        {"name": "trigger-2", "kind": "resolved", "market_id": "253591"},
    ]
    assert [t["name"] for t in copied.json()["data"]] == ["up", "trigger-2"]


async def test_a_document_with_a_bad_trigger_creates_nothing(store: SqlStore, db: Any) -> None:
    nodes, edges = chain(node("start", "start"), node("end", "end"))
    doc = {"name": "x", "user_id": str(USER), "nodes": nodes, "edges": edges}
    with respx.mock(assert_all_called=False) as router:
        polymarket(router)
        async with client(store, **ENV) as c:
            answer = await c.post("/api/strategies", json=doc | {"triggers": [up(level="2")]})
    assert answer.status_code == 422
    assert rows(db, "select id from workflow_sessions") == []


async def test_metrics_show_the_listeners_and_the_armed_triggers(store: SqlStore, db: Any) -> None:
    sid = strategy_id(db)
    now = datetime.now(UTC)
    listener = {
        "id": str(uuid.UUID(int=9)),
        "host": "worker-1",
        "started_at": now.isoformat(),
        "connected": True,
        "connections": 3,
        "tokens": 1,
        "reconnects": 2,
        "frames": 40,
        "frames_dropped": 3,
        "last_frame_at": now.isoformat(),
    }
    with respx.mock(assert_all_called=False) as router:
        polymarket(router)
        async with client(store, **ENV) as c:
            await c.put(f"/api/strategies/{sid}/triggers", json={"triggers": [up()]})
            await store.record_listener(listener, now)
            text = (await c.get("/api/metrics")).text
            overview = (await c.get("/api/triggers")).json()["data"]
    assert "cascadian_triggers_armed 1.0" in text
    labels = '{host="worker-1",listener="00000000-0000-0000-0000-000000000009"}'
    assert f"cascadian_trigger_listener_reconnects{labels} 2.0" in text
    assert f"cascadian_trigger_listener_frames_dropped{labels} 3.0" in text
    assert f"cascadian_trigger_listener_connections{labels} 3.0" in text
    assert overview["armed_triggers"] == 1 and overview["listeners"][0]["tokens"] == 1
