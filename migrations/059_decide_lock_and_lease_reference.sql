-- Two defects a review of this stop's SQL found (issue 34's leases, the decisions of
-- 055).
--
-- 1. An approval's cap check took no lock on a strategy's first order.
--    cascadian_decide_v2 locks the strategy's portfolio row before it checks the
--    caps a decision was sized under, but that row is made by the first order: with
--    none yet, the lock took nothing, and an approval racing the strategy's first buy
--    (or another approval) checked the caps against a position being filled, and
--    filled past them ($90 on a $60 cap). cascadian_decide_v3 makes the row first,
--    as the order function does (the same bankroll), so the lock always holds.
--
-- 2. Deleting a strategy could deadlock with its run's claim or finish. 052's lease
--    table referenced workflow_sessions with ON DELETE CASCADE, so a delete locked
--    the session row and then, by the cascade, the lease row: the opposite order to
--    the claims and the finish (lease, then session). The reference is dropped: a
--    deleted strategy's lease row stays behind, harmless (every claim and read joins
--    the lease to its strategy or its run; one run out counts nowhere), and no lease
--    is ever made for a strategy that does not exist (the claims and
--    cascadian_lock_lease_v1 make them from the sessions they read).

alter table cascadian_leases drop constraint if exists cascadian_leases_workflow_id_fkey;

create or replace function cascadian_decide_v3(
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
        -- Its dollars before fees, as the trading book counts an order's amount.
        if coalesce(v_notional, 0) > v_decision.recommended_size then
            raise exception 'the fill ($%) is more than the decision''s size ($%)',
                v_notional, v_decision.recommended_size using errcode = '22023';
        end if;
        -- The position and heat caps the bet was sized under, against what is
        -- filled now, under the portfolio's lock (the order function takes it too).
        -- The row is made first if the strategy has none yet (as the order function
        -- makes it), so that the lock is taken even before its first order.
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
        v_refusal := cascadian_decision_refusal_v1(v_decision, coalesce(v_notional, 0));
        if v_refusal is not null then
            p_placement := p_placement || v_refusal;
        end if;
        -- What is bought is the decision's, whatever the caller sent.
        v_order := cascadian_place_paper_order_v5(
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
