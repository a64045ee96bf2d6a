"""The composition root: which store and which executor this process uses."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from psycopg.conninfo import conninfo_to_dict

from cascadian.config import Settings
from cascadian.ports import NodeStore, WorkflowExecutor
from cascadian.store_postgres import PostgresStore

log = logging.getLogger(__name__)


def database_url(settings: Settings) -> str:
    """DATABASE_URL when set, else the embedded PostgreSQL under CASCADIAN_DATA_DIR."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    from cascadian.embedded import embedded_database_url

    return embedded_database_url(settings.data_dir)


def describe(conninfo: str) -> str:
    """Where a connection string points, without its password."""
    try:
        d = conninfo_to_dict(conninfo)
    except Exception:
        return "postgres (unparseable DATABASE_URL)"
    where = str(d.get("host") or "localhost")
    if d.get("port"):
        where += f":{d['port']}"
    return f"postgres {where}/{d.get('dbname', '')}"


async def open_store(settings: Settings) -> PostgresStore:
    url = database_url(settings)
    store = PostgresStore(url, pool_size=settings.db_pool_size, timeout=settings.db_timeout_seconds)
    await store.open()
    log.info("store: %s", describe(url))
    return store


def build_executor(
    settings: Settings, http: httpx.AsyncClient, store: NodeStore | None = None
) -> WorkflowExecutor:
    """The executor CASCADIAN_EXECUTOR names; graph nodes get the HTTP client and store."""
    if settings.executor == "http":
        from cascadian.http_executor import HttpExecutor

        assert settings.executor_url is not None  # checked by Settings
        return HttpExecutor(
            settings.executor_url,
            settings.executor_token,
            client=http,
            timeout=settings.strategy_timeout_seconds,
        )
    from cascadian.graph_executor import GraphExecutor

    services: dict[str, Any] = {"http": http, "settings": settings, "store": store}
    return GraphExecutor(services=services)
