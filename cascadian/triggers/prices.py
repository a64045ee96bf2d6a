"""The serverless tier's prices: every armed trigger priced from the CLOB's REST
batch endpoints, once per tick for all strategies, through the process's
rate-limited market client.

- midpoint, best bid, best ask: POST /midpoints and POST /prices (workflow/market/clob.py),
  50 tokens a request, identical requests shared;
- last trade: POST /last-trades-prices, body [{"token_id"}], answering
  [{"token_id", "price", "side"}] (at most 500 tokens a request);
- a resolved trigger's market: Gamma's GET /markets/{id}, resolved once it is closed
  with one outcome priced 1.

The CLOB's prices arrive as decimal strings and stay Decimal from the answer to the
SQL's numeric (the shared client's `exact_quotes`): never a float, which can put a
price on the wrong side of a level. A token with no price is left out: no
observation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from cascadian.data import ArmedTrigger, Observation
from cascadian.workflow.market import MarketData, PolymarketError
from cascadian.workflow.market.clob import decimal_price
from cascadian.workflow.market.record import ExactQuote, Market

log = logging.getLogger(__name__)

LAST_TRADES_PATH = "/last-trades-prices"
LAST_TRADES_BATCH = 500
SOURCE = "rest"


async def observe_rest(
    armed: Sequence[ArmedTrigger], markets: MarketData, now: datetime
) -> list[Observation]:
    """What the REST endpoints say now of every armed trigger's price or market."""
    kinds: dict[str, set[str]] = {}
    resolved: set[str] = set()
    for t in armed:
        if t.kind == "price" and t.token_id and t.price_kind:
            kinds.setdefault(t.price_kind, set()).add(t.token_id)
        elif t.kind == "resolved" and t.market_id:
            resolved.add(t.market_id)
    quoted = (
        kinds.get("midpoint", set()) | kinds.get("best_bid", set()) | kinds.get("best_ask", set())
    )
    quotes, trades, resolutions = await asyncio.gather(
        markets.clob.exact_quotes(quoted) if quoted else _nothing(),
        _last_trades(kinds.get("last_trade", set()), markets),
        asyncio.gather(*(_resolution(m, markets, now) for m in sorted(resolved))),
    )
    found: list[Observation] = []
    for kind in ("midpoint", "best_bid", "best_ask"):
        for token in sorted(kinds.get(kind, ())):
            price = _quoted(quotes.get(token), kind)
            if price is not None:
                found.append(Observation("price", now, SOURCE, token, kind, price))
    for token in sorted(kinds.get("last_trade", ())):
        if token in trades:
            found.append(Observation("price", now, SOURCE, token, "last_trade", trades[token]))
    found += [r for r in resolutions if r is not None]
    return found


async def _nothing() -> dict[str, ExactQuote]:
    return {}


def _quoted(quote: ExactQuote | None, kind: str) -> Decimal | None:
    if quote is None:
        return None
    return {"midpoint": quote.midpoint, "best_bid": quote.best_bid, "best_ask": quote.best_ask}[
        kind
    ]


async def _last_trades(tokens: set[str], markets: MarketData) -> dict[str, Decimal]:
    ordered = sorted(tokens)
    found: dict[str, Decimal] = {}
    for i in range(0, len(ordered), LAST_TRADES_BATCH):
        body = [{"token_id": t} for t in ordered[i : i + LAST_TRADES_BATCH]]
        try:
            answer = await markets.clob.upstream.call("POST", LAST_TRADES_PATH, body=body)
        except PolymarketError as exc:
            log.warning("no last trade prices for %d token(s): %s", len(body), exc)
            continue
        for row in answer if isinstance(answer, list) else []:
            if isinstance(row, dict) and isinstance(row.get("token_id"), str):
                price = decimal_price(row.get("price"))
                if price is not None:
                    found[row["token_id"]] = price
    return found


async def _resolution(market_id: str, markets: MarketData, now: datetime) -> Observation | None:
    try:
        market = Market.model_validate(await markets.market(market_id))
    except Exception as exc:  # an unreadable market is no resolution; the next tick asks again
        log.warning("could not read market %s for its resolution: %s", market_id, exc)
        return None
    if not market.closed or not market.condition_id:
        return None
    winners = [i for i, p in enumerate(market.outcome_prices) if p == 1]
    if len(winners) != 1:
        return None
    i = winners[0]
    token = market.clob_token_ids[i] if i < len(market.clob_token_ids) else None
    return Observation(
        "resolved",
        now,
        SOURCE,
        condition_id=market.condition_id,
        winning_token_id=token,
        winning_outcome=market.outcomes[i],
    )
