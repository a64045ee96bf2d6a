-- The recorded market history (029) is pruned by the retention step of every tick
-- and by `cascadian prune`, beside runs, ticks, notifications and the audit log,
-- and `cascadian prune --dry-run` counts it.
--
-- cascadian_prune_market_history_v2 is v1 plus p_dry_run: true counts every state
-- last seen before p_before (and every static row whose market would have no state
-- left) and deletes nothing; false deletes, at most p_max_rows per table, as v1.
-- v1 stays for the release still running during a deploy.
create or replace function cascadian_prune_market_history_v2(
    p_before timestamptz, p_max_rows integer, p_dry_run boolean default false
)
returns jsonb
language plpgsql
as $$
begin
    if p_before is null or p_max_rows is null or p_max_rows < 0 then
        raise exception 'a prune needs a cutoff and a row cap of 0 or more'
            using errcode = '22023';
    end if;
    if not p_dry_run then
        return cascadian_prune_market_history_v1(p_before, p_max_rows);
    end if;
    return jsonb_build_object(
        'markets', (select count(*) from cascadian_market_history where last_seen_at < p_before),
        'prices', (select count(*) from cascadian_price_history where last_seen_at < p_before),
        'books', (select count(*) from cascadian_book_history where last_seen_at < p_before),
        'static', (
            select count(*) from cascadian_history_markets s
            where s.updated_at < p_before
              and not exists (
                  select 1 from cascadian_market_history h
                  where h.market_id = s.market_id and h.last_seen_at >= p_before
              )
        ),
        'complete', true
    );
end;
$$;

select cascadian_restrict_functions_v1();
