"""Settings: one pydantic-settings class, read from the environment once."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cascadian.outbound.allowlist import parse_allowlist

PLACEHOLDER_SECRETS = {"changeme", "changethis", "secret", "password", "test"}
# Vercel recommends at least 16 random characters for CRON_SECRET; so do we, for
# every bearer secret, in production.
MIN_SECRET_LENGTH = 16
_SECRETS = (
    "cron_secret",
    "admin_api_key",
    "supabase_service_role_key",
    "executor_token",
    "llm_api_key",
    "alert_webhook_url",
    "supabase_jwt_secret",
)
# The most strategies one claim (and one tick's concurrency) may cover.
MAX_CLAIM = 1000
# A node's outgoing HTTP call never waits longer than this.
MAX_NODE_HTTP_TIMEOUT_SECONDS = 10.0
# Shared market answers are never kept longer than this.
MAX_MARKET_CACHE_SECONDS = 30.0
# How deep and big a strategy's graph may be (workflow/limits.py checks them). Depth:
# containers nested in one node, the edges, the variables or the trigger; the
# original builder's graphs nest 7 at most, and the ceiling stays well under what
# the API's JSON encoder writes back (about 250 levels with its envelope).
DEFAULT_GRAPH_MAX_DEPTH = 64
MAX_GRAPH_DEPTH = 200
DEFAULT_VARIABLES_MAX_BYTES = 262_144
# As CASCADIAN_MAX_REQUEST_BYTES's default: any graph the API reads passes.
DEFAULT_GRAPH_MAX_BYTES = 1_048_576


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

    # Signed-in users of the app (auth/): their Supabase access tokens are accepted
    # on the strategies, control, runs and paper routes when SUPABASE_URL names the
    # project. HS256 tokens need the project's legacy JWT secret; ES256/RS256 ones
    # are checked against the keys the project publishes (its JWKS).
    user_tokens: bool = Field(default=True, validation_alias="CASCADIAN_USER_TOKENS")
    supabase_jwt_secret: SecretStr | None = Field(
        default=None, validation_alias="SUPABASE_JWT_SECRET"
    )
    # Clock skew allowed on a token's exp and nbf.
    jwt_leeway_seconds: float = Field(
        default=30.0, ge=0, le=300, validation_alias="CASCADIAN_JWT_LEEWAY_SECONDS"
    )
    # Supabase's anonymous sign-ins (`is_anonymous`): refused, or users like any other.
    anonymous_users: Literal["refuse", "allow"] = Field(
        default="refuse", validation_alias="CASCADIAN_ANONYMOUS_USERS"
    )
    # The project's signing keys: how long they are kept, how long a fetch may take,
    # and how often an unknown `kid` may send a fetch early.
    jwks_cache_seconds: float = Field(
        default=600.0, gt=0, le=86_400, validation_alias="CASCADIAN_JWKS_CACHE_SECONDS"
    )
    jwks_timeout_seconds: float = Field(
        default=5.0, gt=0, le=30, validation_alias="CASCADIAN_JWKS_TIMEOUT_SECONDS"
    )
    jwks_refresh_seconds: float = Field(
        default=30.0, ge=0, le=3600, validation_alias="CASCADIAN_JWKS_REFRESH_SECONDS"
    )
    # Each user's share (a user's token; the operator key has none of these limits):
    # API requests per minute, strategies (current versions, not archived), dry runs
    # in flight at once. 0: no limit.
    user_requests_per_minute: int = Field(
        default=120, ge=0, validation_alias="CASCADIAN_USER_REQUESTS_PER_MINUTE"
    )
    user_max_strategies: int = Field(
        default=100, ge=0, validation_alias="CASCADIAN_USER_MAX_STRATEGIES"
    )
    user_max_dry_runs: int = Field(default=2, ge=0, validation_alias="CASCADIAN_USER_MAX_DRY_RUNS")
    user_max_backtests: int = Field(
        default=1, ge=0, validation_alias="CASCADIAN_USER_MAX_BACKTESTS"
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
    # The most of one owner's strategies in flight at once (the original spec's
    # "maximum concurrent executions per user"); claims are shared fairly across
    # owners. 0: no cap (claims are still interleaved by owner).
    owner_max_runs: int = Field(default=10, ge=0, validation_alias="CASCADIAN_OWNER_MAX_RUNS")
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
    # Attempts at one slot whose outcomes were never recorded before it is given up.
    max_attempts: int = Field(default=3, ge=1, validation_alias="CASCADIAN_MAX_ATTEMPTS")
    auto_pause_threshold: int = Field(
        default=3, ge=1, validation_alias="CASCADIAN_AUTO_PAUSE_THRESHOLD"
    )
    db_timeout_seconds: float = Field(
        default=5.0, gt=0, validation_alias="CASCADIAN_DB_TIMEOUT_SECONDS"
    )
    db_pool_size: int = Field(default=10, ge=1, validation_alias="CASCADIAN_DB_POOL_SIZE")
    # A run's node logs as rows of strategy_execution_logs (as before 051) instead of
    # one jsonb value of its execution row, for a deployment that reads that table.
    node_log_rows: bool = Field(default=False, validation_alias="CASCADIAN_NODE_LOG_ROWS")

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
    clob_url: str = Field(
        default="https://clob.polymarket.com", validation_alias="CASCADIAN_CLOB_URL"
    )
    # Identical public market requests within this long are made once (Gamma's own
    # edge cache already keeps answers for up to 5 minutes); 0: only concurrent ones.
    market_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        le=MAX_MARKET_CACHE_SECONDS,
        validation_alias="CASCADIAN_MARKET_CACHE_SECONDS",
    )
    # The same for live CLOB prices, which are worth reading fresh.
    price_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=MAX_MARKET_CACHE_SECONDS,
        validation_alias="CASCADIAN_PRICE_CACHE_SECONDS",
    )
    # Triggers (triggers/): whether each tick prices the armed triggers from the
    # CLOB's REST endpoints (the serverless tier; a worker with its market-channel
    # listener does not), and the market channel a worker's listener connects to.
    triggers_rest_prices: bool = Field(
        default=True, validation_alias="CASCADIAN_TRIGGERS_REST_PRICES"
    )
    market_ws_url: str = Field(
        default="wss://ws-subscriptions-clob.polymarket.com/ws/market",
        validation_alias="CASCADIAN_MARKET_WS_URL",
    )
    # Tokens one market-channel connection carries; a listener opens ceil(N / this)
    # connections. Polymarket documents no limit; third-party guides report 500
    # refused, and clients that shard choose 200 (triggers/listener.py).
    trigger_tokens_per_connection: int = Field(
        default=200, ge=1, le=500, validation_alias="CASCADIAN_TRIGGER_TOKENS_PER_CONNECTION"
    )
    # The taker fee rate (a fraction: 0.02 is 2%) of a paper order whose market's rate
    # the CLOB's /fee-rate does not answer; the order says it used this default.
    default_fee_rate: Decimal = Field(
        default=Decimal("0.02"), ge=0, le=1, validation_alias="CASCADIAN_DEFAULT_FEE_RATE"
    )
    # How long a market's fee rate from the CLOB is kept (rates change rarely).
    fee_rate_cache_seconds: float = Field(
        default=3600.0, ge=0, validation_alias="CASCADIAN_FEE_RATE_CACHE_SECONDS"
    )
    # How often a ticking process settles resolved markets and marks open positions
    # (trading/marking.py); 0: never.
    mark_every_seconds: float = Field(
        default=60.0, ge=0, le=3600, validation_alias="CASCADIAN_MARK_EVERY_SECONDS"
    )
    # Requests per 10 s this process sends; half of Polymarket's published limits
    # (Gamma /markets 300, CLOB /midpoints and /prices 500 each), so that two
    # processes behind one address stay within them.
    gamma_rate_limit: int = Field(default=150, ge=1, validation_alias="CASCADIAN_GAMMA_RATE_LIMIT")
    clob_rate_limit: int = Field(default=250, ge=1, validation_alias="CASCADIAN_CLOB_RATE_LIMIT")
    # Polymarket's Data API (wallets, holders, trades: workflow/wallets/). Requests per
    # 10 s this process sends, half of the published limits (1,000 general, 200 for
    # /trades, 150 for /positions and /closed-positions), as for Gamma and the CLOB.
    data_api_url: str = Field(
        default="https://data-api.polymarket.com", validation_alias="CASCADIAN_DATA_API_URL"
    )
    data_api_rate_limit: int = Field(
        default=500, ge=1, le=1000, validation_alias="CASCADIAN_DATA_API_RATE_LIMIT"
    )
    data_api_trades_rate_limit: int = Field(
        default=100, ge=1, le=200, validation_alias="CASCADIAN_DATA_API_TRADES_RATE_LIMIT"
    )
    data_api_positions_rate_limit: int = Field(
        default=75, ge=1, le=150, validation_alias="CASCADIAN_DATA_API_POSITIONS_RATE_LIMIT"
    )
    # The most wallets one DATA_SOURCE reads from the leaderboard (paged); a node asking
    # for more fails, naming this setting.
    wallet_universe_max: int = Field(
        default=200, ge=1, le=10_000, validation_alias="CASCADIAN_WALLET_UNIVERSE_MAX"
    )
    # A wallet's metrics (from its closed positions) are kept in the database this long
    # and shared by every strategy and worker; one upstream read per wallet per period.
    wallet_metrics_ttl_seconds: float = Field(
        default=3600.0, ge=0, le=7 * 86_400, validation_alias="CASCADIAN_WALLET_METRICS_TTL_SECONDS"
    )
    # The newest closed positions read per wallet (pages of 50) for its metrics.
    wallet_closed_positions_max: int = Field(
        default=500, ge=50, le=5000, validation_alias="CASCADIAN_WALLET_CLOSED_POSITIONS_MAX"
    )
    # Markets per Gamma keyset page; public clients report caps of 100 and 1,000.
    gamma_page_size: int = Field(
        default=100, ge=1, le=1000, validation_alias="CASCADIAN_GAMMA_PAGE_SIZE"
    )
    # Hosts or CIDRs the http-request node may reach although they are private:
    # a JSON list, or comma-separated (NoDecode: parsed by _host_list, not as JSON).
    http_allowlist: Annotated[list[str], NoDecode] = Field(
        default=[], validation_alias="CASCADIAN_HTTP_ALLOWLIST"
    )
    # The largest request body the API reads; larger ones get 413 unread.
    max_request_bytes: int = Field(
        default=1_048_576, ge=1024, validation_alias="CASCADIAN_MAX_REQUEST_BYTES"
    )
    # The most items a collection node (filter, transform, watchlist) handles.
    node_max_items: int = Field(default=100_000, ge=1, validation_alias="CASCADIAN_NODE_MAX_ITEMS")
    # How deep and big a strategy's graph may be (workflow/limits.py): checked when
    # it is saved (422) and before each run (the run fails).
    graph_max_depth: int = Field(
        default=DEFAULT_GRAPH_MAX_DEPTH,
        ge=8,
        le=MAX_GRAPH_DEPTH,
        validation_alias="CASCADIAN_GRAPH_MAX_DEPTH",
    )
    variables_max_bytes: int = Field(
        default=DEFAULT_VARIABLES_MAX_BYTES, ge=2, validation_alias="CASCADIAN_VARIABLES_MAX_BYTES"
    )
    graph_max_bytes: int = Field(
        default=DEFAULT_GRAPH_MAX_BYTES, ge=1024, validation_alias="CASCADIAN_GRAPH_MAX_BYTES"
    )
    # How many distinct graphs the executor keeps validated (0: validate every run).
    graph_cache_size: int = Field(
        default=1_000, ge=0, le=100_000, validation_alias="CASCADIAN_GRAPH_CACHE_SIZE"
    )
    # The garbage collector's first threshold in a process that ticks (bootstrap.tune_gc);
    # 0 leaves Python's own (700).
    gc_threshold: int = Field(
        default=10_000, ge=0, le=1_000_000, validation_alias="CASCADIAN_GC_THRESHOLD"
    )
    # The notify node's type when its config names none.
    notify_type: str = Field(
        default="strategy_update",
        min_length=1,
        max_length=64,
        validation_alias="CASCADIAN_NOTIFY_TYPE",
    )
    http_max_response_bytes: int = Field(
        default=1_000_000, ge=1, validation_alias="CASCADIAN_HTTP_MAX_RESPONSE_BYTES"
    )

    # The original builder's javascript and conditional nodes, run in sandbox processes
    # (workflow/sandbox/). Per evaluation: its CPU time and memory (QuickJS's limits,
    # and the kernel's on the sandbox process), and the wall-clock time after which
    # its process is killed.
    js_cpu_seconds: float = Field(
        default=1.0, gt=0, le=30, validation_alias="CASCADIAN_JS_CPU_SECONDS"
    )
    js_memory_mb: int = Field(default=32, ge=1, le=1024, validation_alias="CASCADIAN_JS_MEMORY_MB")
    js_wall_seconds: float = Field(
        default=5.0, gt=0, le=120, validation_alias="CASCADIAN_JS_WALL_SECONDS"
    )
    # Sandbox processes this process keeps (started when first needed), and how many
    # evaluations may wait for one before the next fails as "busy".
    js_processes: int = Field(default=2, ge=1, le=64, validation_alias="CASCADIAN_JS_PROCESSES")
    js_max_waiting: int = Field(default=100, ge=0, validation_alias="CASCADIAN_JS_MAX_WAITING")
    # Fan-out: one run's evaluations in flight at once, the JSON one run's evaluations
    # may return in all, and what the runs in flight in this process may hold together.
    js_run_concurrency: int = Field(
        default=4, ge=1, le=64, validation_alias="CASCADIAN_JS_RUN_CONCURRENCY"
    )
    js_run_output_bytes: int = Field(
        default=8_000_000, ge=1, validation_alias="CASCADIAN_JS_RUN_OUTPUT_BYTES"
    )
    js_process_output_bytes: int = Field(
        default=64_000_000, ge=1, validation_alias="CASCADIAN_JS_PROCESS_OUTPUT_BYTES"
    )

    # The original builder's llm-analysis node: an OpenAI-compatible chat-completions
    # endpoint (workflow/llm.py). Unset: strategies with that node are refused.
    llm_base_url: str | None = Field(default=None, validation_alias="CASCADIAN_LLM_BASE_URL")
    llm_api_key: SecretStr | None = Field(default=None, validation_alias="CASCADIAN_LLM_API_KEY")
    # The model names strategies saved (e.g. "gemini-1.5-flash") -> the provider's;
    # "*" is the model for any other name. Names not mapped are sent as they are.
    llm_models: dict[str, str] = Field(default={}, validation_alias="CASCADIAN_LLM_MODELS")
    llm_timeout_seconds: float = Field(
        default=20.0, gt=0, le=120, validation_alias="CASCADIAN_LLM_TIMEOUT_SECONDS"
    )
    # The most tokens one reply may have, whatever a node's maxTokens says.
    llm_max_tokens: int = Field(
        default=1000, ge=1, le=100_000, validation_alias="CASCADIAN_LLM_MAX_TOKENS"
    )

    # Retention (retention.py): history older than this is pruned, in bounded
    # batches in every tick and by `cascadian prune`; 0 keeps it for ever.
    retention_run_days: float = Field(
        default=30.0, ge=0, validation_alias="CASCADIAN_RETENTION_RUN_DAYS"
    )
    # The newest runs of each strategy kept whatever their age (its latest at least).
    retention_keep_runs: int = Field(
        default=50, ge=1, validation_alias="CASCADIAN_RETENTION_KEEP_RUNS"
    )
    retention_tick_days: float = Field(
        default=14.0, ge=0, validation_alias="CASCADIAN_RETENTION_TICK_DAYS"
    )
    # Read notifications only; unread ones are kept.
    retention_notification_days: float = Field(
        default=90.0, ge=0, validation_alias="CASCADIAN_RETENTION_NOTIFICATION_DAYS"
    )
    # The audit log (who changed what): kept long, it is small (a row per change).
    retention_audit_days: float = Field(
        default=365.0, ge=0, validation_alias="CASCADIAN_RETENTION_AUDIT_DAYS"
    )
    # Points of the paper portfolios' equity curves; 0: kept for ever.
    retention_equity_days: float = Field(
        default=90.0, ge=0, validation_alias="CASCADIAN_RETENTION_EQUITY_DAYS"
    )
    # What one tick's prune may delete (rows, node logs included) and take; 0 rows:
    # ticks do not prune (`cascadian prune` still does).
    prune_max_rows: int = Field(default=5000, ge=0, validation_alias="CASCADIAN_PRUNE_MAX_ROWS")
    prune_max_ms: int = Field(
        default=250, ge=1, le=10_000, validation_alias="CASCADIAN_PRUNE_MAX_MS"
    )

    # Recorded market history, for backtests (docs/backtests.md). On by default: history
    # not recorded now can never be backtested later, and it is bounded by retention.
    history_record: bool = Field(default=True, validation_alias="CASCADIAN_HISTORY_RECORD")
    # A market's (or token's) state is recorded at most this often: a backtest sees
    # the market at this resolution (Polymarket's public series are 1 and 5 minutes).
    history_every_seconds: float = Field(
        default=300.0, ge=10, le=3600, validation_alias="CASCADIAN_HISTORY_EVERY_SECONDS"
    )
    # Recorded states last seen longer ago than this are pruned; 0: kept for ever.
    history_retention_days: float = Field(
        default=30.0, ge=0, validation_alias="CASCADIAN_HISTORY_RETENTION_DAYS"
    )
    # Imported prices (`cascadian import-prices`) are stamped with their own, past
    # times: the window above would delete them at the next tick. Those older than
    # this are pruned; 0 (the default): kept for ever, as far back as a backtest looks.
    imported_history_retention_days: float = Field(
        default=0.0, ge=0, validation_alias="CASCADIAN_IMPORTED_HISTORY_RETENTION_DAYS"
    )
    # The longest window one backtest may cover, and the most slots it may run.
    backtest_max_days: float = Field(
        default=90.0, gt=0, le=3660, validation_alias="CASCADIAN_BACKTEST_MAX_DAYS"
    )
    backtest_max_slots: int = Field(
        default=50_000, ge=1, validation_alias="CASCADIAN_BACKTEST_MAX_SLOTS"
    )
    # The most backtest child processes a server process runs at once (each is a
    # core's worth of CPU beside the ticks); past it a backtest is refused (429).
    backtest_max_processes: int = Field(
        default=2, ge=1, le=64, validation_alias="CASCADIAN_BACKTEST_MAX_PROCESSES"
    )
    # Where no book was recorded, a backtest's order fills against a book made from the
    # midpoint: this half-spread either side (a fraction of a dollar per share).
    backtest_half_spread: Decimal = Field(
        default=Decimal("0.01"),
        ge=0,
        le=Decimal("0.5"),
        validation_alias="CASCADIAN_BACKTEST_HALF_SPREAD",
    )

    # Health is degraded when the oldest due strategy is later than this.
    max_schedule_lag_seconds: float = Field(
        default=300.0, gt=0, validation_alias="CASCADIAN_MAX_SCHEDULE_LAG_SECONDS"
    )
    # GET /api/health answers a snapshot at most this old (per process; 0: a read per
    # request, concurrent requests still sharing one).
    health_cache_seconds: float = Field(
        default=5.0, ge=0, le=300, validation_alias="CASCADIAN_HEALTH_CACHE_SECONDS"
    )
    log_format: Literal["text", "json"] = Field(
        default="text", validation_alias="CASCADIAN_LOG_FORMAT"
    )

    # Operators' alerts (observers/alerts.py): a webhook POSTed on an auto-pause and on
    # ticks failing alert_failed_ticks times in a row. A secret: webhook URLs
    # often carry their token.
    alert_webhook_url: SecretStr | None = Field(
        default=None, validation_alias="CASCADIAN_ALERT_WEBHOOK_URL"
    )
    alert_failed_ticks: int = Field(
        default=3, ge=1, validation_alias="CASCADIAN_ALERT_FAILED_TICKS"
    )
    # The most one alert may take, its retries included.
    alert_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, validation_alias="CASCADIAN_ALERT_TIMEOUT_SECONDS"
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
    def user_token_issuer(self) -> str | None:
        """The `iss` of the project's access tokens; None: user tokens are off."""
        if not self.user_tokens or not self.supabase_url:
            return None
        return f"{str(self.supabase_url).rstrip('/')}/auth/v1"

    @property
    def tick_secret(self) -> SecretStr | None:
        """The bearer token the cron endpoint accepts: CRON_SECRET, else ADMIN_API_KEY."""
        return self.cron_secret or self.admin_api_key

    @field_validator(*_SECRETS, "database_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        """A variable defined but left blank (easy to do in Vercel) is unset, never a
        secret that an empty bearer token would match."""
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(text, str):
            return value
        # Surrounding whitespace (a pasted newline) is not part of a bearer token,
        # which is compared stripped.
        return text.strip() or None

    @field_validator("http_allowlist", mode="before")
    @classmethod
    def _host_list(cls, value: Any) -> Any:
        entries = parse_host_list(value) if isinstance(value, str) else value
        if isinstance(entries, list) and all(isinstance(e, str) for e in entries):
            parse_allowlist(entries)  # a bad entry is refused at start-up, saying which
        return entries

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
        if self.llm_base_url is not None and not self.llm_base_url.startswith(
            ("https://", "http://")
        ):
            raise ValueError("CASCADIAN_LLM_BASE_URL must be an http(s):// URL")
        if (
            self.alert_webhook_url is not None
            and not self.alert_webhook_url.get_secret_value().startswith(("https://", "http://"))
        ):
            raise ValueError("CASCADIAN_ALERT_WEBHOOK_URL must be an http(s):// URL")
        if self.uses_supabase and not str(self.supabase_url).startswith(("https://", "http://")):
            raise ValueError("SUPABASE_URL must be the project's https:// URL")
        if self.is_production:
            self._check_production_secrets()
        return self

    def _check_production_secrets(self) -> None:
        for name, value in (
            ("CRON_SECRET", self.cron_secret),
            ("ADMIN_API_KEY", self.admin_api_key),
            ("SUPABASE_SERVICE_ROLE_KEY", self.supabase_service_role_key),
            ("CASCADIAN_EXECUTOR_TOKEN", self.executor_token),
            ("CASCADIAN_LLM_API_KEY", self.llm_api_key),
            ("SUPABASE_JWT_SECRET", self.supabase_jwt_secret),
        ):
            if value is None:
                continue
            secret = value.get_secret_value()
            if secret.lower() in PLACEHOLDER_SECRETS:
                raise ValueError(f"{name} is a placeholder; set a real secret in production")
            if len(secret.strip()) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"{name} is {len(secret.strip())} characters; production needs at least "
                    f"{MIN_SECRET_LENGTH} random ones: set it to e.g. `openssl rand -hex 32`"
                )


def parse_host_list(text: str) -> list[str]:
    """`["a.internal", "10.0.0.0/8"]` or `a.internal, 10.0.0.0/8`: the same list."""
    text = text.strip()
    # "[fd00::1]:8080, ..." starts with a bracket too: it is a JSON list only if it parses.
    if text.startswith("[") and not text.startswith(('["', "[ ", "[]")):
        try:
            json.loads(text)
        except json.JSONDecodeError:
            return [host.strip() for host in text.split(",") if host.strip()]
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
