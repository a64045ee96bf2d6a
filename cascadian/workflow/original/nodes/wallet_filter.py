"""original-wallet-filter: the original's WALLET_FILTER, over DATA_SOURCE's wallets.

As the original, in order: `categories` (on `primary_category`, which public data
cannot give: a filter naming categories fails, saying so, rather than dropping every
wallet), then each of `conditions` `{metric, operator, value}` in turn:
`top_percent` / `bottom_percent` keep the wallets at or above (at or below) the
value at that percentile of the metric (the original's nearest-rank percentile over
the wallets that have the metric), and `>=`, `>`, `<=`, `<`, `=` compare with the
number `value`; an unknown operator is skipped, as the original skipped it, and
named in `warnings`. Then `sorting` (`primary`, `secondary`, `tertiary`, each
"metric ASC|DESC", descending unless ASC; wallets without the metric last) and
`limit` (100 unless set).

A wallet whose metric is null (an omega without losses, say) fails every condition
on it (the original's JavaScript compared null as 0). A metric that no wallet row
has is an error naming the metrics there are. Rows come from the input's `wallets`
or `data`. Output: `{wallets, count, original_count, filter_applied: true,
timestamp}`, plus `warnings`.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cascadian.workflow.node_api import NodeContext, NodeError, NodeType
from cascadian.workflow.original.jsvalues import to_number, to_string
from cascadian.workflow.original.nodes.common import OriginalConfig, epoch_ms, items
from cascadian.workflow.wallets.metrics import UNAVAILABLE

KEYS = ("wallets", "data")
COMPARISONS = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "=": lambda a, b: a == b,
}


class Condition(BaseModel):
    model_config = ConfigDict(extra="ignore")

    metric: str = Field(min_length=1, max_length=100)
    operator: str = Field(min_length=1, max_length=20)
    value: Any = None


class Sorting(BaseModel):
    model_config = ConfigDict(extra="ignore")

    primary: str | None = None
    secondary: str | None = None
    tertiary: str | None = None


class WalletFilterConfig(OriginalConfig):
    categories: list[str] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    sorting: Sorting | None = None
    limit: int | None = None


def _value(wallet: Any, metric: str) -> float:
    """The wallet's metric as a number; NaN when it is missing, null or not a number."""
    raw = wallet.get(metric) if isinstance(wallet, dict) else None
    return math.nan if raw is None or isinstance(raw, dict | list) else to_number(raw)


def _percentile(wallets: list[Any], metric: str, percentile: float) -> float:
    values = sorted(v for v in (_value(w, metric) for w in wallets) if not math.isnan(v))
    if not values:
        return 0.0
    index = math.ceil(percentile / 100 * len(values)) - 1
    return values[max(0, min(index, len(values) - 1))]


def _check_metric(wallets: list[Any], metric: str) -> None:
    if metric in UNAVAILABLE:
        raise NodeError(f"{metric} cannot be filtered on: {UNAVAILABLE[metric]}")
    rows = [w for w in wallets if isinstance(w, dict)]
    if rows and not any(metric in w for w in rows):
        there = sorted({k for w in rows for k, v in w.items() if isinstance(v, int | float)})
        raise NodeError(
            f"no wallet has the metric {metric!r}; the wallets' metrics are {', '.join(there)}"
        )


def _apply(wallets: list[Any], condition: Condition, warnings: list[str]) -> list[Any]:
    metric, operator = condition.metric, condition.operator
    number = to_number(to_string(condition.value)) if condition.value is not None else math.nan
    if operator == "top_percent":
        cut = _percentile(wallets, metric, 100 - number)
        return [w for w in wallets if _value(w, metric) >= cut]
    if operator == "bottom_percent":
        cut = _percentile(wallets, metric, number)
        return [w for w in wallets if _value(w, metric) <= cut]
    compare = COMPARISONS.get(operator)
    if compare is None:
        warnings.append(f"unknown operator {operator!r} on {metric!r}: skipped")
        return wallets
    return [w for w in wallets if compare(_value(w, metric), number)]


def _flipped_value(metric: str, wallet: Any) -> float:
    return _value(wallet, metric)


def _sort_key(spec: str) -> tuple[str, bool]:
    parts = spec.split(" ")
    return parts[0], len(parts) > 1 and parts[1].upper() == "ASC"


def _sorted(wallets: list[Any], sorting: Sorting) -> list[Any]:
    # Stable sorts from the last key to the first: the primary key decides first.
    for spec in [s for s in (sorting.tertiary, sorting.secondary, sorting.primary) if s]:
        field, ascending = _sort_key(spec)
        present = [w for w in wallets if not math.isnan(_value(w, field))]
        absent = [w for w in wallets if math.isnan(_value(w, field))]
        present.sort(key=functools.partial(_flipped_value, field), reverse=not ascending)
        wallets = present + absent
    return wallets


async def _run(config: WalletFilterConfig, ctx: NodeContext) -> dict[str, Any]:
    wallets = items(ctx, KEYS)
    original_count = len(wallets)
    if config.categories:
        raise NodeError(
            "categories cannot be filtered on: primary_category "
            f"{UNAVAILABLE['primary_category']}; choose the leaderboard's category in "
            "the DATA_SOURCE instead"
        )
    warnings: list[str] = []
    for condition in config.conditions:
        if condition.operator in COMPARISONS or condition.operator.endswith("_percent"):
            _check_metric(wallets, condition.metric)
        wallets = _apply(wallets, condition, warnings)
    if config.sorting is not None:
        wallets = _sorted(wallets, config.sorting)
    limited = wallets[: config.limit or 100]
    return {
        "wallets": limited,
        "count": len(limited),
        "original_count": original_count,
        "filter_applied": True,
        "timestamp": epoch_ms(ctx),
        "warnings": warnings,
    }


WALLET_FILTER = NodeType(
    name="original-wallet-filter",
    config_model=WalletFilterConfig,
    run=_run,
    description="The original's WALLET_FILTER: percentiles and comparisons over wallet metrics.",
)
