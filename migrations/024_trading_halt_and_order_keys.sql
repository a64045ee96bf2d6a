-- The daily loss limit becomes a circuit breaker, and a node may place several
-- orders in one run, each exactly once (issue 28).
--
-- cascadian_place_paper_order_v2 is v1 (023) with two changes:
--
-- 1. The day of the daily loss limit starts at midnight in the strategy's own time
--    zone (workflow_sessions.timezone; UTC unless its schedule names one), and a
--    breach halts the strategy's trading and auto-pauses it in the order's own
--    transaction, as three consecutive errors do (cascadian_finish_runs_v3): status
--    'error', off its schedule, its last_error saying why, and a high-priority
--    'strategy_error' notification to its owner. A breach is a sell that realises a
--    loss taking the day's realised loss to the limit (the sell itself goes
--    through: it reduces risk), or a buy once the day's loss is at the limit (the
--    buy is refused). While halted, every order of the strategy is refused
--    ('halted'). The halt is kept on the portfolio (halted_at, halt_reason,
--    halt_detail) and cleared when an operator schedules the strategy again
--    (resume or start: auto_run false -> true), by the trigger below, so resuming
--    is the operator's decision and needs no new version of the control functions.
--    The order's answer carries `halted` {reason, detail, strategy_name,
--    auto_paused} so the executor can alert the operators.
--
-- 2. An optional order key (p_order_key): when given, an order is identified by
--    (strategy, order key) instead of (strategy, slot, node), so one node may place
--    several orders in a run (copy trading: one per source trade), each recorded
--    once however often the run is re-run. Keyed orders and unkeyed ones never
--    collide: the unique (strategy, slot, node) becomes a unique index over the
--    unkeyed orders only.
--
-- v1 stays, unchanged in what it does, for the previous release's order nodes while
-- this one deploys; nothing in this release calls it.

alter table cascadian_paper_portfolios
    add column if not exists halted_at timestamptz,
    add column if not exists halt_reason text,
    add column if not exists halt_detail text;

alter table cascadian_trading_orders
    add column if not exists order_key text;

alter table cascadian_trading_orders
    drop constraint if exists cascadian_trading_orders_workflow_id_slot_node_id_key;

create unique index if not exists cascadian_trading_orders_slot_node
    on cascadian_trading_orders (workflow_id, slot, node_id)
    where order_key is null;

create unique index if not exists cascadian_trading_orders_key
    on cascadian_trading_orders (workflow_id, order_key)
    where order_key is not null;

-- Record one paper order, exactly once: as cascadian_place_paper_order_v1 (023),
-- with the order key, the daily loss limit in the strategy's time zone, and the
-- halt; see the top of this file.
create or replace function cascadian_place_paper_order_v2(
    p jsonb, p_now timestamptz, p_order_key text default null
)
returns jsonb
language plpgsql
as $$
declare
    v_workflow uuid := (p ->> 'workflow_id')::uuid;
    v_slot text := p ->> 'slot';
    v_node text := p ->> 'node_id';
    v_market text := p ->> 'market_id';
    v_outcome text := p ->> 'outcome';
    v_side text := p ->> 'side';
    v_fee numeric := coalesce((p ->> 'fee_usd')::numeric, 0);
    v_result text := coalesce(p ->> 'result', 'filled');
    v_shares numeric;
    v_notional numeric;
    v_bad integer;
    v_portfolio cascadian_paper_portfolios;
    v_limits cascadian_trading_limits;
    v_switch cascadian_kill_switches;
    v_first jsonb;
    v_held numeric := 0;
    v_cost numeric := 0;
    v_position_realized numeric := 0;
    v_spend numeric;
    v_sold_cost numeric := 0;
    v_delta numeric := 0;
    v_day_start timestamptz;
    v_day_realized numeric;
    v_refusal text;
    v_detail text;
    v_halt text;
    v_order_id uuid := gen_random_uuid();
    v_answer jsonb;
    v_equity numeric;
begin
    if p_order_key is not null and btrim(p_order_key) = '' then
        raise exception 'an order key, when given, is not empty' using errcode = '22023';
    end if;
    -- The slot a re-run shares: a scheduled run's slot (every attempt of it), else
    -- the run itself (a manual run has its own rules), unless the caller names one.
    if coalesce(v_slot, '') = '' then
        select case when e.trigger_kind = 'scheduled' and e.scheduled_for is not null
                    then 'slot:' || to_char(e.scheduled_for at time zone 'UTC',
                                            'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                    else 'run:' || e.id::text end
        into v_slot
        from workflow_executions e
        where e.id = (p ->> 'execution_id')::uuid and e.workflow_id = v_workflow;
    end if;
    if v_workflow is null or coalesce(v_slot, '') = '' or coalesce(v_node, '') = ''
       or coalesce(v_market, '') = '' or coalesce(v_outcome, '') = ''
       or v_side is null or v_side not in ('buy', 'sell')
       or v_result not in ('filled', 'partly_filled', 'refused') or v_fee < 0
       or (v_result = 'refused' and coalesce(p ->> 'refusal', '') = '')
       or (v_result <> 'refused' and (jsonb_typeof(p -> 'fills') is distinct from 'array'
                                      or jsonb_array_length(p -> 'fills') = 0)) then
        raise exception 'an order needs workflow_id, a run (execution_id) or slot, node_id, '
            'market_id, outcome, '
            'side (buy or sell), fee_usd >= 0, and result: filled or partly_filled with '
            'fills, or refused with a refusal'
            using errcode = '22023';
    end if;
    select count(*) filter (
               where f.price is null or f.price <= 0 or f.price >= 1
                  or f.shares is null or f.shares <= 0
           ),
           sum(f.shares), sum(f.price * f.shares)
    into v_bad, v_shares, v_notional
    from jsonb_to_recordset(coalesce(p -> 'fills', '[]')) as f (price numeric, shares numeric);
    if v_bad > 0 then
        raise exception 'each fill needs 0 < price < 1 and shares > 0' using errcode = '22023';
    end if;
    -- A taker fee is at most a quarter of the rate times the shares (p(1 - p) <= 1/4),
    -- so one above the trade's value is a caller's mistake.
    if v_fee > coalesce(v_notional, 0) then
        raise exception 'the fee ($%) is more than the order ($%)', v_fee, v_notional
            using errcode = '22023';
    end if;
    if not exists (select 1 from workflow_sessions where id = v_workflow) then
        raise exception 'no strategy %', v_workflow using errcode = '22023';
    end if;

    -- The portfolio row is the lock every order of this strategy queues on.
    select * into v_limits from cascadian_trading_limits where workflow_id = v_workflow;
    insert into cascadian_paper_portfolios (workflow_id, initial_bankroll, available_cash,
                                            peak_equity, created_at, updated_at)
    values (v_workflow, coalesce(v_limits.initial_bankroll, 10000),
            coalesce(v_limits.initial_bankroll, 10000), coalesce(v_limits.initial_bankroll, 10000),
            p_now, p_now)
    on conflict (workflow_id) do nothing;
    select * into v_portfolio
    from cascadian_paper_portfolios where workflow_id = v_workflow
    for update;
    -- Read the limits again under the lock: a change made while we queued applies.
    select * into v_limits from cascadian_trading_limits where workflow_id = v_workflow;

    if p_order_key is null then
        select o.answer into v_first
        from cascadian_trading_orders o
        where o.workflow_id = v_workflow and o.slot = v_slot and o.node_id = v_node
          and o.order_key is null;
    else
        select o.answer into v_first
        from cascadian_trading_orders o
        where o.workflow_id = v_workflow and o.order_key = p_order_key;
    end if;
    if found then
        return v_first || jsonb_build_object('replayed', true);
    end if;

    select o.position_shares, o.position_cost, o.realized_pnl
    into v_held, v_cost, v_position_realized
    from cascadian_paper_orders o
    where o.workflow_id = v_workflow and o.market_id = v_market and o.outcome = v_outcome
    order by o.id desc
    limit 1;
    v_held := coalesce(v_held, 0);
    v_cost := coalesce(v_cost, 0);
    v_position_realized := coalesce(v_position_realized, 0);

    -- The day of the daily loss limit starts at midnight in the strategy's zone. A
    -- zone PostgreSQL does not know (the API validates zones with Python's tz
    -- database, which may be newer) counts days in UTC rather than fail the order.
    if v_limits.daily_loss_usd is not null then
        begin
            select date_trunc('day', p_now at time zone s.timezone) at time zone s.timezone
            into v_day_start
            from workflow_sessions s where s.id = v_workflow;
        exception when invalid_parameter_value then
            v_day_start := date_trunc('day', p_now at time zone 'UTC') at time zone 'UTC';
        end;
        v_day_start := coalesce(
            v_day_start, date_trunc('day', p_now at time zone 'UTC') at time zone 'UTC'
        );
    end if;

    -- Refused by the book itself (fill-or-kill, tick size...): recorded as such.
    if v_result = 'refused' then
        v_refusal := p ->> 'refusal';
        v_detail := p ->> 'detail';
    end if;

    select * into v_switch from cascadian_kill_switches
    where scope in ('global', v_workflow::text)
    order by scope = 'global' desc
    limit 1;
    if found then
        v_refusal := 'kill_switch';
        v_detail := format('the %s kill switch is on (set by %s: %s)',
                           case when v_switch.workflow_id is null then 'global'
                                else 'strategy''s' end,
                           v_switch.set_by, v_switch.reason);
    elsif v_portfolio.halted_at is not null then
        v_refusal := 'halted';
        v_detail := format('trading is halted until an operator resumes the strategy: %s',
                           v_portfolio.halt_detail);
    elsif v_refusal is not null then
        null;
    elsif v_side = 'sell' and v_shares > v_held then
        v_refusal := 'insufficient_shares';
        v_detail := format('selling %s shares; the position holds %s', v_shares, v_held);
    elsif v_limits.max_order_usd is not null and v_notional > v_limits.max_order_usd then
        v_refusal := 'max_order_usd';
        v_detail := format('the order is $%s; the limit is $%s',
                           round(v_notional, 2), v_limits.max_order_usd);
    elsif v_side = 'buy' then
        v_spend := v_notional + v_fee;
        if v_limits.daily_loss_usd is not null then
            select coalesce(sum(o.realized_pnl), 0) into v_day_realized
            from cascadian_trading_orders o
            where o.workflow_id = v_workflow and o.created_at >= v_day_start;
        end if;
        if v_limits.daily_loss_usd is not null and -v_day_realized >= v_limits.daily_loss_usd then
            v_refusal := 'daily_loss_usd';
            v_detail := format('today''s realised loss is $%s; the limit is $%s',
                               round(-v_day_realized, 2), v_limits.daily_loss_usd);
            v_halt := v_detail;
        elsif v_spend > v_portfolio.available_cash then
            v_refusal := 'insufficient_cash';
            v_detail := format('the order costs $%s with fees; available cash is $%s',
                               round(v_spend, 2), round(v_portfolio.available_cash, 2));
        elsif v_limits.min_cash_reserve_usd is not null
              and v_portfolio.available_cash - v_spend < v_limits.min_cash_reserve_usd then
            v_refusal := 'min_cash_reserve_usd';
            v_detail := format('the order would leave $%s cash; the reserve is $%s',
                               round(v_portfolio.available_cash - v_spend, 2),
                               v_limits.min_cash_reserve_usd);
        elsif v_limits.max_position_usd is not null
              and v_cost + v_spend > v_limits.max_position_usd then
            v_refusal := 'max_position_usd';
            v_detail := format('the position would cost $%s; the limit is $%s',
                               round(v_cost + v_spend, 2), v_limits.max_position_usd);
        elsif v_limits.max_open_positions is not null and v_held = 0
              and v_portfolio.open_positions >= v_limits.max_open_positions then
            v_refusal := 'max_open_positions';
            v_detail := format('%s positions are open; the limit is %s',
                               v_portfolio.open_positions, v_limits.max_open_positions);
        end if;
    end if;

    if v_refusal is not null then
        v_answer := jsonb_build_object(
            'result', 'refused', 'order_id', v_order_id, 'refusal', v_refusal,
            'detail', v_detail, 'shares', '0', 'notional_usd', '0', 'fee_usd', '0',
            'available_cash', v_portfolio.available_cash::text,
            'position_shares', v_held::text, 'realized_pnl', '0', 'created_at', p_now
        );
    else
        if v_side = 'buy' then
            v_held := v_held + v_shares;
            v_cost := v_cost + v_spend;
            update cascadian_paper_portfolios
            set available_cash = available_cash - v_spend,
                deployed_capital = deployed_capital + v_spend,
                open_positions = open_positions + case when v_held = v_shares then 1 else 0 end,
                total_trades = total_trades + 1,
                updated_at = p_now
            where workflow_id = v_workflow
            returning * into v_portfolio;
        else
            -- Money is kept to 1e-8 so the position costs add up to the deployed
            -- capital exactly; the last sell of a position takes out all that is left.
            v_sold_cost := case when v_shares = v_held then v_cost
                                else round(v_cost * v_shares / v_held, 8) end;
            v_delta := v_notional - v_fee - v_sold_cost;
            v_held := v_held - v_shares;
            v_cost := v_cost - v_sold_cost;
            v_position_realized := v_position_realized + v_delta;
            v_equity := v_portfolio.initial_bankroll + v_portfolio.realized_pnl + v_delta;
            update cascadian_paper_portfolios
            set available_cash = available_cash + v_notional - v_fee,
                deployed_capital = deployed_capital - v_sold_cost,
                realized_pnl = realized_pnl + v_delta,
                open_positions = open_positions - case when v_held = 0 then 1 else 0 end,
                total_trades = total_trades + 1,
                winning_trades = winning_trades + case when v_delta > 0 then 1 else 0 end,
                losing_trades = losing_trades + case when v_delta < 0 then 1 else 0 end,
                total_wins = total_wins + greatest(v_delta, 0),
                total_losses = total_losses + greatest(-v_delta, 0),
                largest_win = greatest(largest_win, v_delta),
                largest_loss = greatest(largest_loss, -v_delta),
                peak_equity = greatest(peak_equity, v_equity),
                max_drawdown = greatest(max_drawdown, greatest(peak_equity, v_equity) - v_equity),
                updated_at = p_now
            where workflow_id = v_workflow
            returning * into v_portfolio;
            -- A losing sell that takes the day's realised loss to the limit is a
            -- breach: the sell stands, and trading halts after it.
            if v_delta < 0 and v_limits.daily_loss_usd is not null then
                select coalesce(sum(o.realized_pnl), 0) + v_delta into v_day_realized
                from cascadian_trading_orders o
                where o.workflow_id = v_workflow and o.created_at >= v_day_start;
                if -v_day_realized >= v_limits.daily_loss_usd then
                    v_halt := format('today''s realised loss is $%s; the limit is $%s',
                                     round(-v_day_realized, 2), v_limits.daily_loss_usd);
                end if;
            end if;
        end if;

        insert into cascadian_paper_orders (
            order_id, workflow_id, execution_id, node_id, market_id, market_question, outcome,
            side, order_type, amount_usd, price, shares, price_source, limit_price,
            position_shares, position_cost, realized_pnl, fee_usd, created_at
        )
        values (
            v_order_id, v_workflow, (p ->> 'execution_id')::uuid, v_node, v_market,
            p ->> 'market_question', v_outcome, v_side, coalesce(p ->> 'order_type', 'market'),
            v_notional, v_notional / v_shares, v_shares, 'clob', (p ->> 'limit_price')::numeric,
            v_held, v_cost, v_position_realized, v_fee, p_now
        );
        -- Numbers as text: a JSON number is read as a float by the drivers' JSON parsers.
        v_answer := jsonb_build_object(
            'result', v_result, 'order_id', v_order_id, 'shares', v_shares::text,
            'notional_usd', v_notional::text, 'fee_usd', v_fee::text,
            'average_price', round(v_notional / v_shares, 8)::text,
            'available_cash', v_portfolio.available_cash::text,
            'position_shares', v_held::text, 'realized_pnl', v_delta::text, 'created_at', p_now
        );
    end if;

    if v_halt is not null then
        v_answer := v_answer || jsonb_build_object(
            'halted', cascadian_halt_trading_v1(v_workflow, 'daily_loss_usd', v_halt,
                                                v_order_id, p_now)
        );
    end if;

    insert into cascadian_trading_orders (
        order_id, workflow_id, slot, node_id, order_key, execution_id, market_id, outcome,
        side, result, refusal, shares, notional_usd, fee_usd, realized_pnl, answer,
        created_at
    )
    values (
        v_order_id, v_workflow, v_slot, v_node, p_order_key, (p ->> 'execution_id')::uuid,
        v_market, v_outcome, v_side,
        case when v_refusal is null then v_result else 'refused' end, v_refusal,
        case when v_refusal is null then v_shares else 0 end,
        case when v_refusal is null then v_notional else 0 end,
        case when v_refusal is null then v_fee else 0 end,
        v_delta, v_answer, p_now
    );
    return v_answer || jsonb_build_object('replayed', false);
end;
$$;

-- Halt a strategy's trading and auto-pause it, as three consecutive errors do
-- (cascadian_finish_runs_v3): status 'error', off its schedule, last_error saying
-- why, and a high-priority notification to its owner. Called under the portfolio's
-- lock by the order function. A notification the database refuses (an existing
-- deployment's own rules) does not undo the halt. Answers {reason, detail,
-- strategy_name, auto_paused} (auto_paused false for an archived strategy, left
-- as it is).
create or replace function cascadian_halt_trading_v1(
    p_workflow_id uuid, p_reason text, p_detail text, p_order_id uuid, p_now timestamptz
)
returns jsonb
language plpgsql
as $$
declare
    v_session record;
    v_paused boolean;
begin
    update cascadian_paper_portfolios
    set halted_at = p_now, halt_reason = p_reason, halt_detail = p_detail, updated_at = p_now
    where workflow_id = p_workflow_id;

    update workflow_sessions s
    set status = 'error', auto_run = false,
        last_error = 'trading halted: ' || p_detail, updated_at = p_now
    where s.id = p_workflow_id and s.status is distinct from 'archived'
    returning s.user_id, s.name into v_session;
    v_paused := found;
    if not v_paused then
        select s.user_id, s.name into v_session from workflow_sessions s where s.id = p_workflow_id;
    else
        begin
            perform cascadian_send_notification_v1(
                v_session.user_id, p_workflow_id, 'strategy_error',
                'Strategy paused: ' || v_session.name,
                format('Strategy "%s" was paused and its trading halted: its daily loss '
                       'limit was reached (%s). Resume it to trade again.',
                       v_session.name, p_detail),
                '/strategies/' || p_workflow_id,
                'high',
                jsonb_build_object('reason', p_reason, 'order_id', p_order_id),
                p_now
            );
        exception when others then
            raise warning 'the halt notification of strategy % was refused: %',
                p_workflow_id, sqlerrm;
        end;
    end if;
    return jsonb_build_object(
        'reason', p_reason, 'detail', p_detail, 'strategy_name', v_session.name,
        'auto_paused', v_paused
    );
end;
$$;

-- An operator scheduling a strategy again (resume, or start: auto_run false to
-- true) clears its trading halt. The trigger's WHEN clause keeps every other
-- update of workflow_sessions (the claim, the finish) free of a function call.
create or replace function cascadian_clear_trading_halt_v1()
returns trigger
language plpgsql
as $$
begin
    update cascadian_paper_portfolios
    set halted_at = null, halt_reason = null, halt_detail = null, updated_at = now()
    where workflow_id = new.id and halted_at is not null;
    return null;
end;
$$;

drop trigger if exists cascadian_clear_trading_halt on workflow_sessions;
create trigger cascadian_clear_trading_halt
    after update of auto_run on workflow_sessions
    for each row
    when (new.auto_run and not coalesce(old.auto_run, false))
    execute function cascadian_clear_trading_halt_v1();

select cascadian_restrict_functions_v1();
