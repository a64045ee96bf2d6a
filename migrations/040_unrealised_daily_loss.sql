-- The daily loss limit counts unrealised P&L too (issue 28: "realised + unrealised
-- since the day's start in the strategy's time zone").
--
-- cascadian_place_paper_order_v3 is v2 (024) with one more refusal, checked under the
-- same portfolio lock before v2 runs: a buy is refused ('daily_loss_usd') and the
-- strategy halted and auto-paused, as v2 does for a realised loss, once the day's
-- loss reaches the limit, where the day's loss is
--
--     -(realised P&L of the day's orders
--       + unrealised P&L now, from the stored marks (cascadian_portfolio_value_v1)
--       - unrealised P&L at the day's start, from the last equity point at or before
--         it (cascadian_equity_points, 025/033), or 0 without one)
--
-- and the day starts at midnight in the strategy's time zone, as in v2. v2's own
-- checks are kept as they are, so its realised-only check still applies too: a
-- realised loss at the limit refuses a buy even when unrealised gains offset it (the
-- stricter of the two rules). A sell is never refused for a loss (it reduces risk),
-- as before. The marking step (cascadian_mark_portfolios_v2) does not halt a
-- strategy whose marks alone breach the limit: the next buy does.
--
-- v2 stays for the previous release while this one deploys, and v3 calls it.

create or replace function cascadian_place_paper_order_v3(
    p jsonb, p_now timestamptz, p_order_key text default null
)
returns jsonb
language plpgsql
as $$
declare
    v_workflow uuid;
    v_limit numeric;
    v_day_start timestamptz;
    v_realized numeric;
    v_unrealized numeric;
    v_start_unrealized numeric;
    v_loss numeric;
    v_detail text;
    v_answer jsonb;
    v_halted jsonb;
begin
    -- Only a buy the book filled can be refused for the day's loss; anything else,
    -- and any malformed order (v2 names what is wrong), is v2's alone.
    if jsonb_typeof(p) is distinct from 'object' or p ->> 'side' is distinct from 'buy'
       or coalesce(p ->> 'result', 'filled') = 'refused'
       or (p ->> 'workflow_id') !~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' then
        return cascadian_place_paper_order_v2(p, p_now, p_order_key);
    end if;
    v_workflow := (p ->> 'workflow_id')::uuid;
    -- The portfolio row is the lock every order of this strategy queues on (v2 takes
    -- it again, a no-op); without one there is nothing held and nothing traded.
    perform 1 from cascadian_paper_portfolios where workflow_id = v_workflow for update;
    if found then
        select l.daily_loss_usd into v_limit
        from cascadian_trading_limits l where l.workflow_id = v_workflow;
    end if;
    if v_limit is null then
        return cascadian_place_paper_order_v2(p, p_now, p_order_key);
    end if;

    begin
        select date_trunc('day', p_now at time zone s.timezone) at time zone s.timezone
        into v_day_start
        from workflow_sessions s where s.id = v_workflow;
    exception when invalid_parameter_value then
        v_day_start := null;
    end;
    v_day_start := coalesce(
        v_day_start, date_trunc('day', p_now at time zone 'UTC') at time zone 'UTC'
    );
    select coalesce(sum(o.realized_pnl), 0) into v_realized
    from cascadian_trading_orders o
    where o.workflow_id = v_workflow and o.created_at >= v_day_start;
    select v.positions_value - v.cost into v_unrealized
    from cascadian_portfolio_value_v1(v_workflow) v;
    select e.unrealized_pnl into v_start_unrealized
    from cascadian_equity_points e
    where e.workflow_id = v_workflow and e.at <= v_day_start
    order by e.at desc
    limit 1;
    v_loss := -(v_realized + coalesce(v_unrealized, 0) - coalesce(v_start_unrealized, 0));
    if v_loss < v_limit then
        return cascadian_place_paper_order_v2(p, p_now, p_order_key);
    end if;

    v_detail := format(
        'today''s loss is $%s (realised $%s, unrealised since the day''s start $%s); '
        'the limit is $%s',
        round(v_loss, 2), round(-v_realized, 2),
        round(-(coalesce(v_unrealized, 0) - coalesce(v_start_unrealized, 0)), 2), v_limit
    );
    -- Recorded as a refusal by v2 (the key is taken, nothing else changes); a kill
    -- switch or a halt already on still answers first, and a replay as it was.
    v_answer := cascadian_place_paper_order_v2(
        (p - 'fills' - 'fee_usd')
        || jsonb_build_object('result', 'refused', 'refusal', 'daily_loss_usd',
                              'detail', v_detail),
        p_now, p_order_key
    );
    if (v_answer ->> 'replayed')::boolean or v_answer ->> 'refusal' <> 'daily_loss_usd' then
        return v_answer;
    end if;
    v_halted := cascadian_halt_trading_v1(
        v_workflow, 'daily_loss_usd', v_detail, (v_answer ->> 'order_id')::uuid, p_now
    );
    v_answer := v_answer || jsonb_build_object('halted', v_halted);
    -- A replay answers what this call answered, the halt included.
    update cascadian_trading_orders set answer = v_answer
    where order_id = (v_answer ->> 'order_id')::uuid;
    return v_answer;
end;
$$;

select cascadian_restrict_functions_v1();
