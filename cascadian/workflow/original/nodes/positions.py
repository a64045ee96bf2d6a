"""original-position-tracker and original-exit-signal: the original's POSITION_TRACKER
and EXIT_SIGNAL, which only ran in its browser, over the strategy's PAPER positions.

POSITION_TRACKER: the strategy's open paper positions (one SQL read, the trading
book's marks: migrations/025), each with its entry (average cost = cost / shares),
its live price, its value, unrealised P&L and percent from entry. The live price is
the bookkeeping step's stored best bid when it is at most `markMaxAgeSeconds` old
(ours, 300), else the token's best bid now: Gamma's markets and the CLOB's books,
ONE batched request each for every stale position together (workflow/market/
positions.py, through the process's upstreams and their rate limiters). A position
nothing prices (a resolved market, a book without bids) has no price and no P&L.
`showClosed`, `showResolved` and `pollIntervalSeconds` were the browser panel's:
read and ignored (closed positions are not listed; a run is one reading).

EXIT_SIGNAL: for each open position priced, a take-profit exit when its percent from
entry is at least `priceTargetPercent` and a stop-loss exit when it is at most minus
`stopLossPercent` (the builder saved `priceTargetPct`/`stopLossPct` without the
`*Enabled` flags: a percent given is a rule on; the panel's defaults 50 and 20 apply
to a rule enabled without one). Each exit sells the whole position through the
trading book (its limits, kill switch; the SQL refuses a sell of more than is held)
as ONE paper order keyed by (node, market, outcome, holding): a holding (the
position from the buy that opened it until it is sold or settled to nothing;
migrations/048) is exited once by a node, whichever rule fired, however often a run
is retried or re-run; once closed and bought again, the new holding can be exited.
A partly filled exit leaves the rest of its holding held: the node answers that
exit again and sells no more (a sell node or a settlement closes the rest).
`followWalletExits` and `maxHoldDays` need the copied wallets' exits and the
position's opening time: read, reported as not applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import Field

from cascadian.data import MarkedPosition, MarketState, OrderIntent
from cascadian.workflow.market.positions import PositionMarkets
from cascadian.workflow.market.service import MarketData
from cascadian.workflow.market.upstream import PolymarketRejected
from cascadian.workflow.node_api import NodeContext, NodeError, NodeType
from cascadian.workflow.original.nodes.common import OriginalConfig, epoch_ms

HUNDRED = Decimal(100)


class PositionTrackerConfig(OriginalConfig):
    showClosed: bool = False
    showResolved: bool = True
    pollIntervalSeconds: float | None = None
    # Ours: how old a stored mark may be and still be the live price.
    markMaxAgeSeconds: int = Field(default=300, ge=0, le=86_400)


class ExitSignalConfig(PositionTrackerConfig):
    priceTargetEnabled: bool | None = None
    priceTargetPercent: float | None = Field(default=None, gt=0, le=100_000)
    priceTargetPct: float | None = Field(default=None, gt=0, le=100_000)
    stopLossEnabled: bool | None = None
    stopLossPercent: float | None = Field(default=None, gt=0, le=100)
    stopLossPct: float | None = Field(default=None, gt=0, le=100)
    followWalletExits: bool | None = None
    followWalletExitsEnabled: bool | None = None
    maxHoldDays: float | None = None

    def rule(self, enabled: bool | None, *percents: float | None, default: float) -> Decimal | None:
        given = next((p for p in percents if p is not None), None)
        if enabled is False or (enabled is None and given is None):
            return None
        return Decimal(str(given if given is not None else default))


@dataclass(frozen=True)
class Priced:
    position: MarkedPosition
    price: Decimal | None
    source: str | None  # best_bid (the stored mark) or clob (read now)

    @property
    def entry(self) -> Decimal:
        return self.position.cost / self.position.shares

    @property
    def percent(self) -> Decimal | None:
        if self.price is None or self.entry <= 0:
            return None
        return (self.price - self.entry) / self.entry * HUNDRED

    def record(self) -> dict[str, Any]:
        p, value = self.position, None if self.price is None else self.position.shares * self.price
        return {
            "marketId": p.market_id,
            "outcome": p.outcome,
            "shares": str(p.shares),
            "entryPrice": str(self.entry),
            "costBasis": str(p.cost),
            "currentPrice": None if self.price is None else str(self.price),
            "priceSource": self.source,
            "marketValue": None if value is None else str(value),
            "unrealizedPnl": None if value is None else str(value - p.cost),
            "unrealizedPnlPercent": None if self.percent is None else str(self.percent),
            "paper": True,
        }


async def _states(
    ctx: NodeContext, market_ids: list[str]
) -> tuple[PositionMarkets, dict[str, MarketState]]:
    async with ctx.services.market_data() as markets:
        if not isinstance(markets, MarketData):
            raise NodeError("position nodes need Polymarket's market data")
        upstreams = PositionMarkets.of(markets)
    found = await upstreams.market_states(market_ids, deadline=ctx.deadline) if market_ids else []
    return upstreams, {s.market_id: s for s in found}


def _token(state: MarketState | None, outcome: str) -> str | None:
    if state is None or state.payouts is not None or not state.token_ids:
        return None
    names = [o.strip().lower() for o in state.outcomes]
    key = outcome.strip().lower()
    return state.token_ids[names.index(key)] if key in names else None


async def priced_positions(config: PositionTrackerConfig, ctx: NodeContext) -> list[Priced]:
    """The strategy's open paper positions at their live prices."""
    curve = await ctx.services.mark_store().equity_curve(ctx.workflow.id, None, 0)
    held = [p for p in (curve.positions if curve else ()) if p.shares > 0]
    oldest = ctx.services.clock.now() - timedelta(seconds=config.markMaxAgeSeconds)
    fresh = {
        id(p)
        for p in held
        if p.mark_price is not None and p.marked_at is not None and p.marked_at >= oldest
    }
    stale = [p for p in held if id(p) not in fresh]
    bids: dict[str, Decimal] = {}
    tokens: dict[int, str] = {}
    if stale:
        upstreams, states = await _states(ctx, sorted({p.market_id for p in stale}))
        for p in stale:
            token = _token(states.get(p.market_id), p.outcome)
            if token is not None:
                tokens[id(p)] = token
        if tokens:
            bids = await upstreams.best_bids(sorted(set(tokens.values())), deadline=ctx.deadline)
    priced = []
    for p in held:
        if id(p) in fresh:
            priced.append(Priced(p, p.mark_price, "best_bid"))
        else:
            bid = bids.get(tokens.get(id(p), ""))
            priced.append(Priced(p, bid, None if bid is None else "clob"))
    return priced


def _summary(priced: list[Priced]) -> dict[str, Any]:
    valued = [q for q in priced if q.price is not None]
    value = sum((q.position.shares * q.price for q in valued if q.price is not None), Decimal(0))
    cost = sum((q.position.cost for q in valued), Decimal(0))
    return {
        "openPositions": len(priced),
        "priced": len(valued),
        "totalCostBasis": str(sum((q.position.cost for q in priced), Decimal(0))),
        "totalMarketValue": str(value),
        "totalUnrealizedPnl": str(value - cost),
    }


async def _track(config: PositionTrackerConfig, ctx: NodeContext) -> dict[str, Any]:
    priced = await priced_positions(config, ctx)
    return {
        "positions": [q.record() for q in priced],
        "summary": _summary(priced),
        "paper": True,
        "timestamp": epoch_ms(ctx),
    }


async def _sell(ctx: NodeContext, exit_: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token is None:
        return exit_ | {"status": "error", "reason": "no_token_for_outcome"}
    async with ctx.services.market_data() as markets:
        try:
            book = await markets.market_book(token, deadline=ctx.deadline)
        except PolymarketRejected as exc:
            return exit_ | {"status": "error", "reason": f"no_order_book: {exc}"}
    bids = book.book.get("bids") if isinstance(book.book, dict) else None
    prices = [Decimal(str(b["price"])) for b in bids or () if isinstance(b, dict) and "price" in b]
    best = max(prices, default=None)
    shares = Decimal(exit_["shares"])
    # The executor sells amount / best bid shares: the whole position.
    amount = shares * best if best else shares
    placed = await ctx.services.order_executor().place(
        OrderIntent(
            workflow_id=ctx.workflow.id,
            execution_id=ctx.workflow.execution_id,
            node_id=ctx.node_id,
            market_id=exit_["marketId"],
            market_question=None,
            outcome=exit_["outcome"],
            side="sell",
            amount_usd=amount,
            time_in_force="FAK",
            order_key=exit_["exitId"],
            slot=None if ctx.workflow.execution_id else exit_["exitId"],
        ),
        book,
        ctx.services.clock.now(),
    )
    return exit_ | {
        "status": "refused" if placed.result == "refused" else "executed",
        "reason": placed.refusal or placed.detail,
        "orderId": None if placed.order_id is None else str(placed.order_id),
        "orderResult": placed.result,
        "soldShares": str(placed.shares),
        "executedPrice": None if placed.average_price is None else str(placed.average_price),
        "replayed": placed.replayed,
    }


async def _exits(config: ExitSignalConfig, ctx: NodeContext) -> dict[str, Any]:
    take = config.rule(
        config.priceTargetEnabled, config.priceTargetPercent, config.priceTargetPct, default=50
    )
    stop = config.rule(
        config.stopLossEnabled, config.stopLossPercent, config.stopLossPct, default=20
    )
    priced = await priced_positions(config, ctx)
    firing: list[tuple[Priced, str, Decimal]] = []
    for q in priced:
        pct = q.percent
        if pct is None:
            continue
        if take is not None and pct >= take:
            firing.append((q, "take_profit", take))
        elif stop is not None and pct <= -stop:
            firing.append((q, "stop_loss", stop))
    states: dict[str, MarketState] = {}
    if firing:
        _, states = await _states(ctx, sorted({q.position.market_id for q, _, _ in firing}))
    exits = []
    for q, rule, threshold in firing:
        p = q.position
        exit_ = q.record() | {
            "exitId": f"exit:{ctx.node_id}:{p.market_id}:{p.outcome.strip().lower()}:{p.holding}",
            "exitReason": rule,
            "thresholdPercent": str(threshold),
        }
        exits.append(await _sell(ctx, exit_, _token(states.get(p.market_id), p.outcome)))
    not_applied = [
        name
        for name, on in (
            ("followWalletExits", config.followWalletExits or config.followWalletExitsEnabled),
            ("maxHoldDays", config.maxHoldDays),
        )
        if on
    ]
    return {
        "exits": exits,
        "orders": sum(1 for e in exits if e.get("orderResult") not in (None, "refused")),
        "checked": len(priced),
        "takeProfitPercent": None if take is None else str(take),
        "stopLossPercent": None if stop is None else str(stop),
        "notApplied": not_applied,
        "paper": True,
        "timestamp": epoch_ms(ctx),
    }


POSITION_TRACKER = NodeType(
    name="original-position-tracker",
    config_model=PositionTrackerConfig,
    run=_track,
    description="The original's POSITION_TRACKER: the strategy's open paper positions "
    "at live prices, with unrealised P&L.",
)
EXIT_SIGNAL = NodeType(
    name="original-exit-signal",
    config_model=ExitSignalConfig,
    run=_exits,
    description="The original's EXIT_SIGNAL: take-profit / stop-loss exits, each one "
    "PAPER sell through the trading book.",
)
