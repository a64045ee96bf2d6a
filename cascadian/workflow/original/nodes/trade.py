"""original-polymarket-buy and original-polymarket-sell: PAPER orders, never real ones.

The original's buy node returned a made-up fill at 0.45 and its sell node was never
written. Here both place a paper order through the order executor port
(NodeServices.orders; the paper executor in cascadian/trading/): filled against the
outcome's live CLOB order book, level by level, with Polymarket's taker fee, and
recorded once per strategy, slot and node with the strategy's limits, cash and
position checked (docs/trading.md). Nothing is ever sent to Polymarket.

Config as saved: `marketId` (a `${node.path}` reference may fill it, as the original's
type comment intended), `outcome` (Yes, matched to the market's outcomes without
regard to case), `amount` (US dollars, 10: spent by a buy, raised by a sell at the
best bid), `orderType` (market or limit), `limitPrice` (a limit fills now at or
better than it, or not at all), and ours: `timeInForce` (FOK, the default, or FAK for
a market order) and `failOnRefusal` (false: a refused order is an outcome, and the
run goes on). Without `marketId` the node trades the first market of its input; with
none, it places no order. Output, the original's shape: `{orderId, marketId, outcome,
amount, executedPrice, status, timestamp, note}` (status filled, partly_filled,
refused or skipped), plus `paper: true`, `side`, `shares`, `fee`, `feeRate`,
`feeRateSource` (clob or default), `positionShares`, `availableCash`, `replayed`,
and for a refusal `refusal` and `reason`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from cascadian.data import OrderIntent, PaperSide
from cascadian.workflow.node_api import NodeContext, NodeError, NodeType
from cascadian.workflow.original.jsvalues import item_id, to_string
from cascadian.workflow.original.markets import market_by_id
from cascadian.workflow.original.nodes.common import OriginalConfig, epoch_ms, items

NOTE = "PAPER TRADE: a simulated order; nothing was sent to Polymarket"
KEYS = ("markets", "filtered", "transformed", "data")


class TradeConfig(OriginalConfig):
    marketId: str | None = Field(default=None, max_length=200)
    outcome: str = Field(default="Yes", min_length=1, max_length=200)
    amount: float = Field(default=10, gt=0, le=1_000_000)
    orderType: Literal["market", "limit"] = "market"
    limitPrice: float | None = Field(default=None, gt=0, le=1)
    # A market order's type: fill-or-kill (all or nothing) or fill-and-kill (what the
    # book holds, the rest cancelled). A limit order fills now or not at all.
    timeInForce: Literal["FOK", "FAK"] = "FOK"
    # A refused order (a limit, the kill switch, the book) fails the node, and so the
    # run, instead of being an outcome in its output.
    failOnRefusal: bool = False

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


def _token(market: Any, index: int) -> str | None:
    tokens = market.clob_token_ids
    if not tokens or market.enable_order_book is False or index >= len(tokens):
        return None
    return str(tokens[index])


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
        token = _token(market, index)
        if token is None:
            return _refused(
                config,
                ctx,
                side,
                market_id,
                market.outcomes[index],
                market.question,
                "no_order_book",
                f"market {market_id!r} has no order book on the CLOB",
            )
        book = await markets.market_book(token, deadline=ctx.deadline)
    outcome = market.outcomes[index]
    placed = await ctx.services.order_executor().place(
        OrderIntent(
            workflow_id=ctx.workflow.id,
            execution_id=ctx.workflow.execution_id,
            node_id=ctx.node_id,
            slot=ctx.workflow.order_slot,
            market_id=market_id,
            market_question=market.question,
            outcome=outcome,
            side=side,
            amount_usd=Decimal(str(config.amount)),
            time_in_force="limit" if config.orderType == "limit" else config.timeInForce,
            limit_price=None if config.limitPrice is None else Decimal(str(config.limitPrice)),
        ),
        book,
        ctx.services.clock.now(),
    )
    if placed.result == "refused":
        return _refused(
            config,
            ctx,
            side,
            market_id,
            outcome,
            market.question,
            placed.refusal or "refused",
            placed.detail or "",
            replayed=placed.replayed,
            recorded=placed.recorded,
            feeRateSource=book.fee_rate_source,
        )
    return _output(
        config,
        side,
        ctx,
        marketId=market_id,
        outcome=outcome,
        question=market.question,
        orderId=None if placed.order_id is None else str(placed.order_id),
        executedPrice=None if placed.average_price is None else float(placed.average_price),
        status=placed.result,
        shares=float(placed.shares),
        notional=str(placed.notional_usd),
        fee=str(placed.fee_usd),
        feeRate=str(book.fee_rate),
        feeRateSource=book.fee_rate_source,
        positionShares=None if placed.position_shares is None else float(placed.position_shares),
        availableCash=None if placed.available_cash is None else str(placed.available_cash),
        replayed=placed.replayed,
        recorded=placed.recorded,
        priceSource="clob",
    )


def _refused(
    config: TradeConfig,
    ctx: NodeContext,
    side: PaperSide,
    market_id: str,
    outcome: str,
    question: str | None,
    refusal: str,
    detail: str,
    **fields: Any,
) -> dict[str, Any]:
    """A refused order is an outcome the run goes on from, unless the node says to fail."""
    if config.failOnRefusal:
        raise NodeError(f"the {side} order was refused ({refusal}): {detail}")
    return _output(
        config,
        side,
        ctx,
        marketId=market_id,
        outcome=outcome,
        question=question,
        status="refused",
        refusal=refusal,
        reason=detail,
        **fields,
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
