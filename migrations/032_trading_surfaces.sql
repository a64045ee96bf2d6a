-- What operators read and set of the trading book (issue 28): limits that change
-- only what is named, every kill switch that is on, a strategy's portfolio with its
-- halt, exposure and the day's P&L, its orders page by page, and the gauges of
-- /api/metrics.
--
-- cascadian_set_trading_limits_v1 and cascadian_paper_portfolio_v1 (023) are
-- dropped: no release ever called them (v2 of each replaces them here).

-- Set some of a strategy's trading settings. p: any of {initial_bankroll,
-- max_order_usd, max_position_usd, max_open_positions, daily_loss_usd,
-- min_cash_reserve_usd}; a key given sets that setting (null: no limit; the
-- bankroll: back to 10,000), a key left out keeps it. A key not among these, or a
-- value out of range, is an error (22023, naming it) and changes nothing. Answers
-- the settings, or null for an unknown strategy.
create or replace function cascadian_set_trading_limits_v2(
    p_workflow_id uuid, p jsonb, p_now timestamptz
)
returns jsonb
language plpgsql
as $$
declare
    v_row cascadian_trading_limits;
    v_unknown text;
    v_names constant text[] := array[
        'initial_bankroll', 'max_order_usd', 'max_position_usd', 'daily_loss_usd',
        'min_cash_reserve_usd', 'max_open_positions'
    ];
    v_key text;
    v_value numeric;
begin
    if jsonb_typeof(p) is distinct from 'object' then
        raise exception 'the limits are a JSON object' using errcode = '22023';
    end if;
    select string_agg(k, ', ' order by k) into v_unknown
    from jsonb_object_keys(p) k
    where k <> all (v_names);
    if v_unknown is not null then
        raise exception 'unknown trading settings: %', v_unknown using errcode = '22023';
    end if;
    foreach v_key in array v_names loop
        if p ? v_key and jsonb_typeof(p -> v_key) <> 'null' then
            begin
                v_value := (p ->> v_key)::numeric;
            exception when others then
                raise exception '% is not a number', v_key using errcode = '22023';
            end;
            if v_key = 'max_open_positions' and (v_value < 0 or v_value <> trunc(v_value)) then
                raise exception 'max_open_positions is a whole number >= 0' using errcode = '22023';
            elsif v_key = 'min_cash_reserve_usd' and v_value < 0 then
                raise exception 'min_cash_reserve_usd is >= 0' using errcode = '22023';
            elsif v_key not in ('max_open_positions', 'min_cash_reserve_usd') and v_value <= 0 then
                raise exception '% is > 0', v_key using errcode = '22023';
            end if;
        end if;
    end loop;
    if not exists (select 1 from workflow_sessions where id = p_workflow_id) then
        return null;
    end if;
    insert into cascadian_trading_limits as l (workflow_id, updated_at)
    values (p_workflow_id, p_now)
    on conflict (workflow_id) do nothing;
    update cascadian_trading_limits l
    set initial_bankroll = case when p ? 'initial_bankroll'
            then coalesce((p ->> 'initial_bankroll')::numeric, 10000) else l.initial_bankroll end,
        max_order_usd = case when p ? 'max_order_usd'
            then (p ->> 'max_order_usd')::numeric else l.max_order_usd end,
        max_position_usd = case when p ? 'max_position_usd'
            then (p ->> 'max_position_usd')::numeric else l.max_position_usd end,
        max_open_positions = case when p ? 'max_open_positions'
            then (p ->> 'max_open_positions')::numeric::integer else l.max_open_positions end,
        daily_loss_usd = case when p ? 'daily_loss_usd'
            then (p ->> 'daily_loss_usd')::numeric else l.daily_loss_usd end,
        min_cash_reserve_usd = case when p ? 'min_cash_reserve_usd'
            then (p ->> 'min_cash_reserve_usd')::numeric else l.min_cash_reserve_usd end,
        updated_at = p_now
    where l.workflow_id = p_workflow_id
    returning * into v_row;
    -- A portfolio that has not traded yet starts from the new bankroll.
    update cascadian_paper_portfolios
    set initial_bankroll = v_row.initial_bankroll, available_cash = v_row.initial_bankroll,
        peak_equity = v_row.initial_bankroll, updated_at = p_now
    where workflow_id = p_workflow_id and total_trades = 0;
    return cascadian_limits_json_v1(v_row);
end;
$$;

-- A strategy's settings as the API answers them: money as decimal strings (the
-- drivers read a JSON number as a float).
create or replace function cascadian_limits_json_v1(p cascadian_trading_limits)
returns jsonb
language sql
immutable
as $$
    select jsonb_build_object(
        'initial_bankroll', coalesce(p.initial_bankroll, 10000)::text,
        'max_order_usd', p.max_order_usd::text,
        'max_position_usd', p.max_position_usd::text,
        'max_open_positions', p.max_open_positions,
        'daily_loss_usd', p.daily_loss_usd::text,
        'min_cash_reserve_usd', p.min_cash_reserve_usd::text,
        'updated_at', p.updated_at
    );
$$;

-- Every kill switch that is on, the global one first, each with its strategy's name.
create or replace function cascadian_kill_switches_v1()
returns jsonb
language sql
stable
as $$
    select coalesce(jsonb_agg(jsonb_build_object(
        'scope', k.scope, 'workflow_id', k.workflow_id, 'workflow_name', s.name,
        'set_by', k.set_by, 'reason', k.reason, 'set_at', k.set_at
    ) order by k.workflow_id is not null, k.set_at desc), '[]'::jsonb)
    from cascadian_kill_switches k
    left join workflow_sessions s on s.id = k.workflow_id;
$$;

-- A strategy's paper portfolio (the original app's fields, money as decimal
-- strings), its settings, the switches that stop it, its halt, and the day's
-- realised P&L since midnight in its time zone (UTC for a zone PostgreSQL does not
-- know); null for an unknown strategy. A strategy that never traded answers its
-- bankroll untouched. Unrealised P&L needs marks: the caller adds it.
create or replace function cascadian_paper_portfolio_v2(p_workflow_id uuid, p_now timestamptz)
returns jsonb
language plpgsql
stable
as $$
declare
    v_session record;
    v_limits cascadian_trading_limits;
    b cascadian_paper_portfolios;
    v_bankroll numeric;
    v_day_start timestamptz;
    v_day jsonb;
begin
    select s.id, s.timezone into v_session from workflow_sessions s where s.id = p_workflow_id;
    if not found then
        return null;
    end if;
    select * into v_limits from cascadian_trading_limits where workflow_id = p_workflow_id;
    select * into b from cascadian_paper_portfolios where workflow_id = p_workflow_id;
    v_bankroll := coalesce(b.initial_bankroll, v_limits.initial_bankroll, 10000);
    begin
        v_day_start := date_trunc('day', p_now at time zone v_session.timezone)
            at time zone v_session.timezone;
    exception when invalid_parameter_value then
        v_day_start := null;
    end;
    v_day_start := coalesce(
        v_day_start, date_trunc('day', p_now at time zone 'UTC') at time zone 'UTC'
    );
    select jsonb_build_object(
        'start', v_day_start,
        'realized_pnl', coalesce(sum(o.realized_pnl), 0)::text,
        'orders', count(*),
        'refused', count(*) filter (where o.result = 'refused')
    ) into v_day
    from cascadian_trading_orders o
    where o.workflow_id = p_workflow_id and o.created_at >= v_day_start;
    return jsonb_build_object(
        'initial_bankroll', v_bankroll::text,
        'available_cash', coalesce(b.available_cash, v_bankroll)::text,
        'deployed_capital', coalesce(b.deployed_capital, 0)::text,
        'realized_pnl', coalesce(b.realized_pnl, 0)::text,
        'open_positions', coalesce(b.open_positions, 0),
        'total_trades', coalesce(b.total_trades, 0),
        'winning_trades', coalesce(b.winning_trades, 0),
        'losing_trades', coalesce(b.losing_trades, 0),
        'win_rate', case when coalesce(b.winning_trades + b.losing_trades, 0) > 0
            then round(b.winning_trades::numeric / (b.winning_trades + b.losing_trades), 6)::text
            end,
        'average_win', case when b.winning_trades > 0
            then round(b.total_wins / b.winning_trades, 8)::text end,
        'average_loss', case when b.losing_trades > 0
            then round(b.total_losses / b.losing_trades, 8)::text end,
        'largest_win', coalesce(b.largest_win, 0)::text,
        'largest_loss', coalesce(b.largest_loss, 0)::text,
        'max_drawdown', coalesce(b.max_drawdown, 0)::text,
        'limits', cascadian_limits_json_v1(v_limits),
        'kill_switches', coalesce((
            select jsonb_agg(jsonb_build_object(
                'scope', k.scope, 'workflow_id', k.workflow_id, 'set_by', k.set_by,
                'reason', k.reason, 'set_at', k.set_at
            ) order by k.scope = 'global' desc)
            from cascadian_kill_switches k
            where k.scope in ('global', p_workflow_id::text)
        ), '[]'::jsonb),
        'halt', case when b.halted_at is null then null
            else jsonb_build_object(
                'reason', b.halt_reason, 'detail', b.halt_detail, 'halted_at', b.halted_at
            ) end,
        'day', v_day,
        'updated_at', b.updated_at
    );
end;
$$;

-- A page of a strategy's orders, newest first: filled, partly filled, refused (with
-- the limit, switch or book rule, and why) and settled, optionally of one result;
-- orders recorded before the trading book (011's, all filled) are included. Answers
-- {total, orders}, or null for an unknown strategy.
create or replace function cascadian_trading_orders_v1(
    p_workflow_id uuid, p_result text, p_limit integer, p_offset integer
)
returns jsonb
language sql
stable
as $$
    with entries as (
        select t.order_id, t.execution_id, t.node_id, t.order_key, t.market_id,
               po.market_question, t.outcome, t.side, t.result, t.refusal,
               t.answer ->> 'detail' as detail, t.shares, t.notional_usd, t.fee_usd,
               case when t.shares > 0 then round(t.notional_usd / t.shares, 8) end
                   as average_price,
               t.realized_pnl, po.position_shares, t.created_at, t.id as seq, 1 as book
        from cascadian_trading_orders t
        left join cascadian_paper_orders po on po.order_id = t.order_id
        where t.workflow_id = p_workflow_id
        union all
        select o.order_id, o.execution_id, o.node_id, null, o.market_id, o.market_question,
               o.outcome, o.side, 'filled', null, null, o.shares, o.amount_usd, o.fee_usd,
               o.price, o.realized_pnl, o.position_shares, o.created_at, o.id, 0
        from cascadian_paper_orders o
        where o.workflow_id = p_workflow_id
          and not exists (select 1 from cascadian_trading_orders t where t.order_id = o.order_id)
    ),
    chosen as (
        select * from entries where p_result is null or result = p_result
    )
    select case when not exists (select 1 from workflow_sessions where id = p_workflow_id)
        then null
        else jsonb_build_object(
            'total', (select count(*) from chosen),
            'orders', coalesce((
                select jsonb_agg(jsonb_build_object(
                    'order_id', c.order_id, 'execution_id', c.execution_id,
                    'node_id', c.node_id, 'order_key', c.order_key, 'market_id', c.market_id,
                    'market_question', c.market_question, 'outcome', c.outcome,
                    'side', c.side, 'result', c.result, 'refusal', c.refusal,
                    'detail', c.detail, 'shares', c.shares::text,
                    'notional_usd', c.notional_usd::text, 'fee_usd', c.fee_usd::text,
                    'average_price', c.average_price::text,
                    'realized_pnl', c.realized_pnl::text,
                    'position_shares', c.position_shares::text, 'created_at', c.created_at
                ) order by c.created_at desc, c.book desc, c.seq desc)
                from (
                    select * from chosen
                    order by created_at desc, book desc, seq desc
                    limit p_limit offset p_offset
                ) c
            ), '[]'::jsonb)
        )
    end;
$$;

-- The trading gauges of /api/metrics: strategies whose trading is halted, by the
-- limit that halted them; kill switches on (global 0 or 1, and per strategy).
create or replace function cascadian_trading_gauges_v1()
returns jsonb
language sql
stable
as $$
    select jsonb_build_object(
        'halted_by_limit', coalesce((
            select jsonb_object_agg(g.reason, g.n)
            from (
                select p.halt_reason as reason, count(*) as n
                from cascadian_paper_portfolios p
                where p.halted_at is not null
                group by p.halt_reason
            ) g
        ), '{}'::jsonb),
        'global_kill_switch', exists (select 1 from cascadian_kill_switches where scope = 'global'),
        'strategy_kill_switches', (
            select count(*) from cascadian_kill_switches where workflow_id is not null
        )
    );
$$;

drop function if exists cascadian_set_trading_limits_v1(uuid, jsonb, timestamptz);
drop function if exists cascadian_paper_portfolio_v1(uuid);

select cascadian_restrict_functions_v1();
