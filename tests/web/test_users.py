"""Signed-in users through the API: each sees, creates and changes only their own
strategies, on both transports and both schemas; another user's strategy or run
answers exactly as a missing one does; the operator key keeps everything; the
cron secret and the console stay where they were; each user's share is counted."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from cascadian.config import Settings
from cascadian.ports import FullStore
from cascadian.web.app import create_app
from tests.api_client import CRON, KEY, bearer
from tests.auth.tokens import PINNED_JWKS, PROJECT, SECRET, es256, hs256
from tests.factories import OTHER_USER, USER, add_strategy, rows

pytestmark = pytest.mark.both_schemas

ALICE, BOB = USER, OTHER_USER
ENV = {
    "ADMIN_API_KEY": KEY,
    "CRON_SECRET": CRON,
    "SUPABASE_URL": PROJECT,
    "SUPABASE_JWT_SECRET": SECRET,
}
GRAPH = {
    "nodes": [
        {"id": "start", "type": "start", "data": {"config": {}}},
        {"id": "end", "type": "end", "data": {"config": {}}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "end"}],
}


WINDOW = {"from": "2026-06-01T00:00:00Z", "to": "2026-06-01T01:00:00Z"}


def as_user(user: uuid.UUID) -> dict[str, str]:
    return bearer(hs256(user))


async def open_client(store: FullStore, **env: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(**(ENV | env)), store=store)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c,
    ):
        yield c


@pytest.fixture
async def api(any_store: FullStore) -> AsyncIterator[httpx.AsyncClient]:
    async for c in open_client(any_store):
        yield c


def past() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=1)


def arrange(db: Any) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """Alice's strategy, Bob's, and a run of Bob's."""
    mine = add_strategy(db, next_execution_at=None, user_id=ALICE, name="alice's", status="paused")
    theirs = add_strategy(db, next_execution_at=None, user_id=BOB, name="bob's", status="paused")
    [found] = rows(
        db,
        "insert into workflow_executions (workflow_id, user_id, execution_started_at, status, "
        "trigger_kind) values (%s, %s, now(), 'completed', 'manual') returning id",
        theirs,
        BOB,
    )
    return mine, theirs, found["id"]


# Every route a user may call on one strategy, with a body where it takes one.
ON_A_STRATEGY: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/strategies/{}", None),
    ("PATCH", "/api/strategies/{}", {"name": "taken over"}),
    ("DELETE", "/api/strategies/{}", None),
    ("POST", "/api/strategies/{}/dry-run", None),
    ("GET", "/api/strategies/{}/export", None),
    ("POST", "/api/strategies/{}/start", None),
    ("POST", "/api/strategies/{}/pause", None),
    ("POST", "/api/strategies/{}/stop", None),
    ("POST", "/api/strategies/{}/resume", None),
    ("POST", "/api/strategies/{}/execute-now", None),
    ("GET", "/api/strategies/{}/status", None),
    ("GET", "/api/strategies/{}/executions", None),
    ("GET", "/api/strategies/{}/paper", None),
    ("GET", "/api/strategies/{}/paper/equity", None),
    ("POST", "/api/strategies/{}/backtest", WINDOW),
]


def snapshot(db: Any, sid: uuid.UUID) -> Any:
    return rows(
        db,
        "select name, status, auto_run, is_current_version, next_execution_at, "
        "execution_count, (select count(*) from workflow_executions where workflow_id = %s) "
        "from workflow_sessions where id = %s",
        sid,
        sid,
    )


@pytest.mark.parametrize(("method", "path", "body"), ON_A_STRATEGY)
async def test_another_users_strategy_answers_as_a_missing_one_and_is_left_unchanged(
    api: httpx.AsyncClient, db: Any, method: str, path: str, body: dict[str, Any] | None
) -> None:
    _, theirs, _ = arrange(db)
    before = snapshot(db, theirs)
    answers = [
        await api.request(method, path.format(sid), json=body, headers=as_user(ALICE))
        for sid in (theirs, uuid.uuid4())
    ]
    assert [a.status_code for a in answers] == [404, 404]
    shown = [{k: v for k, v in a.json().items() if k != "timestamp"} for a in answers]
    assert shown[0] == shown[1]  # nothing tells Bob's strategy from no strategy
    assert snapshot(db, theirs) == before


async def test_a_user_runs_every_route_on_their_own_strategy(
    api: httpx.AsyncClient, db: Any
) -> None:
    mine, _, _ = arrange(db)
    me = as_user(ALICE)
    for method, path in [
        ("GET", "/api/strategies/{}"),
        ("GET", "/api/strategies/{}/export"),
        ("GET", "/api/strategies/{}/status"),
        ("GET", "/api/strategies/{}/executions"),
        ("GET", "/api/strategies/{}/paper"),
        ("GET", "/api/strategies/{}/paper/equity"),
        ("POST", "/api/strategies/{}/dry-run"),
        ("POST", "/api/strategies/{}/resume"),
        ("POST", "/api/strategies/{}/pause"),
        ("POST", "/api/strategies/{}/execute-now"),
        ("POST", "/api/strategies/{}/stop"),
    ]:
        answer = await api.request(method, path.format(mine), headers=me)
        assert answer.status_code == 200, (path, answer.text)
    run_id = (await api.get(f"/api/strategies/{mine}/executions", headers=me)).json()["data"][0]
    assert (await api.get(f"/api/executions/{run_id['id']}", headers=me)).status_code == 200
    renamed = await api.patch(f"/api/strategies/{mine}", json={"name": "mine"}, headers=me)
    assert renamed.json()["data"]["name"] == "mine"
    assert (await api.delete(f"/api/strategies/{mine}", headers=me)).status_code == 200


async def test_another_users_run_answers_as_a_missing_one(api: httpx.AsyncClient, db: Any) -> None:
    _, _, run = arrange(db)
    theirs = await api.get(f"/api/executions/{run}", headers=as_user(ALICE))
    assert theirs.status_code == 404
    assert (await api.get(f"/api/executions/{run}", headers=as_user(BOB))).status_code == 200
    assert (await api.get(f"/api/executions/{run}", headers=bearer(KEY))).status_code == 200


async def test_a_users_list_holds_only_their_strategies_whatever_owner_it_asks_for(
    api: httpx.AsyncClient, db: Any
) -> None:
    arrange(db)
    for query in ("", f"?user_id={BOB}"):
        page = (await api.get(f"/api/strategies{query}", headers=as_user(ALICE))).json()
        assert [s["name"] for s in page["data"]] == ["alice's"]
        assert page["metadata"]["total"] == 1
    everyone = (await api.get("/api/strategies", headers=bearer(KEY))).json()
    assert [s["name"] for s in everyone["data"]] == ["alice's", "bob's"]


async def test_a_strategy_created_with_a_users_token_is_theirs_whatever_the_body_says(
    api: httpx.AsyncClient, db: Any
) -> None:
    body = {"name": "claimed for bob", "user_id": str(BOB), **GRAPH}
    made = await api.post("/api/strategies", json=body, headers=as_user(ALICE))
    assert made.status_code == 201, made.text
    assert made.json()["data"]["user_id"] == str(ALICE)
    assert rows(db, "select user_id from workflow_sessions") == [{"user_id": ALICE}]
    by_operator = await api.post("/api/strategies", json=body, headers=bearer(KEY))
    assert by_operator.json()["data"]["user_id"] == str(BOB)


async def test_a_user_dry_run_of_a_posted_graph_notifies_nobody_but_them(
    api: httpx.AsyncClient, db: Any
) -> None:
    body = GRAPH | {"user_id": str(BOB)}
    answer = await api.post("/api/strategies/dry-run", json=body, headers=as_user(ALICE))
    assert answer.status_code == 200, answer.text


async def test_the_cron_secret_opens_only_the_cron_route_and_a_user_token_not_it(
    api: httpx.AsyncClient, db: Any
) -> None:
    arrange(db)
    assert (await api.get("/api/strategies", headers=bearer(CRON))).status_code == 401
    assert (await api.get("/api/cron/strategy-executor", headers=as_user(ALICE))).status_code == (
        401
    )
    for operators_only in ("/api/metrics", "/api/cron/ticks"):
        answer = await api.get(operators_only, headers=as_user(ALICE))
        assert answer.status_code == 401, operators_only


async def test_a_refused_token_says_why_and_changes_nothing(
    api: httpx.AsyncClient, db: Any
) -> None:
    mine, _, _ = arrange(db)
    expired = hs256(ALICE, exp=int(datetime.now(UTC).timestamp()) - 3600)
    answer = await api.post(f"/api/strategies/{mine}/resume", headers=bearer(expired))
    assert answer.status_code == 401
    assert answer.json()["message"] == "Invalid access token: the token has expired"
    assert expired not in answer.text
    status = rows(db, "select status from workflow_sessions where id = %s", mine)
    assert status == [{"status": "paused"}]


async def test_past_a_users_requests_per_minute_they_get_429_with_retry_after(
    any_store: FullStore, db: Any
) -> None:
    async for api in open_client(any_store, CASCADIAN_USER_REQUESTS_PER_MINUTE=3):
        answers = [await api.get("/api/strategies", headers=as_user(ALICE)) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        # The first three leave the sliding minute 60 to 61 seconds on.
        assert 1 <= int(answers[3].headers["retry-after"]) <= 61
        assert answers[3].json()["error"] == "Too Many Requests"
        # Bob's share is his own, and the operator has none.
        assert (await api.get("/api/strategies", headers=as_user(BOB))).status_code == 200
        assert (await api.get("/api/strategies", headers=bearer(KEY))).status_code == 200


async def test_past_a_users_strategies_the_create_is_429_and_nothing_is_saved(
    any_store: FullStore, db: Any
) -> None:
    async for api in open_client(any_store, CASCADIAN_USER_MAX_STRATEGIES=1):
        body = {"name": "one", "user_id": str(ALICE), **GRAPH}
        first = await api.post("/api/strategies", json=body, headers=as_user(ALICE))
        second = await api.post("/api/strategies", json=body, headers=as_user(ALICE))
        assert (first.status_code, second.status_code) == (201, 429)
        assert "CASCADIAN_USER_MAX_STRATEGIES" in second.json()["message"]
        assert second.headers["retry-after"]
        assert (await api.post("/api/strategies", json=body, headers=as_user(BOB))).status_code == (
            201
        )
        assert rows(db, "select count(*) as n from workflow_sessions") == [{"n": 2}]
        archived = await api.delete(
            f"/api/strategies/{first.json()['data']['id']}", headers=as_user(ALICE)
        )
        assert archived.status_code == 200
        again = await api.post("/api/strategies", json=body, headers=as_user(ALICE))
        assert again.status_code == 201  # an archived strategy no longer counts


async def test_a_user_may_backtest_their_own_strategy_one_at_a_time(
    any_store: FullStore, db: Any
) -> None:
    mine, _, _ = arrange(db)
    async for api in open_client(any_store, CASCADIAN_USER_MAX_BACKTESTS=1):
        first = await api.post(
            f"/api/strategies/{mine}/backtest", json=WINDOW, headers=as_user(ALICE)
        )
        assert first.status_code in (200, 422), first.text  # 422: no recorded history
        held = await any_store.take_slot(ALICE, "backtest", 1, datetime.now(UTC), 60)
        busy = await api.post(
            f"/api/strategies/{mine}/backtest", json=WINDOW, headers=as_user(ALICE)
        )
        assert busy.status_code == 429
        assert held is not None


async def test_past_a_users_dry_runs_in_flight_the_next_is_429_until_one_ends(
    any_store: FullStore, db: Any
) -> None:
    mine, _, _ = arrange(db)
    async for api in open_client(any_store, CASCADIAN_USER_MAX_DRY_RUNS=1):
        held = await any_store.take_slot(ALICE, "dry-run", 1, datetime.now(UTC), 60)
        assert held is not None
        busy = await api.post(f"/api/strategies/{mine}/dry-run", headers=as_user(ALICE))
        assert busy.status_code == 429 and busy.headers["retry-after"] == "5"
        await any_store.give_slot(held)
        done = await api.post(f"/api/strategies/{mine}/dry-run", headers=as_user(ALICE))
        assert done.status_code == 200
        held_now = rows(db, "select count(*) as n from cascadian_user_slots")
        assert held_now == [{"n": 0}]  # given back


@respx.mock
async def test_an_es256_token_from_the_projects_jwks_is_a_user(
    any_store: FullStore, db: Any
) -> None:
    """The keys are fetched through the SSRF guard: the test resolves the project's
    host to a public address the respx route answers for."""
    from tests.auth.tokens import jwks

    respx.get(PINNED_JWKS).respond(200, json=jwks())
    mine, _, _ = arrange(db)
    app = create_app(Settings(**ENV), store=any_store)
    async with app.router.lifespan_context(app):
        from tests.auth.tokens import resolver

        app.state.token_verifier.jwks.resolver = resolver
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as api:
            answer = await api.get(f"/api/strategies/{mine}", headers=bearer(es256(ALICE)))
            other = await api.get(f"/api/strategies/{mine}", headers=bearer(es256(BOB)))
    assert (answer.status_code, other.status_code) == (200, 404)


async def test_openapi_offers_either_scheme_on_the_users_routes_and_only_the_key_elsewhere(
    api: httpx.AsyncClient,
) -> None:
    doc = (await api.get("/openapi.json")).json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["SupabaseUser"]["bearerFormat"] == "JWT"
    either = [{"AdminApiKey": []}, {"SupabaseUser": []}]
    assert doc["paths"]["/api/strategies"]["get"]["security"] == either
    assert doc["paths"]["/api/strategies/{strategy_id}/paper"]["get"]["security"] == either
    assert doc["paths"]["/api/executions/{execution_id}"]["get"]["security"] == either
    for path, method in [
        ("/api/strategies/{strategy_id}/limits", "put"),
        ("/api/strategies/{strategy_id}/kill-switch", "put"),
        ("/api/kill-switch", "put"),  # declared for both: a user's answer is a 403
        ("/api/strategies/{strategy_id}/triggers", "put"),
        ("/api/triggers", "get"),
        ("/api/executions/{execution_id}/rerun", "post"),
        ("/api/strategies/bulk", "post"),
        ("/api/audit", "get"),
    ]:
        assert doc["paths"][path][method]["security"] == either, path
    assert doc["paths"]["/api/runs"]["get"]["security"] == [{"AdminApiKey": []}]
    assert doc["paths"]["/api/cron/ticks"]["get"]["security"] == [{"AdminApiKey": []}]


async def test_an_anonymous_sign_in_gets_what_the_deployment_says(
    any_store: FullStore, db: Any
) -> None:
    token = bearer(hs256(ALICE, is_anonymous=True))
    async for api in open_client(any_store):
        refused = await api.get("/api/strategies", headers=token)
        assert refused.status_code == 401
        assert "anonymous users are not accepted" in refused.json()["message"]
    async for api in open_client(any_store, CASCADIAN_ANONYMOUS_USERS="allow"):
        assert (await api.get("/api/strategies", headers=token)).status_code == 200
