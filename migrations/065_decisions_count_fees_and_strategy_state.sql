-- Two faults in approving an orchestrator decision, left over from the review of
-- issue 31's decisions (055, 059).
--
-- 1. The caps a decision was sized under were re-checked against the fill's dollars
--    before fees, but a position's cost and the deployed capital count the fee
--    (the trading book's rule, 023): a decision sized to its cap filled past it by
--    the fee. cascadian_decision_refusal_v2 takes what the fill spends, fees
--    included, and cascadian_decide_v4 passes notional + fee_usd; the node sizes
--    with the fee too (workflow/original/sizing.py). The cash is the order
--    function's own check (notional + fee, under the same lock).
--
-- 2. An approval placed the order whatever the strategy's state: a decision of an
--    archived or stopped strategy still bought. cascadian_decide_v4 refuses it
--    (`strategy_archived`, `strategy_stopped`) as it refuses a cap: the refusal is
--    the approval's order, recorded like any refusal, and the decision is decided.
--    A paused or auto-paused strategy is not refused here (pausing stops its
--    schedule, not its owner's decisions; a daily-loss halt refuses in the order
--    function). The state is read, not locked, in the approval's transaction: an
--    approval racing a stop is placed as if it came first (a share lock on the
--    session would deadlock two approvals that both halt it).
--
-- It places with cascadian_place_paper_order_v6 (064). v3 of decide and v1 of the
-- refusal stay for the release still running during a deploy.

-- Why an approval of `d` spending `p_spend` dollars (its fill's notional and fee)
-- is refused before the order function's own checks: {result: refused, refusal,
-- detail}, or null.
create or replace function cascadian_decision_refusal_v2(
    d orchestrator_decisions, p_spend numeric
)
returns jsonb
language plpgsql
stable
as $$
declare
    v_caps jsonb := case when jsonb_typeof(d.portfolio_snapshot -> 'caps') = 'object'
                         then d.portfolio_snapshot -> 'caps' else '{}' end;
    v_position_cap numeric;
    v_deployed_cap numeric;
    v_cost numeric;
    v_deployed numeric;
    v_status text;
    v_number constant text := '^[0-9]+(\.[0-9]+)?$';
begin
    select w.status into v_status from workflow_sessions w where w.id = d.workflow_id;
    if v_status in ('archived', 'stopped') then
        return jsonb_build_object(
            'result', 'refused', 'refusal', 'strategy_' || v_status,
            'detail', format('the strategy is %s: its decisions are not placed', v_status)
        );
    end if;
    if exists (
        select 1 from cascadian_marks m
        where (m.token_id = d.token_id and (m.market_id <> d.market_id
                                            or lower(m.outcome) <> lower(d.outcome)))
           or (m.market_id = d.market_id and lower(m.outcome) = lower(d.outcome)
               and m.token_id is not null and m.token_id <> d.token_id)
    ) then
        return jsonb_build_object(
            'result', 'refused', 'refusal', 'token_mismatch',
            'detail', format('the token %s is not %s''s %s outcome token',
                             d.token_id, d.market_id, d.outcome)
        );
    end if;
    if v_caps ->> 'max_position_usd' ~ v_number then
        v_position_cap := (v_caps ->> 'max_position_usd')::numeric;
    end if;
    if v_caps ->> 'max_deployed_usd' ~ v_number then
        v_deployed_cap := (v_caps ->> 'max_deployed_usd')::numeric;
    end if;
    select coalesce(sum(p.cost), 0) into v_cost
    from cascadian_positions p
    where p.workflow_id = d.workflow_id and p.market_id = d.market_id
      and p.outcome = d.outcome and p.shares > 0;
    if v_position_cap is not null and v_cost + p_spend > v_position_cap then
        return jsonb_build_object(
            'result', 'refused', 'refusal', 'max_per_position',
            'detail', format('the position would cost $%s, the fee included; the decision '
                             'was sized under a cap of $%s (max_per_position of the '
                             'equity then)',
                             round(v_cost + p_spend, 2), round(v_position_cap, 2))
        );
    end if;
    select coalesce(f.deployed_capital, 0) into v_deployed
    from cascadian_paper_portfolios f where f.workflow_id = d.workflow_id;
    if v_deployed_cap is not null and coalesce(v_deployed, 0) + p_spend > v_deployed_cap then
        return jsonb_build_object(
            'result', 'refused', 'refusal', 'portfolio_heat_limit',
            'detail', format('the open positions would cost $%s, the fee included; the '
                             'decision was sized under a cap of $%s (portfolio_heat_limit '
                             'of the equity then)',
                             round(coalesce(v_deployed, 0) + p_spend, 2),
                             round(v_deployed_cap, 2))
        );
    end if;
    return null;
end;
$$;

-- Approve or reject a decision: v3 (059) with the checks above.
create or replace function cascadian_decide_v4(
    p_id uuid, p_approve boolean, p_placement jsonb, p_reason text, p_now timestamptz,
    p_actor jsonb
)
returns jsonb
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    v_decision orchestrator_decisions;
    v_key text;
    v_order jsonb;
    v_notional numeric;
    v_fee numeric;
    v_refusal jsonb;
begin
    select d.* into v_decision
    from orchestrator_decisions d
    join workflow_sessions w on w.id = d.workflow_id
    where d.id = p_id and (v_user is null or w.user_id = v_user)
      and d.decision_key is not null  -- cascadian's own rows: a row the app wrote is not one
    for update of d;
    if not found then
        return null;
    end if;
    v_key := 'decision:' || v_decision.id::text;
    if v_decision.status = 'approved' then
        select o.answer || jsonb_build_object('replayed', true) into v_order
        from cascadian_trading_orders o
        where o.workflow_id = v_decision.workflow_id and o.order_id = v_decision.order_id;
        return jsonb_build_object(
            'outcome', 'already_approved',
            'decision', cascadian_decision_json_v1(v_decision, p_now), 'order', v_order
        );
    elsif v_decision.status <> 'pending' then
        return jsonb_build_object(
            'outcome', 'already_' || v_decision.status,
            'decision', cascadian_decision_json_v1(v_decision, p_now)
        );
    elsif v_decision.expires_at is null or v_decision.expires_at <= p_now then
        return jsonb_build_object(
            'outcome', 'expired', 'decision', cascadian_decision_json_v1(v_decision, p_now)
        );
    end if;

    if p_approve then
        if jsonb_typeof(p_placement) is distinct from 'object' then
            raise exception 'an approval needs the order''s fill' using errcode = '22023';
        end if;
        select sum(f.price * f.shares) into v_notional
        from jsonb_to_recordset(coalesce(p_placement -> 'fills', '[]'))
             as f (price numeric, shares numeric);
        v_fee := coalesce((p_placement ->> 'fee_usd')::numeric, 0);
        -- Its dollars before fees, as the trading book counts an order's amount.
        if coalesce(v_notional, 0) > v_decision.recommended_size then
            raise exception 'the fill ($%) is more than the decision''s size ($%)',
                v_notional, v_decision.recommended_size using errcode = '22023';
        end if;
        -- The portfolio row is made first if the strategy has none yet (as the order
        -- function makes it), so that the lock is taken even before its first order.
        insert into cascadian_paper_portfolios (workflow_id, initial_bankroll, available_cash,
                                                peak_equity, created_at, updated_at)
        select v_decision.workflow_id, b.bankroll, b.bankroll, b.bankroll, p_now, p_now
        from (
            select coalesce((
                select l.initial_bankroll from cascadian_trading_limits l
                where l.workflow_id = v_decision.workflow_id
            ), 10000) as bankroll
        ) as b
        on conflict (workflow_id) do nothing;
        perform 1 from cascadian_paper_portfolios f
        where f.workflow_id = v_decision.workflow_id
        for update;
        -- What the fill spends, its fee included: a position's cost counts the fee.
        v_refusal := cascadian_decision_refusal_v2(
            v_decision, coalesce(v_notional, 0) + greatest(v_fee, 0)
        );
        if v_refusal is not null then
            p_placement := p_placement || v_refusal;
        end if;
        -- What is bought is the decision's, whatever the caller sent.
        v_order := cascadian_place_paper_order_v6(
            p_placement || jsonb_build_object(
                'workflow_id', v_decision.workflow_id, 'execution_id', v_decision.execution_id,
                'slot', v_key, 'node_id', v_decision.node_id,
                'market_id', v_decision.market_id, 'outcome', v_decision.outcome,
                'market_question', v_decision.market_question, 'side', 'buy'
            ),
            p_now, v_key
        );
        update orchestrator_decisions
        set status = 'approved', decided_at = p_now, decided_by = p_actor,
            actual_size = (v_order ->> 'notional_usd')::numeric,
            order_id = (v_order ->> 'order_id')::uuid
        where id = v_decision.id
        returning * into v_decision;
        perform cascadian_audit_v1(
            p_actor, 'approve_decision', v_decision.workflow_id,
            jsonb_build_object('decision_id', v_decision.id, 'status', 'pending'),
            jsonb_build_object(
                'decision_id', v_decision.id, 'status', 'approved',
                'order_id', v_order ->> 'order_id', 'order_result', v_order ->> 'result',
                'market_id', v_decision.market_id, 'outcome', v_decision.outcome,
                'amount_usd', v_decision.actual_size::text
            ),
            p_now
        );
        return jsonb_build_object(
            'outcome', 'approved',
            'decision', cascadian_decision_json_v1(v_decision, p_now), 'order', v_order
        );
    end if;

    update orchestrator_decisions
    set status = 'rejected', decided_at = p_now, decided_by = p_actor,
        override_reason = left(p_reason, 500), actual_size = 0
    where id = v_decision.id
    returning * into v_decision;
    perform cascadian_audit_v1(
        p_actor, 'reject_decision', v_decision.workflow_id,
        jsonb_build_object('decision_id', v_decision.id, 'status', 'pending'),
        jsonb_build_object(
            'decision_id', v_decision.id, 'status', 'rejected', 'reason', left(p_reason, 500)
        ),
        p_now
    );
    return jsonb_build_object(
        'outcome', 'rejected', 'decision', cascadian_decision_json_v1(v_decision, p_now)
    );
end;
$$;

select cascadian_restrict_functions_v1();
