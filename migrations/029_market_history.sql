-- Recorded market history, for backtests (cascadian/backtests/, docs/backtests.md).
--
-- What the live ticks already fetch once for every strategy (Gamma's markets, the
-- CLOB's prices and books) is kept here, compactly: a row holds one state of one
-- market (or token) from `seen_at`, when it was first seen so, to `last_seen_at`,
-- when it was last seen unchanged. A recording of an unchanged state only moves
-- `last_seen_at`; a changed one adds a row. So a market that does not move costs one
-- row however often it is recorded, and the state "at t" is the row with
-- seen_at <= t <= last_seen_at (plus the recording period, which the reader allows).
-- What rarely changes (the question, outcomes, token ids, end date) is kept once per
-- market, apart from what moves (prices, volume, liquidity, open or closed).
--
-- Polymarket's public price history (the CLOB's /prices-history) lands in the price
-- table too, with its source, for prices before recording began.
--
-- Rows are deleted once their state was last seen before the retention cutoff
-- (cascadian_prune_market_history_v1), in bounded batches.

create table if not exists cascadian_history_markets (
    market_id text primary key,
    -- What rarely changes: question, slug, outcomes, token ids, end date, category.
    static jsonb not null,
    updated_at timestamptz not null
);

create table if not exists cascadian_market_history (
    market_id text not null,
    seen_at timestamptz not null,
    last_seen_at timestamptz not null,
    -- What moves: prices, volume, liquidity, best bid/ask, active, closed.
    state jsonb not null,
    primary key (market_id, seen_at),
    check (last_seen_at >= seen_at)
);

create table if not exists cascadian_price_history (
    token_id text not null,
    seen_at timestamptz not null,
    last_seen_at timestamptz not null,
    -- clob: a recorded live quote; prices-history: Polymarket's public history.
    source text not null check (source in ('clob', 'prices-history')),
    midpoint numeric,
    best_bid numeric,
    best_ask numeric,
    primary key (token_id, seen_at),
    check (last_seen_at >= seen_at)
);

create table if not exists cascadian_book_history (
    token_id text not null,
    seen_at timestamptz not null,
    last_seen_at timestamptz not null,
    -- The CLOB's /book answer, levels as it sent them.
    book jsonb not null,
    primary key (token_id, seen_at),
    check (last_seen_at >= seen_at)
);

-- Window reads walk rows in time order; the prune finds rows by when they were last
-- seen.
create index if not exists cascadian_market_history_seen on cascadian_market_history (seen_at);
create index if not exists cascadian_market_history_last on cascadian_market_history (last_seen_at);
create index if not exists cascadian_price_history_seen on cascadian_price_history (seen_at);
create index if not exists cascadian_price_history_last on cascadian_price_history (last_seen_at);
create index if not exists cascadian_book_history_seen on cascadian_book_history (seen_at);
create index if not exists cascadian_book_history_last on cascadian_book_history (last_seen_at);

-- One recording: p = {"markets": [{"id", "static", "state"}], "prices": [{"token_id",
-- "midpoint", "best_bid", "best_ask"}], "books": [{"token_id", "book"}]}, each key
-- once. An unchanged state extends its row; a changed one adds a row at p_at. Two
-- recorders at once may both add a row for one change: harmless (compaction is an
-- economy, not a rule), so no lock is taken. A recording older than the latest row
-- of a key changes nothing of that key.
create or replace function cascadian_record_market_history_v1(p_at timestamptz, p jsonb)
returns jsonb
language plpgsql
as $$
declare
    v_markets integer := 0;
    v_prices integer := 0;
    v_books integer := 0;
    v_extended integer := 0;
    n integer;
begin
    insert into cascadian_history_markets as h (market_id, static, updated_at)
    select m ->> 'id', m -> 'static', p_at
    from jsonb_array_elements(coalesce(p -> 'markets', '[]')) m
    on conflict (market_id) do update
        set static = excluded.static, updated_at = excluded.updated_at
        where h.static is distinct from excluded.static;

    with incoming as (
        select m ->> 'id' as market_id, m -> 'state' as state
        from jsonb_array_elements(coalesce(p -> 'markets', '[]')) m
    ),
    latest as (
        select i.market_id, i.state, l.seen_at, l.state as was
        from incoming i
        left join lateral (
            select h.seen_at, h.state from cascadian_market_history h
            where h.market_id = i.market_id order by h.seen_at desc limit 1
        ) l on true
    ),
    extended as (
        update cascadian_market_history h
        set last_seen_at = greatest(h.last_seen_at, p_at)
        from latest l
        where h.market_id = l.market_id and h.seen_at = l.seen_at
          and l.was = l.state and l.seen_at <= p_at
        returning 1
    ),
    added as (
        insert into cascadian_market_history (market_id, seen_at, last_seen_at, state)
        select l.market_id, p_at, p_at, l.state from latest l
        where l.seen_at is null or (l.seen_at < p_at and l.was <> l.state)
        on conflict do nothing
        returning 1
    )
    select (select count(*) from added), (select count(*) from extended)
    into v_markets, n;
    v_extended := v_extended + n;

    with incoming as (
        select q ->> 'token_id' as token_id,
               (q ->> 'midpoint')::numeric as midpoint,
               (q ->> 'best_bid')::numeric as best_bid,
               (q ->> 'best_ask')::numeric as best_ask
        from jsonb_array_elements(coalesce(p -> 'prices', '[]')) q
    ),
    latest as (
        select i.*, l.seen_at, l.midpoint as was_mid, l.best_bid as was_bid,
               l.best_ask as was_ask
        from incoming i
        left join lateral (
            select h.seen_at, h.midpoint, h.best_bid, h.best_ask from cascadian_price_history h
            where h.token_id = i.token_id order by h.seen_at desc limit 1
        ) l on true
    ),
    extended as (
        update cascadian_price_history h
        set last_seen_at = greatest(h.last_seen_at, p_at)
        from latest l
        where h.token_id = l.token_id and h.seen_at = l.seen_at and l.seen_at <= p_at
          and (l.was_mid, l.was_bid, l.was_ask)
              is not distinct from (l.midpoint, l.best_bid, l.best_ask)
        returning 1
    ),
    added as (
        insert into cascadian_price_history
            (token_id, seen_at, last_seen_at, source, midpoint, best_bid, best_ask)
        select l.token_id, p_at, p_at, 'clob', l.midpoint, l.best_bid, l.best_ask
        from latest l
        where l.seen_at is null
           or (l.seen_at < p_at and (l.was_mid, l.was_bid, l.was_ask)
               is distinct from (l.midpoint, l.best_bid, l.best_ask))
        on conflict do nothing
        returning 1
    )
    select (select count(*) from added), (select count(*) from extended)
    into v_prices, n;
    v_extended := v_extended + n;

    with incoming as (
        select b ->> 'token_id' as token_id, b -> 'book' as book
        from jsonb_array_elements(coalesce(p -> 'books', '[]')) b
    ),
    latest as (
        select i.token_id, i.book, l.seen_at, l.book as was
        from incoming i
        left join lateral (
            select h.seen_at, h.book from cascadian_book_history h
            where h.token_id = i.token_id order by h.seen_at desc limit 1
        ) l on true
    ),
    extended as (
        update cascadian_book_history h
        set last_seen_at = greatest(h.last_seen_at, p_at)
        from latest l
        where h.token_id = l.token_id and h.seen_at = l.seen_at
          and l.was = l.book and l.seen_at <= p_at
        returning 1
    ),
    added as (
        insert into cascadian_book_history (token_id, seen_at, last_seen_at, book)
        select l.token_id, p_at, p_at, l.book from latest l
        where l.seen_at is null or (l.seen_at < p_at and l.was <> l.book)
        on conflict do nothing
        returning 1
    )
    select (select count(*) from added), (select count(*) from extended)
    into v_books, n;
    v_extended := v_extended + n;

    return jsonb_build_object(
        'markets', v_markets, 'prices', v_prices, 'books', v_books, 'extended', v_extended
    );
end;
$$;

-- Polymarket's public price history for tokens: p = [{"token_id", "points": [{"t":
-- seen_at, "until": last_seen_at, "p": price}]}]. A point already held (recorded or
-- imported) is kept as it is.
create or replace function cascadian_import_price_history_v1(p jsonb)
returns integer
language sql
as $$
    with added as (
        insert into cascadian_price_history
            (token_id, seen_at, last_seen_at, source, midpoint)
        select t ->> 'token_id', (pt ->> 't')::timestamptz,
               greatest((pt ->> 't')::timestamptz, (pt ->> 'until')::timestamptz),
               'prices-history', (pt ->> 'p')::numeric
        from jsonb_array_elements(p) t,
             jsonb_array_elements(coalesce(t -> 'points', '[]')) pt
        on conflict do nothing
        returning 1
    )
    select count(*)::integer from added;
$$;

-- One page of a window's history, for a backtest: the rows of `p_kind` (market,
-- price, book) whose state overlaps [p_from - p_grace, p_to], in (seen_at, key)
-- order after (p_after_at, p_after_key), at most p_limit. An array of
-- {"key", "seen_at", "last_seen_at", ...}. Pages, not one answer, so that PostgREST's
-- row cap and the process's memory both stay bounded.
create or replace function cascadian_history_page_v1(
    p_kind text, p_from timestamptz, p_to timestamptz, p_grace_seconds double precision,
    p_after_at timestamptz, p_after_key text, p_limit integer
)
returns jsonb
language plpgsql
stable
as $$
declare
    v_since timestamptz := p_from - make_interval(secs => p_grace_seconds);
    v_after_at timestamptz := coalesce(p_after_at, '-infinity'::timestamptz);
    v_after_key text := coalesce(p_after_key, '');
begin
    if p_kind = 'market' then
        return coalesce((
            select jsonb_agg(jsonb_build_object(
                'key', r.market_id, 'seen_at', r.seen_at, 'last_seen_at', r.last_seen_at,
                'state', r.state
            ) order by r.seen_at, r.market_id)
            from (
                select * from cascadian_market_history h
                where h.seen_at <= p_to and h.last_seen_at >= v_since
                  and (h.seen_at, h.market_id) > (v_after_at, v_after_key)
                order by h.seen_at, h.market_id
                limit p_limit
            ) r
        ), '[]'::jsonb);
    elsif p_kind = 'price' then
        return coalesce((
            select jsonb_agg(jsonb_build_object(
                'key', r.token_id, 'seen_at', r.seen_at, 'last_seen_at', r.last_seen_at,
                'source', r.source, 'midpoint', r.midpoint::text,
                'best_bid', r.best_bid::text, 'best_ask', r.best_ask::text
            ) order by r.seen_at, r.token_id)
            from (
                select * from cascadian_price_history h
                where h.seen_at <= p_to and h.last_seen_at >= v_since
                  and (h.seen_at, h.token_id) > (v_after_at, v_after_key)
                order by h.seen_at, h.token_id
                limit p_limit
            ) r
        ), '[]'::jsonb);
    elsif p_kind = 'book' then
        return coalesce((
            select jsonb_agg(jsonb_build_object(
                'key', r.token_id, 'seen_at', r.seen_at, 'last_seen_at', r.last_seen_at,
                'book', r.book
            ) order by r.seen_at, r.token_id)
            from (
                select * from cascadian_book_history h
                where h.seen_at <= p_to and h.last_seen_at >= v_since
                  and (h.seen_at, h.token_id) > (v_after_at, v_after_key)
                order by h.seen_at, h.token_id
                limit p_limit
            ) r
        ), '[]'::jsonb);
    end if;
    raise exception 'unknown history kind %', p_kind using errcode = '22023';
end;
$$;

-- What rarely changes of the markets a window's history holds: {market_id: static}.
create or replace function cascadian_history_markets_v1(
    p_from timestamptz, p_to timestamptz, p_grace_seconds double precision
)
returns jsonb
language sql
stable
as $$
    select coalesce(jsonb_object_agg(m.market_id, m.static), '{}'::jsonb)
    from cascadian_history_markets m
    where exists (
        select 1 from cascadian_market_history h
        where h.market_id = m.market_id and h.seen_at <= p_to
          and h.last_seen_at >= p_from - make_interval(secs => p_grace_seconds)
    );
$$;

-- What history there is: the first and last time each kind was seen (nulls: none),
-- and the first recorded market state (where recording began).
create or replace function cascadian_history_span_v1()
returns jsonb
language sql
stable
as $$
    select jsonb_build_object(
        'markets_from', (select min(seen_at) from cascadian_market_history),
        'markets_to', (select max(last_seen_at) from cascadian_market_history),
        'prices_from', (select min(seen_at) from cascadian_price_history),
        'prices_to', (select max(last_seen_at) from cascadian_price_history),
        'recorded_prices_from',
            (select min(seen_at) from cascadian_price_history where source = 'clob'),
        'books_from', (select min(seen_at) from cascadian_book_history),
        'books_to', (select max(last_seen_at) from cascadian_book_history)
    );
$$;

-- Deletes, at most p_max_rows per table, the states last seen before p_before (a
-- state seen since is still the state at some time in the retention window), and
-- the static rows of markets with no state left.
create or replace function cascadian_prune_market_history_v1(
    p_before timestamptz, p_max_rows integer
)
returns jsonb
language plpgsql
as $$
declare
    v_markets integer;
    v_prices integer;
    v_books integer;
    v_static integer;
begin
    delete from cascadian_market_history where ctid in (
        select ctid from cascadian_market_history where last_seen_at < p_before
        limit p_max_rows
    );
    get diagnostics v_markets = row_count;
    delete from cascadian_price_history where ctid in (
        select ctid from cascadian_price_history where last_seen_at < p_before
        limit p_max_rows
    );
    get diagnostics v_prices = row_count;
    delete from cascadian_book_history where ctid in (
        select ctid from cascadian_book_history where last_seen_at < p_before
        limit p_max_rows
    );
    get diagnostics v_books = row_count;
    delete from cascadian_history_markets m where m.ctid in (
        select s.ctid from cascadian_history_markets s
        where s.updated_at < p_before
          and not exists (
              select 1 from cascadian_market_history h where h.market_id = s.market_id
          )
        limit p_max_rows
    );
    get diagnostics v_static = row_count;
    return jsonb_build_object(
        'markets', v_markets, 'prices', v_prices, 'books', v_books, 'static', v_static,
        'complete', v_markets < p_max_rows and v_prices < p_max_rows
            and v_books < p_max_rows and v_static < p_max_rows
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
    -- Only the store (through its SECURITY DEFINER functions) reads and writes these.
    foreach t in array array[
        'cascadian_history_markets', 'cascadian_market_history', 'cascadian_price_history',
        'cascadian_book_history'
    ] loop
        execute format('alter table %I enable row level security', t);
        execute format('revoke all on table %I from anon, authenticated', t);
    end loop;
end;
$$;

select cascadian_restrict_functions_v1();
