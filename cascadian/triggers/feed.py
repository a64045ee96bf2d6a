"""Polymarket's market channel, read: each frame becomes the prices it carries, or is
counted and dropped. Pure: no socket, no clock but the `now` given.

Shapes (docs.polymarket.com, Market Channel), each with `event_type`; a frame is one
object, or an array of them (the first dump on subscribe):

- `book`: `asset_id`, `market`, `bids`/`asks` ([{price, size}] as strings),
  `timestamp` (ms, a string), sometimes `last_trade_price`: a snapshot, so every price
  kind of the token is observed afresh (best bid, best ask, midpoint, last trade);
- `price_change`: `market`, `timestamp`, `price_changes` [{asset_id, price, size,
  side, best_bid, best_ask}]: each token's best bid, best ask and midpoint;
- `best_bid_ask` (with `custom_feature_enabled`): `asset_id`, `best_bid`, `best_ask`;
- `last_trade_price`: `asset_id`, `price`;
- `market_resolved` (with `custom_feature_enabled`): `market` (the condition id),
  `winning_asset_id`, `winning_outcome`;
- `tick_size_change`, `new_market`: known, nothing to observe.

The text `PONG` answers our `PING`. Anything else (not JSON, not an object, an
unknown `event_type`, a known one missing its fields or with a price outside [0, 1],
or a frame over MAX_FRAME_CHARS) is dropped and counted by reason. Prices stay
decimal strings turned Decimal: never floats.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from cascadian.data import Observation, PriceKind
from cascadian.workflow.market.clob import decimal_price

SOURCE = "websocket"
# A frame longer than this is dropped unread (a book of thousands of levels is well
# under it); the socket itself refuses frames over MAX_SOCKET_BYTES (connection.py).
MAX_FRAME_CHARS = 2_000_000
# A frame's own timestamp is used when it is this close to ours, else ours.
TRUST_TIMESTAMP = timedelta(hours=1)
IGNORED = frozenset({"tick_size_change", "new_market"})
PONG = "PONG"


@dataclass
class Parsed:
    """What one frame gave."""

    observations: list[Observation] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> count
    pong: bool = False
    snapshots: int = 0  # book snapshots in it

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


def parse(frame: str | bytes, now: datetime) -> Parsed:
    out = Parsed()
    if len(frame) > MAX_FRAME_CHARS:
        out.drop("oversized")
        return out
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    if text.strip() == PONG:
        out.pong = True
        return out
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        out.drop("malformed")
        return out
    for message in value if isinstance(value, list) else [value]:
        _message(message, now, out)
    return out


def _message(message: Any, now: datetime, out: Parsed) -> None:
    if not isinstance(message, dict):
        out.drop("malformed")
        return
    kind = message.get("event_type")
    handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        out.drop("ignored" if kind in IGNORED else "unknown")
        return
    try:
        found = handler(message, _when(message.get("timestamp"), now))
    except (KeyError, TypeError, ValueError, AttributeError):
        found = None
    if found is None:
        out.drop("malformed")
        return
    out.observations += found
    out.snapshots += kind == "book"


def _when(stamp: Any, now: datetime) -> datetime:
    """The frame's timestamp (ms since the epoch) when sane, else `now`."""
    try:
        at = datetime.fromtimestamp(int(str(stamp)) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return now
    return at if abs(at - now) <= TRUST_TIMESTAMP else now


def _token(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ValueError("no token id")
    return value


def _quote(token: str, bid: Decimal | None, ask: Decimal | None, at: datetime) -> list[Observation]:
    found: list[tuple[PriceKind, Decimal]] = []
    if bid is not None:
        found.append(("best_bid", bid))
    if ask is not None:
        found.append(("best_ask", ask))
    if bid is not None and ask is not None:
        found.append(("midpoint", (bid + ask) / 2))
    return [Observation("price", at, SOURCE, token, kind, price) for kind, price in found]


def _given(value: Any) -> Decimal | None:
    """An optional price: absent is None, present must be a price."""
    if value is None or value == "":
        return None
    price = decimal_price(value)
    if price is None:
        raise ValueError("not a price")
    return price


def _book(m: dict[str, Any], at: datetime) -> list[Observation] | None:
    token = _token(m.get("asset_id"))
    bids = [_given(level["price"]) for level in m.get("bids") or []]
    asks = [_given(level["price"]) for level in m.get("asks") or []]
    bid = max((b for b in bids if b is not None), default=None)
    ask = min((a for a in asks if a is not None), default=None)
    found = _quote(token, bid, ask, at)
    last = _given(m.get("last_trade_price"))
    if last is not None:
        found.append(Observation("price", at, SOURCE, token, "last_trade", last))
    return found


def _price_change(m: dict[str, Any], at: datetime) -> list[Observation] | None:
    changes = m.get("price_changes")
    if not isinstance(changes, list):
        return None
    found: list[Observation] = []
    for change in changes:
        found += _quote(
            _token(change["asset_id"]),
            _given(change.get("best_bid")),
            _given(change.get("best_ask")),
            at,
        )
    return found


def _best_bid_ask(m: dict[str, Any], at: datetime) -> list[Observation] | None:
    return _quote(
        _token(m.get("asset_id")), _given(m.get("best_bid")), _given(m.get("best_ask")), at
    )


def _last_trade(m: dict[str, Any], at: datetime) -> list[Observation] | None:
    price = _given(m.get("price"))
    if price is None:
        return None
    return [Observation("price", at, SOURCE, _token(m.get("asset_id")), "last_trade", price)]


def _resolved(m: dict[str, Any], at: datetime) -> list[Observation] | None:
    market = m.get("market")
    if not isinstance(market, str) or not market:
        return None
    winner = m.get("winning_asset_id")
    outcome = m.get("winning_outcome")
    return [
        Observation(
            "resolved",
            at,
            SOURCE,
            condition_id=market,
            winning_token_id=winner if isinstance(winner, str) else None,
            winning_outcome=outcome if isinstance(outcome, str) else None,
        )
    ]


_HANDLERS = {
    "book": _book,
    "price_change": _price_change,
    "best_bid_ask": _best_bid_ask,
    "last_trade_price": _last_trade,
    "market_resolved": _resolved,
}
