"""Settings: one pydantic-settings class, read from the environment once."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_SECRETS = {"changeme", "changethis", "secret", "password", "test"}
# The most strategies one claim (and one tick's concurrency) may cover.
MAX_CLAIM = 1000
# A node's outgoing HTTP call never waits longer than this.
MAX_NODE_HTTP_TIMEOUT_SECONDS = 10.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Where strategies live. Unset: an embedded PostgreSQL under data_dir.
    database_url: SecretStr | None = Field(default=None, validation_alias="DATABASE_URL")
    data_dir: Path = Field(default=Path(".cascadian"), validation_alias="CASCADIAN_DATA_DIR")
    # Both set: the Supabase store (PostgREST), which wins over DATABASE_URL.
    supabase_url: str | None = Field(
        default=None, validation_alias=AliasChoices("SUPABASE_URL", "NEXT_PUBLIC_SUPABASE_URL")
    )
    supabase_service_role_key: SecretStr | None = Field(
        default=None, validation_alias="SUPABASE_SERVICE_ROLE_KEY"
    )

    cron_secret: SecretStr | None = Field(default=None, validation_alias="CRON_SECRET")
    admin_api_key: SecretStr | None = Field(default=None, validation_alias="ADMIN_API_KEY")
    environment: Literal["development", "production"] = Field(
        default="development", validation_alias="ENVIRONMENT"
    )
    vercel_env: str | None = Field(default=None, validation_alias="VERCEL_ENV")

    # The tick
    claim_limit: int = Field(
        default=25, ge=1, le=MAX_CLAIM, validation_alias="CASCADIAN_CLAIM_LIMIT"
    )
    # As wide as a claim, so one claim's strategies all run at once.
    max_concurrency: int = Field(
        default=25, ge=1, le=MAX_CLAIM, validation_alias="CASCADIAN_MAX_CONCURRENCY"
    )
    tick_budget_seconds: float = Field(
        default=50.0, gt=0, validation_alias="CASCADIAN_TICK_BUDGET_SECONDS"
    )
    strategy_timeout_seconds: float = Field(
        default=30.0, gt=0, validation_alias="CASCADIAN_STRATEGY_TIMEOUT_SECONDS"
    )
    lease_seconds: float = Field(default=120.0, gt=0, validation_alias="CASCADIAN_LEASE_SECONDS")
    auto_pause_threshold: int = Field(
        default=3, ge=1, validation_alias="CASCADIAN_AUTO_PAUSE_THRESHOLD"
    )
    db_timeout_seconds: float = Field(
        default=5.0, gt=0, validation_alias="CASCADIAN_DB_TIMEOUT_SECONDS"
    )
    db_pool_size: int = Field(default=10, ge=1, validation_alias="CASCADIAN_DB_POOL_SIZE")

    # Which WorkflowExecutor runs strategies: in-process graphs, or an external
    # executor service (e.g. the existing TypeScript one) over HTTP.
    executor: Literal["graph", "http"] = Field(
        default="graph", validation_alias="CASCADIAN_EXECUTOR"
    )
    executor_url: str | None = Field(default=None, validation_alias="CASCADIAN_EXECUTOR_URL")
    executor_token: SecretStr | None = Field(
        default=None, validation_alias="CASCADIAN_EXECUTOR_TOKEN"
    )

    # Nodes
    polymarket_base_url: str = Field(
        default="https://gamma-api.polymarket.com", validation_alias="CASCADIAN_POLYMARKET_URL"
    )
    # Hosts or CIDRs the http-request node may reach although they are private:
    # a JSON list, or comma-separated (NoDecode: parsed by _host_list, not as JSON).
    http_allowlist: Annotated[list[str], NoDecode] = Field(
        default=[], validation_alias="CASCADIAN_HTTP_ALLOWLIST"
    )
    http_max_response_bytes: int = Field(
        default=1_000_000, ge=1, validation_alias="CASCADIAN_HTTP_MAX_RESPONSE_BYTES"
    )

    @property
    def is_production(self) -> bool:
        return self.environment == "production" or self.vercel_env == "production"

    @property
    def uses_supabase(self) -> bool:
        return bool(self.supabase_url and self.supabase_service_role_key)

    @property
    def node_http_timeout_seconds(self) -> float:
        """The shared HTTP client's timeout: well under the tick budget."""
        return min(MAX_NODE_HTTP_TIMEOUT_SECONDS, self.tick_budget_seconds / 3)

    @property
    def tick_secret(self) -> SecretStr | None:
        """The bearer token the cron endpoint accepts: CRON_SECRET, else ADMIN_API_KEY."""
        return self.cron_secret or self.admin_api_key

    @field_validator("http_allowlist", mode="before")
    @classmethod
    def _host_list(cls, value: Any) -> Any:
        return parse_host_list(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.strategy_timeout_seconds >= self.tick_budget_seconds:
            raise ValueError(
                "CASCADIAN_STRATEGY_TIMEOUT_SECONDS must be below CASCADIAN_TICK_BUDGET_SECONDS: "
                "a tick only starts a run it can let finish"
            )
        if self.lease_seconds <= self.strategy_timeout_seconds:
            raise ValueError(
                "CASCADIAN_LEASE_SECONDS must exceed CASCADIAN_STRATEGY_TIMEOUT_SECONDS, "
                "or a live run could lose its lease to another tick"
            )
        if self.executor == "http" and not self.executor_url:
            raise ValueError("CASCADIAN_EXECUTOR=http needs CASCADIAN_EXECUTOR_URL")
        if self.uses_supabase and not str(self.supabase_url).startswith(("https://", "http://")):
            raise ValueError("SUPABASE_URL must be the project's https:// URL")
        if self.is_production:
            for name, value in (
                ("CRON_SECRET", self.cron_secret),
                ("ADMIN_API_KEY", self.admin_api_key),
                ("SUPABASE_SERVICE_ROLE_KEY", self.supabase_service_role_key),
            ):
                if value is not None and value.get_secret_value().lower() in PLACEHOLDER_SECRETS:
                    raise ValueError(f"{name} is a placeholder; set a real secret in production")
        return self


def parse_host_list(text: str) -> list[str]:
    """`["a.internal", "10.0.0.0/8"]` or `a.internal, 10.0.0.0/8`: the same list."""
    text = text.strip()
    if not text.startswith(("[", "{", '"')):
        return [host.strip() for host in text.split(",") if host.strip()]
    try:
        hosts = json.loads(text)
    except json.JSONDecodeError:
        hosts = None
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise ValueError(
            "must be a JSON list of strings, or hosts separated by commas "
            '(e.g. ["a.internal", "10.0.0.0/8"] or a.internal,10.0.0.0/8)'
        )
    return hosts


@lru_cache
def get_settings() -> Settings:
    return Settings()
