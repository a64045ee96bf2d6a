"""original-polymarket-buy and original-polymarket-sell: PAPER orders, never real ones.

The original's buy node returned a made-up fill at 0.45 and its sell node was never
written. Here both simulate the order: priced from the live order book (best ask to
buy, best bid to sell; else the midpoint, else Gamma's listed price), recorded in
`cascadian_paper_orders` with the position it leaves, and readable with the strategy's
P&L at `GET /api/strategies/{id}/paper`. Nothing is ever sent to Polymarket.

Config as saved: `marketId` (a `${node.path}` reference may fill it, as the original's
type comment intended), `outcome` (Yes, matched to the market's outcomes without
regard to case), `amount` (US dollars, 10), `orderType` (market or limit), and
`limitPrice` (a limit buy fills only at or below it, a limit sell at or above it,
at the live price; otherwise it is not filled). Without `marketId` the node trades the
first market of its input (a filtered or sorted list, say); with none, it places no
order. A sell of more shares than the strategy's paper position holds is rejected.
Output, the original's shape: `{orderId, marketId, outcome, amount, executedPrice,
status, timestamp, note}`, plus `paper: true`, `side`, `shares`, `priceSource`.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from cascadian.data import PaperOrder, PaperSide
from cascadian.workflow.node_api import NodeContext, NodeError, NodeType
from cascadian.workflow.original.jsvalues import item_id, to_string
from cascadian.workflow.original.markets import market_by_id, order_price
from cascadian.workflow.original.nodes.common import OriginalConfig, epoch_ms, items

NOTE = "PAPER TRADE: a simulated order; nothing was sent to Polymarket"
KEYS = ("markets", "filtered", "transformed", "data")


class TradeConfig(OriginalConfig):
    marketId: str | None = Field(default=None, max_length=200)
    outcome: str = Field(default="Yes", min_length=1, max_length=200)
    amount: float = Field(default=10, gt=0, le=1_000_000)
    orderType: Literal["market", "limit"] = "market"
    limitPrice: float | None = Field(default=None, gt=0, le=1)

    @field_validator("orderType", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value or "market"

    @field_validator("marketId", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return None if value in (None, "") else to_string(value)

    @model_validator(mode="after")
    def _limit_has_price(self) -> Self:
        if self.orderType == "limit" and self.limitPrice is None:
            raise ValueError("a limit order needs limitPrice")
        return self


def _target(config: TradeConfig, ctx: NodeContext) -> tuple[str, Any] | None:
    if config.marketId:
        return config.marketId, None
    for row in items(ctx, KEYS):
        found = item_id(row)
        if found is not None and not isinstance(found, dict | list):
            return to_string(found), row
    return None


def _output(
    config: TradeConfig, side: PaperSide, ctx: NodeContext, **fields: Any
) -> dict[str, Any]:
    return {
        "orderId": None,
        "marketId": None,
        "outcome": config.outcome,
        "amount": config.amount,
        "executedPrice": None,
        "timestamp": epoch_ms(ctx),
        "note": NOTE,
        "paper": True,
        "side": side,
        "orderType": config.orderType,
        **fields,
    }


async def _trade(config: TradeConfig, ctx: NodeContext, side: PaperSide) -> dict[str, Any]:
    target = _target(config, ctx)
    if target is None:
        return _output(config, side, ctx, status="skipped", reason="no market to trade")
    market_id, _ = target
    async with ctx.services.market_data() as markets:
        market = await market_by_id(markets, market_id, ctx.deadline)
        names = [o.strip().lower() for o in market.outcomes]
        if config.outcome.strip().lower() not in names:
            raise NodeError(
                f"market {market_id!r} has no outcome {config.outcome!r}; "
                f"its outcomes are {', '.join(market.outcomes)}"
            )
        index = names.index(config.outcome.strip().lower())
        price = await order_price(markets, market, index, side, ctx.deadline)
    if price is None:
        raise NodeError(f"no price for {market.outcomes[index]!r} in market {market_id!r}")
    outcome = market.outcomes[index]
    common = {"marketId": market_id, "outcome": outcome, "question": market.question}
    if config.limitPrice is not None and config.orderType == "limit":
        beyond = (
            price.value > config.limitPrice if side == "buy" else price.value < config.limitPrice
        )
        if beyond:
            return _output(
                config,
                side,
                ctx,
                **common,
                status="unfilled",
                reason=f"the price is {price.value:g}; the limit is {config.limitPrice:g}",
                priceSource=price.source,
            )
    fill = await ctx.services.node_store().record_paper_order(
        PaperOrder(
            workflow_id=ctx.workflow.id,
            execution_id=ctx.workflow.execution_id,
            node_id=ctx.node_id,
            market_id=market_id,
            market_question=market.question,
            outcome=outcome,
            side=side,
            order_type=config.orderType,
            amount_usd=config.amount,
            price=price.value,
            price_source=price.source,
            limit_price=config.limitPrice,
        ),
        ctx.services.clock.now(),
    )
    if fill.result != "filled":
        return _output(
            config,
            side,
            ctx,
            **common,
            status="rejected",
            reason=f"the paper position holds {fill.held_shares:g} shares; "
            f"selling ${config.amount:g} needs {fill.shares:g}",
            priceSource=price.source,
        )
    return _output(
        config,
        side,
        ctx,
        **common,
        orderId=str(fill.order_id),
        executedPrice=price.value,
        status="filled",
        shares=fill.shares,
        positionShares=fill.held_shares,
        priceSource=price.source,
    )


async def _buy(config: TradeConfig, ctx: NodeContext) -> dict[str, Any]:
    return await _trade(config, ctx, "buy")


async def _sell(config: TradeConfig, ctx: NodeContext) -> dict[str, Any]:
    return await _trade(config, ctx, "sell")


BUY = NodeType(
    name="original-polymarket-buy",
    config_model=TradeConfig,
    run=_buy,
    description="The original's Buy Order, as a PAPER order at the live price.",
)
SELL = NodeType(
    name="original-polymarket-sell",
    config_model=TradeConfig,
    run=_sell,
    description="A PAPER sell of the strategy's paper position at the live price.",
)
