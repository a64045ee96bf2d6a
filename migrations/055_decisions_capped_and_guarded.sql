-- The orchestrator's decisions: pending ones do not stack past the caps they were
-- sized under, and the facts of a decision are cascadian's alone (the review of
-- issues 31 and 32).
--
-- 1. Approving several pending decisions on one outcome could take its position past
--    the orchestrator's `max_per_position` (and the portfolio past its heat limit):
--    each was sized against the filled positions only. The node now counts pending
--    decisions in its sizing (Python), and keeps the caps it sized under in the
--    decision's portfolio_snapshot (`caps`: max_position_usd, max_deployed_usd).
--    cascadian_decide_v2 is v1 (046) re-checking them at approval, under the
--    portfolio's lock, against what is filled now: an approval that would take the
--    position above its cap is refused (`max_per_position`), one that would take
--    the deployed capital above the heat cap is refused (`portfolio_heat_limit`),
--    naming the amounts; the refusal is the approval's order, as any refusal is.
--    It places through cascadian_place_paper_order_v5 (054).
--
-- 2. The original app lets a signed-in user insert, update and delete their own
--    orchestrator_decisions rows (its policies of 20251027000001, which 046 keeps),
--    and v1 approved what the row said: a user could raise a pending decision's
--    size, move it to another market or token, or push its expiry out. On a
--    Supabase-shaped database a trigger now refuses, for anon and authenticated,
--    any change to the facts of a decision (what, where, how much, until when, and
--    cascadian's own columns), a row inserted with cascadian's columns, and a
--    decided decision made pending again: the app may still approve or reject (its
--    status, actual_size, override_reason, decided_at) and delete. cascadian_decide_v2
--    decides only cascadian's rows (a decision_key), and refuses a token the stored
--    marks know under another market or outcome (`token_mismatch`).
--
-- v1 of decide stays for the release still running during a deploy.

-- Why an approval of `d` filling `p_notional` dollars is refused before the order
-- function's own checks: {result: refused, refusal, detail}, or null.
create or replace function cascadian_decision_refusal_v1(
    d orchestrator_decisions, p_notional numeric
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
    v_number constant text := '^[0-9]+(\.[0-9]+)?$';
begin
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
    if v_position_cap is not null and v_cost + p_notional > v_position_cap then
        return jsonb_build_object(
            'result', 'refused', 'refusal', 'max_per_position',
            'detail', format('the position would cost $%s; the decision was sized under a '
                             'cap of $%s (max_per_position of the equity then)',
                             round(v_cost + p_notional, 2), round(v_position_cap, 2))
        );
    end if;
    select coalesce(f.deployed_capital, 0) into v_deployed
    from cascadian_paper_portfolios f where f.workflow_id = d.workflow_id;
    if v_deployed_cap is not null and coalesce(v_deployed, 0) + p_notional > v_deployed_cap then
        return jsonb_build_object(
            'result', 'refused', 'refusal', 'portfolio_heat_limit',
            'detail', format('the open positions would cost $%s; the decision was sized '
                             'under a cap of $%s (portfolio_heat_limit of the equity then)',
                             round(coalesce(v_deployed, 0) + p_notional, 2),
                             round(v_deployed_cap, 2))
        );
    end if;
    return null;
end;
$$;

-- Approve or reject a decision: as cascadian_decide_v1 (046), with the checks above.
create or replace function cascadian_decide_v2(
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

-- What anon and authenticated may not write in orchestrator_decisions (see the top).
create or replace function cascadian_guard_decision_columns_v1()
returns trigger
language plpgsql
as $$
declare
    written text[];
begin
    if tg_op = 'INSERT' then
        written := array_remove(array[
            case when new.decision_key is not null then 'decision_key' end,
            case when new.outcome is not null then 'outcome' end,
            case when new.token_id is not null then 'token_id' end,
            case when new.expires_at is not null then 'expires_at' end,
            case when new.order_id is not null then 'order_id' end,
            case when new.decided_by is not null then 'decided_by' end
        ], null);
    else
        written := array_remove(array[
            case when new.id is distinct from old.id then 'id' end,
            case when new.execution_id is distinct from old.execution_id
                then 'execution_id' end,
            case when new.workflow_id is distinct from old.workflow_id then 'workflow_id' end,
            case when new.node_id is distinct from old.node_id then 'node_id' end,
            case when new.market_id is distinct from old.market_id then 'market_id' end,
            case when new.decision is distinct from old.decision then 'decision' end,
            case when new.direction is distinct from old.direction then 'direction' end,
            case when new.recommended_size is distinct from old.recommended_size
                then 'recommended_size' end,
            case when new.risk_score is distinct from old.risk_score then 'risk_score' end,
            case when new.ai_reasoning is distinct from old.ai_reasoning
                then 'ai_reasoning' end,
            case when new.ai_confidence is distinct from old.ai_confidence
                then 'ai_confidence' end,
            case when new.portfolio_snapshot is distinct from old.portfolio_snapshot
                then 'portfolio_snapshot' end,
            case when new.created_at is distinct from old.created_at then 'created_at' end,
            case when new.decision_key is distinct from old.decision_key
                then 'decision_key' end,
            case when new.outcome is distinct from old.outcome then 'outcome' end,
            case when new.token_id is distinct from old.token_id then 'token_id' end,
            case when new.market_question is distinct from old.market_question
                then 'market_question' end,
            case when new.expires_at is distinct from old.expires_at then 'expires_at' end,
            case when new.order_id is distinct from old.order_id then 'order_id' end,
            case when new.decided_by is distinct from old.decided_by then 'decided_by' end,
            case when new.status is distinct from old.status and old.status <> 'pending'
                then 'status' end
        ], null);
    end if;
    if written <> '{}' then
        raise exception 'orchestrator_decisions: % cannot be written through the Data API',
                array_to_string(written, ', ')
            using errcode = 'insufficient_privilege',
                detail = 'A decision''s market, outcome, token, size, expiry and reasoning '
                    'are the orchestrator''s; a decided decision stays decided.',
                hint = 'Approve or reject a decision through cascadian''s API '
                    '(/api/strategies/{id}/decisions/{decision_id}/approve, /reject).';
    end if;
    return new;
end;
$$;

do $$
begin
    if to_regnamespace('auth') is null
       or (select count(*) from pg_roles
           where rolname in ('anon', 'authenticated', 'service_role')) < 3 then
        return;
    end if;
    create or replace trigger cascadian_decision_columns
        before insert or update on orchestrator_decisions
        for each row
        when (current_user in ('anon', 'authenticated'))
        execute function cascadian_guard_decision_columns_v1();
end;
$$;

select cascadian_restrict_functions_v1();
