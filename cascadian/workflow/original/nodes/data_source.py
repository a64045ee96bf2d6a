"""original-data-source: the original's DATA_SOURCE (source WALLETS), on public data.

The original queried its warehouse (`SELECT wallet_address, omega, pnl_30d, ... FROM
wallet_metrics_complete WHERE trades_30d > 0 ORDER BY omega DESC LIMIT 10000`).
Here the wallet universe is Polymarket's leaderboard (/v2/leaderboard, cursor by
cursor: `category`, overall unless set; `window`, day, week, month (the default) or
all; `sortBy`, PNL or VOLUME), at most `limit` wallets (50 unless set, or the saved
`prefilters.limit`; more than CASCADIAN_WALLET_UNIVERSE_MAX fails, naming it); each
wallet's metrics come from its closed positions (workflow/wallets/metrics.py), kept
in the database for every strategy and worker. Then, as the original: wallets with
`trades_30d > 0`, by `omega`, highest first (none last).

Its `MARKETS` and `TRADES` sources were never implemented by the original and are
refused; so is a `prefilters.where` (SQL for the warehouse): use a WALLET_FILTER.
Output, the original's shape: `{wallets, count, source: "polymarket-data-api",
table, mode, timestamp}`, plus `unavailable` (the original's fields public data
cannot give, and why) and `universe` (the leaderboard read).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cascadian.workflow.node_api import NodeContext, NodeType
from cascadian.workflow.original.nodes.common import OriginalConfig, epoch_ms
from cascadian.workflow.wallets.metrics import UNAVAILABLE, WalletMetrics

DEFAULT_LIMIT = 50


class Prefilters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    table: str | None = None
    where: str | None = None
    limit: int | None = Field(default=None, ge=1)

    @field_validator("where")
    @classmethod
    def _no_sql(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            raise ValueError(
                "prefilters.where is SQL for the original's ClickHouse warehouse, which "
                "cascadian does not have: filter the wallets with a WALLET_FILTER node"
            )
        return value


class DataSourceConfig(OriginalConfig):
    source: str = "WALLETS"
    mode: str = "BATCH"
    table: str = "wallet_metrics_complete"
    prefilters: Prefilters = Field(default_factory=Prefilters)
    # Ours: which leaderboard is the wallet universe, and how many of its wallets.
    category: str = Field(default="overall", min_length=1, max_length=60)
    window: Literal["day", "week", "month", "all"] = "month"
    sortBy: Literal["PNL", "VOLUME"] = "PNL"
    limit: int | None = Field(default=None, ge=1)

    @field_validator("source")
    @classmethod
    def _wallets_only(cls, value: str) -> str:
        if value != "WALLETS":
            raise ValueError(
                f"source {value!r} cannot run: the original never implemented it (it "
                f"failed with '{value} data source not yet implemented'); only WALLETS runs"
            )
        return value

    @field_validator("window", "sortBy", mode="before")
    @classmethod
    def _case(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


def _omega_order(row: WalletMetrics) -> tuple[bool, float]:
    return (row.omega is None, -float(row.omega or 0))


async def _run(config: DataSourceConfig, ctx: NodeContext) -> dict[str, Any]:
    limit = config.limit or config.prefilters.limit or DEFAULT_LIMIT
    clock = ctx.services.clock.now
    async with ctx.services.wallet_data() as wallets:
        universe = await wallets.universe(
            limit,
            window=config.window,
            category=config.category.lower(),
            board=config.sortBy,
            deadline=ctx.deadline,
        )
        metrics = await wallets.metrics(
            [w.wallet for w in universe.wallets], clock, deadline=ctx.deadline
        )
    active = sorted((m for m in metrics.values() if m.trades_30d > 0), key=_omega_order)
    rows = ctx.check_size([m.to_output() for m in active])
    return {
        "wallets": rows,
        "count": len(rows),
        "source": "polymarket-data-api",
        "table": config.prefilters.table or config.table,
        "mode": config.mode,
        "timestamp": epoch_ms(ctx),
        "unavailable": dict(UNAVAILABLE),
        "universe": {
            "endpoint": "/v2/leaderboard",
            "category": config.category.lower(),
            "window": config.window,
            "sortBy": config.sortBy,
            "wallets": len(universe.wallets),
            "pages": universe.pages,
            "skipped": universe.skipped,
        },
    }


DATA_SOURCE = NodeType(
    name="original-data-source",
    config_model=DataSourceConfig,
    run=_run,
    description="The original's DATA_SOURCE (WALLETS): leaderboard wallets and their "
    "metrics from Polymarket's public Data API.",
)
