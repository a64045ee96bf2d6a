-- Equity points say what wrote them, so a settlement's point never holds back the
-- marks' (issue 28).
--
-- In 025 a settlement's point counted towards the gap between a strategy's points,
-- so the marks of the same step (and of the next five minutes) wrote none: the
-- curve showed the settlement at the old marks. Now each point has its source; the
-- gap is kept between the marks' points only, and a settlement always writes one.
-- cascadian_settle_market_v2 and cascadian_mark_portfolios_v2 are their v1 but for
-- the point they write; the v1 functions and their point writer are dropped
-- (nothing released calls them: 025 and this file ship together).

alter table cascadian_equity_points
    add column if not exists source text not null default 'mark'
        check (source in ('mark', 'settlement'));

drop function if exists cascadian_settle_market_v1(text, jsonb, timestamptz);
drop function if exists cascadian_mark_portfolios_v1(jsonb, timestamptz, interval, timestamptz,
                                                     integer);
drop function if exists cascadian_write_equity_point_v1(uuid, timestamptz, interval);

-- Write one equity point of p_source ('mark' or 'settlement') for a strategy whose
-- portfolio row the caller holds locked. A mark's point is not written when the
-- strategy's last mark point is newer than p_min_gap; a settlement's always is.
-- Answers whether it wrote one.
create or replace function cascadian_write_equity_point_v2(
    p_workflow_id uuid, p_now timestamptz, p_min_gap interval, p_source text
)
returns boolean
language plpgsql
as $$
declare
    v_portfolio cascadian_paper_portfolios;
    v_value numeric;
    v_cost numeric;
begin
    if p_source = 'mark' and exists (
        select 1 from cascadian_equity_points
        where workflow_id = p_workflow_id and source = 'mark' and at > p_now - p_min_gap
    ) then
        return false;
    end if;
    select * into v_portfolio from cascadian_paper_portfolios where workflow_id = p_workflow_id;
    if not found then
        return false;
    end if;
    select v.positions_value, v.cost into v_value, v_cost
    from cascadian_portfolio_value_v1(p_workflow_id) v;
    insert into cascadian_equity_points (
        workflow_id, at, equity, cash, positions_value, realized_pnl, unrealized_pnl, source
    )
    values (
        p_workflow_id, p_now, v_portfolio.available_cash + v_value, v_portfolio.available_cash,
        v_value, v_portfolio.realized_pnl, v_value - v_cost, p_source
    );
    return true;
end;
$$;

-- As cascadian_settle_market_v1 (025), its point written as a settlement's.
create or replace function cascadian_settle_market_v2(
    p_market_id text, p_prices jsonb, p_now timestamptz
)
returns jsonb
language plpgsql
as $$
declare
    v_workflow uuid;
    v_position cascadian_positions;
    v_portfolio cascadian_paper_portfolios;
    v_price numeric;
    v_payout numeric;
    v_delta numeric;
    v_equity numeric;
    v_order_id uuid;
    v_answer jsonb;
    v_settled jsonb := '[]';
    v_unpriced jsonb := '[]';
begin
    if coalesce(btrim(p_market_id), '') = '' or jsonb_typeof(p_prices) is distinct from 'object'
       or p_prices = '{}'::jsonb then
        raise exception 'a settlement needs a market id and {outcome: price}'
            using errcode = '22023';
    end if;
    if exists (
        select 1 from jsonb_each_text(p_prices) e
        where e.value is null or e.value !~ '^\s*[0-9]*\.?[0-9]+\s*$'
           or e.value::numeric > 1
    ) then
        raise exception 'each settlement price is a number from 0 to 1: %', p_prices
            using errcode = '22023';
    end if;

    -- One strategy at a time, in strategy order: its portfolio's lock first.
    for v_workflow in
        select distinct p.workflow_id from cascadian_positions p
        where p.market_id = p_market_id and p.shares > 0
        order by p.workflow_id
    loop
        select * into v_portfolio from cascadian_paper_portfolios
        where workflow_id = v_workflow for update;
        for v_position in
            select * from cascadian_positions p
            where p.workflow_id = v_workflow and p.market_id = p_market_id and p.shares > 0
            order by p.outcome
            for update
        loop
            select e.value::numeric into v_price
            from jsonb_each_text(p_prices) e
            where lower(btrim(e.key)) = lower(btrim(v_position.outcome))
            limit 1;
            if v_price is null then
                v_unpriced := v_unpriced || jsonb_build_object(
                    'workflow_id', v_workflow, 'outcome', v_position.outcome);
                continue;
            end if;
            v_payout := round(v_position.shares * v_price, 8);
            v_delta := v_payout - v_position.cost;
            v_order_id := gen_random_uuid();
            insert into cascadian_paper_orders (
                order_id, workflow_id, execution_id, node_id, market_id, outcome, side,
                order_type, amount_usd, price, shares, price_source, position_shares,
                position_cost, realized_pnl, fee_usd, created_at
            )
            values (
                v_order_id, v_workflow, null, 'settlement', p_market_id, v_position.outcome,
                'settlement', 'settlement', v_payout, v_price, v_position.shares, 'resolution',
                0, 0, v_position.realized_pnl + v_delta, 0, p_now
            );
            v_answer := jsonb_build_object(
                'result', 'settled', 'order_id', v_order_id, 'shares', v_position.shares::text,
                'price', v_price::text, 'notional_usd', v_payout::text, 'fee_usd', '0',
                'realized_pnl', v_delta::text, 'position_shares', '0', 'created_at', p_now
            );
            insert into cascadian_trading_orders (
                order_id, workflow_id, slot, node_id, market_id, outcome, side, result,
                shares, notional_usd, fee_usd, realized_pnl, answer, created_at
            )
            values (
                v_order_id, v_workflow, 'settlement:' || p_market_id, v_position.outcome,
                p_market_id, v_position.outcome, 'settlement', 'settled', v_position.shares,
                v_payout, 0, v_delta, v_answer, p_now
            );
            -- A position opened before the trading book (023) has no portfolio: it
            -- settles, and there is no cash to move.
            if v_portfolio.workflow_id is not null then
                v_equity := v_portfolio.initial_bankroll + v_portfolio.realized_pnl + v_delta;
                update cascadian_paper_portfolios
                set available_cash = available_cash + v_payout,
                    deployed_capital = greatest(deployed_capital - v_position.cost, 0),
                    realized_pnl = realized_pnl + v_delta,
                    open_positions = greatest(open_positions - 1, 0),
                    total_trades = total_trades + 1,
                    winning_trades = winning_trades + case when v_delta > 0 then 1 else 0 end,
                    losing_trades = losing_trades + case when v_delta < 0 then 1 else 0 end,
                    total_wins = total_wins + greatest(v_delta, 0),
                    total_losses = total_losses + greatest(-v_delta, 0),
                    largest_win = greatest(largest_win, v_delta),
                    largest_loss = greatest(largest_loss, -v_delta),
                    peak_equity = greatest(peak_equity, v_equity),
                    max_drawdown = greatest(max_drawdown,
                                            greatest(peak_equity, v_equity) - v_equity),
                    updated_at = p_now
                where workflow_id = v_workflow
                returning * into v_portfolio;
            end if;
            v_settled := v_settled || jsonb_build_object(
                'workflow_id', v_workflow, 'outcome', v_position.outcome,
                'shares', v_position.shares::text, 'price', v_price::text,
                'payout', v_payout::text, 'realized_pnl', v_delta::text
            );
        end loop;
        if v_portfolio.workflow_id is not null then
            perform cascadian_write_equity_point_v2(v_workflow, p_now, interval '0', 'settlement');
        end if;
    end loop;
    return jsonb_build_object(
        'market_id', p_market_id, 'settled', v_settled, 'unpriced', v_unpriced
    );
end;
$$;

-- As cascadian_mark_portfolios_v1 (025), its points written as the marks'.
create or replace function cascadian_mark_portfolios_v2(
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
        if cascadian_write_equity_point_v2(v_workflow, p_now, p_min_gap, 'mark') then
            v_points := v_points + 1;
        end if;
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
        'marks', v_marks, 'portfolios', v_portfolios, 'points', v_points, 'pruned', v_pruned
    );
end;
$$;

select cascadian_restrict_functions_v1();
