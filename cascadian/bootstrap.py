"""The composition root: which store and which executor this process uses, the
dry-run executor beside it (the same nodes, on services that write nothing), and the
process's garbage collector, tuned for ticking."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
from psycopg.conninfo import conninfo_to_dict

from cascadian.auth.jwks import Jwks
from cascadian.auth.quotas import UserQuotas
from cascadian.auth.tokens import TokenVerifier
from cascadian.backtests.process import ProcessBacktester
from cascadian.backtests.recording import HistoryRecorder
from cascadian.backtests.runner import Backtester
from cascadian.backtests.service import BacktestService
from cascadian.clock import Clock, SystemClock
from cascadian.config import Settings
from cascadian.console.service import ConsoleService
from cascadian.control import ControlService
from cascadian.data import MarketBook
from cascadian.errors import ConfigurationError
from cascadian.observers.alerts import Alerts
from cascadian.observers.metrics import WorkerMetrics
from cascadian.operators.bulk import BulkService
from cascadian.operators.runs import RunsService
from cascadian.outbound.ssrf import Resolver
from cascadian.outbound.tls import tls_context
from cascadian.ports import FullStore, TickObserver, TradingObserver, WorkflowExecutor
from cascadian.store.sql_store import SqlStore
from cascadian.strategies import StrategyService
from cascadian.tick import TickService
from cascadian.trading.controls import TradingService
from cascadian.trading.decisions import DecisionService
from cascadian.trading.executor import PaperExecutor
from cascadian.trading.marking import Marking
from cascadian.trading.paper import PaperService
from cascadian.triggers.service import TriggerService
from cascadian.workflow.market import MarketData
from cascadian.workflow.market.positions import PositionMarkets
from cascadian.workflow.market.tap import HistoryTap
from cascadian.workflow.market.upstream import PolymarketRejected
from cascadian.workflow.original.markets import LiveMarks
from cascadian.workflow.sandbox.pool import JsSandbox
from cascadian.workflow.wallets import WalletData

if TYPE_CHECKING:
    from cascadian.workflow.dry_run import DryRunner, DryRunTransport

log = logging.getLogger(__name__)


def tune_gc(settings: Settings) -> None:
    """Set the collector's first threshold to CASCADIAN_GC_THRESHOLD (0: leave Python's).

    A run allocates hundreds of container objects (tasks, futures, node records, the
    outcome's JSON) that its end frees again by reference counting. With Python's
    default first threshold (700 allocations) the collector still runs every few
    runs and walks the young objects each time: about a tenth of a no-op run's CPU
    (docs/performance.md, section 14). A higher threshold collects the same cycles,
    less often; the young objects it lets pile up are a few MB at most. It is the
    process's setting: set when the services are built, and kept (a later 0 does not
    restore Python's).
    """
    if settings.gc_threshold:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(settings.gc_threshold, older, oldest)


def database_url(settings: Settings) -> str:
    """DATABASE_URL when set, else the embedded PostgreSQL under CASCADIAN_DATA_DIR.

    With Supabase configured, a direct connection (migrations, the demo) needs
    DATABASE_URL: starting an embedded PostgreSQL beside Supabase would be a mistake.
    """
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    if settings.uses_supabase:
        raise ConfigurationError(
            "SUPABASE_URL is set but DATABASE_URL is not: migrations connect directly; set "
            "DATABASE_URL to the Supabase pooler in session mode (port 5432)"
        )
    from cascadian.store.embedded import embedded_database_url

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


def supabase_timeout(settings: Settings) -> httpx.Timeout:
    """Each PostgREST call's timeout: a fifth of the tick budget, at most 10 s."""
    return httpx.Timeout(
        min(10.0, settings.tick_budget_seconds / 5), connect=settings.db_timeout_seconds
    )


async def open_store(settings: Settings) -> SqlStore:
    """Supabase settings: the store over PostgREST; else over psycopg to DATABASE_URL,
    else to the embedded PostgreSQL."""
    if settings.uses_supabase:
        assert settings.supabase_url and settings.supabase_service_role_key  # uses_supabase
        supabase = await SqlStore.supabase(
            settings.supabase_url,
            settings.supabase_service_role_key.get_secret_value(),
            request_timeout=supabase_timeout(settings),
        )
        supabase.node_log_rows = settings.node_log_rows
        log.info(
            "store: supabase %s (PostgREST, service role)", urlsplit(settings.supabase_url).hostname
        )
        return supabase
    if settings.supabase_service_role_key is not None:
        log.warning("SUPABASE_SERVICE_ROLE_KEY is set without SUPABASE_URL: not using Supabase")
    url = database_url(settings)
    store = SqlStore.postgres(
        url, pool_size=settings.db_pool_size, timeout=settings.db_timeout_seconds
    )
    store.node_log_rows = settings.node_log_rows
    await store.open()
    where = "DATABASE_URL" if settings.database_url is not None else "embedded"
    log.info("store: %s (%s)", describe(url), where)
    return store


def build_executor(
    settings: Settings,
    http: httpx.AsyncClient,
    store: FullStore | None = None,
    clock: Clock | None = None,
    markets: MarketData | None = None,
    javascript: JsSandbox | None = None,
    trading_observers: Sequence[TradingObserver] = (),
    wallets: WalletData | None = None,
) -> WorkflowExecutor:
    """The executor CASCADIAN_EXECUTOR names; graph nodes get the HTTP client, the
    store, the clock, the process's market data (its rate limits and shared
    requests; built here unless given), its JavaScript sandbox (without one, each
    run starts its own) and the paper order executor, which tells
    `trading_observers` (metrics, alerts) what each order did."""
    if settings.executor == "http":
        from cascadian.workflow.http_executor import HttpExecutor

        assert settings.executor_url is not None  # checked by Settings
        return HttpExecutor(
            settings.executor_url,
            settings.executor_token,
            client=http,
            timeout=settings.strategy_timeout_seconds,
        )
    from cascadian.workflow.executor import GraphExecutor
    from cascadian.workflow.node_api import NodeServices

    markets = markets or MarketData.create(settings, http)
    services = NodeServices(
        settings,
        http=http,
        store=store,
        clock=clock or SystemClock(),
        markets=markets,
        javascript=javascript,
        orders=None if store is None else PaperExecutor(store, trading_observers),
        wallets=wallets or WalletData.create(settings, http, store),
        copy_trades=store,
        marks=store,
        decisions=store,
    )
    return GraphExecutor(services=services)


def build_dry_runner(
    settings: Settings,
    http: httpx.AsyncClient,
    clock: Clock | None = None,
    markets: MarketData | None = None,
    javascript: JsSandbox | None = None,
) -> DryRunner:
    """The executor of dry runs, always in-process: the node store writes nothing
    and `http` (built on dry_run_transport) sends only reads; the market data and
    the JavaScript sandbox may be the process's own (they write nothing)."""
    from cascadian.workflow.dry_run import (
        DryRunDecisions,
        DryRunner,
        DryRunOrders,
        DryRunStore,
        tagged,
    )
    from cascadian.workflow.executor import GraphExecutor
    from cascadian.workflow.node_api import NodeServices
    from cascadian.workflow.registry import default_registry

    services = NodeServices(
        settings,
        http=http,
        store=DryRunStore(),
        clock=clock or SystemClock(),
        markets=markets or MarketData.create(settings, http),
        javascript=javascript,
        orders=DryRunOrders(PaperExecutor(None)),
        decisions=DryRunDecisions(),
        # Reads only: a dry run keeps no wallet metrics.
        wallets=WalletData.create(settings, http),
    )
    executor = GraphExecutor(registry=tagged(default_registry()), services=services)
    return DryRunner(executor, settings.strategy_timeout_seconds)


def dry_run_transport(settings: Settings) -> DryRunTransport:
    """Reads go out; any other call is answered unsent, but the LLM provider's
    chat completion when a dry run allows it."""
    from cascadian.workflow.dry_run import DryRunTransport
    from cascadian.workflow.llm import LlmProvider

    provider = LlmProvider.from_settings(settings)
    chat_url = provider.chat_url if provider is not None else None
    return DryRunTransport(httpx.AsyncHTTPTransport(verify=tls_context()), llm_chat_url=chat_url)


def token_verifier(
    settings: Settings, http: httpx.AsyncClient, resolver: Resolver | None = None
) -> TokenVerifier | None:
    """The verifier of the project's users' access tokens; None when SUPABASE_URL is
    unset or CASCADIAN_USER_TOKENS is off. HS256 needs SUPABASE_JWT_SECRET; ES256 and
    RS256 use the keys published at the project's JWKS URL."""
    issuer = settings.user_token_issuer
    if issuer is None:
        return None
    keys = Jwks(
        f"{issuer}/.well-known/jwks.json",
        http,
        allowlist=settings.http_allowlist,
        timeout_seconds=settings.jwks_timeout_seconds,
        cache_seconds=settings.jwks_cache_seconds,
        refresh_seconds=settings.jwks_refresh_seconds,
        resolver=resolver,
    )
    return TokenVerifier(
        issuer,
        secret=settings.supabase_jwt_secret,
        jwks=keys,
        leeway_seconds=settings.jwt_leeway_seconds,
        allow_anonymous=settings.anonymous_users == "allow",
    )


@dataclass(frozen=True)
class Services:
    """What a process runs on: the store, and the tick, control, paper-trading,
    trading (limits, switches, portfolio), console and strategy services over it,
    and the JavaScript sandbox their runs share."""

    store: FullStore
    ticks: TickService
    control: ControlService
    paper: PaperService
    trading: TradingService
    console: ConsoleService
    metrics: WorkerMetrics
    alerts: Alerts
    strategies: StrategyService
    javascript: JsSandbox
    # Backtests over the recorded history (backtests/).
    backtests: BacktestService
    runs: RunsService
    bulk: BulkService
    triggers: TriggerService
    # Signed-in users: their tokens' verifier (None: user tokens are off) and shares.
    tokens: TokenVerifier | None
    quotas: UserQuotas
    # Records the market data ticks fetched (None: CASCADIAN_HISTORY_RECORD is off).
    history: HistoryRecorder | None = None
    # The orchestrator's decisions: listed, approved, rejected.
    decisions: DecisionService | None = None


class DecisionBooks:
    """The order books approvals fill against: the process's market data, each read
    within `seconds` (an approval is a request someone waits on)."""

    def __init__(self, markets: MarketData, seconds: float) -> None:
        self.markets, self.seconds = markets, seconds

    async def market_book(self, token_id: str) -> MarketBook | None:
        deadline = asyncio.get_running_loop().time() + self.seconds
        try:
            return await self.markets.market_book(token_id, deadline=deadline)
        except PolymarketRejected as exc:
            if exc.status == 404:
                return None
            raise


@asynccontextmanager
async def services(
    settings: Settings,
    *,
    store: FullStore | None = None,
    executor: WorkflowExecutor | None = None,
    clock: Clock | None = None,
    backtest_processes: bool = False,
) -> AsyncIterator[Services]:
    """Open the configured store (unless one is given) and the HTTP client nodes use,
    build the services, and close what was opened on the way out (the JavaScript
    sandbox's processes included: they start when first needed). With
    `backtest_processes`, each backtest runs in a child process that opens the
    configured store itself (a server's: backtests/process.py)."""
    tune_gc(settings)
    # The clients' timeout stays well under the tick budget.
    timeout = settings.node_http_timeout_seconds
    async with (
        httpx.AsyncClient(timeout=timeout, verify=tls_context()) as http,
        httpx.AsyncClient(timeout=timeout, transport=dry_run_transport(settings)) as dry_http,
    ):
        active = store if store is not None else await open_store(settings)
        sandbox = JsSandbox.from_settings(settings)
        try:
            # One per process: its rate limits and shared requests cover every use.
            tap = HistoryTap() if settings.history_record else None
            markets = MarketData.create(settings, http, tap=tap)
            history = None if tap is None else HistoryRecorder(active, tap, settings, clock)
            wallets = WalletData.create(settings, http, active)
            metrics = WorkerMetrics()  # this process's; /api/metrics adds the database's
            alerts = Alerts(settings, http, active, clock=clock, metrics=metrics)
            runner = executor or build_executor(
                settings,
                http,
                active,
                clock,
                markets,
                javascript=sandbox,
                trading_observers=[metrics, alerts],
                wallets=wallets,
            )
            observers: list[TickObserver] = [metrics, alerts]
            if history is not None:
                observers.append(history)
            dry = build_dry_runner(settings, dry_http, clock, markets, javascript=sandbox)
            strategies = StrategyService(
                active, dry, clock, max_user_strategies=settings.user_max_strategies
            )
            control = ControlService(
                active, clock, max_schedule_lag_seconds=settings.max_schedule_lag_seconds
            )
            triggers = TriggerService(
                active, markets, strategies, clock, rest_prices=settings.triggers_rest_prices
            )
            yield Services(
                active,
                # The tick tells its observers what happens, settles and marks the paper
                # positions, and runs the market's events besides due strategies; it
                # imports none of them.
                TickService(
                    active,
                    runner,
                    settings,
                    clock,
                    observers=observers,
                    bookkeeper=Marking(
                        active, PositionMarkets.of(markets), settings, clock, observers=[alerts]
                    ),
                    events=triggers,
                ),
                control,
                PaperService(active, LiveMarks(markets), stored=active),
                TradingService(active, clock or SystemClock()),
                ConsoleService(active, active, clock),
                metrics,
                alerts,
                strategies,
                sandbox,
                BacktestService(
                    strategies,
                    ProcessBacktester(settings, open_store)
                    if backtest_processes
                    else Backtester(active, settings, javascript=sandbox),
                    active,
                    clock,
                ),
                RunsService(active),
                BulkService(active, control, clock),
                triggers,
                token_verifier(settings, http),
                UserQuotas(
                    active,
                    clock,
                    requests_per_minute=settings.user_requests_per_minute,
                    max_dry_runs=settings.user_max_dry_runs,
                    max_backtests=settings.user_max_backtests,
                    slot_seconds=settings.lease_seconds,
                ),
                history,
                DecisionService(
                    active,
                    DecisionBooks(markets, settings.node_http_timeout_seconds),
                    clock or SystemClock(),
                    observers=[metrics, alerts],
                ),
            )
            # Alerts on their way get their own bounded time before the client closes.
            await alerts.drain(settings.alert_timeout_seconds)
            if history is not None:
                await history.drain(settings.db_timeout_seconds)
        finally:
            await sandbox.close()
            if store is None:
                await active.close()
