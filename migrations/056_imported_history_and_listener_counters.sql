-- Imported price history keeps a retention of its own (docs/backtests.md).
--
-- `cascadian import-prices` stamps each imported point with its own, historical
-- time (seen_at .. last_seen_at), so the recorder's retention (044, every tick:
-- states last seen before now - CASCADIAN_HISTORY_RETENTION_DAYS) deleted a
-- 60-day-old import at the next tick, and a 90-day backtest could never use one.
-- cascadian_prune_market_history_v3 takes two cutoffs: p_before for what the ticks
-- recorded (every table, and the price rows of source 'clob'), p_imported_before for
-- the price rows of source 'prices-history' (CASCADIAN_IMPORTED_HISTORY_RETENTION_DAYS).
-- A null cutoff keeps those rows for ever. A dry run counts and deletes nothing, as
-- v2's; v2 stays for the release still running during a deploy.
create or replace function cascadian_prune_market_history_v3(
    p_before timestamptz, p_imported_before timestamptz, p_max_rows integer,
    p_dry_run boolean default false
)
returns jsonb
language plpgsql
as $$
declare
    v_markets integer := 0;
    v_prices integer := 0;
    v_books integer := 0;
    v_static integer := 0;
    -- Null cutoffs as -infinity: nothing is last seen before it.
    v_before timestamptz := coalesce(p_before, '-infinity'::timestamptz);
    v_imported_before timestamptz := coalesce(p_imported_before, '-infinity'::timestamptz);
begin
    if p_max_rows is null or p_max_rows < 0 then
        raise exception 'a prune needs a row cap of 0 or more' using errcode = '22023';
    end if;
    if p_dry_run then
        return jsonb_build_object(
            'markets', (select count(*) from cascadian_market_history where last_seen_at < v_before),
            'prices', (
                select count(*) from cascadian_price_history
                where (source = 'clob' and last_seen_at < v_before)
                   or (source = 'prices-history' and last_seen_at < v_imported_before)
            ),
            'books', (select count(*) from cascadian_book_history where last_seen_at < v_before),
            'static', (
                select count(*) from cascadian_history_markets s
                where s.updated_at < v_before
                  and not exists (
                      select 1 from cascadian_market_history h
                      where h.market_id = s.market_id and h.last_seen_at >= v_before
                  )
            ),
            'complete', true
        );
    end if;
    delete from cascadian_market_history where ctid in (
        select ctid from cascadian_market_history where last_seen_at < v_before
        limit p_max_rows
    );
    get diagnostics v_markets = row_count;
    delete from cascadian_price_history where ctid in (
        select ctid from cascadian_price_history
        where (source = 'clob' and last_seen_at < v_before)
           or (source = 'prices-history' and last_seen_at < v_imported_before)
        limit p_max_rows
    );
    get diagnostics v_prices = row_count;
    delete from cascadian_book_history where ctid in (
        select ctid from cascadian_book_history where last_seen_at < v_before
        limit p_max_rows
    );
    get diagnostics v_books = row_count;
    delete from cascadian_history_markets m where m.ctid in (
        select s.ctid from cascadian_history_markets s
        where s.updated_at < v_before
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

-- A listener's counters as bigint: a worker listening for months counts billions of
-- market-channel frames, past integer's 2,147,483,647 (028), and its state was then
-- refused. cascadian_listener_state_v3 is v2 (043) casting to bigint; v2 stays for
-- the release still running during a deploy.
alter table cascadian_trigger_listeners
    alter column reconnects type bigint,
    alter column frames type bigint,
    alter column frames_dropped type bigint;

create or replace function cascadian_listener_state_v3(p jsonb, p_now timestamptz)
returns void
language sql
as $$
    insert into cascadian_trigger_listeners as l (
        id, host, started_at, updated_at, connected, connections, tokens, reconnects,
        frames, frames_dropped, last_frame_at
    )
    values (
        (p ->> 'id')::uuid, p ->> 'host', (p ->> 'started_at')::timestamptz, p_now,
        (p ->> 'connected')::boolean, coalesce((p ->> 'connections')::integer, 0),
        (p ->> 'tokens')::integer, (p ->> 'reconnects')::bigint,
        (p ->> 'frames')::bigint, (p ->> 'frames_dropped')::bigint,
        (p ->> 'last_frame_at')::timestamptz
    )
    on conflict (id) do update set
        updated_at = excluded.updated_at, connected = excluded.connected,
        connections = excluded.connections, tokens = excluded.tokens,
        reconnects = excluded.reconnects, frames = excluded.frames,
        frames_dropped = excluded.frames_dropped, last_frame_at = excluded.last_frame_at;
    -- A listener silent for a day is gone.
    delete from cascadian_trigger_listeners where updated_at < p_now - interval '1 day';
$$;

select cascadian_restrict_functions_v1();
