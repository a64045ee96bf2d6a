"""A trigger's token or market checked against Polymarket before it is saved, and
turned into what the store keeps: the token to price, the condition id a resolution
names, the tokens a listener subscribes to.

A token is checked on the CLOB (its order book: a token with none cannot be priced);
a market and outcome, or a resolved trigger's market, on Gamma (GET /markets/{id}).
A token or market Polymarket does not know is a problem of that trigger (422); one
Polymarket could not be asked about is MarketUnavailable (503): nothing is saved
either way. Calls go through the process's rate-limited market client.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ValidationError

from cascadian.errors import MarketUnavailable, TriggerInvalid
from cascadian.triggers.definitions import PriceTrigger, ResolvedTrigger
from cascadian.workflow.market import MarketData
from cascadian.workflow.market.record import Market
from cascadian.workflow.market.upstream import PolymarketError, PolymarketRejected


async def stored_triggers(
    triggers: list[PriceTrigger | ResolvedTrigger], markets: MarketData
) -> list[dict[str, Any]]:
    """Each trigger as the store saves it, its token or market looked up;
    TriggerInvalid listing every one Polymarket does not know."""
    answers = await asyncio.gather(
        *(_stored(i, t, markets) for i, t in enumerate(triggers)), return_exceptions=True
    )
    problems: list[tuple[int, str, str]] = []
    for answer in answers:
        if isinstance(answer, TriggerInvalid):
            problems += answer.problems
        elif isinstance(answer, BaseException):
            raise answer
    if problems:
        raise TriggerInvalid(problems)
    return [a for a in answers if isinstance(a, dict)]


async def _stored(
    index: int, trigger: PriceTrigger | ResolvedTrigger, markets: MarketData
) -> dict[str, Any]:
    if isinstance(trigger, ResolvedTrigger):
        market = await _market(index, trigger.market_id, markets)
        if not market.condition_id:
            raise TriggerInvalid([(index, "market_id", "the market has no condition id")])
        return {
            "name": trigger.name,
            "kind": "resolved",
            "market_id": trigger.market_id,
            "condition_id": market.condition_id,
            "asset_ids": list(market.clob_token_ids),
            "outcomes": list(market.outcomes),
        }
    token, condition = trigger.token_id, None
    if token is None:
        assert trigger.market_id is not None and trigger.outcome is not None  # validated
        market = await _market(index, trigger.market_id, markets)
        wanted = trigger.outcome.casefold()
        found = [
            t
            for o, t in zip(market.outcomes, market.clob_token_ids, strict=False)
            if o.casefold() == wanted
        ]
        if not found:
            named = ", ".join(market.outcomes)
            message = f"the market has no outcome {trigger.outcome!r} with an order book ({named})"
            raise TriggerInvalid([(index, "outcome", message)])
        token, condition = found[0], market.condition_id
    else:
        await _book(index, token, markets)
    return {
        "name": trigger.name,
        "kind": "price",
        "token_id": token,
        "market_id": trigger.market_id,
        "condition_id": condition,
        "outcome": trigger.outcome,
        "level": str(trigger.level),
        "direction": trigger.direction,
        "band": str(trigger.band),
        "price_kind": trigger.price_kind,
        "asset_ids": [token],
    }


async def _market(index: int, market_id: str, markets: MarketData) -> Market:
    try:
        record = await markets.market(market_id)
    except PolymarketRejected as exc:
        if exc.status in (400, 404, 422):
            raise TriggerInvalid([(index, "market_id", "Polymarket has no such market")]) from None
        raise MarketUnavailable(f"could not look the market up: {exc}") from None
    except PolymarketError as exc:
        raise MarketUnavailable(f"could not look the market up: {exc}") from None
    try:
        return Market.model_validate(record)
    except ValidationError:
        raise TriggerInvalid(
            [(index, "market_id", "Gamma's record of the market is unusable")]
        ) from None


async def _book(index: int, token_id: str, markets: MarketData) -> None:
    try:
        await markets.market_book(token_id)
    except PolymarketRejected as exc:
        if exc.status in (400, 404, 422):
            message = "the token does not exist on the CLOB (it has no order book)"
            raise TriggerInvalid([(index, "token_id", message)]) from None
        raise MarketUnavailable(f"could not look the token up: {exc}") from None
    except PolymarketError as exc:
        raise MarketUnavailable(f"could not look the token up: {exc}") from None
