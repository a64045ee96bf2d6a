-- Exactly once across re-runs, and exits that are tried again (the review of issues
-- 31 and 32).
--
-- 1. A re-run places its failed run's orders once. cascadian_claim_rerun_v2 (048)
--    starts a re-run as a run of its own (trigger kind 'rerun', no scheduled_for),
--    so the order functions keyed its orders, and create_decisions its decisions,
--    by the slot 'run:<the re-run>': a buy the failed run had filled was bought
--    again. cascadian_run_slot_v1 answers the slot of the run a re-run (or a re-run
--    of a re-run) goes back to: 'slot:<scheduled_for>' for a scheduled run,
--    'event:<id>' for an event run (the slot the claims give it in Python),
--    'run:<id>' for any other. The order function and create_decisions use it when
--    the caller names no slot. It is derived where the order is written, not in the
--    claim, so every writer that keys by the run agrees.
--
-- 2. Only a placed order uses up its key. A refusal says nothing was bought or sold,
--    and the reasons a refusal has (a kill switch, a halt, a limit, the cash, the
--    shares held, the book's liquidity or its tick size) can all pass: an exit
--    refused while the kill switch was on is tried again at the next run once it is
--    off. cascadian_place_paper_order_v5 is v4 (041) answering only a filled or
--    partly filled order under the key (or slot and node) as replayed; a refused one
--    is tried afresh, and the new attempt recorded beside it (the refusals stay in
--    the orders' history). The unique indexes now hold the placed orders only, and
--    the portfolio's lock, which every order takes before it looks, still lets
--    concurrent placements under one key fill once.
--
--    A copy trade is not tried again: cascadian_copy_trade_observe_v1 (038) owes a copy
--    while no order has its key, a refused one included, so a copy refused now is
--    not placed later, at a price the source wallets traded at long before.
--
-- v4 of the order function and v1 of create_decisions stay for the release still
-- running during a deploy.

-- The slot of a run's orders: that of the run its re-runs go back to (see the top).
create or replace function cascadian_run_slot_v1(p_workflow_id uuid, p_execution_id uuid)
returns text
language sql
stable
as $$
    with recursive chain as (
        select e.id, e.rerun_of, e.trigger_kind, e.scheduled_for,
               e.workflow_snapshot -> 'event' ->> 'id' as event_id, 0 as depth
        from workflow_executions e
        where e.id = p_execution_id and e.workflow_id = p_workflow_id
        union all
        select e.id, e.rerun_of, e.trigger_kind, e.scheduled_for,
               e.workflow_snapshot -> 'event' ->> 'id', c.depth + 1
        from chain c
        join workflow_executions e on e.id = c.rerun_of and e.workflow_id = p_workflow_id
        where c.depth < 1000
    )
    select case
               when r.trigger_kind = 'scheduled' and r.scheduled_for is not null
                   then 'slot:' || to_char(r.scheduled_for at time zone 'UTC',
                                           'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
               when coalesce(r.event_id, '') <> '' then 'event:' || r.event_id
               else 'run:' || r.id::text
           end
    from chain r
    order by r.depth desc
    limit 1
$$;

-- The placed orders only hold a key (or a slot and node) for good.
create unique index if not exists cascadian_trading_orders_placed_key
    on cascadian_trading_orders (workflow_id, order_key)
    where order_key is not null and result <> 'refused';
create unique index if not exists cascadian_trading_orders_placed_slot_node
    on cascadian_trading_orders (workflow_id, slot, node_id)
    where order_key is null and result <> 'refused';
drop index if exists cascadian_trading_orders_key;
drop index if exists cascadian_trading_orders_slot_node;

-- Record one paper order, exactly once: as cascadian_place_paper_order_v4 (041), a
-- refused order tried again and the slot a re-run's run's; see the top of this file.
create or replace function cascadian_place_paper_order_v5(
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

-- As cascadian_create_decisions_v1 (046), the slot a re-run's run's (see the top).
create or replace function cascadian_create_decisions_v2(p jsonb, p_now timestamptz)
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
        v_slot := cascadian_run_slot_v1(v_workflow, v_execution);
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

select cascadian_restrict_functions_v1();
