-- The orchestrator's decisions (the original's `orchestrator` node, approval mode):
-- a sized bet waits in orchestrator_decisions for its owner, who approves it (its
-- paper order is placed then, through the trading book) or rejects it, before it
-- expires. An expired or rejected decision never places.
--
-- The table is the original app's own: a deployment that has it keeps it (its rows,
-- checks, trigger and policies untouched) and gains the columns below; a new database
-- gets it with the columns the existing deployments have. Only the statuses the
-- original allowed are written (pending, approved, rejected): an expired decision is
-- a pending one past its expires_at, told so by the reads.
--
-- Exactly once:
-- * cascadian_create_decisions_v1 keys each decision by its run slot, node, market
--   and outcome (decision_key, unique per strategy), so a retried or re-run run
--   writes it once, and notifies the owner once;
-- * cascadian_decide_v1 locks the decision, and places its order with the order key
--   'decision:<id>' through cascadian_place_paper_order_v4 (the kill switch, halt,
--   limits, cash) in the same transaction as the approval and its audit entry:
--   approving twice answers the first approval's order, and places nothing new.

do $$
begin
    if to_regclass('orchestrator_decisions') is null then
        create table orchestrator_decisions (
            id uuid primary key default gen_random_uuid(),
            execution_id uuid not null references workflow_executions (id) on delete cascade,
            workflow_id uuid not null references workflow_sessions (id) on delete cascade,
            node_id text not null,
            market_id text not null,
            decision text not null check (decision in ('GO', 'NO_GO', 'REDUCE', 'CLOSE', 'FLIP')),
            direction text not null check (direction in ('YES', 'NO')),
            recommended_size numeric not null,
            risk_score integer not null,
            ai_reasoning text not null,
            ai_confidence numeric not null,
            portfolio_snapshot jsonb not null,
            status text not null default 'pending',
            created_at timestamptz not null default now()
        );
        -- Only the store's functions read and write it on Supabase.
        if to_regnamespace('auth') is not null
           and to_regprocedure('auth.uid()') is not null
           and (select count(*) from pg_roles
                where rolname in ('anon', 'authenticated', 'service_role')) = 3 then
            alter table orchestrator_decisions enable row level security;
            revoke all on table orchestrator_decisions from anon, authenticated;
        end if;
    end if;
end;
$$;

-- The original's own later columns (a deployment may have them already), then ours.
alter table orchestrator_decisions add column if not exists actual_size numeric;
alter table orchestrator_decisions add column if not exists override_reason text;
alter table orchestrator_decisions add column if not exists decided_at timestamptz;
alter table orchestrator_decisions add column if not exists decision_key text;
alter table orchestrator_decisions add column if not exists outcome text;
alter table orchestrator_decisions add column if not exists token_id text;
alter table orchestrator_decisions add column if not exists market_question text;
alter table orchestrator_decisions add column if not exists expires_at timestamptz;
alter table orchestrator_decisions add column if not exists order_id uuid;
alter table orchestrator_decisions add column if not exists decided_by jsonb;

-- 013 adds it on a deployment that had the table then (retention deletes by run).
create index if not exists orchestrator_decisions_execution_idx
    on orchestrator_decisions (execution_id);
create unique index if not exists cascadian_orchestrator_decisions_key_idx
    on orchestrator_decisions (workflow_id, decision_key) where decision_key is not null;
create index if not exists cascadian_orchestrator_decisions_created_idx
    on orchestrator_decisions (created_at desc, id);

-- A decision as the reads answer it: its status 'expired' once a pending one is
-- past its expiry at p_now; money as text.
create or replace function cascadian_decision_json_v1(d orchestrator_decisions, p_now timestamptz)
returns jsonb
language sql
stable
as $$
    select jsonb_build_object(
        'id', d.id, 'workflow_id', d.workflow_id, 'execution_id', d.execution_id,
        'node_id', d.node_id, 'market_id', d.market_id, 'market_question', d.market_question,
        'outcome', d.outcome, 'token_id', d.token_id, 'decision', d.decision,
        'direction', d.direction, 'recommended_size', d.recommended_size::text,
        'actual_size', d.actual_size::text, 'risk_score', d.risk_score,
        'ai_reasoning', d.ai_reasoning, 'ai_confidence', d.ai_confidence::text,
        'portfolio_snapshot', d.portfolio_snapshot,
        'status', case when d.status = 'pending' and d.expires_at <= p_now then 'expired'
                       else d.status end,
        'created_at', d.created_at, 'expires_at', d.expires_at, 'decided_at', d.decided_at,
        'order_id', d.order_id, 'override_reason', d.override_reason,
        'decided_by', d.decided_by
    )
$$;

-- Write a run's pending decisions, once each. p is {workflow_id, execution_id,
-- node_id, slot (null: the run's own, as the trading book keys its orders),
-- decisions: [{market_id, market_question, outcome, token_id, direction,
-- recommended_size, risk_score, ai_reasoning, ai_confidence, portfolio_snapshot,
-- expires_at}]}. The owner is told of the new ones in one notification (unless
-- their settings suppress it). Answers [{decision..., created}].
create or replace function cascadian_create_decisions_v1(p jsonb, p_now timestamptz)
returns jsonb
language plpgsql
as $$
declare
    v_workflow uuid := (p ->> 'workflow_id')::uuid;
    v_execution uuid := (p ->> 'execution_id')::uuid;
    v_node text := p ->> 'node_id';
    v_slot text := p ->> 'slot';
    v_owner uuid;
    v_bad integer;
    v_answer jsonb;
    v_new integer;
    v_total numeric;
    v_created uuid[];
begin
    if v_workflow is null or v_execution is null or coalesce(v_node, '') = ''
       or jsonb_typeof(p -> 'decisions') is distinct from 'array' then
        raise exception 'decisions need workflow_id, execution_id, node_id and a decisions list'
            using errcode = '22023';
    end if;
    select count(*) filter (
        where coalesce(x.market_id, '') = '' or coalesce(x.outcome, '') = ''
           or x.direction is null or x.direction not in ('YES', 'NO')
           or x.recommended_size is null or x.recommended_size <= 0
           or x.risk_score is null or x.risk_score not between 1 and 10
           or x.ai_confidence is null or x.ai_confidence not between 0 and 1
           or x.expires_at is null or x.expires_at <= p_now or x.ai_reasoning is null
    ) into v_bad
    from jsonb_to_recordset(p -> 'decisions') as x (
        market_id text, outcome text, direction text, recommended_size numeric,
        risk_score integer, ai_confidence numeric, expires_at timestamptz, ai_reasoning text
    );
    if v_bad > 0 then
        raise exception 'each decision needs market_id, outcome, direction YES or NO, '
            'recommended_size > 0, risk_score 1-10, ai_confidence 0-1, ai_reasoning and '
            'an expires_at after now'
            using errcode = '22023';
    end if;
    select w.user_id into v_owner from workflow_sessions w where w.id = v_workflow;
    if not found then
        raise exception 'no strategy %', v_workflow using errcode = '22023';
    end if;
    if coalesce(v_slot, '') = '' then
        select case when e.trigger_kind = 'scheduled' and e.scheduled_for is not null
                    then 'slot:' || to_char(e.scheduled_for at time zone 'UTC',
                                            'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                    else 'run:' || e.id::text end
        into v_slot
        from workflow_executions e
        where e.id = v_execution and e.workflow_id = v_workflow;
        if v_slot is null then
            raise exception 'no run % of strategy %', v_execution, v_workflow
                using errcode = '22023';
        end if;
    end if;

    -- One statement inserts, the next reads (a decision another attempt wrote
    -- meanwhile is then seen too).
    with wanted as (
        select x.*, v_slot || ':' || v_node || ':' || x.market_id || ':' || lower(x.outcome)
                   as key
        from jsonb_to_recordset(p -> 'decisions') as x (
            market_id text, market_question text, outcome text, token_id text,
            direction text, recommended_size numeric, risk_score integer,
            ai_reasoning text, ai_confidence numeric, portfolio_snapshot jsonb,
            expires_at timestamptz
        )
    ),
    inserted as (
        insert into orchestrator_decisions (
            execution_id, workflow_id, node_id, market_id, decision, direction,
            recommended_size, risk_score, ai_reasoning, ai_confidence, portfolio_snapshot,
            status, created_at, decision_key, outcome, token_id, market_question, expires_at
        )
        select v_execution, v_workflow, v_node, w.market_id, 'GO', w.direction,
               w.recommended_size, w.risk_score, w.ai_reasoning, w.ai_confidence,
               coalesce(w.portfolio_snapshot, '{}'::jsonb), 'pending', p_now, w.key,
               w.outcome, w.token_id, w.market_question, w.expires_at
        from wanted w
        on conflict (workflow_id, decision_key) where decision_key is not null do nothing
        returning id, recommended_size
    )
    select coalesce(array_agg(i.id), '{}'), count(*), coalesce(sum(i.recommended_size), 0)
    into v_created, v_new, v_total
    from inserted i;

    select coalesce(jsonb_agg(
               cascadian_decision_json_v1(d, p_now)
               || jsonb_build_object('created', d.id = any(v_created))
               order by a.ord), '[]'::jsonb)
    into v_answer
    from jsonb_array_elements(p -> 'decisions') with ordinality as a (item, ord)
    join orchestrator_decisions d
        on d.workflow_id = v_workflow
       and d.decision_key = v_slot || ':' || v_node || ':' || (a.item ->> 'market_id') || ':'
                            || lower(a.item ->> 'outcome');

    if v_new > 0 and v_owner is not null then
        perform cascadian_send_notification_v1(
            v_owner, v_workflow, 'strategy_update',
            format('%s trade(s) await your approval', v_new),
            format('The orchestrator (node %s) sized %s paper order(s), $%s in all; '
                   'approve or reject each before it expires.', v_node, v_new, v_total),
            '/strategies/' || v_workflow::text || '?tab=decisions', 'high',
            jsonb_build_object('node_id', v_node, 'decisions', v_new), p_now
        );
    end if;
    return v_answer;
end;
$$;

-- One decision (null: none, or for a user (p_user) not theirs).
create or replace function cascadian_decision_v1(p_id uuid, p_now timestamptz, p_user uuid)
returns jsonb
language sql
stable
as $$
    select cascadian_decision_json_v1(d, p_now)
    from orchestrator_decisions d
    join workflow_sessions w on w.id = d.workflow_id
    where d.id = p_id and (p_user is null or w.user_id = p_user)
$$;

-- A page of decisions, newest first: of one strategy (p_workflow_id) or of all, of one
-- status (pending, expired, approved, rejected) or all, a user's own only (p_user).
-- Answers {items, total}; null for a strategy not found (or not the user's).
create or replace function cascadian_decisions_v1(
    p_workflow_id uuid, p_status text, p_limit integer, p_offset integer,
    p_now timestamptz, p_user uuid
)
returns jsonb
language plpgsql
stable
as $$
declare
    v_answer jsonb;
begin
    if p_workflow_id is not null and not exists (
        select 1 from workflow_sessions w
        where w.id = p_workflow_id and (p_user is null or w.user_id = p_user)
    ) then
        return null;
    end if;
    with matching as (
        select d.id, d.created_at
        from orchestrator_decisions d
        join workflow_sessions w on w.id = d.workflow_id
        where (p_workflow_id is null or d.workflow_id = p_workflow_id)
          and (p_user is null or w.user_id = p_user)
          and d.decision_key is not null
          and (p_status is null
               or (p_status = 'pending' and d.status = 'pending' and d.expires_at > p_now)
               or (p_status = 'expired' and d.status = 'pending' and d.expires_at <= p_now)
               or (p_status not in ('pending', 'expired') and d.status = p_status))
    ),
    page as (
        select m.id from matching m
        order by m.created_at desc, m.id
        limit p_limit offset p_offset
    )
    select jsonb_build_object(
        'items', coalesce((select jsonb_agg(cascadian_decision_json_v1(d, p_now)
                                            order by d.created_at desc, d.id)
                           from orchestrator_decisions d join page on page.id = d.id), '[]'),
        'total', (select count(*) from matching)
    ) into v_answer;
    return v_answer;
end;
$$;

-- Approve (p_approve, with p_placement: the paper order's fill against the book now,
-- as cascadian_place_paper_order_v4 takes it) or reject (p_reason) a decision, as
-- p_actor. Under the decision's lock: a pending one not expired is decided (an
-- approval places its order with the key 'decision:<id>', the trading book's checks
-- applying), with its audit entry, in this one transaction. Answers {outcome, decision,
-- order}: outcome approved, rejected, expired (nothing changes), already_approved (the
-- first approval's order, replayed) or already_rejected; null for a decision not found
-- (or not the user's).
create or replace function cascadian_decide_v1(
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
begin
    select d.* into v_decision
    from orchestrator_decisions d
    join workflow_sessions w on w.id = d.workflow_id
    where d.id = p_id and (v_user is null or w.user_id = v_user)
    for update of d;
    if not found then
        return null;
    end if;
    v_key := 'decision:' || v_decision.id::text;
    if v_decision.status = 'approved' then
        select o.answer || jsonb_build_object('replayed', true) into v_order
        from cascadian_trading_orders o
        where o.workflow_id = v_decision.workflow_id and o.order_key = v_key;
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
        -- What is bought is the decision's, whatever the caller sent.
        v_order := cascadian_place_paper_order_v4(
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
