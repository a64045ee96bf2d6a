-- Paper trading for the original builder's buy and sell nodes, and a watchlist
-- write that says which markets it added.
--
-- cascadian never places a real order: a buy or sell node records a simulated one
-- here, priced from live market data, and a strategy's paper positions and P&L are
-- read from these rows. Each order row also carries the position it leaves (shares,
-- the cost of those shares, realised P&L so far), computed from the previous row of
-- the same position in the same transaction, so reading positions is reading the
-- latest row of each, and no one reads, modifies and writes back a running total.

create table if not exists cascadian_paper_orders (
    id bigserial primary key,
    order_id uuid not null unique default gen_random_uuid(),
    workflow_id uuid not null references workflow_sessions (id) on delete cascade,
    -- The run that placed it (a real workflow_executions id).
    execution_id uuid references workflow_executions (id) on delete set null,
    node_id text not null,
    market_id text not null,
    market_question text,
    outcome text not null,
    side text not null check (side in ('buy', 'sell')),
    order_type text not null check (order_type in ('market', 'limit')),
    amount_usd numeric not null check (amount_usd > 0),
    price numeric not null check (price > 0 and price <= 1),
    shares numeric not null check (shares > 0),
    -- Where the price came from: clob (the live order book), gamma (Polymarket's
    -- market listing, cached up to minutes), or input (the market record the node
    -- was given).
    price_source text not null,
    limit_price numeric,
    -- The position (workflow, market, outcome) once this order is in.
    position_shares numeric not null check (position_shares >= 0),
    position_cost numeric not null,
    realized_pnl numeric not null,
    created_at timestamptz not null default now()
);

create index if not exists cascadian_paper_orders_position
    on cascadian_paper_orders (workflow_id, market_id, outcome, id desc);

-- Record one paper order. p: {workflow_id, execution_id?, node_id, market_id,
-- market_question?, outcome, side, order_type, amount_usd, price, price_source,
-- limit_price?}. Shares are amount / price. A sell of more shares than the position
-- holds records nothing and answers result 'insufficient_shares' with what is held.
-- A sell takes its cost out at the position's average cost; the rest is realised P&L.
create or replace function cascadian_record_paper_order_v1(p jsonb, p_now timestamptz)
returns jsonb
language plpgsql
as $$
declare
    v_workflow uuid := (p ->> 'workflow_id')::uuid;
    v_market text := p ->> 'market_id';
    v_outcome text := p ->> 'outcome';
    v_side text := p ->> 'side';
    v_amount numeric := (p ->> 'amount_usd')::numeric;
    v_price numeric := (p ->> 'price')::numeric;
    v_shares numeric;
    v_held numeric := 0;
    v_cost numeric := 0;
    v_realized numeric := 0;
    v_sold_cost numeric;
    v_row cascadian_paper_orders;
begin
    if v_amount is null or v_amount <= 0 or v_price is null or v_price <= 0 or v_price > 1 then
        raise exception 'a paper order needs amount_usd > 0 and 0 < price <= 1'
            using errcode = '22023';
    end if;
    v_shares := round(v_amount / v_price, 8);
    -- One position at a time: two nodes trading it in the same run queue here.
    perform pg_advisory_xact_lock(
        hashtextextended(v_workflow::text || '/' || v_market || '/' || v_outcome, 0)
    );
    select o.position_shares, o.position_cost, o.realized_pnl
    into v_held, v_cost, v_realized
    from cascadian_paper_orders o
    where o.workflow_id = v_workflow and o.market_id = v_market and o.outcome = v_outcome
    order by o.id desc
    limit 1;
    v_held := coalesce(v_held, 0);
    v_cost := coalesce(v_cost, 0);
    v_realized := coalesce(v_realized, 0);
    if v_side = 'sell' then
        if v_shares > v_held + 0.00000001 then
            return jsonb_build_object(
                'result', 'insufficient_shares', 'shares', v_shares, 'held_shares', v_held
            );
        end if;
        v_shares := least(v_shares, v_held);
        v_sold_cost := case when v_held = 0 then 0 else v_cost * v_shares / v_held end;
        v_held := v_held - v_shares;
        v_cost := case when v_held = 0 then 0 else v_cost - v_sold_cost end;
        v_realized := v_realized + (v_shares * v_price) - v_sold_cost;
    else
        v_held := v_held + v_shares;
        v_cost := v_cost + v_amount;
    end if;
    insert into cascadian_paper_orders (
        workflow_id, execution_id, node_id, market_id, market_question, outcome, side,
        order_type, amount_usd, price, shares, price_source, limit_price,
        position_shares, position_cost, realized_pnl, created_at
    )
    values (
        v_workflow, (p ->> 'execution_id')::uuid, p ->> 'node_id', v_market,
        p ->> 'market_question', v_outcome, v_side, coalesce(p ->> 'order_type', 'market'),
        v_amount, v_price, v_shares, p ->> 'price_source', (p ->> 'limit_price')::numeric,
        v_held, v_cost, v_realized, p_now
    )
    returning * into v_row;
    return jsonb_build_object(
        'result', 'filled',
        'order_id', v_row.order_id,
        'shares', v_row.shares,
        'held_shares', v_row.position_shares,
        'position_cost', v_row.position_cost,
        'realized_pnl', v_row.realized_pnl,
        'created_at', v_row.created_at
    );
end;
$$;

-- A strategy's paper book: its open positions valued at p_marks
-- ([{market_id, outcome, price, source}]; a position without a mark is valued at its
-- last order's price, source 'last_order'), its realised P&L, and its newest orders.
-- Null when there is no such strategy.
create or replace function cascadian_paper_book_v1(
    p_workflow_id uuid,
    p_marks jsonb,
    p_order_limit integer
)
returns jsonb
language sql
stable
as $$
    with latest as (
        select distinct on (o.market_id, o.outcome) o.*
        from cascadian_paper_orders o
        where o.workflow_id = p_workflow_id
        order by o.market_id, o.outcome, o.id desc
    ),
    marks as (
        select distinct on (m.market_id, m.outcome) m.market_id, m.outcome, m.price, m.source
        from jsonb_to_recordset(coalesce(p_marks, '[]')) as m (
            market_id text, outcome text, price numeric, source text
        )
        where m.price is not null
    ),
    positions as (
        select
            l.market_id, l.market_question, l.outcome, l.position_shares as shares,
            l.position_cost as cost_basis, l.realized_pnl, l.created_at as last_order_at,
            coalesce(m.price, l.price) as mark_price,
            coalesce(m.source, 'last_order') as mark_source
        from latest l
        left join marks m on m.market_id = l.market_id and m.outcome = l.outcome
    )
    select case when not exists (select 1 from workflow_sessions where id = p_workflow_id)
        then null
        else jsonb_build_object(
            'positions', coalesce((
                select jsonb_agg(jsonb_build_object(
                    'market_id', market_id,
                    'market_question', market_question,
                    'outcome', outcome,
                    'shares', shares,
                    'cost_basis', cost_basis,
                    'average_price', case when shares > 0 then cost_basis / shares end,
                    'realized_pnl', realized_pnl,
                    'mark_price', mark_price,
                    'mark_source', mark_source,
                    'market_value', shares * mark_price,
                    'unrealized_pnl', shares * mark_price - cost_basis,
                    'last_order_at', last_order_at
                ) order by last_order_at desc, market_id, outcome)
                from positions
            ), '[]'::jsonb),
            'cost_basis', (select coalesce(sum(cost_basis), 0) from positions),
            'market_value', (select coalesce(sum(shares * mark_price), 0) from positions),
            'unrealized_pnl', (
                select coalesce(sum(shares * mark_price - cost_basis), 0) from positions
            ),
            'realized_pnl', (select coalesce(sum(realized_pnl), 0) from positions),
            'total_orders', (
                select count(*) from cascadian_paper_orders where workflow_id = p_workflow_id
            ),
            'orders', coalesce((
                select jsonb_agg(to_jsonb(o) - 'id' - 'workflow_id' order by o.id desc)
                from (
                    select * from cascadian_paper_orders
                    where workflow_id = p_workflow_id
                    order by id desc
                    limit greatest(p_order_limit, 0)
                ) o
            ), '[]'::jsonb)
        )
    end;
$$;

-- Add markets to a strategy's watchlist, answering each market and whether it was
-- added (false: it was on the watchlist already). The original's add-to-watchlist
-- node names both lists in its output. p_entries: [{market_id, reason?, metadata?}].
create or replace function cascadian_watch_markets_v1(
    p_workflow_id uuid,
    p_execution_id uuid,
    p_entries jsonb
)
returns table (market_id text, added boolean)
language sql
as $$
    with entries as (
        select distinct on (e.market_id) e.market_id, e.reason, e.metadata, e.ordinality
        from rows from (
            jsonb_to_recordset(p_entries) as (market_id text, reason text, metadata jsonb)
        ) with ordinality as e (market_id, reason, metadata, ordinality)
        where e.market_id is not null
        order by e.market_id, e.ordinality
    ),
    inserted as (
        insert into strategy_watchlists (
            workflow_id, market_id, added_by_execution_id, reason, metadata
        )
        select p_workflow_id, e.market_id, p_execution_id, e.reason, coalesce(e.metadata, '{}')
        from entries e
        on conflict (workflow_id, market_id) do nothing
        returning strategy_watchlists.market_id
    )
    select e.market_id, exists (select 1 from inserted i where i.market_id = e.market_id)
    from entries e
    order by e.ordinality;
$$;

do $$
begin
    if to_regnamespace('auth') is null
       or to_regprocedure('auth.uid()') is null
       or (select count(*) from pg_roles
           where rolname in ('anon', 'authenticated', 'service_role')) < 3 then
        return;
    end if;
    alter table cascadian_paper_orders enable row level security;
    drop policy if exists cascadian_owner_read on cascadian_paper_orders;
    create policy cascadian_owner_read on cascadian_paper_orders
        for select to authenticated
        using (exists (
            select 1 from workflow_sessions s
            where s.id = cascadian_paper_orders.workflow_id and s.user_id = (select auth.uid())
        ));
end;
$$;

select cascadian_restrict_functions_v1();
