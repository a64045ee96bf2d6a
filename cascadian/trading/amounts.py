"""The amounts a request may give a backtest, defined once for the API's bodies, the
CLI's options and the runner: a bankroll above 0 and at most 10^15 dollars (the
trading limits' bound, controls.py), a fee rate from 0 to 1, each with at most 6
decimal places (USDC's). Without these "9e999999" ran and answered a P&L of
0E+999972, and "1e-999999" was a bankroll.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, TypeAdapter, ValidationError

MAX_USD = Decimal("1e15")
PLACES = 6

Usd = Annotated[Decimal, Field(gt=0, le=MAX_USD, decimal_places=PLACES)]
FeeRate = Annotated[Decimal, Field(ge=0, le=1, decimal_places=PLACES)]

_USD: TypeAdapter[Decimal] = TypeAdapter(Usd)
_FEE_RATE: TypeAdapter[Decimal] = TypeAdapter(FeeRate)


def problem(value: object, is_rate: bool = False) -> str | None:
    """Why `value` is not a bankroll (or a fee rate); None when it is one."""
    try:
        (_FEE_RATE if is_rate else _USD).validate_python(value)
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"])
    return None
