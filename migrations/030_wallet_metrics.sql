-- Wallet metrics from Polymarket's public Data API, kept for every strategy and
-- worker to share (cascadian/workflow/wallets/).
--
-- A wallet's metrics are worked out in Python from its closed positions (one
-- upstream read per wallet) and written here with the time they were read; every
-- strategy in every process reads them from here until they are older than the TTL
-- it asks with (CASCADIAN_WALLET_METRICS_TTL_SECONDS). So that two workers missing
-- the same wallet at the same moment do not both read it, a reader first claims
-- the wallets it lacks: a claim is a lease on the row (`refreshing_until`), taken
-- under the row's lock, so exactly one reader holds it; the others wait for its
-- metrics. N strategies over the same wallets thus cause one upstream read per
-- wallet per TTL. The metrics are public data about public wallets: nothing here
-- belongs to a user.

create table if not exists cascadian_wallet_metrics (
    -- Lower-case: Polymarket writes addresses in either case.
    wallet text primary key check (wallet = lower(wallet) and wallet <> ''),
    -- The original's field names, numbers as decimal strings (no digit lost); null
    -- until the first read of the wallet lands.
    metrics jsonb check (jsonb_typeof(metrics) = 'object'),
    -- When the closed positions they come from were read.
    fetched_at timestamptz,
    -- While a reader holds the claim to read the wallet again: until when.
    refreshing_until timestamptz,
    check ((metrics is null) = (fetched_at is null))
);

-- Of `p_wallets`: the stored metrics read less than `p_max_age_seconds` before
-- `p_now` (`fresh`: [{wallet, metrics}]), the wallets the caller now holds the claim
-- to read (`claimed`, for `p_lease_seconds`), and those another reader holds
-- (`busy`): {fresh, claimed, busy}. One statement claims, so two callers never
-- claim the same wallet; an expired claim (its reader died) is claimed again.
create or replace function cascadian_claim_wallet_metrics_v1(
    p_wallets text[],
    p_max_age_seconds double precision,
    p_lease_seconds double precision,
    p_now timestamptz
)
returns jsonb
language plpgsql
as $$
declare
    -- Sorted: every claim locks rows in the same order, so claims never deadlock.
    v_wallets text[] := array(
        select distinct lower(w) from unnest(p_wallets) as w where coalesce(w, '') <> ''
        order by 1
    );
    v_stale_before timestamptz := p_now - make_interval(secs => p_max_age_seconds);
    v_claimed text[];
    v_fresh jsonb;
begin
    if p_max_age_seconds < 0 or p_lease_seconds <= 0 then
        raise exception 'the age must not be negative and the lease must be positive'
            using errcode = '22023';
    end if;
    with claimed as (
        insert into cascadian_wallet_metrics as m (wallet, refreshing_until)
        select w, p_now + make_interval(secs => p_lease_seconds)
        from unnest(v_wallets) as w
        order by w
        on conflict (wallet) do update
            set refreshing_until = excluded.refreshing_until
            where (m.fetched_at is null or m.fetched_at <= v_stale_before)
              and (m.refreshing_until is null or m.refreshing_until <= p_now)
        returning m.wallet
    )
    select coalesce(array_agg(wallet order by wallet), '{}') into v_claimed from claimed;

    select coalesce(
        jsonb_agg(jsonb_build_object('wallet', m.wallet, 'metrics', m.metrics)
                  order by m.wallet),
        '[]'::jsonb
    )
    into v_fresh
    from cascadian_wallet_metrics m
    where m.wallet = any(v_wallets)
      and not m.wallet = any(v_claimed)
      and m.fetched_at > v_stale_before;

    return jsonb_build_object(
        'fresh', v_fresh,
        'claimed', to_jsonb(v_claimed),
        'busy', coalesce((
            select jsonb_agg(w order by w)
            from unnest(v_wallets) as w
            where not w = any(v_claimed)
              and not exists (select 1 from jsonb_array_elements(v_fresh) f
                              where f ->> 'wallet' = w)
        ), '[]'::jsonb)
    );
end;
$$;

-- Store freshly read metrics, `p` = [{wallet, metrics, fetched_at}], in one
-- statement, and end their claims. A read older than the one stored never
-- replaces it. Answers how many rows it wrote.
create or replace function cascadian_put_wallet_metrics_v1(p jsonb)
returns integer
language plpgsql
as $$
declare
    n integer;
begin
    if jsonb_typeof(p) is distinct from 'array' then
        raise exception 'wallet metrics must be a JSON array' using errcode = '22023';
    end if;
    insert into cascadian_wallet_metrics as m (wallet, metrics, fetched_at)
    select lower(x.wallet), x.metrics, x.fetched_at
    from jsonb_to_recordset(p) as x(wallet text, metrics jsonb, fetched_at timestamptz)
    on conflict (wallet) do update
        set metrics = excluded.metrics,
            fetched_at = excluded.fetched_at,
            refreshing_until = null
        where m.fetched_at is null or m.fetched_at <= excluded.fetched_at;
    get diagnostics n = row_count;
    return n;
end;
$$;

-- End the claims on `p_wallets` without metrics (their read failed), so a waiting
-- reader claims them at once instead of after the lease. Answers how many it ended.
create or replace function cascadian_release_wallet_metrics_v1(p_wallets text[])
returns integer
language plpgsql
as $$
declare
    n integer;
begin
    update cascadian_wallet_metrics
    set refreshing_until = null
    where wallet = any(array(select lower(w) from unnest(p_wallets) as w))
      and refreshing_until is not null;
    get diagnostics n = row_count;
    return n;
end;
$$;

do $$
begin
    if to_regnamespace('auth') is null
       or to_regprocedure('auth.uid()') is null
       or (select count(*) from pg_roles
           where rolname in ('anon', 'authenticated', 'service_role')) < 3 then
        return;
    end if;
    -- Only the store (through its functions) reads and writes it.
    alter table cascadian_wallet_metrics enable row level security;
    revoke all on table cascadian_wallet_metrics from anon, authenticated;
end;
$$;

select cascadian_restrict_functions_v1();
