"""original-orchestrator: the original's Portfolio Orchestrator (`orchestrator`, and the
strategy builder's `ORCHESTRATOR`), over the strategy's PAPER portfolio.

For each market of its input (`markets`, `filtered`, ...; at most `max_markets`):

1. the side: the input's `signal.direction`, `recommended_side` (SMART_MONEY_SIGNAL)
   or `side`, else `preferred_side`, else YES; the outcome is the market's first (YES)
   or second (NO), from Gamma;
2. the price of that side: the input's `current_odds`, `outcomePrices` or
   `currentPrice`/`yes_price`, else Gamma's; and the probability it wins, as the
   original read it: `signal.estimated_probability`, else the OWRR of a smart-money
   signal (1 - OWRR for NO), else the price plus a tenth of `signal.confidence`, else
   0.5 (which is no edge at any price above it);
3. the bet, sized by `position_sizing_rules` as the builder saved them
   (workflow/original/sizing.py: fractional Kelly, `max_bet`, `max_per_position`,
   `portfolio_heat_limit`, `drawdown_protection`, `min_bet`) over the paper portfolio:
   equity, cash and peak from the trading book's stored marks (one SQL read); a bet
   is sized again with its token's taker fee rate (the CLOB's book and fee rate, read
   for it in either mode), so the bet and its fee stay within the caps and the cash;
   a token the CLOB has no book for is a NO_GO; when the book cannot be read (the
   CLOB down, a timeout), approval mode sizes with CASCADIAN_DEFAULT_FEE_RATE and
   still writes the decision (its approval reads the book again), autonomous mode
   makes it a NO_GO saying so (the node and the run do not fail);
4. with an LLM provider configured (and `use_llm`, ours, not false), the model reviews
   each sized bet and may only veto it (NO_GO) or keep it, with its reasoning, its
   confidence and a risk score 1-10; it never changes the size. Without a provider the
   rules alone decide, and the output's `llm` says so. A review that fails or cannot
   be read is a NO_GO, as the original's analysis error was.

Then, by `mode`:
- `autonomous`: each GO is ONE paper buy (fill-and-kill at the book read again after
  the review: the first read gives only the fee rate) through the
  trading book (its limits, cash, kill switch), keyed by the run's slot and this node,
  market and outcome: a retried or re-run run places it once;
- `approval` (the builder's default): each GO is written as a pending decision
  (orchestrator_decisions, migrations/046), once per run slot, node, market and
  outcome, and the owner is notified once per run; it is placed only when approved
  (API, CLI, console) before `approval_expiry_minutes` (ours, 60) pass.

A dry run places nothing and writes no decision (each becomes an intent). The
original's `copy_trading` mode wrote its own tables (strategy_definitions) and is
refused before the run: MANUAL_COPY_TRADE copies trades here.
Output, the original's `{decisions, summary: {total, go, no_go, pending_approval,
executed}}` plus `mode`, `portfolio`, `llm`, `notApplied`, `paper: true` and `timestamp`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from cascadian.data import DecisionDraft, MarketBook, OrderIntent
from cascadian.workflow.llm import LlmError, complete
from cascadian.workflow.market.upstream import PolymarketError, PolymarketRejected
from cascadian.workflow.node_api import NodeContext, NodeError, NodeType
from cascadian.workflow.original.jsvalues import item_id, to_string
from cascadian.workflow.original.markets import market_by_id
from cascadian.workflow.original.nodes.common import epoch_ms, items
from cascadian.workflow.original.orchestration import (
    NOT_CONFIGURED,
    REVIEW_PROMPT,
    Candidate,
    OrchestratorConfig,
    Review,
    decimal_of,
    input_price,
    p_win_of,
    parse_review,
    reasoning,
    risk_score,
    side_of,
)
from cascadian.workflow.original.sizing import (
    ZERO,
    Sizing,
    SizingPortfolio,
    SizingRules,
    size_bet,
)

KEYS = ("markets", "filtered", "transformed", "data")
D = Decimal


async def _candidate(
    row: dict[str, Any], config: OrchestratorConfig, ctx: NodeContext
) -> Candidate | str:
    found = item_id(row)
    if found is None or isinstance(found, dict | list):
        return "no market id"
    market_id = to_string(found)
    side = side_of(row, config)
    index = 0 if side == "YES" else 1
    async with ctx.services.market_data() as markets:
        market = await market_by_id(markets, market_id, ctx.deadline)
    if len(market.outcomes) < 2:
        return f"market {market_id!r} has no {side} outcome"
    price = input_price(row, index)
    if price is None and len(market.outcome_prices) > index:
        price = decimal_of(market.outcome_prices[index])
    if price is None:
        return f"market {market_id!r} has no price for {side}"
    token = None
    if market.enable_order_book is not False and len(market.clob_token_ids) > index:
        token = str(market.clob_token_ids[index])
    p_win, source = p_win_of(row, side, price)
    return Candidate(
        market_id, market.question, side, market.outcomes[index], token, price, p_win, source
    )


async def _portfolio(
    config: OrchestratorConfig, ctx: NodeContext
) -> tuple[SizingPortfolio, dict[tuple[str, str], Decimal], str]:
    """The paper portfolio (equity at the stored marks), each position's cost, and
    where it came from; a dry run has none: `portfolio_size_usd` (10,000) stands in.
    A pending decision counts as bought (its size and the most its fee can be spent on
    its position, out of the cash), so decisions written run after run do not stack
    past the caps; approving one re-checks the caps in SQL (migrations/055, 065)."""
    if ctx.services.marks is None:
        size = D(str(config.portfolio_size_usd or 10_000))
        return SizingPortfolio(size, size, ZERO, size), {}, "portfolio_size_usd"
    curve = await ctx.services.mark_store().equity_curve(ctx.workflow.id, None, 0)
    if curve is None:
        raise NodeError("the strategy has no paper portfolio")
    costs = {(p.market_id, p.outcome.lower()): p.cost for p in curve.positions if p.shares > 0}
    pending = ZERO
    if ctx.services.decisions is not None:
        now = ctx.services.clock.now()
        for d in await ctx.services.decisions.pending_decisions(ctx.workflow.id, now):
            key = (d.market_id, (d.outcome or "").lower())
            spend = d.recommended_size * (1 + _fee_rate_of(d.portfolio_snapshot))
            costs[key] = costs.get(key, ZERO) + spend
            pending += spend
    book = SizingPortfolio(
        equity=curve.equity,
        cash=curve.cash - pending,
        deployed=sum(costs.values(), ZERO),
        peak_equity=max(curve.peak_equity, curve.equity),
    )
    return book, costs, "paper"


def _fee_rate_of(snapshot: dict[str, Any]) -> Decimal:
    """The fee rate a decision was sized with (0 for one written before 065)."""
    found = decimal_of(snapshot.get("fee_rate"))
    return found if found is not None and 0 <= found <= 1 else ZERO


async def _book(ctx: NodeContext, token_id: str) -> MarketBook | None:
    """The token's book and fee rate now; None when the CLOB has no book for it,
    PolymarketError when the book cannot be read."""
    async with ctx.services.market_data() as markets:
        try:
            return await markets.market_book(token_id, deadline=ctx.deadline)
        except PolymarketRejected:
            return None


async def _book_or_why(ctx: NodeContext, token_id: str) -> MarketBook | str:
    """The token's book, or why there is none (a NO_GO by the caller)."""
    try:
        found = await _book(ctx, token_id)
    except PolymarketError as exc:
        return f"The order book could not be read: {exc}"
    return "The market has no order book." if found is None else found


async def _review(
    config: OrchestratorConfig, ctx: NodeContext, c: Candidate, s: Sizing, book: SizingPortfolio
) -> Review | str:
    """The model's review, or why there is none (a failure is a NO_GO by the caller)."""
    provider = ctx.services.llm
    assert provider is not None
    facts = {
        "market_id": c.market_id,
        "question": c.question,
        "side": c.side,
        "price": str(c.price),
        "p_win": str(c.p_win),
        "p_win_source": c.p_source,
        "kelly_raw": str(s.kelly_raw),
        "recommended_size_usd": str(s.size),
        "constraints": s.constraints,
        "equity_usd": str(book.equity),
        "cash_usd": str(book.cash),
        "drawdown": str(book.drawdown),
    }
    async with ctx.services.http_client() as client:
        text = await complete(
            client,
            provider,
            model=config.model,
            messages=[
                {"role": "system", "content": REVIEW_PROMPT},
                {"role": "user", "content": json.dumps(facts)},
            ],
            temperature=0,
            max_tokens=400,
            retry=ctx.services.retry,
            deadline=ctx.deadline,
        )
    try:
        return parse_review(text)
    except (ValueError, KeyError, TypeError, RecursionError) as exc:  # deep nesting: json
        return f"the model's review could not be read ({exc}): {text[:200]}"


async def _place(ctx: NodeContext, c: Candidate, size: Decimal, book: MarketBook) -> dict[str, Any]:
    placed = await ctx.services.order_executor().place(
        OrderIntent(
            workflow_id=ctx.workflow.id,
            execution_id=ctx.workflow.execution_id,
            # One order per run slot, node, market and outcome: the trading book's
            # (slot, node) identity, with the market and outcome in the node's name.
            node_id=f"{ctx.node_id}#{c.market_id}:{c.outcome.lower()}",
            slot=ctx.workflow.order_slot,
            market_id=c.market_id,
            market_question=c.question,
            outcome=c.outcome,
            side="buy",
            amount_usd=size,
            time_in_force="FAK",
        ),
        book,
        ctx.services.clock.now(),
    )
    return {
        "status": "refused" if placed.result == "refused" else "executed",
        "orderResult": placed.result,
        "orderId": None if placed.order_id is None else str(placed.order_id),
        "refusal": placed.refusal,
        "reason": placed.detail,
        "notional": str(placed.notional_usd),
        "fee": str(placed.fee_usd),
        "executedPrice": None if placed.average_price is None else str(placed.average_price),
        "replayed": placed.replayed,
        "recorded": placed.recorded,
    }


def _snapshot(
    book: SizingPortfolio, source: str, s: Sizing, rules: SizingRules, fee_rate: Decimal
) -> dict[str, Any]:
    heat = rules.portfolio_heat_limit
    return {
        # What an approval re-checks against the positions filled then (055).
        "caps": {
            "max_position_usd": str(rules.max_per_position * book.equity),
            "max_deployed_usd": None if heat is None else str(heat * book.equity),
        },
        "bankroll_total_equity_usd": str(book.equity),
        "bankroll_free_cash_usd": str(book.cash),
        "deployed_capital": str(book.deployed),
        "current_drawdown": str(book.drawdown),
        "source": source,
        # What the bet was sized to pay in fee per dollar at most (065).
        "fee_rate": str(fee_rate),
        "sizing": {
            "kelly_fraction_raw": str(s.kelly_raw),
            "kelly_fraction_adjusted": str(s.kelly_fraction),
            "constraints_applied": s.constraints,
        },
    }


async def _run(config: OrchestratorConfig, ctx: NodeContext) -> dict[str, Any]:
    rules = config.position_sizing_rules.rules()
    rows = [r for r in items(ctx, KEYS) if isinstance(r, dict)][: config.max_markets]
    book, costs, source = await _portfolio(config, ctx)
    use_llm = config.use_llm and ctx.services.llm is not None
    now = ctx.services.clock.now()
    decisions: list[dict[str, Any]] = []
    drafts: list[tuple[dict[str, Any], DecisionDraft]] = []
    executed = 0
    for row in rows:
        found = await _candidate(row, config, ctx)
        if isinstance(found, str):
            decisions.append(
                {
                    "market_id": to_string(item_id(row)),
                    "decision": "NO_GO",
                    "status": "skipped",
                    "ai_reasoning": found,
                }
            )
            continue
        c = found
        held = costs.get((c.market_id, c.outcome.lower()), ZERO)
        sizing = size_bet(c.price, c.p_win, rules, replace(book, position_cost=held))
        market: MarketBook | None = None
        unread = None  # why the book could not be read
        if sizing.bet and c.token_id is not None:
            try:
                market = await _book(ctx, c.token_id)
            except PolymarketError as exc:
                unread = f"The order book could not be read: {exc}"
        rate = None if market is None else market.fee_rate
        if unread is not None and config.mode != "autonomous":
            # The approval reads the book again and re-checks the caps with its fee
            # under the lock (065): the decision is written, sized with the default.
            rate = ctx.services.settings.default_fee_rate
        if rate is not None:
            sizing = size_bet(c.price, c.p_win, rules, replace(book, position_cost=held), rate)
        go = sizing.bet and rate is not None
        why = reasoning(c, sizing)
        if sizing.bet and market is None:
            why += f" {unread or 'The market has no order book.'}"
            if rate is not None:
                why += f" Sized with the default fee rate {rate}."
        confidence, risk = c.p_win, risk_score(c.p_win)
        if go and use_llm:
            try:
                review: Review | str = await _review(config, ctx, c, sizing, book)
            except LlmError as exc:
                review = f"the model could not review it: {exc}"
            if isinstance(review, str):
                go, why = False, f"{why} NO_GO: {review}"
            else:
                go = review.go
                confidence, risk = review.confidence, review.risk_score
                why = f"{why} Model: {review.reasoning}"
        record: dict[str, Any] = {
            "market_id": c.market_id,
            "question": c.question,
            "decision": "GO" if go else "NO_GO",
            "direction": c.side,
            "outcome": c.outcome,
            "price": str(c.price),
            "p_win": str(c.p_win),
            "recommended_size": str(sizing.size if go else ZERO),
            "risk_score": risk,
            "ai_reasoning": why,
            "ai_confidence": str(confidence),
            "constraints_applied": sizing.constraints,
            "status": "no_go",
        }
        if go and config.mode == "autonomous":
            assert c.token_id is not None
            # The fill is at the book now, not at the one read before the review.
            live = await _book_or_why(ctx, c.token_id)
            if isinstance(live, str):
                record |= {"decision": "NO_GO", "recommended_size": "0"}
                record["ai_reasoning"] = f"{why} {live}"
                decisions.append(record)
                continue
            placed = await _place(ctx, c, sizing.size, live)
            record |= placed
            if placed["status"] == "executed":
                executed += 1
                spent = D(placed["notional"]) + D(placed["fee"])
                book = replace(book, cash=book.cash - spent, deployed=book.deployed + spent)
                costs[(c.market_id, c.outcome.lower())] = held + spent
        elif go:
            assert c.token_id is not None and rate is not None
            drafts.append(
                (
                    record,
                    DecisionDraft(
                        market_id=c.market_id,
                        market_question=c.question,
                        outcome=c.outcome,
                        token_id=c.token_id,
                        direction=c.side,
                        recommended_size=sizing.size,
                        risk_score=risk,
                        ai_reasoning=why,
                        ai_confidence=confidence,
                        portfolio_snapshot=_snapshot(book, source, sizing, rules, rate),
                        expires_at=now + timedelta(minutes=config.approval_expiry_minutes),
                    ),
                )
            )
        decisions.append(record)
    if drafts:
        stored = await ctx.services.decision_store().create_decisions(
            ctx.workflow.id,
            ctx.workflow.execution_id,
            ctx.node_id,
            ctx.workflow.order_slot,
            [d for _, d in drafts],
            now,
        )
        by_key = {(d.market_id, (d.outcome or "").lower()): d for d in stored}
        for record, draft in drafts:
            decision = by_key.get((draft.market_id, draft.outcome.lower()))
            record |= {"status": "pending", "expires_at": draft.expires_at.isoformat()}
            if decision is None:  # a dry run writes nothing
                record["recorded"] = False
                continue
            record |= {
                "id": str(decision.id),
                "status": decision.status,
                "recorded": True,
                "created": decision.created,
            }
    go_count = sum(1 for d in decisions if d["decision"] == "GO")
    sizing_rules = config.position_sizing_rules
    volatility = (sizing_rules.volatility_adjustment or {}).get("enabled")
    not_applied = [
        name
        for name, on in (
            ("risk_reward_threshold", sizing_rules.risk_reward_threshold),
            ("volatility_adjustment", volatility),
        )
        if on
    ]
    return {
        "decisions": decisions,
        "summary": {
            "total": len(decisions),
            "go": go_count,
            "no_go": len(decisions) - go_count,
            "pending_approval": sum(1 for d in decisions if d.get("status") == "pending"),
            "executed": executed,
        },
        "mode": config.mode,
        "portfolio": {
            "source": source,
            "equity": str(book.equity),
            "cash": str(book.cash),
            "deployed": str(book.deployed),
            "drawdown": str(book.drawdown),
        },
        "llm": {
            "used": use_llm,
            "model": config.model if use_llm else None,
            "note": None
            if use_llm
            else (NOT_CONFIGURED if ctx.services.llm is None else "use_llm is false"),
        },
        "notApplied": not_applied,
        "paper": True,
        "timestamp": epoch_ms(ctx),
    }


ORCHESTRATOR = NodeType(
    name="original-orchestrator",
    config_model=OrchestratorConfig,
    run=_run,
    description="The original's Portfolio Orchestrator: fractional-Kelly PAPER bets, "
    "placed (autonomous) or awaiting the owner's approval.",
)
