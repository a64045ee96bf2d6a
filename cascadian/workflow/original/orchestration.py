"""What the orchestrator reads and decides with, beside the node itself
(nodes/orchestrator.py): its config as the builder saved it, how a market of its input
becomes a candidate bet (side, price, probability), the model's review prompt and how
its answer is read, and the words of a decision.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from cascadian.workflow.original.nodes.common import OriginalConfig
from cascadian.workflow.original.sizing import ZERO, Sizing, SizingRules

D = Decimal

_FENCE = re.compile(r"```(?:json)?\s*([\s\S]*?)```")
NOT_CONFIGURED = (
    "no LLM provider is configured (CASCADIAN_LLM_BASE_URL): each bet is decided by "
    "the sizing rules alone"
)
REVIEW_PROMPT = (
    "You review one paper bet on a binary prediction market, already sized by "
    "fractional Kelly within the portfolio's limits. You may keep it (GO) or veto it "
    "(NO_GO); you cannot change its size. Answer with one JSON object only: "
    '{"decision": "GO" or "NO_GO", "confidence": a number from 0 to 1, '
    '"risk_score": an integer from 1 (safe) to 10 (very risky), '
    '"reasoning": two or three sentences}.'
)


class DrawdownProtection(OriginalConfig):
    enabled: bool = False
    drawdown_threshold: float = Field(default=0.10, ge=0, le=1)
    size_reduction: float = Field(default=0.50, ge=0, le=1)


class PositionSizingRules(OriginalConfig):
    """The builder's fields; the original's other sizer's names are read too."""

    fractional_kelly_lambda: float | None = Field(default=None, gt=0, le=1)
    kelly_fraction: float | None = Field(default=None, gt=0, le=1)
    max_per_position: float | None = Field(default=None, gt=0, le=1)
    max_position_pct: float | None = Field(default=None, gt=0, le=1)
    min_bet: float | None = Field(default=None, ge=0, le=1_000_000)
    min_bet_usd: float | None = Field(default=None, ge=0, le=1_000_000)
    max_bet: float | None = Field(default=None, gt=0, le=1_000_000)
    max_bet_usd: float | None = Field(default=None, gt=0, le=1_000_000)
    portfolio_heat_limit: float | None = Field(default=None, gt=0, le=1)
    max_portfolio_heat: float | None = Field(default=None, gt=0, le=1)
    risk_reward_threshold: float | None = None
    drawdown_protection: DrawdownProtection | None = None
    volatility_adjustment: dict[str, Any] | None = None

    def rules(self) -> SizingRules:
        def first(*values: float | None, default: float) -> Decimal:
            return D(str(next((v for v in values if v is not None), default)))

        heat = next(
            (v for v in (self.portfolio_heat_limit, self.max_portfolio_heat) if v is not None),
            None,
        )
        protection = self.drawdown_protection or DrawdownProtection()
        return SizingRules(
            fractional_kelly_lambda=first(
                self.fractional_kelly_lambda, self.kelly_fraction, default=0.375
            ),
            max_per_position=first(self.max_per_position, self.max_position_pct, default=0.05),
            min_bet=first(self.min_bet, self.min_bet_usd, default=5),
            max_bet=first(self.max_bet, self.max_bet_usd, default=500),
            portfolio_heat_limit=None if heat is None else D(str(heat)),
            drawdown_protection=protection.enabled,
            drawdown_threshold=D(str(protection.drawdown_threshold)),
            size_reduction=D(str(protection.size_reduction)),
        )

    @model_validator(mode="after")
    def _max_above_min(self) -> Self:
        r = self.rules()
        if r.max_bet < r.min_bet:
            raise ValueError("max_bet must be at least min_bet")
        return self


class OrchestratorConfig(OriginalConfig):
    version: int | None = None
    mode: Literal["approval", "autonomous"] = "approval"
    portfolio_size_usd: float | None = Field(default=None, gt=0, le=1_000_000_000)
    risk_tolerance: float | None = None
    # Required, as the original threw without it.
    position_sizing_rules: PositionSizingRules
    preferred_side: Literal["YES", "NO"] | None = None
    copy_trading: dict[str, Any] | None = None
    # Ours: how long a pending decision may be approved; how many markets one run sizes;
    # whether a configured LLM reviews each bet, and the model a strategy asks for.
    approval_expiry_minutes: int = Field(default=60, ge=1, le=10_080)
    max_markets: int = Field(default=20, ge=1, le=200)
    use_llm: bool = True
    model: str = Field(default="claude-sonnet-4-20250514", min_length=1, max_length=200)

    @model_validator(mode="after")
    def _no_copy_trading(self) -> Self:
        if self.copy_trading and self.copy_trading.get("enabled"):
            raise ValueError(
                "copy_trading mode set up the original's own wallet monitor "
                "(strategy_definitions), which cascadian does not have: copy trades "
                "with a MANUAL_COPY_TRADE node"
            )
        return self


@dataclass(frozen=True)
class Candidate:
    market_id: str
    question: str | None
    side: Literal["YES", "NO"]
    outcome: str
    token_id: str | None
    price: Decimal
    p_win: Decimal
    p_source: str


@dataclass(frozen=True)
class Review:
    go: bool
    confidence: Decimal
    risk_score: int
    reasoning: str


def decimal_of(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        found = D(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return found if found.is_finite() else None


def side_of(row: dict[str, Any], config: OrchestratorConfig) -> Literal["YES", "NO"]:
    signal = row.get("signal")
    for value in (
        signal.get("direction") if isinstance(signal, dict) else None,
        row.get("recommended_side"),
        row.get("side"),
        config.preferred_side,
    ):
        text = str(value).strip().upper() if value is not None else ""
        if text in ("YES", "NO"):
            return "YES" if text == "YES" else "NO"
    return "YES"


def input_price(row: dict[str, Any], index: int) -> Decimal | None:
    odds = row.get("current_odds") or row.get("odds")
    if isinstance(odds, dict):
        found = decimal_of(odds.get("yes" if index == 0 else "no"))
        if found is not None:
            return found
    prices = row.get("outcomePrices") or row.get("outcome_prices")
    if isinstance(prices, str):
        try:
            prices = json.loads(prices)
        except ValueError:
            prices = None
    if isinstance(prices, list) and len(prices) > index:
        found = decimal_of(prices[index])
        if found is not None:
            return found
    yes = decimal_of(row.get("currentPrice", row.get("yes_price")))
    if yes is None:
        return None
    return yes if index == 0 else 1 - yes


def p_win_of(row: dict[str, Any], side: str, price: Decimal) -> tuple[Decimal, str]:
    found = row.get("signal")
    signal: dict[str, Any] = found if isinstance(found, dict) else {}
    estimated = decimal_of(signal.get("estimated_probability"))
    if estimated is not None and 0 <= estimated <= 1:
        return estimated, "signal.estimated_probability"
    owrr = decimal_of(row.get("owrr"))
    if owrr is not None and 0 <= owrr <= 1:
        return (owrr if side == "YES" else 1 - owrr), "owrr"
    confidence = decimal_of(signal.get("confidence"))
    if confidence is not None and 0 <= confidence <= 1:
        return min(price + confidence * D("0.1"), D(1)), "price + signal.confidence / 10"
    return D("0.5"), "default 0.5"


def risk_score(p_win: Decimal) -> int:
    """The chance of losing, in tenths (1: almost sure to win; 10: almost sure to lose)."""
    return max(1, min(10, math.ceil((1 - p_win) * 10)))


def reasoning(c: Candidate, s: Sizing) -> str:
    edge = c.p_win - c.price
    text = (
        f"{c.side} on {c.question or c.market_id} at {c.price}: p_win {c.p_win} "
        f"({c.p_source}), edge {edge:+.4f}, Kelly {s.kelly_raw:.4f}, "
        f"fraction {s.kelly_fraction:.4f}, bet ${s.size}."
    )
    return text + (f" {'; '.join(s.constraints)}." if s.constraints else "")


def parse_review(text: str) -> Review:
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text[text.find("{") : text.rfind("}") + 1]
    data = json.loads(body)
    decision = str(data["decision"]).strip().upper()
    if decision not in ("GO", "NO_GO"):
        raise ValueError(f"decision {decision!r} is neither GO nor NO_GO")
    confidence = decimal_of(data.get("confidence"))
    risk = data.get("risk_score")
    # json reads 1e999 and Infinity as an infinite float, which int() cannot take.
    if isinstance(risk, float) and not math.isfinite(risk):
        raise ValueError(f"risk_score {risk!r} is not a number from 1 to 10")
    return Review(
        go=decision == "GO",
        confidence=min(max(confidence if confidence is not None else D("0.5"), ZERO), D(1)),
        risk_score=max(1, min(10, int(risk))) if isinstance(risk, int | float) else 5,
        reasoning=str(data.get("reasoning") or "")[:2000],
    )
