"""Secrets: with known secrets set, nothing logged at any level, printed or answered ever
contains them: through ticks, refusals, failing strategies and an unreachable database.

(Every other test in this package runs under the same scan; see conftest.py.)"""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from cascadian.bootstrap import describe
from cascadian.config import Settings
from cascadian.web.app import create_app
from tests.factories import add_strategy, chain, node
from tests.reliability.conftest import (
    ADMIN_API_KEY,
    CRON_SECRET,
    DB_PASSWORD,
    SECRETS,
    TICK,
    SecretScan,
    bearer,
    with_password,
)

UNREACHABLE = f"postgresql://postgres:{DB_PASSWORD}@127.0.0.1:9/none"


def leaks(text: str) -> list[str]:
    return [s[:6] + "…" for s in SECRETS if s in text]


def production(database_url: str, **overrides: Any) -> Settings:
    env: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "CRON_SECRET": CRON_SECRET,
        "ADMIN_API_KEY": ADMIN_API_KEY,
        "ENVIRONMENT": "production",
        "CASCADIAN_DB_TIMEOUT_SECONDS": 1,
        "CASCADIAN_STRATEGY_TIMEOUT_SECONDS": 2,
        "CASCADIAN_TICK_BUDGET_SECONDS": 5,
        "CASCADIAN_LEASE_SECONDS": 10,
    }
    return Settings(**(env | overrides))


async def requests_to(settings: Settings) -> list[httpx.Response]:
    """A tick, a refused tick, an operator call and a refused one, against an app that
    opens its own store from the settings (so the URL with its password is used)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return [
                await c.post(TICK, headers=bearer(CRON_SECRET)),
                await c.post(TICK, headers=bearer(CRON_SECRET[:-1])),
                await c.post(TICK, headers={"Authorization": ADMIN_API_KEY}),
                await c.get("/api/cron/ticks", headers=bearer(ADMIN_API_KEY)),
                await c.get("/api/cron/ticks", headers=bearer(CRON_SECRET)),
                await c.get("/api/health"),
            ]


async def test_ticks_refusals_and_failing_strategies_never_log_or_answer_a_secret(
    db: psycopg.Connection[Any], database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    add_strategy(db, next_execution_at=now - timedelta(minutes=1), name="fine")
    add_strategy(
        db,
        next_execution_at=now - timedelta(minutes=1),
        name="broken",
        graph=chain(node("start", "start"), node("f", "filter", conditions=[])),
    )
    caplog.set_level(logging.DEBUG)

    replies = await requests_to(production(with_password(database_url)))

    assert [r.status_code for r in replies] == [200, 401, 401, 200, 401, 200]
    assert replies[0].json()["data"]["failed"] == 1  # the broken strategy's error was logged
    # The capture saw the app start, the tick and every request.
    assert any(r.name == "cascadian.tick" for r in caplog.records)
    assert sum(r.name == "httpx" for r in caplog.records) == len(replies)
    assert leaks(caplog.text) == []
    assert leaks("\n".join(r.text for r in replies)) == []


async def test_an_unreachable_database_never_logs_or_answers_its_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    replies = await requests_to(production(UNREACHABLE))

    assert replies[0].status_code == 503
    assert "database unavailable" in replies[0].json()["error"]
    assert any("psycopg" in r.name for r in caplog.records)  # its connection errors were seen
    assert leaks(caplog.text) == []
    assert leaks("\n".join(r.text for r in replies)) == []


def test_where_a_database_is_described_its_password_is_left_out() -> None:
    assert DB_PASSWORD not in describe(UNREACHABLE)
    assert DB_PASSWORD not in repr(production(UNREACHABLE))
    assert CRON_SECRET not in repr(production(UNREACHABLE)) + str(production(UNREACHABLE))


@pytest.mark.slow
@pytest.mark.parametrize("database", ["reachable", "unreachable"])
def test_the_tick_command_never_prints_a_secret(
    database_url: str, db: Any, tmp_path: Path, secret_scan: SecretScan, database: str
) -> None:
    url = with_password(database_url) if database == "reachable" else UNREACHABLE
    out = tmp_path / f"tick-{database}.log"
    secret_scan.files.append(out)
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": url,
        "CRON_SECRET": CRON_SECRET,
        "ADMIN_API_KEY": ADMIN_API_KEY,
        "CASCADIAN_DB_TIMEOUT_SECONDS": "1",
        "CASCADIAN_DATA_DIR": str(tmp_path / "unused"),
    }
    code = (
        "import logging, sys; logging.basicConfig(level=logging.DEBUG, stream=sys.stderr); "
        "from cascadian.cli.main import app; app()"
    )
    with out.open("wb") as sink:
        result = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-c", code, "tick", "--json"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            timeout=60,
            check=False,
        )
    text = out.read_text(errors="replace")
    assert result.returncode == (0 if database == "reachable" else 1), text[-2000:]
    assert leaks(text) == []
