-- Copy trading (the original's COPY_TRADE_WATCH and MANUAL_COPY_TRADE) on Polymarket's
-- public trades: what each strategy's node has seen of its source wallets, which
-- consensus each market reached, and so which copies it owes (workflow/wallets/).
--
-- Every source trade is recorded once per strategy and node (its key: the
-- transaction, token, side, size and price), so a duplicate, a replayed page or a
-- trade that arrives late counts once. A consensus (market, side, outcome) is
-- triggered once, in the same statement that finds it met, under the row's
-- unique key. The copy's paper order carries the trigger's order key through
-- cascadian_place_paper_order_v2 (024), whose identity (strategy, order key) makes
-- it one order however often a run is retried or re-run after its lease expired:
-- a trigger whose order is not recorded yet is owed, and answered again.

create table if not exists cascadian_copy_trade_cursors (
    workflow_id uuid not null references workflow_sessions (id) on delete cascade,
    node_id text not null,
    wallet text not null check (wallet = lower(wallet)),
    -- The newest source trade seen (unix seconds); the next read starts there.
    last_trade_at bigint not null,
    updated_at timestamptz not null,
    primary key (workflow_id, node_id, wallet)
);

create table if not exists cascadian_copy_trade_trades (
    workflow_id uuid not null references workflow_sessions (id) on delete cascade,
    node_id text not null,
    trade_key text not null,
    wallet text not null,
    consensus_key text not null,
    traded_at bigint not null,
    -- Whether it counts towards a consensus (false: below the minimum notional, or
    -- the wallet's first read, which only sets where copying starts).
    eligible boolean not null,
    seen_at timestamptz not null,
    primary key (workflow_id, node_id, trade_key)
);

create table if not exists cascadian_copy_trade_triggers (
    workflow_id uuid not null references workflow_sessions (id) on delete cascade,
    node_id text not null,
    consensus_key text not null,
    -- The copy's paper order key (cascadian_trading_orders.order_key).
    order_key text not null,
    -- The source trade that met the consensus: what is copied.
    trade jsonb not null,
    wallets text[] not null,
    triggered_at timestamptz not null,
    primary key (workflow_id, node_id, consensus_key)
);

-- Where each of `p_wallets` was last read up to by this strategy's node:
-- {wallet: last_trade_at}; a wallet never read is missing.
create or replace function cascadian_copy_trade_cursors_v1(
    p_workflow_id uuid, p_node_id text, p_wallets text[]
)
returns jsonb
language sql
stable
as $$
    select coalesce(jsonb_object_agg(c.wallet, c.last_trade_at), '{}'::jsonb)
    from cascadian_copy_trade_cursors c
    where c.workflow_id = p_workflow_id
      and c.node_id = p_node_id
      and c.wallet = any(array(select lower(w) from unnest(p_wallets) as w))
$$;

-- Record the source trades a run read, `p_trades` = [{trade_key, wallet,
-- consensus_key, traded_at, eligible, trade}], advance each wallet's cursor (a wallet
-- of `p_wallets` read for the first time, without trades, starts at `p_read_at`), and
-- trigger every consensus the eligible trades now meet (`p_required` distinct
-- wallets; null: only watch). Answers {new: [trade keys first seen now], owed:
-- [{consensus_key, order_key, trade, wallets}]}: every trigger of this node whose
-- order is not recorded yet, oldest first.
create or replace function cascadian_copy_trade_observe_v1(
    p_workflow_id uuid,
    p_node_id text,
    p_wallets text[],
    p_trades jsonb,
    p_required integer,
    p_read_at bigint,
    p_now timestamptz
)
returns jsonb
language plpgsql
as $$
declare
    v_new text[];
begin
    if jsonb_typeof(p_trades) is distinct from 'array' then
        raise exception 'source trades must be a JSON array' using errcode = '22023';
    end if;
    if p_required is not null and p_required < 1 then
        raise exception 'a consensus needs at least one wallet' using errcode = '22023';
    end if;

    with incoming as (
        select x.*
        from jsonb_to_recordset(p_trades) as x(
            trade_key text, wallet text, consensus_key text, traded_at bigint,
            eligible boolean, trade jsonb
        )
        order by x.trade_key
    ),
    added as (
        insert into cascadian_copy_trade_trades as t (
            workflow_id, node_id, trade_key, wallet, consensus_key, traded_at, eligible, seen_at
        )
        select p_workflow_id, p_node_id, i.trade_key, lower(i.wallet), i.consensus_key,
               i.traded_at, i.eligible, p_now
        from incoming i
        on conflict (workflow_id, node_id, trade_key) do nothing
        returning t.trade_key
    )
    select coalesce(array_agg(trade_key order by trade_key), '{}') into v_new from added;

    insert into cascadian_copy_trade_cursors as c (
        workflow_id, node_id, wallet, last_trade_at, updated_at
    )
    select p_workflow_id, p_node_id, lower(x.wallet), max(x.traded_at), p_now
    from jsonb_to_recordset(p_trades) as x(wallet text, traded_at bigint)
    group by lower(x.wallet)
    order by lower(x.wallet)
    on conflict (workflow_id, node_id, wallet) do update
        set last_trade_at = greatest(c.last_trade_at, excluded.last_trade_at),
            updated_at = excluded.updated_at;

    insert into cascadian_copy_trade_cursors (workflow_id, node_id, wallet, last_trade_at, updated_at)
    select p_workflow_id, p_node_id, w, p_read_at, p_now
    from (select distinct lower(w) as w from unnest(p_wallets) as w) as read
    order by w
    on conflict (workflow_id, node_id, wallet) do nothing;

    if p_required is not null then
        -- Each consensus of this node that its eligible trades now meet, once; the
        -- trade copied is this call's newest eligible trade of that consensus.
        with batch as (
            select x.*
            from jsonb_to_recordset(p_trades) as x(
                trade_key text, consensus_key text, traded_at bigint, eligible boolean,
                trade jsonb
            )
            where x.eligible
        ),
        met as (
            select t.consensus_key, array_agg(distinct t.wallet order by t.wallet) as wallets
            from cascadian_copy_trade_trades t
            where t.workflow_id = p_workflow_id and t.node_id = p_node_id and t.eligible
              and t.consensus_key in (select b.consensus_key from batch b)
            group by t.consensus_key
            having count(distinct t.wallet) >= p_required
        )
        insert into cascadian_copy_trade_triggers as g (
            workflow_id, node_id, consensus_key, order_key, trade, wallets, triggered_at
        )
        select p_workflow_id, p_node_id, m.consensus_key,
               'copy:' || p_node_id || ':' || m.consensus_key,
               (select b.trade from batch b where b.consensus_key = m.consensus_key
                order by b.traded_at desc, b.trade_key desc limit 1),
               m.wallets, p_now
        from met m
        order by m.consensus_key
        on conflict (workflow_id, node_id, consensus_key) do nothing;
    end if;

    return jsonb_build_object(
        'new', to_jsonb(v_new),
        'owed', coalesce((
            select jsonb_agg(
                jsonb_build_object('consensus_key', g.consensus_key, 'order_key', g.order_key,
                                   'trade', g.trade, 'wallets', to_jsonb(g.wallets))
                order by g.triggered_at, g.consensus_key
            )
            from cascadian_copy_trade_triggers g
            where g.workflow_id = p_workflow_id and g.node_id = p_node_id
              and not exists (
                  select 1 from cascadian_trading_orders o
                  where o.workflow_id = g.workflow_id and o.order_key = g.order_key
              )
        ), '[]'::jsonb)
    );
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
    -- Only the store (through its functions) reads and writes these.
    foreach t in array array[
        'cascadian_copy_trade_cursors', 'cascadian_copy_trade_trades',
        'cascadian_copy_trade_triggers'
    ] loop
        execute format('alter table %I enable row level security', t);
        execute format('revoke all on table %I from anon, authenticated', t);
    end loop;
end;
$$;

select cascadian_restrict_functions_v1();
