-- Settlement of resolved markets, marks from live books, and the equity curve
-- (issue 28).
--
-- Each tick that marks (cascadian/trading/marking.py) asks Gamma once for the markets
-- of every open position and the CLOB once for the books of their tokens, then:
--
-- - a market Gamma shows resolved settles every open position in it at its
--   outcome's payout (1 or 0, both 0.5 for a 50-50 resolution) with
--   cascadian_settle_market_v1: one settlement entry per position, its P&L into the
--   portfolio, under the portfolio's lock, once (a second call finds nothing held);
-- - the other markets' tokens are marked at their best bid (what a long position
--   would sell for now) with cascadian_mark_portfolios_v1, which values each
--   portfolio holding them under its lock, moves its peak and drawdown, and writes a
--   compact point of its equity curve.
--
-- Positions are the latest cascadian_paper_orders row of each (strategy, market,
-- outcome), as before; cascadian_positions keeps that row's figures by trigger, so
-- the open positions of every strategy are one index read, not a scan of every
-- order. Locks are always taken portfolio first, in strategy order, then positions:
-- the order the order functions take them in, so no two of these deadlock.

-- A settlement is an entry of its own: side and result 'settlement'/'settled', at a
-- payout price that may be 0.
alter table cascadian_paper_orders drop constraint if exists cascadian_paper_orders_side_check;
alter table cascadian_paper_orders add constraint cascadian_paper_orders_side_check
    check (side in ('buy', 'sell', 'settlement'));
alter table cascadian_paper_orders drop constraint if exists cascadian_paper_orders_order_type_check;
alter table cascadian_paper_orders add constraint cascadian_paper_orders_order_type_check
    check (order_type in ('market', 'limit', 'settlement'));
alter table cascadian_paper_orders drop constraint if exists cascadian_paper_orders_price_check;
alter table cascadian_paper_orders add constraint cascadian_paper_orders_price_check
    check (price >= 0 and price <= 1);
alter table cascadian_paper_orders drop constraint if exists cascadian_paper_orders_amount_usd_check;
alter table cascadian_paper_orders add constraint cascadian_paper_orders_amount_usd_check
    check (amount_usd >= 0 and (amount_usd > 0 or side = 'settlement'));
alter table cascadian_trading_orders drop constraint if exists cascadian_trading_orders_side_check;
alter table cascadian_trading_orders add constraint cascadian_trading_orders_side_check
    check (side in ('buy', 'sell', 'settlement'));
alter table cascadian_trading_orders drop constraint if exists cascadian_trading_orders_result_check;
alter table cascadian_trading_orders add constraint cascadian_trading_orders_result_check
    check (result in ('filled', 'partly_filled', 'refused', 'settled'));

-- Each position as its latest order row leaves it (kept by the trigger below).
create table if not exists cascadian_positions (
    workflow_id uuid not null references workflow_sessions (id) on delete cascade,
    market_id text not null,
    outcome text not null,
    shares numeric not null check (shares >= 0),
    cost numeric not null,
    realized_pnl numeric not null,
    settled_at timestamptz,
    updated_at timestamptz not null,
    primary key (workflow_id, market_id, outcome)
);

create index if not exists cascadian_positions_open
    on cascadian_positions (market_id, workflow_id) where shares > 0;

insert into cascadian_positions (
    workflow_id, market_id, outcome, shares, cost, realized_pnl, updated_at
)
select distinct on (o.workflow_id, o.market_id, o.outcome)
    o.workflow_id, o.market_id, o.outcome, o.position_shares, o.position_cost,
    o.realized_pnl, o.created_at
from cascadian_paper_orders o
order by o.workflow_id, o.market_id, o.outcome, o.id desc
on conflict do nothing;

create or replace function cascadian_track_position_v1()
returns trigger
language plpgsql
as $$
begin
    insert into cascadian_positions as p (
        workflow_id, market_id, outcome, shares, cost, realized_pnl, settled_at, updated_at
    )
    values (
        new.workflow_id, new.market_id, new.outcome, new.position_shares, new.position_cost,
        new.realized_pnl, case when new.side = 'settlement' then new.created_at end,
        new.created_at
    )
    on conflict (workflow_id, market_id, outcome) do update set
        shares = excluded.shares, cost = excluded.cost, realized_pnl = excluded.realized_pnl,
        settled_at = excluded.settled_at, updated_at = excluded.updated_at;
    return null;
end;
$$;

drop trigger if exists cascadian_track_position on cascadian_paper_orders;
create trigger cascadian_track_position
    after insert on cascadian_paper_orders
    for each row execute function cascadian_track_position_v1();

-- The last best bid of each outcome's token, shared by every strategy holding it.
create table if not exists cascadian_marks (
    market_id text not null,
    outcome text not null,
    token_id text,
    price numeric not null check (price >= 0 and price <= 1),
    marked_at timestamptz not null,
    primary key (market_id, outcome)
);

-- The equity curve: a portfolio's value at a mark or a settlement, at most one point
-- per strategy every few minutes (the caller says how many), pruned past retention.
create table if not exists cascadian_equity_points (
    id bigserial primary key,
    workflow_id uuid not null references workflow_sessions (id) on delete cascade,
    at timestamptz not null,
    equity numeric not null,
    cash numeric not null,
    positions_value numeric not null,
    realized_pnl numeric not null,
    unrealized_pnl numeric not null
);

create index if not exists cascadian_equity_points_strategy
    on cascadian_equity_points (workflow_id, at desc);
create index if not exists cascadian_equity_points_at on cascadian_equity_points (at);

-- The value of one strategy's open positions now: each at its mark, or at its cost
-- (unrealised 0) while it has none.
create or replace function cascadian_portfolio_value_v1(p_workflow_id uuid)
returns table (positions_value numeric, cost numeric, marked integer, unmarked integer)
language sql
stable
as $$
    select coalesce(sum(case when m.price is null then p.cost else p.shares * m.price end), 0),
           coalesce(sum(p.cost), 0),
           count(m.price)::integer,
           (count(*) - count(m.price))::integer
    from cascadian_positions p
    left join cascadian_marks m on m.market_id = p.market_id and m.outcome = p.outcome
    where p.workflow_id = p_workflow_id and p.shares > 0;
$$;

-- Write one equity point for a strategy whose portfolio row the caller holds locked,
-- unless its last point is newer than p_min_gap. Answers whether it wrote one.
create or replace function cascadian_write_equity_point_v1(
    p_workflow_id uuid, p_now timestamptz, p_min_gap interval
)
returns boolean
language plpgsql
as $$
declare
    v_portfolio cascadian_paper_portfolios;
    v_value numeric;
    v_cost numeric;
begin
    if exists (
        select 1 from cascadian_equity_points
        where workflow_id = p_workflow_id and at > p_now - p_min_gap
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
        workflow_id, at, equity, cash, positions_value, realized_pnl, unrealized_pnl
    )
    values (
        p_workflow_id, p_now, v_portfolio.available_cash + v_value, v_portfolio.available_cash,
        v_value, v_portfolio.realized_pnl, v_value - v_cost
    );
    return true;
end;
$$;

-- Every market some strategy holds a position in, with the outcomes held:
-- [{market_id, outcomes: [...]}], for the tick to ask Gamma and the CLOB about.
create or replace function cascadian_open_markets_v1()
returns jsonb
language sql
stable
as $$
    select coalesce(jsonb_agg(jsonb_build_object('market_id', m.market_id,
                                                 'outcomes', m.outcomes)
                              order by m.market_id), '[]'::jsonb)
    from (
        select p.market_id, jsonb_agg(distinct p.outcome) as outcomes
        from cascadian_positions p
        where p.shares > 0
        group by p.market_id
    ) m;
$$;

-- Settle every open position in a resolved market. p_prices: {outcome: payout} as
-- Gamma's outcomePrices gave them once resolved ("1"/"0", or "0.5" each for a 50-50
-- resolution); outcomes are matched as the order nodes match them (case and
-- surrounding spaces ignored). Each position settles once, under its portfolio's
-- lock: the payout (shares x price, no fee: redeeming is free) goes to cash, its
-- cost leaves the deployed capital, the difference is realised P&L and a win or a
-- loss; a settlement entry is written to cascadian_paper_orders and
-- cascadian_trading_orders (result 'settled', slot 'settlement:<market>', node the
-- outcome), and a point of the equity curve. A position settled already, or sold
-- meanwhile, is skipped. A position whose outcome has no price is left open and
-- named in `unpriced`. Answers {market_id, settled: [{workflow_id, outcome, shares,
-- price, payout, realized_pnl}], unpriced: [{workflow_id, outcome}]}.
create or replace function cascadian_settle_market_v1(
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
            perform cascadian_write_equity_point_v1(v_workflow, p_now, interval '0');
        end if;
    end loop;
    return jsonb_build_object(
        'market_id', p_market_id, 'settled', v_settled, 'unpriced', v_unpriced
    );
end;
$$;

-- Mark open positions at their tokens' best bids. p_marks: [{market_id, outcome,
-- token_id?, price}], price the token's best bid now (0 to 1). Each mark is kept in
-- cascadian_marks (one row per outcome, whatever number of strategies hold it);
-- then every portfolio holding a marked position is valued under its lock, in
-- strategy order: its peak equity and max drawdown move with the marked equity
-- (cash + positions at their marks), and a point of its equity curve is written
-- unless its last one is newer than p_min_gap. Equity points older than
-- p_keep_after are deleted, at most p_prune_limit of them per call. Answers
-- {marks, portfolios, points, pruned}.
create or replace function cascadian_mark_portfolios_v1(
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
        if cascadian_write_equity_point_v1(v_workflow, p_now, p_min_gap) then
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

-- A strategy's equity curve and its marked value now; null for an unknown strategy.
-- Answers {points: [{at, equity, cash, positions_value, realized_pnl,
-- unrealized_pnl}] oldest first (the newest p_limit since p_since), and now: {cash,
-- positions_value, unrealized_pnl, realized_pnl, equity, initial_bankroll,
-- peak_equity, max_drawdown, positions: [{market_id, outcome, shares, cost, mark_price,
-- marked_at, value, unrealized_pnl}]}}, money as decimal strings. A position not
-- marked yet is valued at its cost (mark_price null).
create or replace function cascadian_equity_curve_v1(
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
        select p.market_id, p.outcome, p.shares, p.cost, m.price as mark_price, m.marked_at,
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
        'cascadian_positions', 'cascadian_marks', 'cascadian_equity_points'
    ] loop
        execute format('alter table %I enable row level security', t);
        execute format('revoke all on table %I from anon, authenticated', t);
    end loop;
    revoke all on sequence cascadian_equity_points_id_seq from anon, authenticated;
end;
$$;

select cascadian_restrict_functions_v1();
