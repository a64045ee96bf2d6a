"""original-manual-copy-trade and original-copy-trade-watch: the original's copy
trading (lib/copytrade/), which only ran in its browser, on Polymarket's public trades.

Both read each source wallet's trades since the last run (`/v2/trades?user=&start=`,
from the newest trade seen, persisted per strategy and node; a wallet's first read
only sets where copying starts) and record every trade once (migrations/038), so a
duplicate, a replayed page or a late trade counts once.

MANUAL_COPY_TRADE, as the original's engine: the wallets are `walletsCsv` (comma or
newline separated, 0x addresses, de-duplicated), else the input's wallets (a
WALLET_FILTER's); a trade votes for its market, side and outcome unless its notional
(size x price) is below `minSourceNotionalUsd`; a consensus (`consensusMode`: any =
1 wallet, two_agree = 2, n_of_m = `nRequired`, all = every wallet) triggers once per
market, side and outcome, and its copy is ONE paper order through the trading book
(limits, cash, kill switch; nothing is sent to Polymarket): the source trade's
notional times `copyRatio` (ours, 1 unless set), on the same token and side, and
kept by token: the position is the token's market (its Gamma id, looked up by the
token) and outcome, as a buy node's is, so the tick's bookkeeping marks it and
settles it when the market resolves, and EXIT_SIGNAL can sell it. A copy above
`maxCopyPerTradeUsd` is refused, as the original's execution adapter refused it
(status `skipped`, reason `notional_exceeds_max: <copy> > <max>`), and recorded in
the trading book as a refused order (`node_max_order`), so it is answered once and
never retried. The order is keyed by the consensus, so a retried or re-run run
places it once; a copy owed by a run that died before placing it is placed by the
next.
`dryRun` is read and ignored: every order here is a paper order.

COPY_TRADE_WATCH: the same reads, no orders: `{snapshot, recentEvents, source}` in
the original's shapes.
"""

from __future__ import annotations

import asyncio
import re
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from pydantic import Field, field_validator

from cascadian.data import OrderIntent, OwedCopy, SourceTrade
from cascadian.workflow.market.positions import PositionMarkets
from cascadian.workflow.market.service import MarketData
from cascadian.workflow.market.upstream import PolymarketRejected
from cascadian.workflow.node_api import NodeContext, NodeError, NodeType
from cascadian.workflow.original.nodes.common import OriginalConfig, epoch_ms, items
from cascadian.workflow.wallets.records import Trade

CENT = Decimal("0.01")
_SPLIT = re.compile(r"[,\n]")


def parse_wallets(text: str) -> list[str]:
    """The original's parseWalletsCsv: trimmed, lower-cased 0x addresses, once each."""
    found = [w.strip().lower() for w in _SPLIT.split(text or "")]
    return list(dict.fromkeys(w for w in found if w.startswith("0x")))


class CopyConfig(OriginalConfig):
    walletsCsv: str = Field(default="", max_length=100_000)
    # Ours: how many of each wallet's newest trades one run reads (up to 1,000).
    maxTradesPerWallet: int = Field(default=100, ge=1, le=1000)

    @field_validator("walletsCsv", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        if isinstance(value, list):
            return ",".join(str(v) for v in value)
        return value if value is not None else ""


class ManualCopyTradeConfig(CopyConfig):
    consensusMode: Literal["any", "two_agree", "n_of_m", "all"] = "any"
    nRequired: int | None = Field(default=None, ge=1)
    minSourceNotionalUsd: float | None = Field(default=None, ge=0)
    maxCopyPerTradeUsd: float | None = Field(default=None, gt=0)
    copyRatio: float = Field(default=1.0, gt=0, le=100)
    dryRun: bool = True
    enableLogging: bool = True


class CopyTradeWatchConfig(CopyConfig):
    wallets: list[str] = Field(default_factory=list)
    max_recent_trades: int = Field(default=5, ge=1, le=1000)


def required_count(mode: str, wallets: int, n_required: int | None) -> int:
    """The original's getRequiredCount."""
    return {"any": 1, "two_agree": 2, "n_of_m": n_required or 2, "all": wallets}.get(mode, 1)


def _wallets(config: CopyConfig, ctx: NodeContext, extra: list[str] | None = None) -> list[str]:
    wallets = parse_wallets(",".join([config.walletsCsv, *(extra or [])]))
    if not wallets:
        rows = items(ctx, ("wallets", "data"))
        wallets = parse_wallets(
            ",".join(
                str(r.get("wallet_address") or r.get("wallet") or "")
                for r in rows
                if isinstance(r, dict)
            )
        )
    if not wallets:
        raise NodeError("No valid wallets found in CSV or in the node's input")
    return wallets


def consensus_key(trade: Trade) -> str:
    """The original's key: condition, side and outcome, lower case."""
    outcome = (trade.outcome or str(trade.outcome_index)).lower()
    return f"{trade.condition_id.lower()}:{trade.side.lower()}:{outcome}"


def trade_record(trade: Trade) -> dict[str, Any]:
    return {
        "wallet": trade.wallet,
        "side": trade.side,
        "token_id": trade.token_id,
        "condition_id": trade.condition_id,
        "outcome": trade.outcome,
        "outcome_index": trade.outcome_index,
        "size": str(trade.size),
        "price": str(trade.price),
        "notional": str(trade.notional),
        "timestamp": trade.timestamp,
        "transaction_hash": trade.transaction_hash,
        "title": trade.title,
    }


async def _read(
    config: CopyConfig, ctx: NodeContext, wallets: list[str]
) -> tuple[dict[str, int], list[Trade]]:
    """Each wallet's cursor, and its trades from there on."""
    store = ctx.services.copy_trade_store()
    cursors = await store.copy_trade_cursors(ctx.workflow.id, ctx.node_id, wallets)
    async with ctx.services.wallet_data() as data:
        pages = await asyncio.gather(
            *(
                data.trades(
                    w, config.maxTradesPerWallet, start=cursors.get(w), deadline=ctx.deadline
                )
                for w in wallets
            )
        )
    wanted = set(wallets)
    return cursors, [t for page in pages for t in page if t.wallet in wanted]


def _copy_amount(config: ManualCopyTradeConfig, notional: Decimal) -> Decimal:
    amount = notional * Decimal(str(config.copyRatio))
    return amount.quantize(CENT, rounding=ROUND_DOWN)


async def _place(
    config: ManualCopyTradeConfig, ctx: NodeContext, owed: OwedCopy, required: int
) -> dict[str, Any]:
    trade = owed.trade
    notional = Decimal(trade["notional"])
    decision: dict[str, Any] = {
        "decisionId": owed.order_key,
        "timestamp": epoch_ms(ctx),
        "sourceWallet": trade["wallet"],
        "sourceTradeId": trade["transaction_hash"],
        "marketId": trade["condition_id"],
        "conditionId": trade["condition_id"],
        "side": trade["side"].lower(),
        "outcome": trade["outcome"],
        "price": float(trade["price"]),
        "size": float(trade["size"]),
        "notionalUsd": float(notional),
        "consensusKey": owed.consensus_key,
        "consensusMode": config.consensusMode,
        "matchedWallets": owed.wallets,
        "matchedCount": len(owed.wallets),
        "requiredCount": required,
        "paper": True,
    }
    amount = _copy_amount(config, notional)
    if amount <= 0:
        return decision | {"status": "skipped", "reason": "copy_amount_below_one_cent"}
    cap = config.maxCopyPerTradeUsd
    maximum = None if cap is None else Decimal(str(cap))
    token = trade["token_id"]
    async with ctx.services.market_data() as markets:
        if not isinstance(markets, MarketData):
            raise NodeError("copy trading needs Polymarket's market data")
        state = await PositionMarkets.of(markets).market_of_token(token, deadline=ctx.deadline)
        if state is None:
            return decision | {"status": "error", "reason": f"no_open_market_for_token: {token}"}
        try:
            book = await markets.market_book(token, deadline=ctx.deadline)
        except PolymarketRejected as exc:
            return decision | {"status": "error", "reason": f"no_order_book: {exc}"}
    outcome = state.outcomes[state.token_ids.index(token)]
    decision |= {"marketId": state.market_id, "outcome": outcome, "tokenId": token}
    placed = await ctx.services.order_executor().place(
        OrderIntent(
            workflow_id=ctx.workflow.id,
            execution_id=ctx.workflow.execution_id,
            node_id=ctx.node_id,
            market_id=state.market_id,
            market_question=trade.get("title"),
            outcome=outcome,
            side="buy" if trade["side"] == "BUY" else "sell",
            amount_usd=amount,
            time_in_force="FAK",
            order_key=owed.order_key,
            node_max_usd=maximum,
            # Keyed orders are identified by their key; outside a recorded run (a
            # tool) the key stands for the run's slot too.
            slot=None if ctx.workflow.execution_id else owed.order_key,
        ),
        book,
        ctx.services.clock.now(),
    )
    reason: str | None
    if placed.refusal == "node_max_order" and maximum is not None:
        status = "skipped"
        reason = f"notional_exceeds_max: {amount:.2f} > {maximum.normalize():f}"
    else:
        status = "refused" if placed.result == "refused" else "executed"
        reason = placed.refusal or placed.detail
    return decision | {
        "status": status,
        "reason": reason,
        "copyAmountUsd": str(amount),
        "orderId": None if placed.order_id is None else str(placed.order_id),
        "orderResult": placed.result,
        "shares": str(placed.shares),
        "executedPrice": None if placed.average_price is None else str(placed.average_price),
        "replayed": placed.replayed,
        "recorded": placed.recorded,
    }


async def _copy(config: ManualCopyTradeConfig, ctx: NodeContext) -> dict[str, Any]:
    wallets = _wallets(config, ctx)
    required = required_count(config.consensusMode, len(wallets), config.nRequired)
    cursors, trades = await _read(config, ctx, wallets)
    minimum = config.minSourceNotionalUsd
    records = [
        SourceTrade(
            t.key,
            t.wallet,
            consensus_key(t),
            t.timestamp,
            t.wallet in cursors and (minimum is None or t.notional >= Decimal(str(minimum))),
            trade_record(t),
        )
        for t in trades
    ]
    observed = await ctx.services.copy_trade_store().observe_copy_trades(
        ctx.workflow.id, ctx.node_id, wallets, records, required, ctx.services.clock.now()
    )
    decisions = [await _place(config, ctx, owed, required) for owed in observed.owed]
    return {
        "decisions": decisions,
        "orders": sum(1 for d in decisions if d.get("orderResult") not in (None, "refused")),
        "newTrades": len(observed.new),
        "wallets": wallets,
        "firstRead": [w for w in wallets if w not in cursors],
        "consensusMode": config.consensusMode,
        "requiredCount": required,
        "source": "polymarket-data-api",
        "timestamp": epoch_ms(ctx),
    }


async def _watch(config: CopyTradeWatchConfig, ctx: NodeContext) -> dict[str, Any]:
    wallets = _wallets(config, ctx, config.wallets)
    _, trades = await _read(config, ctx, wallets)
    records = [
        SourceTrade(t.key, t.wallet, consensus_key(t), t.timestamp, False, trade_record(t))
        for t in trades
    ]
    observed = await ctx.services.copy_trade_store().observe_copy_trades(
        ctx.workflow.id, ctx.node_id, wallets, records, None, ctx.services.clock.now()
    )
    new = set(observed.new)
    fresh = sorted((t for t in trades if t.key in new), key=lambda t: -t.timestamp)
    snapshot = []
    for w in wallets:
        last = max((t for t in trades if t.wallet == w), key=lambda t: t.timestamp, default=None)
        snapshot.append(
            {
                "walletAddress": w,
                "lastTradeAt": None if last is None else last.timestamp,
                "lastMarketId": None if last is None else last.condition_id,
                "lastEventSlug": None,
            }
        )
    return {
        "snapshot": snapshot,
        "recentEvents": [
            {
                "walletAddress": t.wallet,
                "timestamp": t.timestamp,
                "marketId": t.condition_id,
                "conditionId": t.condition_id,
                "side": t.side.lower(),
                "outcome": t.outcome,
                "price": float(t.price),
                "size": float(t.size),
                "notionalUsd": float(t.notional),
            }
            for t in fresh[: config.max_recent_trades]
        ],
        "newTrades": len(new),
        "source": "polymarket-data-api",
        "timestamp": epoch_ms(ctx),
    }


MANUAL_COPY_TRADE = NodeType(
    name="original-manual-copy-trade",
    config_model=ManualCopyTradeConfig,
    run=_copy,
    description="The original's MANUAL_COPY_TRADE: consensus over wallets' new trades, "
    "each copy one PAPER order through the trading book.",
)
COPY_TRADE_WATCH = NodeType(
    name="original-copy-trade-watch",
    config_model=CopyTradeWatchConfig,
    run=_watch,
    description="The original's COPY_TRADE_WATCH: wallets' new trades since the last run.",
)
