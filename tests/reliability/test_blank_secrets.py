"""Blank and short secrets: a variable defined but left empty is unset, never a secret an
empty bearer token matches; production refuses secrets shorter than 16 characters."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from cascadian.config import Settings
from cascadian.store.sql_store import SqlStore
from cascadian.web.app import create_app
from tests.reliability.conftest import ADMIN_API_KEY, CRON_SECRET, TICK

CONTROL = "/api/cron/ticks"


async def answer(store: SqlStore, path: str, authorization: str, **env: Any) -> httpx.Response:
    app = create_app(Settings(**env), store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await c.get(path, headers={"Authorization": authorization})


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
@pytest.mark.parametrize("path", [TICK, CONTROL])
@pytest.mark.parametrize("authorization", ["Bearer", "Bearer ", "Bearer    "])
async def test_blank_secrets_in_production_refuse_an_empty_bearer_token(
    store: SqlStore, blank: str, path: str, authorization: str
) -> None:
    env = {"CRON_SECRET": blank, "ADMIN_API_KEY": blank, "ENVIRONMENT": "production"}
    reply = await answer(store, path, authorization, **env)
    assert reply.status_code == 503
    assert reply.json()["error"] == "Misconfigured"
    assert "is not set" in reply.json()["message"]


def test_a_blank_secret_counts_as_unset() -> None:
    settings = Settings(CRON_SECRET="  ", ADMIN_API_KEY="", SUPABASE_SERVICE_ROLE_KEY="\n")
    assert settings.cron_secret is None and settings.admin_api_key is None
    assert settings.tick_secret is None and not settings.uses_supabase


def test_a_pasted_newline_is_not_part_of_the_secret() -> None:
    assert Settings(CRON_SECRET=CRON_SECRET + "\n").cron_secret.get_secret_value() == CRON_SECRET


@pytest.mark.parametrize("name", ["CRON_SECRET", "ADMIN_API_KEY", "CASCADIAN_EXECUTOR_TOKEN"])
@pytest.mark.parametrize("secret", ["x", "fifteen-chars-x"])
def test_production_refuses_a_secret_shorter_than_16_characters(name: str, secret: str) -> None:
    with pytest.raises(ValidationError, match=rf"{name} is {len(secret)} characters.*at least 16"):
        Settings(**{name: secret, "ENVIRONMENT": "production"})


def test_development_accepts_a_short_secret_and_production_a_long_one() -> None:
    assert Settings(CRON_SECRET="x").cron_secret is not None
    env = {"CRON_SECRET": CRON_SECRET, "ADMIN_API_KEY": ADMIN_API_KEY, "VERCEL_ENV": "production"}
    assert Settings(**env).is_production
