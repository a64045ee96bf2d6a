-- Holdings, so an exit is placed once per holding; and re-runs of event runs that
-- carry their event (issues 31 and 32).
--
-- 1. A position sold or settled to nothing and bought again is a new holding. Each
--    position now names its current holding: the cascadian_paper_orders row (its
--    id, which only grows) that opened it. EXIT_SIGNAL keys its sell by the holding
--    (workflow/original/nodes/positions.py), so a holding is exited once, however
--    often a run is retried or re-run, and the next holding of the same market and
--    outcome can be exited again. The trigger that keeps cascadian_positions (025)
--    gets a new version that keeps the holding; cascadian_equity_curve_v2 is v1
--    (025) with each open position's holding.
--
-- 2. cascadian_claim_rerun_v2 is v1 (026) answering the event a run started by a
--    trigger event ran with (its workflow_snapshot's `event`, which
--    cascadian_claim_events_v1 (028) keeps), marked as a re-run: {..., rerun: true,
--    rerun_of: the failed run}; the new run's snapshot keeps the marked event. A run
--    without an event answers null, as before.
--
-- v1 of the curve and of the re-run claim stay for the previous release while this
-- one deploys. cascadian_track_position_v1 is dropped: only 025's trigger ran it,
-- and the trigger now runs v2.

alter table cascadian_positions add column if not exists holding bigint;

-- The open positions' holdings: the first order after the last one that left the
-- position flat (or the first order of all).
update cascadian_positions p
set holding = (
    select min(o.id)
    from cascadian_paper_orders o
    where o.workflow_id = p.workflow_id and o.market_id = p.market_id
      and o.outcome = p.outcome
      and o.id > coalesce((
          select max(z.id) from cascadian_paper_orders z
          where z.workflow_id = p.workflow_id and z.market_id = p.market_id
            and z.outcome = p.outcome and z.position_shares = 0
      ), 0)
)
where p.shares > 0 and p.holding is null;

-- As cascadian_track_position_v1 (025), keeping the holding: an order that takes a
-- flat (or new) position above zero opens a holding, its own id; any other order
-- keeps the holding it finds. A flat position keeps its last holding's id.
create or replace function cascadian_track_position_v2()
returns trigger
language plpgsql
as $$
begin
    insert into cascadian_positions as p (
        workflow_id, market_id, outcome, shares, cost, realized_pnl, settled_at, updated_at,
        holding
    )
    values (
        new.workflow_id, new.market_id, new.outcome, new.position_shares, new.position_cost,
        new.realized_pnl, case when new.side = 'settlement' then new.created_at end,
        new.created_at, case when new.position_shares > 0 then new.id end
    )
    on conflict (workflow_id, market_id, outcome) do update set
        shares = excluded.shares, cost = excluded.cost, realized_pnl = excluded.realized_pnl,
        settled_at = excluded.settled_at, updated_at = excluded.updated_at,
        holding = case
            when excluded.shares > 0 and (p.shares = 0 or p.holding is null)
                then excluded.holding
            else p.holding
        end;
    return null;
end;
$$;

drop trigger if exists cascadian_track_position on cascadian_paper_orders;
create trigger cascadian_track_position
    after insert on cascadian_paper_orders
    for each row execute function cascadian_track_position_v2();

drop function if exists cascadian_track_position_v1();

-- As cascadian_equity_curve_v1 (025), each open position with its holding.
create or replace function cascadian_equity_curve_v2(
    p_workflow_id uuid, p_since timestamptz, p_limit integer
)
returns jsonb
language sql
stable
as $$
    with portfolio as (
        select f.* from cascadian_paper_portfolios f where f.workflow_id = p_workflow_id
    ),
    bankroll as (
        select coalesce(
            (select initial_bankroll from portfolio),
            (select initial_bankroll from cascadian_trading_limits
             where workflow_id = p_workflow_id),
            10000
        ) as amount
    ),
    positions as (
        select p.market_id, p.outcome, p.shares, p.cost, p.holding, m.price as mark_price,
               m.marked_at,
               case when m.price is null then p.cost else p.shares * m.price end as value
        from cascadian_positions p
        left join cascadian_marks m on m.market_id = p.market_id and m.outcome = p.outcome
        where p.workflow_id = p_workflow_id and p.shares > 0
    ),
    totals as (
        select coalesce(sum(value), 0) as value, coalesce(sum(cost), 0) as cost from positions
    ),
    points as (
        select * from cascadian_equity_points e
        where e.workflow_id = p_workflow_id and (p_since is null or e.at >= p_since)
        order by e.at desc
        limit greatest(p_limit, 0)
    )
    select case when not exists (select 1 from workflow_sessions where id = p_workflow_id)
        then null
        else jsonb_build_object(
            'points', coalesce((
                select jsonb_agg(jsonb_build_object(
                    'at', e.at, 'equity', e.equity::text, 'cash', e.cash::text,
                    'positions_value', e.positions_value::text,
                    'realized_pnl', e.realized_pnl::text,
                    'unrealized_pnl', e.unrealized_pnl::text
                ) order by e.at)
                from points e
            ), '[]'::jsonb),
            'now', (
                select jsonb_build_object(
                    'initial_bankroll', b.amount::text,
                    'cash', coalesce((select available_cash from portfolio), b.amount)::text,
                    'positions_value', t.value::text,
                    'unrealized_pnl', (t.value - t.cost)::text,
                    'realized_pnl', coalesce((select realized_pnl from portfolio), 0)::text,
                    'equity', (coalesce((select available_cash from portfolio), b.amount)
                               + t.value)::text,
                    'peak_equity', coalesce((select peak_equity from portfolio), b.amount)::text,
                    'max_drawdown', coalesce((select max_drawdown from portfolio), 0)::text,
                    'positions', coalesce((
                        select jsonb_agg(jsonb_build_object(
                            'market_id', p.market_id, 'outcome', p.outcome,
                            'shares', p.shares::text, 'cost', p.cost::text,
                            'holding', p.holding,
                            'mark_price', p.mark_price::text, 'marked_at', p.marked_at,
                            'value', p.value::text, 'unrealized_pnl', (p.value - p.cost)::text
                        ) order by p.market_id, p.outcome)
                        from positions p
                    ), '[]'::jsonb)
                )
                from bankroll b, totals t
            )
        )
    end;
$$;

-- As cascadian_claim_rerun_v1 (026), answering the run's event (see the top).
create or replace function cascadian_claim_rerun_v2(
    p_execution_id uuid,
    p_now timestamptz,
    p_lease_seconds double precision,
    p_actor jsonb
)
returns table (
    result text,
    execution_id uuid,
    workflow_id uuid,
    user_id uuid,
    name text,
    nodes text,
    edges text,
    variables text,
    trigger text,
    execution_interval_minutes integer,
    cron_expression text,
    timezone text,
    scheduled_for timestamptz,
    attempt integer,
    lease_expires_at timestamptz,
    next_execution_at timestamptz,
    event jsonb
)
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    v_event jsonb;
    v_snapshot jsonb;
    e workflow_executions%rowtype;
    s workflow_sessions%rowtype;
begin
    select * into e from workflow_executions x
    where x.id = p_execution_id and (v_user is null or x.user_id = v_user);
    if not found then
        result := 'run_not_found';
        return next;
        return;
    elsif e.status <> 'failed' then
        result := 'not_failed';
        return next;
        return;
    elsif e.workflow_snapshot is null or jsonb_typeof(e.workflow_snapshot->'nodes') is null then
        result := 'no_snapshot';
        return next;
        return;
    end if;

    select * into s from workflow_sessions w
    where w.id = e.workflow_id and (v_user is null or w.user_id = v_user)
    for update;
    if not found then
        result := 'not_found';
        return next;
        return;
    elsif s.status = 'archived' then
        result := 'archived';
        return next;
        return;
    elsif not s.is_current_version then
        result := 'superseded';
        return next;
        return;
    elsif s.lease_expires_at > p_now then
        result := 'run_in_flight';
        return next;
        return;
    end if;

    if s.lease_token is not null then
        update workflow_executions x
        set status = 'cancelled',
            execution_completed_at = p_now,
            error_message = 'abandoned: the lease expired before the run was recorded'
        where x.id = s.lease_token and x.status = 'running';
    end if;

    update workflow_sessions w
    set lease_token = gen_random_uuid(),
        lease_expires_at = p_now + make_interval(secs => p_lease_seconds)
    where w.id = s.id
    returning * into s;

    v_snapshot := e.workflow_snapshot;
    if jsonb_typeof(v_snapshot->'event') = 'object' then
        v_event := (v_snapshot->'event')
            || jsonb_build_object('rerun', true, 'rerun_of', e.id);
        v_snapshot := jsonb_set(v_snapshot, '{event}', v_event);
    end if;

    insert into workflow_executions (
        id, workflow_id, user_id, execution_started_at, status,
        trigger_kind, scheduled_for, attempt, workflow_snapshot, rerun_of
    )
    values (
        s.lease_token, s.id, s.user_id, p_now, 'running', 'rerun', null, 1,
        v_snapshot, e.id
    );
    perform cascadian_audit_v1(
        p_actor, 'rerun', s.id, '{}'::jsonb,
        jsonb_build_object('execution_id', s.lease_token, 'rerun_of', e.id),
        p_now
    );

    return query select
        'ok'::text, s.lease_token, s.id, s.user_id,
        coalesce(e.workflow_snapshot->>'name', s.name),
        (e.workflow_snapshot->'nodes')::text,
        coalesce(e.workflow_snapshot->'edges', '[]'::jsonb)::text,
        coalesce(e.workflow_snapshot->'variables', '{}'::jsonb)::text,
        (e.workflow_snapshot->'trigger')::text,
        coalesce(s.execution_interval_minutes, 5), s.cron_expression, s.timezone,
        null::timestamptz, 1, s.lease_expires_at, s.next_execution_at, v_event;
end;
$$;

select cascadian_restrict_functions_v1();
