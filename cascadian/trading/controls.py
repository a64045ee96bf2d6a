"""What operators set and read of the trading book: a strategy's limits, the kill
switches, its portfolio and its orders (the API, the CLI and the console share it).

Every input is checked here first, so a bad one is an InvalidInput naming it (a
422, exit 1, a form's message) and nothing is written; the SQL functions check the
same rules again where they write (migrations/023, 032). Limits change only the
settings named; a kill switch records who set it, when (the clock's now) and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from cascadian.clock import Clock
from cascadian.data import (
    LIMIT_NAMES,
    Actor,
    KillSwitch,
    Page,
    Portfolio,
    TradingGauges,
    TradingLimits,
    TradingOrder,
    scope,
)
from cascadian.errors import Forbidden, InvalidInput, NotFound
from cascadian.ports import TradingStore
from cascadian.trading.amounts import MAX_USD, PLACES

ORDER_RESULTS = ("filled", "partly_filled", "refused", "settled")
# Who set a switch and why are kept as written, up to this many characters.
MAX_SWITCH_TEXT = 500


class TradingService:
    def __init__(self, store: TradingStore, clock: Clock) -> None:
        self.store, self.clock = store, clock

    async def portfolio(self, strategy_id: UUID, actor: Actor | None = None) -> Portfolio:
        """NotFound also when `actor` is a user who does not own it (the read's SQL
        checks); so for every read below."""
        found = await self.store.paper_portfolio(strategy_id, self.clock.now(), scope(actor))
        if found is None:
            raise NotFound("strategy not found")
        return found

    async def limits(self, strategy_id: UUID, actor: Actor | None = None) -> TradingLimits:
        return (await self.portfolio(strategy_id, actor)).limits

    async def set_limits(
        self, strategy_id: UUID, changes: Mapping[str, Any], actor: Actor
    ) -> TradingLimits:
        """Set the named settings (None: no limit; the bankroll: back to 10,000) and
        keep the others, as the actor (audited). InvalidInput for an unknown name or a
        value out of range."""
        checked = limit_changes(changes)
        found = await self.store.set_trading_limits(strategy_id, checked, self.clock.now(), actor)
        if found is None:
            raise NotFound("strategy not found")
        return found

    async def kill_switches(self, actor: Actor | None = None) -> list[KillSwitch]:
        """The switches on now; for a user, the global one and their own strategies'."""
        return await self.store.kill_switches(scope(actor))

    async def switch_on(
        self, strategy_id: UUID | None, set_by: str | None, reason: str | None, actor: Actor
    ) -> list[KillSwitch]:
        """Turn the global switch (strategy_id None) or a strategy's on, as the actor
        (audited); answers the switches on now. InvalidInput without who and why."""
        _operator_for_global(strategy_id, actor)
        who, why = _required(set_by, "who sets the switch (set_by)"), _required(reason, "reason")
        now = self.clock.now()
        if not await self.store.set_kill_switch(strategy_id, True, who, why, now, actor):
            raise NotFound("strategy not found")
        return await self.store.kill_switches(scope(actor))

    async def switch_off(self, strategy_id: UUID | None, actor: Actor) -> list[KillSwitch]:
        """Clear a switch as the actor (already off is not an error, and not audited);
        answers the switches on now. Forbidden for a user clearing an operator's."""
        _operator_for_global(strategy_id, actor)
        now = self.clock.now()
        done = await self.store.set_kill_switch(strategy_id, False, None, None, now, actor)
        if done is None:
            raise NotFound("strategy not found")
        if done == "operator_switch":
            raise Forbidden(
                "an operator turned this strategy's kill switch on: only an operator turns it off"
            )
        return await self.store.kill_switches(scope(actor))

    async def orders(
        self,
        strategy_id: UUID,
        result: str | None = None,
        limit: int = 50,
        offset: int = 0,
        actor: Actor | None = None,
    ) -> Page[TradingOrder]:
        if result is not None and result not in ORDER_RESULTS:
            raise InvalidInput(f"result is one of {', '.join(ORDER_RESULTS)}")
        if not 1 <= limit <= 500 or offset < 0:
            raise InvalidInput("limit is 1 to 500 and offset >= 0")
        page = await self.store.trading_orders(strategy_id, result, limit, offset, scope(actor))
        if page is None:
            raise NotFound("strategy not found")
        return page

    async def gauges(self) -> TradingGauges:
        return await self.store.trading_gauges()


def _operator_for_global(strategy_id: UUID | None, actor: Actor) -> None:
    """The global kill switch stops every user's trading: an operator's alone (its SQL
    refuses a user too)."""
    if strategy_id is None and actor.user_id is not None:
        raise Forbidden(
            "only an operator turns the global kill switch on or off; "
            "use your strategy's own: /api/strategies/{id}/kill-switch"
        )


def limit_changes(changes: Mapping[str, Any]) -> dict[str, Decimal | int | None]:
    """The changes as exact numbers, each in its range; InvalidInput naming the first
    that is not."""
    unknown = sorted(set(changes) - set(LIMIT_NAMES))
    if unknown:
        raise InvalidInput(
            f"unknown trading settings: {', '.join(unknown)} (known: {', '.join(LIMIT_NAMES)})"
        )
    if not changes:
        raise InvalidInput(f"name at least one of {', '.join(LIMIT_NAMES)}")
    checked: dict[str, Decimal | int | None] = {}
    for name, value in changes.items():
        if value is None:
            checked[name] = None
            continue
        number = _number(name, value)
        if name == "max_open_positions":
            if number < 0 or number != number.to_integral_value():
                raise InvalidInput("max_open_positions is a whole number, 0 or more")
            checked[name] = int(number)
        elif name == "min_cash_reserve_usd":
            if number < 0:
                raise InvalidInput("min_cash_reserve_usd is 0 or more")
            checked[name] = number
        else:
            if number <= 0:
                raise InvalidInput(f"{name} is more than 0")
            checked[name] = number
    return checked


def _number(name: str, value: Any) -> Decimal:
    """A JSON number or a string as written (str of a float is its shortest repr)."""
    try:
        number = None if isinstance(value, bool) else Decimal(str(value).strip())
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise InvalidInput(f"{name} is not a number: {str(value)[:40]!r}")
    if number > MAX_USD:
        raise InvalidInput(f"{name} is more than 10^15")
    if number != number.quantize(Decimal(1).scaleb(-PLACES), rounding=ROUND_DOWN):
        raise InvalidInput(f"{name} has more than {PLACES} decimal places")
    return number


def _required(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"a kill switch needs {what}")
    if len(text) > MAX_SWITCH_TEXT:
        raise InvalidInput(f"{what} is at most {MAX_SWITCH_TEXT} characters")
    return text
