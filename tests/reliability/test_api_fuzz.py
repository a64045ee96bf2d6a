"""API fuzzing: schemathesis generates requests for every operation in the app's OpenAPI
schema, with and without valid secrets. No request gets a 500, every response matches
its documented status codes, content type and schema, and no endpoint that changes
state answers anything but 401 without its secret."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from cascadian.config import Settings
from cascadian.web.app import create_app
from tests.factories import HELLO, TABLES, add_strategy
from tests.reliability.conftest import ADMIN_API_KEY, CRON_SECRET, bearer, with_password

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same requests on every run: CI never fails by luck
)
PUBLIC = {("GET", "/api/health")}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}  # answers without any secret, by design
KNOWN_IDS: list[str] = []


def production_settings(database_url: str) -> Settings:
    env: dict[str, Any] = {
        "DATABASE_URL": with_password(database_url),
        "CRON_SECRET": CRON_SECRET,
        "ADMIN_API_KEY": ADMIN_API_KEY,
        "ENVIRONMENT": "production",
        "CASCADIAN_STRATEGY_TIMEOUT_SECONDS": 2,
        "CASCADIAN_TICK_BUDGET_SECONDS": 5,
        "CASCADIAN_LEASE_SECONDS": 10,
    }
    return Settings(**env)


@pytest.fixture(scope="module")
def fuzz_app(database_url: str) -> Iterator[FastAPI]:
    """The app as deployed: its own store (opened by its lifespan) on the test database,
    and a few strategies for the generated requests to find."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"truncate {', '.join(TABLES)} restart identity cascade")
        now = datetime.now(UTC)
        KNOWN_IDS[:] = [
            str(add_strategy(conn, next_execution_at=now - timedelta(minutes=1), graph=HELLO)),
            str(add_strategy(conn, next_execution_at=None, status="paused", auto_run=False)),
            str(add_strategy(conn, next_execution_at=None, status="draft", auto_run=False)),
        ]
    app = create_app(production_settings(database_url))
    yield app
    from schemathesis.python import asgi  # the lifespan schemathesis started for the app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    # The bearer schemes are declared in OpenAPI; each test sends (or withholds) the
    # Authorization header itself, so schemathesis must not generate or drop it.
    schema.config.generation.update(with_security_parameters=False)
    return schema


def _secret_for(path: str) -> str:
    return CRON_SECRET if path == "/api/cron/strategy-executor" else ADMIN_API_KEY


def _use_known_ids(case: Any) -> None:
    """Half the generated ids are replaced with strategies that exist, so the fuzzing gets
    past 404 into the state checks."""
    params = case.path_parameters or {}
    for name, value in params.items():
        if name.endswith("id") and hash(str(value)) % 2 == 0:
            params[name] = KNOWN_IDS[hash(str(value)) % len(KNOWN_IDS)]


def api_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every API route, through included routers (FastAPI >= 0.16x
    wraps them in `_IncludedRouter`; older versions list APIRoutes directly)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            inner = prefix + getattr(route.include_context, "prefix", "")
            yield from api_routes(included.routes, inner)
        elif isinstance(route, APIRoute):
            yield from ((m, prefix + route.path) for m in route.methods or ())


def state_changing_routes(app: FastAPI) -> list[tuple[str, str]]:
    return sorted({(m, p) for m, p in api_routes(app.routes) if m not in SAFE_METHODS})


def fill(path: str) -> str:
    """A concrete URL for a route path: each {param} becomes a strategy that exists."""
    parts = path.split("/")
    return "/".join(KNOWN_IDS[0] if p.startswith("{") else p for p in parts)


# Known failures, by a phrase of schemathesis's report: a test that finds only these is
# an expected failure (xfail) that names them; any other failure fails it.
KNOWN = {
    "Received: 400": "a body that is not UTF-8 gets 400, which no operation documents",
}


def _runner(operation: Any, mode: GenerationMode, check: Callable[[Any], None]) -> Any:
    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        if mode is GenerationMode.POSITIVE:
            _use_known_ids(case)
        check(case)

    return run


def fuzz(api_schema: Any, check: Callable[[Any], None]) -> None:
    """Run `check` on generated cases, valid and invalid, for every operation; fail on any
    failure but the known ones, and xfail naming those. (A plain loop: schemathesis's
    lazy pytest loader does not support this pytest.)"""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 2
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _runner(operation, mode, check)()
            except Unsatisfiable:
                continue  # nothing in this operation can be made invalid
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis: a FailureGroup
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    unknown = [f for f in failures if not any(k in f for k in KNOWN)]
    assert not unknown, "\n\n".join(unknown)
    if failures:
        known = sorted({reason for f in failures for k, reason in KNOWN.items() if k in f})
        pytest.xfail(f"known: {'; '.join(known)} ({len(failures)} operation(s))")


@pytest.mark.slow
def test_without_secrets_nothing_but_the_health_check_answers(api_schema: Any) -> None:
    def check(case: Any) -> None:
        response = case.call_and_validate(checks=CHECKS)
        if (case.method.upper(), case.path) in PUBLIC:
            return
        if response.status_code == 422:
            raise AssertionError(
                f"{case.method} {case.path} validated the body before the secret: 422 "
                f"without a secret: {response.text[:300]}"
            )
        assert response.status_code == 401, (case.method, case.path, response.text[:300])

    fuzz(api_schema, check)


@pytest.mark.parametrize("auth", ["none", "wrong", "the other secret", "not bearer"])
def test_every_state_changing_route_refuses_a_request_without_its_secret(
    fuzz_app: FastAPI, api_schema: Any, auth: str
) -> None:
    routes = state_changing_routes(fuzz_app)
    assert ("POST", "/api/cron/strategy-executor") in routes  # the list is the app's own
    from schemathesis.python import asgi

    with asgi.get_client(fuzz_app) as client:  # type: ignore[arg-type]
        for method, path in routes:
            right = _secret_for(path)
            headers = {
                "none": {},
                "wrong": bearer(right + "x"),
                "the other secret": bearer(ADMIN_API_KEY if right == CRON_SECRET else CRON_SECRET),
                "not bearer": {"Authorization": right},
            }[auth]
            if auth == "the other secret" and path == "/api/cron/strategy-executor":
                continue  # ADMIN_API_KEY stands in for CRON_SECRET only while that is unset
            reply = client.request(method, fill(path), headers=headers, json={})
            assert reply.status_code == 401, (method, path, auth, reply.text[:300])
            if path.startswith("/console/"):
                continue  # the console answers pages (its rules: tests/web/console/)
            assert reply.json()["success"] is False


def test_the_refused_requests_changed_nothing(database_url: str, fuzz_app: FastAPI) -> None:
    """After every request above (none with its secret): no run, no tick, nothing moved."""
    with psycopg.connect(database_url) as conn:
        statuses = conn.execute(
            "select id::text, status, execution_count from workflow_sessions"
        ).fetchall()
        changed = conn.execute(
            "select (select count(*) from workflow_executions), (select count(*) from cron_ticks)"
        ).fetchone()
    assert sorted(statuses) == sorted(
        [(KNOWN_IDS[0], "running", 0), (KNOWN_IDS[1], "paused", 0), (KNOWN_IDS[2], "draft", 0)]
    )
    assert changed == (0, 0)


# Last: with valid secrets, requests may run ticks and change strategies.
@pytest.mark.slow
def test_with_valid_secrets_no_request_fails_or_breaks_its_schema(api_schema: Any) -> None:
    def check(case: Any) -> None:
        case.call_and_validate(headers=bearer(_secret_for(case.path)), checks=CHECKS)

    fuzz(api_schema, check)
