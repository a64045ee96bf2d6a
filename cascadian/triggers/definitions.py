"""What a trigger is, as a strategy document, the API and the CLI write it, checked
before anything is looked up or saved.

    {"kind": "price", "name": "btc-up", "token_id": "…" | "market_id": "…", "outcome": "Yes",
     "level": "0.65", "direction": "above", "band": "0.02", "price_kind": "midpoint"}
    {"kind": "resolved", "name": "settled", "market_id": "…"}

A level is strictly inside (0, 1), a band is 0 or more; levels and bands are decimal
(a JSON number or string), never floats. Every problem of every trigger is listed
at once (TriggerInvalid), as the graph validator lists a graph's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from cascadian.errors import TriggerInvalid

MAX_TRIGGERS = 20
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,63}$"
ID_MAX = 200  # token ids are 77-digit integers, condition ids 66 characters

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Id = Annotated[str, Field(min_length=1, max_length=ID_MAX, pattern=r"^[A-Za-z0-9x_-]+$")]


class PriceTrigger(BaseModel):
    """Fires when the price crosses `level` in `direction`; after a crossing it fires
    again only once the price has gone back past `band` (hysteresis)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["price"] = "price"
    name: Name | None = None
    token_id: Id | None = None
    market_id: Id | None = None
    outcome: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    level: Annotated[Decimal, Field(gt=0, lt=1, allow_inf_nan=False)]
    direction: Literal["above", "below"]
    band: Annotated[Decimal, Field(ge=0, lt=1, allow_inf_nan=False)] = Decimal(0)
    price_kind: Literal["midpoint", "best_bid", "best_ask", "last_trade"] = "midpoint"

    @model_validator(mode="after")
    def one_token(self) -> PriceTrigger:
        if self.token_id is not None and (self.market_id is not None or self.outcome):
            raise ValueError("give either token_id, or market_id and outcome, not both")
        if self.token_id is None and (self.market_id is None or not self.outcome):
            raise ValueError("give token_id, or market_id and outcome")
        return self


class ResolvedTrigger(BaseModel):
    """Fires once, when the market resolves."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["resolved"]
    name: Name | None = None
    market_id: Id


Trigger = Annotated[PriceTrigger | ResolvedTrigger, Field(discriminator="kind")]
_TRIGGERS: TypeAdapter[list[Trigger]] = TypeAdapter(list[Trigger])


def parse_triggers(raw: Any) -> list[PriceTrigger | ResolvedTrigger]:
    """The triggers `raw` describes, each named (given, or `trigger-N`); TriggerInvalid
    with every problem otherwise."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise TriggerInvalid([(0, "triggers", "triggers must be a list")])
    if len(raw) > MAX_TRIGGERS:
        raise TriggerInvalid([(MAX_TRIGGERS, "triggers", f"at most {MAX_TRIGGERS} triggers")])
    for item in raw:  # a missing kind is a price trigger
        if isinstance(item, dict) and "kind" not in item:
            item.setdefault("kind", "price")
    try:
        found = _TRIGGERS.validate_python(raw)
    except ValidationError as exc:
        raise TriggerInvalid([_problem(e) for e in exc.errors()]) from None
    named = [
        t.model_copy(update={"name": t.name or f"trigger-{i + 1}"}) for i, t in enumerate(found)
    ]
    seen: set[str] = set()
    dupes = []
    for i, t in enumerate(named):
        assert t.name is not None
        if t.name in seen:
            dupes.append((i, "name", f"the name {t.name!r} is used twice"))
        seen.add(t.name)
    if dupes:
        raise TriggerInvalid(dupes)
    return named


def _problem(error: Any) -> tuple[int, str, str]:
    loc = list(error.get("loc", ()))
    index = loc[0] if loc and isinstance(loc[0], int) else 0
    # loc: (index, kind tag, field...): the field is what the user wrote.
    fields = [str(p) for p in loc[1:] if p not in ("price", "resolved")]
    message = str(error.get("msg", "invalid"))
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return index, ".".join(fields) or "trigger", message
