-- The trading book: a paper portfolio per strategy, its risk limits, a kill switch,
-- and one function that records an order exactly once, checking all of them.
--
-- Python computes a fill against the CLOB's order book (cascadian/trading/fills.py)
-- and passes the levels it filled at; this function re-checks the kill switch,
-- every limit, the cash and the position under a lock on the strategy's portfolio
-- row, so no interleaving of runs, ticks or workers can overshoot a limit, and it
-- writes the order, the position and the portfolio in the same transaction. Nothing
-- in Python reads a balance and writes it back. An order is identified by its
-- strategy, slot and node: a re-run of the same slot answers the first order's
-- result and records nothing. Nothing here, or anywhere in cascadian, is sent to
-- Polymarket.

-- The paper portfolio, with the original app's fields (its paper_portfolios); the
-- derived ones (win rate, average win/loss, total P&L) are computed when read.
create table if not exists cascadian_paper_portfolios (
    workflow_id uuid primary key references workflow_sessions (id) on delete cascade,
    initial_bankroll numeric not null check (initial_bankroll > 0),
    available_cash numeric not null check (available_cash >= 0),
    -- The cost of the open positions (what the buys paid, fees included).
    deployed_capital numeric not null default 0 check (deployed_capital >= 0),
    realized_pnl numeric not null default 0,
    open_positions integer not null default 0 check (open_positions >= 0),
    total_trades integer not null default 0,
    winning_trades integer not null default 0,
    losing_trades integer not null default 0,
    total_wins numeric not null default 0,
    total_losses numeric not null default 0,
    largest_win numeric not null default 0,
    largest_loss numeric not null default 0,
    -- Drawdown of the realised equity (bankroll + realised P&L) from its peak, until
    -- positions are marked from live books here.
    peak_equity numeric not null,
    max_drawdown numeric not null default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- A strategy's trading settings: every limit is optional (null: no limit). The
-- bankroll applies when the portfolio is created, or while it has no trades.
create table if not exists cascadian_trading_limits (
    workflow_id uuid primary key references workflow_sessions (id) on delete cascade,
    initial_bankroll numeric not null default 10000 check (initial_bankroll > 0),
    max_order_usd numeric check (max_order_usd > 0),
    max_position_usd numeric check (max_position_usd > 0),
    max_open_positions integer check (max_open_positions >= 0),
    daily_loss_usd numeric check (daily_loss_usd > 0),
    min_cash_reserve_usd numeric check (min_cash_reserve_usd >= 0),
    updated_at timestamptz not null default now()
);

-- Kill switches that are on: one global (workflow_id null), one per strategy.
-- Clearing a switch deletes its row.
create table if not exists cascadian_kill_switches (
    scope text primary key,
    workflow_id uuid references workflow_sessions (id) on delete cascade,
    set_by text not null,
    reason text not null,
    set_at timestamptz not null,
    check ((scope = 'global') = (workflow_id is null)),
    check (workflow_id is null or scope = workflow_id::text)
);

-- Every order an order node placed: filled, partly filled or refused (with the
-- limit or switch it hit). One per strategy, slot and node.
create table if not exists cascadian_trading_orders (
    id bigserial primary key,
    order_id uuid not null unique default gen_random_uuid(),
    workflow_id uuid not null references workflow_sessions (id) on delete cascade,
    -- The scheduled slot, or the run for a manual run: what a re-run shares.
    slot text not null,
    node_id text not null,
    execution_id uuid references workflow_executions (id) on delete set null,
    market_id text not null,
    outcome text not null,
    side text not null check (side in ('buy', 'sell')),
    result text not null check (result in ('filled', 'partly_filled', 'refused')),
    -- refused: the limit or switch it hit.
    refusal text,
    shares numeric not null default 0,
    notional_usd numeric not null default 0,
    fee_usd numeric not null default 0,
    realized_pnl numeric not null default 0,
    answer jsonb not null,
    created_at timestamptz not null,
    unique (workflow_id, slot, node_id)
);

create index if not exists cascadian_trading_orders_day
    on cascadian_trading_orders (workflow_id, created_at);

alter table cascadian_paper_orders
    add column if not exists fee_usd numeric not null default 0;

-- Set a strategy's trading settings. p: {initial_bankroll?, max_order_usd?,
-- max_position_usd?, max_open_positions?, daily_loss_usd?, min_cash_reserve_usd?};
-- a key left out or null means no limit (the bankroll: 10,000). Answers the settings,
-- or null for an unknown strategy.
create or replace function cascadian_set_trading_limits_v1(
    p_workflow_id uuid, p jsonb, p_now timestamptz
)
returns jsonb
language plpgsql
as $$
declare
    v_row cascadian_trading_limits;
begin
    if not exists (select 1 from workflow_sessions where id = p_workflow_id) then
        return null;
    end if;
    insert into cascadian_trading_limits as l (
        workflow_id, initial_bankroll, max_order_usd, max_position_usd, max_open_positions,
        daily_loss_usd, min_cash_reserve_usd, updated_at
    )
    values (
        p_workflow_id, coalesce((p ->> 'initial_bankroll')::numeric, 10000),
        (p ->> 'max_order_usd')::numeric, (p ->> 'max_position_usd')::numeric,
        (p ->> 'max_open_positions')::integer, (p ->> 'daily_loss_usd')::numeric,
        (p ->> 'min_cash_reserve_usd')::numeric, p_now
    )
    on conflict (workflow_id) do update set
        initial_bankroll = excluded.initial_bankroll,
        max_order_usd = excluded.max_order_usd,
        max_position_usd = excluded.max_position_usd,
        max_open_positions = excluded.max_open_positions,
        daily_loss_usd = excluded.daily_loss_usd,
        min_cash_reserve_usd = excluded.min_cash_reserve_usd,
        updated_at = excluded.updated_at
    returning * into v_row;
    -- A portfolio that has not traded yet starts from the new bankroll.
    update cascadian_paper_portfolios
    set initial_bankroll = v_row.initial_bankroll, available_cash = v_row.initial_bankroll,
        peak_equity = v_row.initial_bankroll, updated_at = p_now
    where workflow_id = p_workflow_id and total_trades = 0;
    return to_jsonb(v_row) - 'workflow_id';
end;
$$;

-- Turn a kill switch on or off: the global one (p_workflow_id null) or a strategy's.
-- Answers {on, scope, set_by, reason, set_at}, or null for an unknown strategy.
create or replace function cascadian_set_kill_switch_v1(
    p_workflow_id uuid, p_on boolean, p_by text, p_reason text, p_now timestamptz
)
returns jsonb
language plpgsql
as $$
declare
    v_scope text := coalesce(p_workflow_id::text, 'global');
    v_row cascadian_kill_switches;
begin
    if p_workflow_id is not null
       and not exists (select 1 from workflow_sessions where id = p_workflow_id) then
        return null;
    end if;
    if not p_on then
        delete from cascadian_kill_switches where scope = v_scope;
        return jsonb_build_object('on', false, 'scope', v_scope);
    end if;
    if coalesce(btrim(p_by), '') = '' or coalesce(btrim(p_reason), '') = '' then
        raise exception 'a kill switch needs who sets it and why' using errcode = '22023';
    end if;
    insert into cascadian_kill_switches (scope, workflow_id, set_by, reason, set_at)
    values (v_scope, p_workflow_id, p_by, p_reason, p_now)
    on conflict (scope) do update set
        set_by = excluded.set_by, reason = excluded.reason, set_at = excluded.set_at
    returning * into v_row;
    return jsonb_build_object(
        'on', true, 'scope', v_scope, 'set_by', v_row.set_by, 'reason', v_row.reason,
        'set_at', v_row.set_at
    );
end;
$$;

-- Record one paper order, exactly once. p: {workflow_id, node_id, execution_id (its
-- run, whose slot keys the order) or slot, market_id, market_question?, outcome,
-- side, order_type, limit_price?, and result: 'filled' or 'partly_filled' as the
-- book walk found it, with fee_usd and fills [{price, shares}]; or 'refused' by the
-- book, with refusal and detail}. Answers {result, order_id, replayed, refusal?,
-- detail?, and as decimal strings shares, notional_usd, fee_usd, average_price,
-- available_cash, position_shares, realized_pnl}: on a re-run of the same key, the
-- first answer with replayed true. A refusal is recorded (the key is taken) and
-- changes nothing else.
create or replace function cascadian_place_paper_order_v1(p jsonb, p_now timestamptz)
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
    v_day_realized numeric;
    v_refusal text;
    v_detail text;
    v_order_id uuid := gen_random_uuid();
    v_answer jsonb;
    v_equity numeric;
begin
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

    select o.answer into v_first
    from cascadian_trading_orders o
    where o.workflow_id = v_workflow and o.slot = v_slot and o.node_id = v_node;
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
        select coalesce(sum(o.realized_pnl), 0) into v_day_realized
        from cascadian_trading_orders o
        where o.workflow_id = v_workflow
          and o.created_at >= date_trunc('day', p_now at time zone 'UTC') at time zone 'UTC';
        if v_limits.daily_loss_usd is not null and -v_day_realized >= v_limits.daily_loss_usd then
            v_refusal := 'daily_loss_usd';
            v_detail := format('today''s realised loss is $%s; the limit is $%s',
                               round(-v_day_realized, 2), v_limits.daily_loss_usd);
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
        insert into cascadian_trading_orders (
            order_id, workflow_id, slot, node_id, execution_id, market_id, outcome, side,
            result, refusal, answer, created_at
        )
        values (
            v_order_id, v_workflow, v_slot, v_node, (p ->> 'execution_id')::uuid, v_market,
            v_outcome, v_side, 'refused', v_refusal, v_answer, p_now
        );
        return v_answer || jsonb_build_object('replayed', false);
    end if;

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
        -- Money is kept to 1e-8 so the position costs add up to the deployed capital
        -- exactly; the last sell of a position takes out all that is left.
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
    insert into cascadian_trading_orders (
        order_id, workflow_id, slot, node_id, execution_id, market_id, outcome, side, result,
        shares, notional_usd, fee_usd, realized_pnl, answer, created_at
    )
    values (
        v_order_id, v_workflow, v_slot, v_node, (p ->> 'execution_id')::uuid, v_market,
        v_outcome, v_side, v_result, v_shares, v_notional, v_fee, v_delta, v_answer, p_now
    );
    return v_answer || jsonb_build_object('replayed', false);
end;
$$;

-- A strategy's paper portfolio with its derived fields, its limits and the switches
-- that stop it; null for an unknown strategy. A strategy that never traded answers
-- its bankroll untouched.
create or replace function cascadian_paper_portfolio_v1(p_workflow_id uuid)
returns jsonb
language sql
stable
as $$
    with settings as (
        select coalesce(
            (select initial_bankroll from cascadian_trading_limits
             where workflow_id = p_workflow_id), 10000
        ) as bankroll
    ),
    book as (
        select p.* from cascadian_paper_portfolios p where p.workflow_id = p_workflow_id
    )
    select case when not exists (select 1 from workflow_sessions where id = p_workflow_id)
        then null
        else jsonb_build_object(
            'initial_bankroll', coalesce(b.initial_bankroll, s.bankroll),
            'available_cash', coalesce(b.available_cash, s.bankroll),
            'deployed_capital', coalesce(b.deployed_capital, 0),
            'realized_pnl', coalesce(b.realized_pnl, 0),
            'open_positions', coalesce(b.open_positions, 0),
            'total_trades', coalesce(b.total_trades, 0),
            'winning_trades', coalesce(b.winning_trades, 0),
            'losing_trades', coalesce(b.losing_trades, 0),
            'win_rate', case when coalesce(b.winning_trades + b.losing_trades, 0) > 0
                then b.winning_trades::numeric / (b.winning_trades + b.losing_trades) end,
            'average_win', case when b.winning_trades > 0
                then b.total_wins / b.winning_trades end,
            'average_loss', case when b.losing_trades > 0
                then b.total_losses / b.losing_trades end,
            'largest_win', coalesce(b.largest_win, 0),
            'largest_loss', coalesce(b.largest_loss, 0),
            'max_drawdown', coalesce(b.max_drawdown, 0),
            'limits', (select to_jsonb(l) - 'workflow_id' from cascadian_trading_limits l
                       where l.workflow_id = p_workflow_id),
            'kill_switches', coalesce((
                select jsonb_agg(to_jsonb(k) - 'workflow_id' order by k.scope)
                from cascadian_kill_switches k
                where k.scope in ('global', p_workflow_id::text)
            ), '[]'::jsonb)
        )
    end
    from settings s
    left join book b on true;
$$;

do $$
declare
    t text;
begin
    if to_regnamespace('auth') is null
       or to_regprocedure('auth.uid()') is null
       or (select count(*) from pg_roles
           where rolname in ('anon', 'authenticated', 'service_role')) < 3 then
        return;
    end if;
    -- Only the store (through its SECURITY DEFINER functions) reads and writes these.
    foreach t in array array[
        'cascadian_paper_portfolios', 'cascadian_trading_limits', 'cascadian_kill_switches',
        'cascadian_trading_orders'
    ] loop
        execute format('alter table %I enable row level security', t);
        execute format('revoke all on table %I from anon, authenticated', t);
    end loop;
    revoke all on sequence cascadian_trading_orders_id_seq from anon, authenticated;
end;
$$;

select cascadian_restrict_functions_v1();
