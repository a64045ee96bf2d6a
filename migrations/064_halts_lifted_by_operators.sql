-- A daily-loss halt is an operator's to lift (issue 28: "resuming it is an
-- operator's decision"), and no longer lifted by whoever schedules the strategy
-- again.
--
-- 024's trigger on workflow_sessions cleared a strategy's halt whenever its auto_run
-- went from false to true: an operator's resume, but also its owner's (the user
-- routes of 049), the app's builder toggling auto_run through the Data API, or a
-- bulk resume of a user's own strategies. So the P&L circuit breaker a user's loss
-- tripped was lifted by the same user's pause and resume, while the refusal said
-- "until an operator resumes the strategy". Now:
--
-- * the trigger and its function are dropped: scheduling a strategy again (resume,
--   start, by anyone) leaves its halt; its runs run, its orders are refused
--   ('halted', as before) until the halt is lifted;
-- * cascadian_lift_trading_halt_v1 lifts it, for an operator only (a user actor
--   answers 'forbidden', and nothing changes), under the portfolio's lock, with the
--   audit entry (`lift_halt`, the halt before) in the same transaction. The control
--   service calls it after an operator's resume or start (control.py), and an
--   operator may lift it alone (DELETE /api/strategies/{id}/halt);
-- * cascadian_halt_trading_v2 is v1 (024) telling the owner so: "Its orders are
--   refused until an operator resumes it" (v1 said "Resume it to trade again"), and
--   cascadian_place_paper_order_v6 and cascadian_mark_portfolios_v4 are v5 (054) and
--   v3 (041) halting with it, nothing else changed.
--
-- The day boundary, changing the limits and pausing still lift nothing. v5 of the
-- order function, v3 of marking and v1 of the halt stay for the release still running
-- during a deploy (its resume no longer lifts a halt either: the safe direction).

drop trigger if exists cascadian_clear_trading_halt on workflow_sessions;
drop function if exists cascadian_clear_trading_halt_v1();

-- Halt a strategy's trading and auto-pause it: v1 (024), the owner told that an
-- operator lifts it.
create or replace function cascadian_halt_trading_v2(
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
                       'limit was reached (%s). Its orders are refused until an operator '
                       'resumes it; resuming it yourself runs it on its schedule, its '
                       'orders still refused.',
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

-- Record one paper order, exactly once: v5 (054) halting with v2.
create or replace function cascadian_place_paper_order_v6(
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
    v_day_loss jsonb;
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
    -- The slot every attempt and re-run of a run shares (cascadian_run_slot_v1),
    -- unless the caller names one.
    if coalesce(v_slot, '') = '' then
        v_slot := cascadian_run_slot_v1(v_workflow, (p ->> 'execution_id')::uuid);
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

    -- Only a placed order uses up its key: a refused one is tried again.
    if p_order_key is null then
        select o.answer into v_first
        from cascadian_trading_orders o
        where o.workflow_id = v_workflow and o.slot = v_slot and o.node_id = v_node
          and o.order_key is null and o.result <> 'refused';
    else
        select o.answer into v_first
        from cascadian_trading_orders o
        where o.workflow_id = v_workflow and o.order_key = p_order_key
          and o.result <> 'refused';
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
            v_day_loss := cascadian_day_loss_v1(v_workflow, p_now);
        end if;
        if v_limits.daily_loss_usd is not null
           and (v_day_loss ->> 'loss')::numeric >= v_limits.daily_loss_usd then
            v_refusal := 'daily_loss_usd';
            v_detail := cascadian_day_loss_detail_v1(v_day_loss, v_limits.daily_loss_usd);
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
            -- The sell's own realised P&L is not recorded yet: it is added here, and
            -- its position (now smaller) is valued by cascadian_day_loss_v1 after the
            -- insert below, so the check runs there.
            null;
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
        -- After a sell (which stands: it reduces risk), the day's loss with the sell
        -- in it: its realised P&L added, and the position it leaves valued.
        if v_side = 'sell' and v_limits.daily_loss_usd is not null then
            v_day_loss := cascadian_day_loss_v1(v_workflow, p_now, v_delta);
            if (v_day_loss ->> 'loss')::numeric >= v_limits.daily_loss_usd then
                v_halt := cascadian_day_loss_detail_v1(v_day_loss, v_limits.daily_loss_usd);
            end if;
        end if;
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
            'halted', cascadian_halt_trading_v2(v_workflow, 'daily_loss_usd', v_halt,
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

-- Mark the portfolios: v3 (041) halting with v2.
create or replace function cascadian_mark_portfolios_v4(
    p_marks jsonb,
    p_now timestamptz,
    p_min_gap interval,
    p_keep_after timestamptz,
    p_prune_limit integer
)
returns jsonb
language plpgsql
as $$
declare
    v_marks integer;
    v_workflow uuid;
    v_portfolio cascadian_paper_portfolios;
    v_value numeric;
    v_equity numeric;
    v_portfolios integer := 0;
    v_points integer := 0;
    v_pruned integer := 0;
    v_valued uuid[] := '{}';
    v_limit numeric;
    v_halted_at timestamptz;
    v_day_loss jsonb;
    v_detail text;
    v_halts jsonb := '[]';
begin
    if jsonb_typeof(p_marks) is distinct from 'array' then
        raise exception 'marks are a list of {market_id, outcome, price}' using errcode = '22023';
    end if;
    if exists (
        select 1 from jsonb_to_recordset(p_marks) as m (market_id text, outcome text, price numeric)
        where coalesce(m.market_id, '') = '' or coalesce(m.outcome, '') = ''
           or m.price is null or m.price < 0 or m.price > 1
    ) then
        raise exception 'each mark needs market_id, outcome and 0 <= price <= 1'
            using errcode = '22023';
    end if;

    -- Portfolios first (the lock orders take), then the marks they will be read at.
    for v_workflow in
        select distinct p.workflow_id
        from cascadian_positions p
        join jsonb_to_recordset(p_marks) as m (market_id text, outcome text)
          on m.market_id = p.market_id and m.outcome = p.outcome
        where p.shares > 0
        order by p.workflow_id
    loop
        perform 1 from cascadian_paper_portfolios where workflow_id = v_workflow for update;
    end loop;

    insert into cascadian_marks as k (market_id, outcome, token_id, price, marked_at)
    select distinct on (m.market_id, m.outcome) m.market_id, m.outcome, m.token_id, m.price, p_now
    from jsonb_to_recordset(p_marks) as m (market_id text, outcome text, token_id text,
                                           price numeric)
    order by m.market_id, m.outcome
    on conflict (market_id, outcome) do update set
        token_id = coalesce(excluded.token_id, k.token_id), price = excluded.price,
        marked_at = excluded.marked_at;
    get diagnostics v_marks = row_count;

    for v_workflow in
        select distinct p.workflow_id
        from cascadian_positions p
        join jsonb_to_recordset(p_marks) as m (market_id text, outcome text)
          on m.market_id = p.market_id and m.outcome = p.outcome
        join cascadian_paper_portfolios f on f.workflow_id = p.workflow_id
        where p.shares > 0
        order by p.workflow_id
    loop
        select v.positions_value into v_value from cascadian_portfolio_value_v1(v_workflow) v;
        update cascadian_paper_portfolios
        set peak_equity = greatest(peak_equity, available_cash + v_value),
            max_drawdown = greatest(
                max_drawdown,
                greatest(peak_equity, available_cash + v_value) - (available_cash + v_value)
            )
        where workflow_id = v_workflow
        returning * into v_portfolio;
        v_portfolios := v_portfolios + 1;
        v_valued := v_valued || v_workflow;
        if cascadian_write_equity_point_v2(v_workflow, p_now, p_min_gap, 'mark') then
            v_points := v_points + 1;
        end if;
    end loop;

    -- A strategy whose marks take the day's loss to its limit is halted now, under
    -- the lock taken above, not at its next buy.
    foreach v_workflow in array v_valued loop
        select l.daily_loss_usd, f.halted_at into v_limit, v_halted_at
        from cascadian_paper_portfolios f
        left join cascadian_trading_limits l on l.workflow_id = f.workflow_id
        where f.workflow_id = v_workflow;
        continue when v_limit is null or v_halted_at is not null;
        v_day_loss := cascadian_day_loss_v1(v_workflow, p_now);
        continue when (v_day_loss ->> 'loss')::numeric < v_limit;
        v_detail := cascadian_day_loss_detail_v1(v_day_loss, v_limit);
        v_halts := v_halts || jsonb_build_array(
            jsonb_build_object('workflow_id', v_workflow)
            || cascadian_halt_trading_v2(v_workflow, 'daily_loss_usd', v_detail, null, p_now)
        );
    end loop;

    if p_keep_after is not null and p_prune_limit > 0 then
        delete from cascadian_equity_points
        where id in (
            select id from cascadian_equity_points
            where at < p_keep_after
            order by at
            limit p_prune_limit
        );
        get diagnostics v_pruned = row_count;
    end if;
    return jsonb_build_object(
        'marks', v_marks, 'portfolios', v_portfolios, 'points', v_points, 'pruned', v_pruned,
        'halted', v_halts
    );
end;
$$;

-- Lift a strategy's daily-loss halt: an operator's decision. Answers 'ok',
-- 'not_halted', 'not_found', or 'forbidden' for a user (the halt is not theirs to
-- lift; nothing changes).
create or replace function cascadian_lift_trading_halt_v1(
    p_id uuid, p_now timestamptz, p_actor jsonb
)
returns text
language plpgsql
as $$
declare
    v_portfolio cascadian_paper_portfolios%rowtype;
begin
    if cascadian_actor_user_v1(p_actor) is not null then
        return 'forbidden';
    end if;
    perform 1 from workflow_sessions w where w.id = p_id;
    if not found then
        return 'not_found';
    end if;
    select * into v_portfolio from cascadian_paper_portfolios f
    where f.workflow_id = p_id
    for update;
    if not found or v_portfolio.halted_at is null then
        return 'not_halted';
    end if;
    update cascadian_paper_portfolios
    set halted_at = null, halt_reason = null, halt_detail = null, updated_at = p_now
    where workflow_id = p_id;
    perform cascadian_audit_v1(
        p_actor, 'lift_halt', p_id,
        jsonb_build_object(
            'halted_at', v_portfolio.halted_at, 'halt_reason', v_portfolio.halt_reason,
            'halt_detail', v_portfolio.halt_detail
        ),
        jsonb_build_object('halted_at', null, 'halt_reason', null, 'halt_detail', null),
        p_now
    );
    return 'ok';
end;
$$;

select cascadian_restrict_functions_v1();
