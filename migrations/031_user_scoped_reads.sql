-- Signed-in users of the app (issue 33): the reads a user's token makes, each
-- scoped to that user in SQL, and the create that makes a strategy theirs.
--
-- Every function takes p_user: the acting user, or NULL for the operator (who sees
-- everything, as the v1 functions answer). A user asking for another user's
-- strategy or run gets exactly what a missing one gets (no row, NULL), never an
-- answer that would confirm it exists. The changes a user makes (start, pause, an
-- edit, an archive) go through the actor-aware functions of migration 027, which
-- check the owner in the same statement as the change.

-- A strategy with its graph (cascadian_strategy_v1), if p_user may see it.
create or replace function cascadian_strategy_v2(p_id uuid, p_now timestamptz, p_user uuid)
returns jsonb
language sql
stable
as $$
    select cascadian_strategy_v1(s.id, p_now)
    from workflow_sessions s
    where s.id = p_id and (p_user is null or s.user_id = p_user);
$$;

-- The strategies list (cascadian_list_strategies_v1); for a user, only theirs,
-- whatever owner filter the query asked for.
create or replace function cascadian_list_strategies_v2(p jsonb, p_now timestamptz, p_user uuid)
returns jsonb
language sql
stable
as $$
    select cascadian_list_strategies_v1(
        case when p_user is null then p
             else p || jsonb_build_object('user_id', p_user) end,
        p_now
    );
$$;

-- Strategies' status rows (cascadian_strategies_v1), p_user's only.
create or replace function cascadian_strategies_v2(
    p_now timestamptz,
    p_id uuid,
    p_limit integer,
    p_offset integer,
    p_user uuid
)
returns table (
    id uuid,
    user_id uuid,
    name text,
    status text,
    auto_run boolean,
    execution_interval_minutes integer,
    cron_expression text,
    timezone text,
    next_execution_at timestamptz,
    last_executed_at timestamptz,
    execution_count integer,
    success_count integer,
    error_count integer,
    success_rate double precision,
    average_execution_time_ms integer,
    last_error text,
    run_in_flight boolean,
    lease_expires_at timestamptz
)
language sql
stable
as $$
    select
        s.id, s.user_id, s.name, s.status, s.auto_run,
        s.execution_interval_minutes, s.cron_expression, s.timezone,
        s.next_execution_at, s.last_executed_at,
        s.execution_count, s.success_count, s.error_count,
        case when s.execution_count > 0
            then s.success_count::double precision / s.execution_count
        end,
        s.average_execution_time_ms, s.last_error,
        coalesce(s.lease_expires_at > p_now, false),
        s.lease_expires_at
    from workflow_sessions s
    where (p_id is null or s.id = p_id)
      and (p_user is null or s.user_id = p_user)
    order by s.name, s.id
    limit p_limit
    offset p_offset;
$$;

-- A strategy's runs (cascadian_executions_v1): NULL, as for an unknown strategy,
-- when it is not p_user's.
create or replace function cascadian_executions_v2(
    p_workflow_id uuid,
    p_limit integer,
    p_offset integer,
    p_user uuid
)
returns jsonb
language sql
stable
as $$
    select cascadian_executions_v1(s.id, p_limit, p_offset)
    from workflow_sessions s
    where s.id = p_workflow_id and (p_user is null or s.user_id = p_user);
$$;

-- One run with its node logs (cascadian_execution_v2), if its strategy is p_user's.
-- The strategy's owner decides, not the run row's copy of it.
create or replace function cascadian_execution_v3(p_id uuid, p_user uuid)
returns jsonb
language sql
stable
as $$
    select cascadian_execution_v2(e.id)
    from workflow_executions e
    where e.id = p_id
      and (p_user is null or exists (
          select 1 from workflow_sessions s
          where s.id = e.workflow_id and s.user_id = p_user
      ));
$$;

-- A strategy's paper book (cascadian_paper_book_v1), if the strategy is p_user's.
create or replace function cascadian_paper_book_v2(
    p_workflow_id uuid,
    p_marks jsonb,
    p_order_limit integer,
    p_user uuid
)
returns jsonb
language sql
stable
as $$
    select cascadian_paper_book_v1(s.id, p_marks, p_order_limit)
    from workflow_sessions s
    where s.id = p_workflow_id and (p_user is null or s.user_id = p_user);
$$;

-- Create a strategy for a user (p_actor, as 027's functions take it), owned by
-- them whatever the document's user_id says and written to the audit log
-- (cascadian_create_strategy_v2), unless they already have p_max strategies
-- (current versions, not archived; p_max 0: no limit): then NULL and nothing
-- written. The count and the insert run under a per-user transaction lock, so two
-- creates at once cannot both take the last place.
create or replace function cascadian_create_user_strategy_v1(
    p jsonb,
    p_now timestamptz,
    p_actor jsonb,
    p_max integer
)
returns uuid
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
begin
    if v_user is null then
        raise exception 'cascadian_create_user_strategy_v1 creates for a user actor only'
            using errcode = '22023';
    end if;
    perform pg_advisory_xact_lock(hashtextextended('cascadian_user_strategies:' || v_user, 0));
    if p_max > 0 and (
        select count(*)
        from workflow_sessions s
        where s.user_id = v_user and s.is_current_version and s.status <> 'archived'
    ) >= p_max then
        return null;
    end if;
    return cascadian_create_strategy_v2(p, p_now, p_actor);
end;
$$;

-- Each user's share of the API (cascadian/auth/quotas.py). Only the store, through
-- its functions, reads or writes these tables.

-- Requests a user made in the current minute (a fixed window per user).
create table if not exists cascadian_user_requests (
    user_id uuid primary key,
    window_start timestamptz not null,
    requests integer not null
);

-- Count one request of p_user at p_now; the answer is 0 when it is within p_limit
-- requests this minute, else the seconds until the next minute (when it may try
-- again). One statement: the row's lock orders concurrent requests, so no two can
-- both take the last place. A refused request is counted too: a client that
-- ignores Retry-After keeps its window full.
create or replace function cascadian_count_user_request_v1(
    p_user uuid,
    p_now timestamptz,
    p_limit integer
)
returns integer
language sql
as $$
    insert into cascadian_user_requests as r (user_id, window_start, requests)
    values (p_user, date_trunc('minute', p_now), 1)
    on conflict (user_id) do update
    set requests = case when r.window_start = excluded.window_start
                        then r.requests + 1 else 1 end,
        window_start = excluded.window_start
    returning case when requests <= p_limit then 0
                   else ceil(extract(epoch from window_start + interval '1 minute' - p_now))::integer
              end;
$$;

-- Work a user has in flight (a dry run, later a backtest): one row each, until it
-- is given back or its expiry passes (a process that died never gives it back).
create table if not exists cascadian_user_slots (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null,
    kind text not null,
    expires_at timestamptz not null
);
create index if not exists cascadian_user_slots_user_idx
    on cascadian_user_slots (user_id, kind, expires_at);

-- Take one of p_user's p_max slots of p_kind until p_now + p_seconds: its id, or
-- NULL when all are taken (then nothing is written). The count and the insert run
-- under a transaction lock on the user and kind.
create or replace function cascadian_take_user_slot_v1(
    p_user uuid,
    p_kind text,
    p_max integer,
    p_now timestamptz,
    p_seconds double precision
)
returns uuid
language plpgsql
as $$
declare
    v_id uuid;
begin
    perform pg_advisory_xact_lock(
        hashtextextended('cascadian_user_slots:' || p_user || ':' || p_kind, 0)
    );
    delete from cascadian_user_slots
    where user_id = p_user and kind = p_kind and expires_at <= p_now;
    if (select count(*) from cascadian_user_slots
        where user_id = p_user and kind = p_kind) >= p_max then
        return null;
    end if;
    insert into cascadian_user_slots (user_id, kind, expires_at)
    values (p_user, p_kind, p_now + make_interval(secs => p_seconds))
    returning id into v_id;
    return v_id;
end;
$$;

-- Give a slot back (true), or false if it had expired and was taken by another.
create or replace function cascadian_give_user_slot_v1(p_id uuid)
returns boolean
language sql
as $$
    with gone as (delete from cascadian_user_slots where id = p_id returning 1)
    select exists (select 1 from gone);
$$;

-- On Supabase (its auth schema and roles, as 023 asks), only the store's functions
-- reach these tables.
do $$
begin
    if to_regnamespace('auth') is not null
       and to_regprocedure('auth.uid()') is not null
       and (select count(*) from pg_roles
            where rolname in ('anon', 'authenticated', 'service_role')) = 3 then
        alter table cascadian_user_requests enable row level security;
        alter table cascadian_user_slots enable row level security;
        revoke all on table cascadian_user_requests, cascadian_user_slots
            from anon, authenticated;
    end if;
end;
$$;

select cascadian_restrict_functions_v1();
