-- A strategy's lease in a table of cascadian's own (issue 34: each row written once).
--
-- Until now the claim wrote the lease into the strategy's workflow_sessions row and
-- the finish wrote the counters and cleared it: two new versions of that row per
-- run. On the app's schema (ten indexes, two of them GIN, an updated_at trigger) no
-- update of it is HOT, so each version costs an entry in every index. Now the claim
-- writes only cascadian_leases, and the session row is written once per run, at
-- its finish.
--
--   - cascadian_leases: one row per strategy ever claimed (or changed by a control
--     function that asks whether a run is in flight). The row is kept when a run
--     ends (token and expires_at set to null), so each claim and finish is an
--     update, and only the primary key is indexed: every update leaves the indexed
--     column alone and is HOT while its page has room (fillfactor 50 keeps room;
--     a row is ~70 bytes). The fencing token stays the execution id.
--   - The session's lease_token and lease_expires_at stay (an existing deployment
--     has them, and the release before this one writes them) but nothing of this
--     release writes or reads them. The leases held when this migrates are moved
--     into the table, so a run in flight then is finished by the new release.
--   - Every function that read or wrote the session's lease has a new version here,
--     reading the table instead; the old versions stay for the release before
--     (stop its workers before migrating, as docs/existing-deployment.md says).
--   - Lock order: a lease row before its session row (the finish, the manual claims
--     and the control functions alike), and a lease row before its run's row (the
--     claims), so that none of them can deadlock another.
--
-- The table is out of signed-in users' reach on Supabase, as 022's trigger keeps the
-- session's lease columns: row-level security on, no policy, no grant; only the
-- store's functions (security definer) read and write it.

create table if not exists cascadian_leases (
    workflow_id uuid primary key references workflow_sessions (id) on delete cascade,
    -- The run holding the strategy (its execution id), until expires_at.
    token uuid,
    expires_at timestamptz,
    check ((token is null) = (expires_at is null))
) with (fillfactor = 50);

-- Move the leases held now (a run claimed by the release before finishes through
-- this one's finish, fenced by the same token).
insert into cascadian_leases (workflow_id, token, expires_at)
select s.id, s.lease_token, coalesce(s.lease_expires_at, now())
from workflow_sessions s
where s.lease_token is not null
on conflict (workflow_id) do update
set token = excluded.token, expires_at = excluded.expires_at;

update workflow_sessions
set lease_token = null, lease_expires_at = null
where lease_token is not null or lease_expires_at is not null;

do $$
begin
    if to_regnamespace('auth') is not null
       and to_regprocedure('auth.uid()') is not null
       and (select count(*) from pg_roles
            where rolname in ('anon', 'authenticated', 'service_role')) = 3 then
        alter table cascadian_leases enable row level security;
        revoke all on table cascadian_leases from anon, authenticated;
    end if;
end;
$$;

-- A control function's question "is a run in flight?", asked under the lease row's
-- lock (made if the strategy has none yet), so that no claim can take the strategy
-- between the question and the change. Called before the session row is locked.
create or replace function cascadian_lock_lease_v1(p_id uuid, p_now timestamptz)
returns boolean
language plpgsql
as $$
declare
    v_expires timestamptz;
begin
    insert into cascadian_leases (workflow_id)
    select s.id from workflow_sessions s where s.id = p_id
    on conflict (workflow_id) do nothing;
    select l.expires_at into v_expires
    from cascadian_leases l
    where l.workflow_id = p_id
    for update;
    return coalesce(v_expires > p_now, false);
end;
$$;

-- The claims. Each takes the lease rows (for update skip locked: one held by a
-- finish or another claim is passed over), cancels a run whose lease expired, sets
-- the lease, and inserts the run; the session row is only read.

create or replace function cascadian_fair_picks_v2(
    p_owners uuid[],
    p_now timestamptz,
    p_limit integer,
    p_owner_limit integer
)
returns uuid[]
language sql
stable
as $$
    select coalesce(array_agg(p.id order by p.rank, p.next_execution_at), '{}')
    from (
        select d.id, d.next_execution_at, d.busy + d.nth as rank
        from unnest(p_owners) as o (user_id)
        cross join lateral (
            select
                h.id,
                h.next_execution_at,
                h.held,
                count(*) filter (where h.held) over () as busy,
                row_number() over (partition by h.held order by h.next_execution_at) as nth
            from (
                select
                    s.id,
                    s.next_execution_at,
                    coalesce(l.expires_at > p_now, false) as held
                from workflow_sessions s
                left join cascadian_leases l on l.workflow_id = s.id
                where s.user_id = o.user_id
                  and s.auto_run
                  and s.status in ('running', 'error')
                  and s.is_current_version
                  and s.next_execution_at <= (select p_now)
                  and (p_owner_limit > 0 or l.expires_at is null or l.expires_at <= p_now)
                order by s.next_execution_at
                limit case when p_owner_limit > 0 then p_owner_limit else p_limit end
            ) as h
        ) as d
        where not d.held
        order by rank, d.next_execution_at
        limit p_limit
    ) as p;
$$;

create or replace function cascadian_claim_due_v5(
    p_now timestamptz,
    p_limit integer,
    p_lease_seconds double precision,
    p_owner_limit integer
)
returns table (
    execution_id uuid, workflow_id uuid, user_id uuid, name text, nodes text, edges text,
    variables text, trigger text, execution_interval_minutes integer, cron_expression text,
    timezone text, scheduled_for timestamptz, attempt integer, lease_expires_at timestamptz
)
language plpgsql
as $$
#variable_conflict use_column
declare
    v_window integer := p_limit * 4;
    v_seen integer;
    v_owners uuid[];
    v_picks uuid[];
begin
    -- Claims take turns, as in v4 (039).
    perform pg_advisory_xact_lock(hashtextextended('cascadian_claim_due', 0));
    select count(*), array_agg(distinct w.user_id)
    into v_seen, v_owners
    from (
        select s.user_id
        from workflow_sessions s
        where s.auto_run
          and s.status in ('running', 'error')
          and s.is_current_version
          and s.next_execution_at <= (select p_now)
          and not exists (
              select 1 from cascadian_leases l
              where l.workflow_id = s.id and l.expires_at > p_now
          )
        order by s.next_execution_at
        limit v_window
    ) as w;
    if v_seen = 0 then
        return;
    end if;
    v_picks := cascadian_fair_picks_v2(v_owners, p_now, p_limit, p_owner_limit);
    if v_seen = v_window and cardinality(v_picks) < p_limit then
        -- The window is one backlog whose share is used up: every owner, once each.
        with recursive owners as (
            (
                select s.user_id
                from workflow_sessions s
                where s.auto_run and s.status in ('running', 'error') and s.is_current_version
                order by s.user_id
                limit 1
            )
            union all
            select (
                select s.user_id
                from workflow_sessions s
                where s.auto_run and s.status in ('running', 'error') and s.is_current_version
                  and s.user_id > owners.user_id
                order by s.user_id
                limit 1
            )
            from owners
            where owners.user_id is not null
        )
        select array_agg(owners.user_id) into v_owners
        from owners
        where owners.user_id is not null;
        v_picks := cascadian_fair_picks_v2(v_owners, p_now, p_limit, p_owner_limit);
    end if;

    -- A strategy's first claim makes its lease row (an existing one is left alone:
    -- the conflict is found in the index, nothing is written).
    insert into cascadian_leases (workflow_id)
    select unnest(v_picks)
    on conflict (workflow_id) do nothing;
    -- The picks' lease rows, taken in a statement of their own (one a finish or a
    -- manual claim holds is passed over): the next statement's snapshot, taken once
    -- they are ours, shows each session as no one else can change its run now (a run
    -- whose lease ran out may have been recorded meanwhile, moving its next slot).
    select coalesce(array_agg(x.workflow_id), '{}') into v_picks
    from (
        select l.workflow_id
        from cascadian_leases l
        where l.workflow_id = any (v_picks)
          and (l.expires_at is null or l.expires_at <= p_now)
        for update skip locked
    ) as x;

    return query
    with due as (
        select l.workflow_id as id, l.token as abandoned_token
        from cascadian_leases l
        join workflow_sessions s on s.id = l.workflow_id
        where l.workflow_id = any (v_picks)
          -- Again, as the session is now: a pause or a late finish may have come first.
          and s.auto_run
          and s.status in ('running', 'error')
          and s.is_current_version
          and s.next_execution_at <= p_now
    ),
    abandoned as (
        update workflow_executions e
        set status = 'cancelled',
            execution_completed_at = p_now,
            error_message = 'abandoned: the lease expired before the run was recorded'
        from due
        where e.id = due.abandoned_token and e.status = 'running'
        returning e.id
    ),
    leased as (
        update cascadian_leases l
        set token = gen_random_uuid(),
            expires_at = p_now + make_interval(secs => p_lease_seconds)
        from due
        where l.workflow_id = due.id
        returning l.workflow_id, l.token, l.expires_at
    ),
    claimed as (
        select
            le.token, le.expires_at, s.id, s.user_id, s.name, s.nodes, s.edges, s.variables,
            s.trigger, s.version, s.execution_interval_minutes, s.cron_expression,
            s.timezone, s.next_execution_at
        from leased le
        join workflow_sessions s on s.id = le.workflow_id
    ),
    runs as (
        insert into workflow_executions (
            id, workflow_id, user_id, execution_started_at, status,
            trigger_kind, scheduled_for, attempt, workflow_snapshot
        )
        select
            c.token, c.id, c.user_id, p_now, 'running',
            'scheduled', c.next_execution_at,
            1 + coalesce((
                select max(prior.attempt)
                from workflow_executions prior
                where prior.workflow_id = c.id
                  and prior.scheduled_for = c.next_execution_at
                  and prior.trigger_kind = 'scheduled'
            ), 0),
            jsonb_build_object(
                'name', c.name, 'nodes', c.nodes, 'edges', c.edges,
                'variables', c.variables, 'trigger', c.trigger, 'version', c.version
            )
        from claimed c
        returning workflow_executions.id, workflow_executions.attempt
    )
    select
        c.token, c.id, c.user_id, c.name, c.nodes::text, c.edges::text,
        coalesce(c.variables, '{}'::jsonb)::text, c.trigger::text,
        coalesce(c.execution_interval_minutes, 5), c.cron_expression, c.timezone,
        c.next_execution_at, r.attempt, c.expires_at
    from claimed c
    join runs r on r.id = c.token
    order by c.next_execution_at;
end;
$$;

create or replace function cascadian_claim_events_v2(
    p_now timestamptz,
    p_limit integer,
    p_lease_seconds double precision
)
returns table (
    execution_id uuid, workflow_id uuid, user_id uuid, name text, nodes text, edges text,
    variables text, trigger text, execution_interval_minutes integer, cron_expression text,
    timezone text, scheduled_for timestamptz, attempt integer, lease_expires_at timestamptz,
    next_execution_at timestamptz, event jsonb
)
language plpgsql
as $$
#variable_conflict use_column
begin
    update cascadian_trigger_events ev
    set done_at = coalesce(x.execution_completed_at, p_now), outcome = 'ran'
    from workflow_executions x
    where ev.done_at is null and x.id = ev.execution_id
      and x.status in ('completed', 'failed');

    update cascadian_trigger_events ev
    set done_at = p_now, outcome = 'skipped'
    from workflow_sessions s
    where ev.done_at is null and s.id = ev.workflow_id
      and not (s.auto_run and s.status in ('running', 'error') and s.is_current_version);

    insert into cascadian_leases (workflow_id)
    select distinct e.workflow_id from cascadian_trigger_events e where e.done_at is null
    on conflict (workflow_id) do nothing;

    return query
    with due as (
        select l.workflow_id as id, l.token as abandoned_token, ev.id as event_id,
               ev.attempt as event_attempt, ev.observed_at
        from cascadian_leases l
        join workflow_sessions s on s.id = l.workflow_id
        cross join lateral (
            select e.id, e.attempt, e.observed_at
            from cascadian_trigger_events e
            where e.workflow_id = s.id and e.done_at is null
            order by e.observed_at, e.crossing
            limit 1
        ) ev
        where l.workflow_id in (
                select e.workflow_id from cascadian_trigger_events e where e.done_at is null
            )
          and s.auto_run and s.status in ('running', 'error') and s.is_current_version
          and (l.expires_at is null or l.expires_at <= p_now)
        order by ev.observed_at
        limit p_limit
        for update of l skip locked
    ),
    abandoned as (
        update workflow_executions e
        set status = 'cancelled',
            execution_completed_at = p_now,
            error_message = 'abandoned: the lease expired before the run was recorded'
        from due
        where e.id = due.abandoned_token and e.status = 'running'
        returning e.id
    ),
    leased as (
        update cascadian_leases l
        set token = gen_random_uuid(),
            expires_at = p_now + make_interval(secs => p_lease_seconds)
        from due
        where l.workflow_id = due.id
        returning l.workflow_id, l.token, l.expires_at, due.event_id, due.event_attempt
    ),
    claimed as (
        select
            le.token, le.expires_at, le.event_id, le.event_attempt, s.id, s.user_id,
            s.name, s.nodes, s.edges, s.variables, s.trigger, s.version,
            s.execution_interval_minutes, s.cron_expression, s.timezone, s.next_execution_at
        from leased le
        join workflow_sessions s on s.id = le.workflow_id
    ),
    events as (
        update cascadian_trigger_events ev
        set execution_id = c.token, attempt = c.event_attempt + 1, claimed_at = p_now
        from claimed c
        where ev.id = c.event_id
        returning ev.*
    ),
    payload as (
        select ev.id, ev.execution_id as token, ev.attempt, jsonb_build_object(
            'id', ev.id, 'trigger_id', ev.trigger_id, 'trigger', ev.trigger_name,
            'kind', ev.kind, 'crossing', ev.crossing, 'token_id', ev.token_id,
            'condition_id', ev.condition_id, 'price_kind', ev.price_kind,
            'level', ev.level::text, 'direction', ev.direction,
            'price_before', ev.price_before::text, 'price_after', ev.price_after::text,
            'observed_at', ev.observed_at, 'source', ev.source, 'detail', ev.detail,
            'attempt', ev.attempt
        ) as event
        from events ev
    ),
    runs as (
        insert into workflow_executions (
            id, workflow_id, user_id, execution_started_at, status,
            trigger_kind, scheduled_for, attempt, workflow_snapshot
        )
        select
            c.token, c.id, c.user_id, p_now, 'running', 'event', null, p.attempt,
            jsonb_build_object(
                'name', c.name, 'nodes', c.nodes, 'edges', c.edges,
                'variables', c.variables, 'trigger', c.trigger, 'version', c.version,
                'event', p.event
            )
        from claimed c
        join payload p on p.token = c.token
        returning id
    )
    select
        c.token, c.id, c.user_id, c.name, c.nodes::text, c.edges::text,
        coalesce(c.variables, '{}'::jsonb)::text, c.trigger::text,
        coalesce(c.execution_interval_minutes, 5), c.cron_expression, c.timezone,
        null::timestamptz, p.attempt, c.expires_at, c.next_execution_at, p.event
    from claimed c
    join payload p on p.token = c.token
    join runs r on r.id = c.token
    order by p.event ->> 'observed_at';
end;
$$;

create or replace function cascadian_claim_manual_v5(
    p_id uuid,
    p_now timestamptz,
    p_lease_seconds double precision,
    p_actor jsonb
)
returns table (
    result text, execution_id uuid, workflow_id uuid, user_id uuid, name text, nodes text,
    edges text, variables text, trigger text, execution_interval_minutes integer,
    cron_expression text, timezone text, scheduled_for timestamptz, attempt integer,
    lease_expires_at timestamptz, next_execution_at timestamptz
)
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    v_held boolean;
    l cascadian_leases%rowtype;
    s workflow_sessions%rowtype;
begin
    if not exists (
        select 1 from workflow_sessions w
        where w.id = p_id and (v_user is null or w.user_id = v_user)
    ) then
        result := 'not_found';
        return next;
        return;
    end if;
    v_held := cascadian_lock_lease_v1(p_id, p_now);
    select * into s from workflow_sessions w
    where w.id = p_id and (v_user is null or w.user_id = v_user)
    for update;
    if not found then
        result := 'not_found';
        return next;
        return;
    elsif s.status = 'archived' then
        result := 'archived';
        return next;
        return;
    elsif not s.is_current_version then
        result := 'superseded';
        return next;
        return;
    elsif v_held then
        result := 'run_in_flight';
        return next;
        return;
    end if;

    update workflow_executions e
    set status = 'cancelled',
        execution_completed_at = p_now,
        error_message = 'abandoned: the lease expired before the run was recorded'
    from cascadian_leases x
    where x.workflow_id = p_id and e.id = x.token and e.status = 'running';

    update cascadian_leases x
    set token = gen_random_uuid(),
        expires_at = p_now + make_interval(secs => p_lease_seconds)
    where x.workflow_id = p_id
    returning * into l;

    insert into workflow_executions (
        id, workflow_id, user_id, execution_started_at, status,
        trigger_kind, scheduled_for, attempt, workflow_snapshot
    )
    values (
        l.token, s.id, s.user_id, p_now, 'running', 'manual', null, 1,
        jsonb_build_object(
            'name', s.name, 'nodes', s.nodes, 'edges', s.edges,
            'variables', s.variables, 'trigger', s.trigger, 'version', s.version
        )
    );
    perform cascadian_audit_v1(
        p_actor, 'run_now', p_id, '{}'::jsonb, jsonb_build_object('execution_id', l.token),
        p_now
    );

    return query select
        'ok'::text, l.token, s.id, s.user_id, s.name, s.nodes::text, s.edges::text,
        coalesce(s.variables, '{}'::jsonb)::text, s.trigger::text,
        coalesce(s.execution_interval_minutes, 5), s.cron_expression, s.timezone,
        null::timestamptz, 1, l.expires_at, s.next_execution_at;
end;
$$;

create or replace function cascadian_claim_rerun_v3(
    p_execution_id uuid,
    p_now timestamptz,
    p_lease_seconds double precision,
    p_actor jsonb
)
returns table (
    result text, execution_id uuid, workflow_id uuid, user_id uuid, name text, nodes text,
    edges text, variables text, trigger text, execution_interval_minutes integer,
    cron_expression text, timezone text, scheduled_for timestamptz, attempt integer,
    lease_expires_at timestamptz, next_execution_at timestamptz, event jsonb
)
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    v_event jsonb;
    v_snapshot jsonb;
    v_held boolean;
    e workflow_executions%rowtype;
    l cascadian_leases%rowtype;
    s workflow_sessions%rowtype;
begin
    select * into e from workflow_executions x
    where x.id = p_execution_id and (v_user is null or x.user_id = v_user);
    if not found then
        result := 'run_not_found';
        return next;
        return;
    elsif e.status <> 'failed' then
        result := 'not_failed';
        return next;
        return;
    elsif e.workflow_snapshot is null or jsonb_typeof(e.workflow_snapshot->'nodes') is null then
        result := 'no_snapshot';
        return next;
        return;
    end if;

    if not exists (
        select 1 from workflow_sessions w
        where w.id = e.workflow_id and (v_user is null or w.user_id = v_user)
    ) then
        result := 'not_found';
        return next;
        return;
    end if;
    v_held := cascadian_lock_lease_v1(e.workflow_id, p_now);
    select * into s from workflow_sessions w
    where w.id = e.workflow_id and (v_user is null or w.user_id = v_user)
    for update;
    if not found then
        result := 'not_found';
        return next;
        return;
    elsif s.status = 'archived' then
        result := 'archived';
        return next;
        return;
    elsif not s.is_current_version then
        result := 'superseded';
        return next;
        return;
    elsif v_held then
        result := 'run_in_flight';
        return next;
        return;
    end if;

    update workflow_executions x
    set status = 'cancelled',
        execution_completed_at = p_now,
        error_message = 'abandoned: the lease expired before the run was recorded'
    from cascadian_leases h
    where h.workflow_id = s.id and x.id = h.token and x.status = 'running';

    update cascadian_leases h
    set token = gen_random_uuid(),
        expires_at = p_now + make_interval(secs => p_lease_seconds)
    where h.workflow_id = s.id
    returning * into l;

    v_snapshot := e.workflow_snapshot;
    if jsonb_typeof(v_snapshot->'event') = 'object' then
        v_event := (v_snapshot->'event')
            || jsonb_build_object('rerun', true, 'rerun_of', e.id);
        v_snapshot := jsonb_set(v_snapshot, '{event}', v_event);
    end if;

    insert into workflow_executions (
        id, workflow_id, user_id, execution_started_at, status,
        trigger_kind, scheduled_for, attempt, workflow_snapshot, rerun_of
    )
    values (
        l.token, s.id, s.user_id, p_now, 'running', 'rerun', null, 1,
        v_snapshot, e.id
    );
    perform cascadian_audit_v1(
        p_actor, 'rerun', s.id, '{}'::jsonb,
        jsonb_build_object('execution_id', l.token, 'rerun_of', e.id),
        p_now
    );

    return query select
        'ok'::text, l.token, s.id, s.user_id,
        coalesce(e.workflow_snapshot->>'name', s.name),
        (e.workflow_snapshot->'nodes')::text,
        coalesce(e.workflow_snapshot->'edges', '[]'::jsonb)::text,
        coalesce(e.workflow_snapshot->'variables', '{}'::jsonb)::text,
        (e.workflow_snapshot->'trigger')::text,
        coalesce(s.execution_interval_minutes, 5), s.cron_expression, s.timezone,
        null::timestamptz, 1, l.expires_at, s.next_execution_at, v_event;
end;
$$;

-- The finish: the lease row's update (HOT) and the session's one update.

-- One outcome at a time, as v2 (which writes node log rows): v6 falls back to it.
create or replace function cascadian_finish_runs_v5(p_outcomes jsonb, p_pause_threshold integer)
returns table (execution_id uuid, accepted boolean, auto_paused boolean, side_errors jsonb)
language plpgsql
as $$
declare
    o jsonb;
    s workflow_sessions%rowtype;
    v_success boolean;
    v_duration integer;
    v_count integer;
    v_errors integer;
    v_pause boolean;
    v_finished timestamptz;
begin
    for o in select value from jsonb_array_elements(p_outcomes) loop
        execution_id := (o ->> 'execution_id')::uuid;
        v_success := (o ->> 'success')::boolean;
        v_duration := (o ->> 'duration_ms')::integer;
        v_finished := (o ->> 'finished_at')::timestamptz;
        side_errors := '[]'::jsonb;

        -- The fence: only the run holding the lease is recorded.
        perform 1
        from cascadian_leases l
        where l.workflow_id = (o ->> 'workflow_id')::uuid and l.token = execution_id
        for update;
        if found then
            select * into s
            from workflow_sessions w
            where w.id = (o ->> 'workflow_id')::uuid
            for update;
        end if;

        if not found then
            accepted := false;
            auto_paused := false;
            return next;
            continue;
        end if;

        v_count := coalesce(s.execution_count, 0);
        v_errors := case when v_success then 0 else coalesce(s.error_count, 0) + 1 end;
        -- A strategy an operator stopped mid-run is not auto-paused on top.
        v_pause := not v_success and s.auto_run and v_errors >= p_pause_threshold;

        update cascadian_leases l
        set token = null, expires_at = null
        where l.workflow_id = s.id;

        update workflow_sessions w
        set last_executed_at = v_finished,
            execution_count = v_count + 1,
            success_count = coalesce(s.success_count, 0) + v_success::integer,
            error_count = v_errors,
            -- Rolling mean over all runs: (prev_avg * prev_count + new) / (prev_count + 1).
            average_execution_time_ms = case
                when s.average_execution_time_ms is null or v_count = 0 then v_duration
                else round(
                    (s.average_execution_time_ms::numeric * v_count + v_duration) / (v_count + 1)
                )::integer
            end,
            last_error = case when v_success then s.last_error else o ->> 'error_message' end,
            status = case
                when v_pause then 'error'
                -- Only a strategy still scheduled leaves 'error' by succeeding: a
                -- manual run of an auto-paused one leaves it paused until resumed.
                when v_success and s.status = 'error' and s.auto_run then 'running'
                else s.status
            end,
            auto_run = s.auto_run and not v_pause,
            -- Re-arm only a strategy that is still scheduled: a stop or pause
            -- during the run wins.
            next_execution_at = case
                when s.auto_run and s.status in ('running', 'error') and not v_pause
                    then coalesce((o ->> 'next_execution_at')::timestamptz, s.next_execution_at)
                else s.next_execution_at
            end,
            updated_at = now()
        where w.id = s.id;

        begin
            insert into strategy_execution_logs (
                execution_id, workflow_id, node_id, node_type, status,
                started_at, completed_at, duration_ms, error_message, output, node_index
            )
            select
                execution_id, s.id, l.node_id, coalesce(l.node_type, ''), l.status,
                coalesce(l.started_at, l.completed_at, v_finished), l.completed_at,
                l.duration_ms, l.error_message, l.output, e.ord::integer
            from jsonb_array_elements(coalesce(o -> 'logs', '[]'::jsonb))
                    with ordinality as e (log, ord),
                jsonb_to_record(e.log) as l (
                    node_id text, node_type text, status text, started_at timestamptz,
                    completed_at timestamptz, duration_ms integer, error_message text,
                    output jsonb
                );
        exception when others then
            side_errors := side_errors || jsonb_build_object(
                'write', 'node_logs', 'error', 'node logs not stored: ' || sqlerrm
            );
        end;

        if v_pause then
            begin
                perform cascadian_send_notification_v1(
                    s.user_id, s.id, 'strategy_error',
                    'Strategy paused: ' || s.name,
                    format(
                        'Strategy "%s" was paused after %s consecutive errors. Last error: %s',
                        s.name, v_errors, coalesce(o ->> 'error_message', 'unknown error')
                    ),
                    '/strategies/' || s.id,
                    'high',
                    jsonb_build_object('error_count', v_errors, 'execution_id', execution_id),
                    v_finished
                );
            exception when others then
                side_errors := side_errors || jsonb_build_object(
                    'write', 'notification',
                    'error', 'auto-pause notification not sent: ' || sqlerrm
                );
            end;
        end if;

        update workflow_executions e
        set status = case when v_success then 'completed' else 'failed' end,
            execution_completed_at = v_finished,
            duration_ms = v_duration,
            nodes_executed = coalesce((o ->> 'nodes_executed')::integer, 0),
            outputs = o -> 'outputs',
            errors = case
                when side_errors = '[]'::jsonb then o -> 'errors'
                else coalesce(o -> 'errors', '[]'::jsonb) || (
                    select jsonb_agg(jsonb_build_object(
                        'node_id', null, 'node_type', null, 'error', se ->> 'error'
                    ))
                    from jsonb_array_elements(side_errors) se
                )
            end,
            error_message = o ->> 'error_message'
        where e.id = execution_id;

        accepted := true;
        auto_paused := v_pause;
        return next;
    end loop;
end;
$$;

-- v4 (051) with the lease in cascadian_leases: a batch in set-based statements.
create or replace function cascadian_finish_runs_v6(
    p_outcomes jsonb,
    p_pause_threshold integer,
    p_log_rows boolean
)
returns table (execution_id uuid, accepted boolean, auto_paused boolean, side_errors jsonb)
language plpgsql
as $$
declare
    v_answers jsonb;
    p record;
begin
    -- The same run twice in one batch is written one at a time, as v5 does.
    if (select count(distinct o ->> 'execution_id') from jsonb_array_elements(p_outcomes) o)
        <> jsonb_array_length(p_outcomes) then
        return query select * from cascadian_finish_runs_v5(p_outcomes, p_pause_threshold);
        return;
    end if;

    begin
        with o as (
            -- outputs, errors and logs as the JSON they are (a JSON null stays one).
            select
                x.*, a.value -> 'outputs' as outputs, a.value -> 'errors' as errors,
                a.value -> 'logs' as logs, a.ord
            from jsonb_array_elements(p_outcomes) with ordinality as a (value, ord)
            cross join lateral jsonb_to_record(a.value) as x (
                execution_id uuid, workflow_id uuid, success boolean,
                finished_at timestamptz, duration_ms integer, nodes_executed integer,
                error_message text, next_execution_at timestamptz
            )
        ),
        -- The runs whose lease still holds, lease and session locked (in that
        -- order), with what v5 derives from the session as it was.
        cur as (
            select
                o.*,
                w.user_id, w.name,
                coalesce(w.execution_count, 0) as v_count,
                case when o.success then 0 else coalesce(w.error_count, 0) + 1 end as v_errors,
                not o.success and w.auto_run
                    and coalesce(w.error_count, 0) + 1 >= p_pause_threshold as v_pause
            from o
            join cascadian_leases l
                on l.workflow_id = o.workflow_id and l.token = o.execution_id
            join workflow_sessions w on w.id = o.workflow_id
            for update of l, w
        ),
        released as (
            update cascadian_leases l
            set token = null, expires_at = null
            from cur c
            where l.workflow_id = c.workflow_id
            returning l.workflow_id
        ),
        sessions as (
            update workflow_sessions w
            set last_executed_at = c.finished_at,
                execution_count = c.v_count + 1,
                success_count = coalesce(w.success_count, 0) + c.success::integer,
                error_count = c.v_errors,
                average_execution_time_ms = case
                    when w.average_execution_time_ms is null or c.v_count = 0 then c.duration_ms
                    else round(
                        (w.average_execution_time_ms::numeric * c.v_count + c.duration_ms)
                        / (c.v_count + 1)
                    )::integer
                end,
                last_error = case when c.success then w.last_error else c.error_message end,
                status = case
                    when c.v_pause then 'error'
                    when c.success and w.status = 'error' and w.auto_run then 'running'
                    else w.status
                end,
                auto_run = w.auto_run and not c.v_pause,
                next_execution_at = case
                    when w.auto_run and w.status in ('running', 'error') and not c.v_pause
                        then coalesce(c.next_execution_at, w.next_execution_at)
                    else w.next_execution_at
                end,
                updated_at = now()
            from cur c
            where w.id = c.workflow_id
            returning w.id
        ),
        -- Only for a deployment that asked for rows (p_log_rows).
        logs as (
            insert into strategy_execution_logs (
                execution_id, workflow_id, node_id, node_type, status,
                started_at, completed_at, duration_ms, error_message, output, node_index
            )
            select
                c.execution_id, c.workflow_id, l.node_id, coalesce(l.node_type, ''), l.status,
                coalesce(l.started_at, l.completed_at, c.finished_at), l.completed_at,
                l.duration_ms, l.error_message, l.output, e.ord::integer
            from cur c
            cross join lateral jsonb_array_elements(
                case when p_log_rows and jsonb_typeof(c.logs) = 'array' then c.logs
                     else '[]'::jsonb end
            ) with ordinality as e (log, ord)
            cross join lateral jsonb_to_record(e.log) as l (
                node_id text, node_type text, status text, started_at timestamptz,
                completed_at timestamptz, duration_ms integer, error_message text,
                output jsonb
            )
            order by c.ord, e.ord
            returning 1
        ),
        runs as (
            update workflow_executions e
            set status = case when c.success then 'completed' else 'failed' end,
                execution_completed_at = c.finished_at,
                duration_ms = c.duration_ms,
                nodes_executed = coalesce(c.nodes_executed, 0),
                outputs = c.outputs,
                errors = c.errors,
                error_message = c.error_message,
                node_logs = case
                    when p_log_rows then null
                    when jsonb_typeof(c.logs) = 'array' then c.logs
                    else '[]'::jsonb
                end
            from cur c
            where e.id = c.execution_id
            returning e.id
        )
        select jsonb_agg(
            jsonb_build_object(
                'execution_id', o.execution_id,
                'accepted', c.execution_id is not null,
                'auto_paused', coalesce(c.v_pause, false),
                'user_id', c.user_id, 'workflow_id', c.workflow_id, 'name', c.name,
                'v_errors', c.v_errors, 'error_message', c.error_message,
                'finished_at', c.finished_at
            )
            order by o.ord
        )
        into v_answers
        from o
        left join cur c on c.execution_id = o.execution_id;

        -- The auto-pause notifications; one refused sends the batch through v5,
        -- which records the run and reports it.
        for p in
            select a ->> 'execution_id' as eid, (a ->> 'user_id')::uuid as uid,
                   (a ->> 'workflow_id')::uuid as wid, a ->> 'name' as name,
                   (a ->> 'v_errors')::integer as errors, a ->> 'error_message' as message,
                   (a ->> 'finished_at')::timestamptz as finished
            from jsonb_array_elements(coalesce(v_answers, '[]'::jsonb)) a
            where (a ->> 'auto_paused')::boolean
        loop
            perform cascadian_send_notification_v1(
                p.uid, p.wid, 'strategy_error',
                'Strategy paused: ' || p.name,
                format(
                    'Strategy "%s" was paused after %s consecutive errors. Last error: %s',
                    p.name, p.errors, coalesce(p.message, 'unknown error')
                ),
                '/strategies/' || p.wid,
                'high',
                jsonb_build_object('error_count', p.errors, 'execution_id', p.eid::uuid),
                p.finished
            );
        end loop;
    exception when others then
        return query select * from cascadian_finish_runs_v5(p_outcomes, p_pause_threshold);
        return;
    end;

    return query
        select (a ->> 'execution_id')::uuid, (a ->> 'accepted')::boolean,
               (a ->> 'auto_paused')::boolean, '[]'::jsonb
        from jsonb_array_elements(coalesce(v_answers, '[]'::jsonb)) with ordinality as t (a, n)
        order by t.n;
end;
$$;

-- A stopping worker gives back the runs it has not started: their rows go, the
-- lease is free at once (v1, 003, on the lease table).
create or replace function cascadian_release_runs_v2(p_execution_ids uuid[])
returns integer
language sql
as $$
    with held as (
        select l.workflow_id, l.token
        from workflow_executions e
        join cascadian_leases l on l.workflow_id = e.workflow_id and l.token = e.id
        where e.id = any (p_execution_ids)
        for update of l
    ),
    dropped as (
        delete from workflow_executions e
        using held
        where e.id = held.token and e.status = 'running'
        returning e.id
    ),
    released as (
        update cascadian_leases l
        set token = null, expires_at = null
        from held
        where l.workflow_id = held.workflow_id
        returning l.workflow_id
    )
    select count(*)::integer from released;
$$;

-- Runs a worker could not finish: marked cancelled with the reason, lease freed
-- (v1, 005, on the lease table).
create or replace function cascadian_cancel_runs_v2(
    p_execution_ids uuid[],
    p_reason text,
    p_now timestamptz
)
returns integer
language sql
as $$
    with held as (
        select l.workflow_id, l.token
        from workflow_executions e
        join cascadian_leases l on l.workflow_id = e.workflow_id and l.token = e.id
        where e.id = any (p_execution_ids)
        for update of l
    ),
    cancelled as (
        update workflow_executions e
        set status = 'cancelled', execution_completed_at = p_now, error_message = p_reason
        from held
        where e.id = held.token and e.status = 'running'
        returning e.id
    ),
    released as (
        update cascadian_leases l
        set token = null, expires_at = null
        from held
        where l.workflow_id = held.workflow_id
        returning l.workflow_id
    )
    select count(*)::integer from released;
$$;

create or replace function cascadian_next_due_v2(p_now timestamptz)
returns timestamptz
language sql
stable
as $$
    select s.next_execution_at
    from workflow_sessions s
    where s.auto_run
      and s.status in ('running', 'error')
      and s.is_current_version
      and s.next_execution_at is not null
      and not exists (
          select 1 from cascadian_leases l
          where l.workflow_id = s.id and l.expires_at > p_now
      )
    order by s.next_execution_at
    limit 1;
$$;

create or replace function cascadian_backlog_v2(p_now timestamptz)
returns table (due integer, oldest_due_at timestamptz, oldest_lag_seconds double precision)
language sql
stable
as $$
    select
        count(*)::integer,
        min(s.next_execution_at),
        greatest(extract(epoch from p_now - min(s.next_execution_at)), 0)::double precision
    from workflow_sessions s
    where s.auto_run
      and s.status in ('running', 'error')
      and s.is_current_version
      and s.next_execution_at <= p_now
      and not exists (
          select 1 from cascadian_leases l
          where l.workflow_id = s.id and l.expires_at > p_now
      );
$$;

-- The reads that show a run in flight, from the lease table.

create or replace function cascadian_strategy_v3(p_id uuid, p_now timestamptz, p_user uuid)
returns jsonb
language sql
stable
as $$
    with recursive later (id, is_current_version, depth) as (
        select s.id, s.is_current_version, 0 from workflow_sessions s where s.id = p_id
        union all
        select c.id, c.is_current_version, l.depth + 1
        from later l
        join workflow_sessions c on c.parent_workflow_id = l.id
        where not l.is_current_version and l.depth < 10000
    )
    select (to_jsonb(s) - 'lease_token') || jsonb_build_object(
        'execution_count', coalesce(s.execution_count, 0),
        'success_count', coalesce(s.success_count, 0),
        'error_count', coalesce(s.error_count, 0),
        'execution_interval_minutes', coalesce(s.execution_interval_minutes, 5),
        'auto_run', coalesce(s.auto_run, false),
        'status', coalesce(s.status, 'draft'),
        'variables', coalesce(s.variables, '{}'::jsonb),
        'success_rate', case when coalesce(s.execution_count, 0) > 0
            then s.success_count::double precision / s.execution_count end,
        'lease_expires_at', h.expires_at,
        'run_in_flight', coalesce(h.expires_at > p_now, false),
        'current_version_id', (
            select l.id from later l where l.is_current_version order by l.depth limit 1
        )
    )
    from workflow_sessions s
    left join cascadian_leases h on h.workflow_id = s.id
    where s.id = p_id and (p_user is null or s.user_id = p_user);
$$;

create or replace function cascadian_metrics_v2(p_now timestamptz)
returns jsonb
language sql
stable
as $$
    select jsonb_build_object(
        'due', b.due,
        'oldest_due_lag_seconds', coalesce(b.oldest_lag_seconds, 0),
        'leases_in_flight', (
            select count(*) from cascadian_leases l where l.expires_at > p_now
        ),
        'strategies_by_status', coalesce((
            select jsonb_object_agg(g.status, g.n)
            from (
                select s.status, count(*) as n
                from workflow_sessions s
                where s.is_current_version
                group by s.status
            ) g
        ), '{}'::jsonb),
        'runs_last_5m_by_status', coalesce((
            select jsonb_object_agg(g.status, g.n)
            from (
                select e.status, count(*) as n
                from workflow_executions e
                where e.execution_started_at > p_now - interval '5 minutes'
                group by e.status
            ) g
        ), '{}'::jsonb),
        'auto_pauses_last_hour', (
            select count(*)
            from workflow_sessions s
            where s.status = 'error'
              and not s.auto_run
              and s.last_executed_at > p_now - interval '1 hour'
        ),
        'last_tick_at', (select max(t.started_at) from cron_ticks t),
        'table_rows', (
            select jsonb_object_agg(c.relname, greatest(c.reltuples, 0)::bigint)
            from pg_class c
            where c.oid in (
                to_regclass('workflow_executions'), to_regclass('strategy_execution_logs'),
                to_regclass('cron_ticks'), to_regclass('notifications')
            )
        )
    )
    from cascadian_backlog_v2(p_now) b;
$$;

create or replace function cascadian_console_overview_v2(p_now timestamptz)
returns jsonb
language sql
stable
as $$
    select jsonb_build_object(
        'by_status', coalesce((
            select jsonb_object_agg(c.status, c.n)
            from (
                select coalesce(s.status, 'draft') as status, count(*) as n
                from workflow_sessions s
                where s.is_current_version
                group by 1
            ) c
        ), '{}'::jsonb),
        -- The runs a lease holds, its time run out or not (until a claim takes the
        -- strategy over and cancels it, the run is still 'running'): the runs the
        -- overview's "Running now" lists, from the same table.
        'in_flight', (
            select count(*)
            from cascadian_leases l
            join workflow_executions e on e.id = l.token
            where l.token is not null and e.status = 'running'
        )
    );
$$;

create or replace function cascadian_console_strategies_v2(
    p_now timestamptz,
    p_filter text,
    p_search text,
    p_sort text,
    p_limit integer,
    p_offset integer
)
returns table (
    id uuid, user_id uuid, name text, status text, auto_run boolean,
    execution_interval_minutes integer, cron_expression text, timezone text,
    next_execution_at timestamptz, last_executed_at timestamptz,
    execution_count integer, success_count integer, error_count integer,
    success_rate double precision, average_execution_time_ms integer, last_error text,
    run_in_flight boolean, lease_expires_at timestamptz, total bigint
)
language sql
stable
as $$
    with matching as (
        select
            s.*,
            l.expires_at as held_until,
            (coalesce(s.auto_run, false) and s.status in ('running', 'error')
                and s.next_execution_at <= p_now) as is_due,
            (s.status = 'error' or coalesce(s.error_count, 0) > 0) as is_failing
        from workflow_sessions s
        left join cascadian_leases l on l.workflow_id = s.id
        where s.is_current_version
          and (
              p_search is null or p_search = ''
              or strpos(lower(s.name), lower(p_search)) > 0
              or s.id::text = lower(p_search)
          )
    ),
    filtered as (
        select m.*
        from matching m
        where coalesce(p_filter, 'all') = 'all'
           or (p_filter = 'failing' and m.is_failing)
           or (p_filter = 'due' and m.is_due)
           or m.status = p_filter
    )
    select
        f.id, f.user_id, f.name, coalesce(f.status, 'draft'), coalesce(f.auto_run, false),
        f.execution_interval_minutes, f.cron_expression, f.timezone,
        f.next_execution_at, f.last_executed_at,
        coalesce(f.execution_count, 0), coalesce(f.success_count, 0),
        coalesce(f.error_count, 0),
        case when f.execution_count > 0
            then coalesce(f.success_count, 0)::double precision / f.execution_count
        end,
        f.average_execution_time_ms, f.last_error,
        coalesce(f.held_until > p_now, false),
        f.held_until,
        count(*) over ()
    from filtered f
    order by
        case when p_sort = 'attention' then f.is_failing end desc nulls last,
        case when p_sort = 'attention' then coalesce(f.error_count, 0) end desc nulls last,
        case when p_sort = 'attention' and f.is_due then f.next_execution_at end asc nulls last,
        case when p_sort = 'next_run' then f.next_execution_at end asc nulls last,
        case when p_sort = 'last_run' then f.last_executed_at end desc nulls last,
        f.name, f.id
    limit p_limit
    offset p_offset;
$$;

create or replace function cascadian_strategies_v3(
    p_now timestamptz,
    p_id uuid,
    p_limit integer,
    p_offset integer,
    p_user uuid
)
returns table (
    id uuid, user_id uuid, name text, status text, auto_run boolean,
    execution_interval_minutes integer, cron_expression text, timezone text,
    next_execution_at timestamptz, last_executed_at timestamptz,
    execution_count integer, success_count integer, error_count integer,
    success_rate double precision, average_execution_time_ms integer, last_error text,
    run_in_flight boolean, lease_expires_at timestamptz
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
        coalesce(l.expires_at > p_now, false),
        l.expires_at
    from workflow_sessions s
    left join cascadian_leases l on l.workflow_id = s.id
    where (p_id is null or s.id = p_id)
      and (p_user is null or s.user_id = p_user)
    order by s.name, s.id
    limit p_limit
    offset p_offset;
$$;

create or replace function cascadian_list_strategies_v3(
    p jsonb,
    p_now timestamptz,
    p_user uuid
)
returns jsonb
language plpgsql
stable
as $$
declare
    v_where text := 's.is_current_version';
    v_order text;
    v_dir text := case when coalesce((p ->> 'descending')::boolean, false)
        then 'desc' else 'asc' end;
    v_total bigint;
    v_count bigint;
    v_pick text;
    v_walk boolean;
    v_data jsonb;
begin
    -- A user's own strategies only (as v2, 031, asked v1).
    if p_user is not null then
        p := p || jsonb_build_object('user_id', p_user);
    end if;
    if p ? 'status' and p ->> 'status' is not null then
        v_where := v_where || ' and s.status = $1 ->> ''status''';
    else
        v_where := v_where || ' and s.status is distinct from ''archived''';
    end if;
    if p ->> 'user_id' is not null then
        v_where := v_where || ' and s.user_id = ($1 ->> ''user_id'')::uuid';
    end if;
    if p ->> 'auto_run' is not null then
        v_where := v_where || ' and coalesce(s.auto_run, false) = ($1 ->> ''auto_run'')::boolean';
    end if;
    if p ->> 'q' is not null then
        v_where := v_where || ' and s.name ilike ''%'' || replace(replace(replace('
            || '$1 ->> ''q'', ''\'', ''\\''), ''%'', ''\%''), ''_'', ''\_'') || ''%''';
    end if;

    v_order := case coalesce(p ->> 'sort', 'name')
        when 'name' then 'name'
        when 'next_run' then 'next_execution_at'
        when 'last_run' then 'last_executed_at'
        when 'error_streak' then 'error_count'
    end;
    if v_order is null then
        raise exception 'cascadian_list_strategies_v3: unknown sort %', p ->> 'sort';
    end if;

    v_walk := v_order = 'name' and p ->> 'q' is null;
    if v_walk then
        execute format('select count(*) from workflow_sessions s where %s', v_where)
            into v_total using p;
        v_pick := format(
            'select s.id, s.name as k from workflow_sessions s where %s '
            'order by s.name %s nulls last, s.id %2$s limit $3 offset $4',
            v_where, v_dir
        );
    else
        v_pick := format(
            'select id, k from matching order by k %s nulls last, id %1$s limit $3 offset $4',
            v_dir
        );
    end if;
    -- Strategies that never ran, or are not scheduled, sort last either way.
    execute format(
        $q$
        with matching as materialized (
            select s.id, %1$s as k from workflow_sessions s where %2$s
        ),
        picked as (%4$s)
        select
            case when %5$L then null else (select count(*) from matching) end,
            coalesce(
                jsonb_agg(to_jsonb(r) order by picked.k %3$s nulls last, picked.id %3$s),
                '[]'::jsonb
            )
        from picked
        cross join lateral (
            select
                s.id, s.user_id, s.name, s.description, coalesce(s.status, 'draft') as status,
                coalesce(s.auto_run, false) as auto_run,
                coalesce(s.execution_interval_minutes, 5) as execution_interval_minutes,
                s.cron_expression, s.timezone, s.next_execution_at, s.last_executed_at,
                coalesce(s.execution_count, 0) as execution_count,
                coalesce(s.success_count, 0) as success_count,
                coalesce(s.error_count, 0) as error_count,
                case when coalesce(s.execution_count, 0) > 0
                    then s.success_count::double precision / s.execution_count
                end as success_rate,
                s.average_execution_time_ms, s.last_error,
                coalesce(l.expires_at > $2, false) as run_in_flight,
                l.expires_at as lease_expires_at, s.version, s.is_current_version,
                s.parent_workflow_id,
                s.created_at, s.updated_at
            from workflow_sessions s
            left join cascadian_leases l on l.workflow_id = s.id
            where s.id = picked.id
        ) r
        $q$,
        case when v_order = 'error_count' then 'coalesce(s.error_count, 0)'
            else 's.' || v_order end,
        v_where, v_dir, v_pick, v_walk
    )
    into v_count, v_data
    using p, p_now, coalesce((p ->> 'limit')::integer, 50), coalesce((p ->> 'offset')::integer, 0);
    v_total := coalesce(v_total, v_count);
    return jsonb_build_object('total', v_total, 'data', v_data);
end;
$$;

create or replace function cascadian_start_v5(
    p_id uuid,
    p_now timestamptz,
    p_interval integer,
    p_cron text,
    p_timezone text,
    p_next timestamptz,
    p_actor jsonb
)
returns text
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    v_held boolean := cascadian_lock_lease_v1(p_id, p_now);
    s workflow_sessions%rowtype;
    v_after workflow_sessions%rowtype;
begin
    select * into s from workflow_sessions w
    where w.id = p_id and (v_user is null or w.user_id = v_user)
    for update;
    if not found then
        return 'not_found';
    elsif s.status = 'archived' then
        return 'archived';
    elsif not s.is_current_version then
        return 'superseded';
    elsif s.auto_run and s.status = 'running' then
        return 'already_running';
    elsif v_held then
        return 'run_in_flight';
    end if;

    update workflow_sessions w
    set auto_run = true,
        status = 'running',
        error_count = 0,
        last_error = null,
        execution_interval_minutes = p_interval,
        cron_expression = p_cron,
        timezone = p_timezone,
        next_execution_at = p_next,
        updated_at = p_now
    where w.id = p_id
    returning * into v_after;
    perform cascadian_audit_v1(
        p_actor, 'start', p_id, cascadian_audit_fields_v1(s), cascadian_audit_fields_v1(v_after),
        p_now
    );
    return 'ok';
end;
$$;

create or replace function cascadian_resume_v5(
    p_id uuid,
    p_now timestamptz,
    p_next timestamptz,
    p_actor jsonb
)
returns text
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    v_held boolean := cascadian_lock_lease_v1(p_id, p_now);
    s workflow_sessions%rowtype;
    v_after workflow_sessions%rowtype;
begin
    select * into s from workflow_sessions w
    where w.id = p_id and (v_user is null or w.user_id = v_user)
    for update;
    if not found then
        return 'not_found';
    elsif s.status = 'archived' then
        return 'archived';
    elsif not s.is_current_version then
        return 'superseded';
    elsif s.auto_run and s.status = 'running' then
        return 'already_running';
    elsif s.status not in ('paused', 'stopped', 'error', 'running') then
        return 'not_resumable';
    elsif v_held then
        return 'run_in_flight';
    end if;

    update workflow_sessions w
    set auto_run = true,
        status = 'running',
        error_count = 0,
        last_error = null,
        next_execution_at = p_next,
        updated_at = p_now
    where w.id = p_id
    returning * into v_after;
    perform cascadian_audit_v1(
        p_actor, 'resume', p_id, cascadian_audit_fields_v1(s), cascadian_audit_fields_v1(v_after),
        p_now
    );
    return 'ok';
end;
$$;

create or replace function cascadian_update_strategy_v3(
    p_id uuid,
    p jsonb,
    p_now timestamptz,
    p_actor jsonb
)
returns text
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    v_held boolean := cascadian_lock_lease_v1(p_id, p_now);
    s workflow_sessions%rowtype;
    v_after workflow_sessions%rowtype;
    v_schedule boolean := coalesce((p ->> 'schedule')::boolean, false);
begin
    select * into s from workflow_sessions w
    where w.id = p_id and (v_user is null or w.user_id = v_user)
    for update;
    if not found then
        return 'not_found';
    elsif not s.is_current_version then
        return 'superseded';
    elsif s.status = 'archived' then
        return 'archived';
    elsif v_schedule and v_held then
        return 'run_in_flight';
    end if;

    update workflow_sessions w
    set name = coalesce(p ->> 'name', w.name),
        description = case when p ? 'description' then p ->> 'description'
            else w.description end,
        execution_interval_minutes = case when v_schedule
            then (p ->> 'interval_minutes')::integer else w.execution_interval_minutes end,
        cron_expression = case when v_schedule then p ->> 'cron' else w.cron_expression end,
        timezone = case when v_schedule then p ->> 'timezone' else w.timezone end,
        next_execution_at = case
            when v_schedule and w.auto_run and w.status in ('running', 'error')
                then (p ->> 'next_execution_at')::timestamptz
            else w.next_execution_at
        end,
        updated_at = p_now
    where w.id = p_id
    returning * into v_after;
    perform cascadian_audit_v1(
        p_actor, 'update', p_id, cascadian_audit_fields_v1(s), cascadian_audit_fields_v1(v_after),
        p_now
    );
    return 'ok';
end;
$$;

create or replace function cascadian_new_version_v3(
    p_id uuid,
    p jsonb,
    p_now timestamptz,
    p_actor jsonb
)
returns table (result text, id uuid)
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    v_held boolean := cascadian_lock_lease_v1(p_id, p_now);
    s workflow_sessions%rowtype;
    v_after workflow_sessions%rowtype;
    v_new uuid := gen_random_uuid();
    v_schedule boolean := coalesce((p ->> 'schedule')::boolean, false);
    v_scheduled boolean;
begin
    select * into s from workflow_sessions w
    where w.id = p_id and (v_user is null or w.user_id = v_user)
    for update;
    if not found then
        return query select 'not_found'::text, null::uuid;
        return;
    elsif not s.is_current_version then
        return query select 'superseded'::text, null::uuid;
        return;
    elsif s.status = 'archived' then
        return query select 'archived'::text, null::uuid;
        return;
    elsif v_held then
        return query select 'run_in_flight'::text, null::uuid;
        return;
    end if;

    v_scheduled := coalesce(s.auto_run, false) and s.status in ('running', 'error');
    update workflow_sessions w
    set is_current_version = false, updated_at = p_now
    where w.id = p_id;

    insert into workflow_sessions
    select (jsonb_populate_record(
        null::workflow_sessions,
        to_jsonb(s) || jsonb_build_object(
            'id', v_new,
            'version', coalesce(s.version, 1) + 1,
            'parent_workflow_id', s.id,
            'is_current_version', true,
            'nodes', coalesce(p -> 'nodes', s.nodes),
            'edges', coalesce(p -> 'edges', s.edges),
            'variables', coalesce(p -> 'variables', s.variables, '{}'::jsonb),
            'trigger', case when p ? 'trigger' then p -> 'trigger' else to_jsonb(s.trigger) end,
            'name', coalesce(p ->> 'name', s.name),
            'description', case when p ? 'description' then p ->> 'description'
                else s.description end,
            'execution_interval_minutes', case when v_schedule
                then (p ->> 'interval_minutes')::integer else s.execution_interval_minutes end,
            'cron_expression', case when v_schedule then p ->> 'cron' else s.cron_expression end,
            'timezone', case when v_schedule then p ->> 'timezone' else s.timezone end,
            'next_execution_at', case when v_schedule and v_scheduled
                then (p ->> 'next_execution_at')::timestamptz else s.next_execution_at end,
            'execution_count', 0,
            'success_count', 0,
            'error_count', 0,
            'average_execution_time_ms', null,
            'last_executed_at', null,
            'last_error', null,
            'lease_token', null,
            'lease_expires_at', null,
            'created_at', p_now,
            'updated_at', p_now
        )
    )).*
    returning * into v_after;
    perform cascadian_audit_v1(
        p_actor, 'new_version', v_new, cascadian_audit_fields_v1(s),
        cascadian_audit_fields_v1(v_after), p_now
    );
    return query select 'ok'::text, v_new;
end;
$$;

create or replace function cascadian_prune_v2(
    p_now timestamptz,
    p_run_retention_seconds double precision,
    p_keep_last integer,
    p_tick_retention_seconds double precision,
    p_notification_retention_seconds double precision,
    p_max_rows integer,
    p_max_ms integer,
    p_dry_run boolean,
    p_after uuid
)
returns table (
    runs bigint, node_logs bigint, ticks bigint, notifications bigint, complete boolean,
    elapsed_ms integer, resume_after uuid
)
language plpgsql
as $$
declare
    v_started timestamptz := clock_timestamp();
    v_keep integer := greatest(coalesce(p_keep_last, 1), 1);
    v_budget bigint := greatest(coalesce(p_max_rows, 0), 0);
    v_run_cutoff timestamptz;
    v_cursor uuid;
    v_last uuid;
    v_chunk bigint;
    v_found uuid[];
    v_limit bigint;
    v_logs bigint;
    v_runs bigint;
    v_n bigint;
begin
    runs := 0;
    resume_after := null;
    node_logs := 0;
    ticks := 0;
    notifications := 0;
    complete := true;
    if not p_dry_run then
        perform set_config('lock_timeout', '200ms', true);
    end if;

    -- Runs, 200 strategies at a time in id order (only those with a run older than
    -- the cutoff: one index probe each). The newest v_keep runs of a strategy are
    -- found through its (workflow_id, execution_started_at) index; older ones past
    -- the retention go. A batch of strategies is taken again until fewer runs than
    -- the batch's limit are left in it.
    if p_run_retention_seconds is not null then
        v_run_cutoff := p_now - make_interval(secs => p_run_retention_seconds);
    end if;
    if p_run_retention_seconds is not null and not p_dry_run then
        v_cursor := p_after;
        loop
            if v_budget <= 0
               or extract(epoch from clock_timestamp() - v_started) * 1000 >= p_max_ms then
                complete := false;
                exit;
            end if;
            v_limit := least(v_budget, 500);
            with chunk as (
                select w.id, l.token as lease_token
                from workflow_sessions w
                left join cascadian_leases l on l.workflow_id = w.id
                where (v_cursor is null or w.id > v_cursor)
                  and exists (
                      select 1 from workflow_executions o
                      where o.workflow_id = w.id and o.execution_started_at < v_run_cutoff
                  )
                order by w.id
                limit 200
            ),
            found as (
                select e.id
                from chunk c
                cross join lateral (
                    select k.execution_started_at as keep_from
                    from workflow_executions k
                    where k.workflow_id = c.id
                    order by k.execution_started_at desc
                    offset v_keep - 1
                    limit 1
                ) b
                cross join lateral (
                    select x.id
                    from workflow_executions x
                    where x.workflow_id = c.id
                      and x.execution_started_at < least(v_run_cutoff, b.keep_from)
                      and x.status <> 'running'
                      and x.id is distinct from c.lease_token
                    order by x.execution_started_at
                    limit v_limit
                    for update skip locked
                ) e
                limit v_limit
            )
            select
                coalesce((select array_agg(f.id) from found f), '{}'),
                (select c.id from chunk c order by c.id desc limit 1),
                (select count(*) from chunk)
            into v_found, v_last, v_chunk;

            if cardinality(v_found) > 0 then
                with l as (
                    delete from strategy_execution_logs l
                    where l.execution_id = any (v_found) returning 1
                ), e as (
                    delete from workflow_executions e where e.id = any (v_found) returning 1
                )
                select (select count(*) from l), (select count(*) from e) into v_logs, v_runs;
                node_logs := node_logs + v_logs;
                runs := runs + v_runs;
                v_budget := v_budget - v_logs - v_runs;
            end if;
            if cardinality(v_found) < v_limit then  -- nothing more in this batch
                if v_chunk < 200 then
                    v_cursor := null;  -- the pass reached the last strategy
                    -- It covered them all only if it started at the first.
                    complete := complete and p_after is null;
                    exit;
                end if;
                v_cursor := v_last;
            end if;
        end loop;
        resume_after := v_cursor;
    end if;

    if p_dry_run then
        -- The same rules as the deletes below and above, counted without the caps.
        if p_run_retention_seconds is not null then
            select count(*), coalesce(sum(lc.n), 0) into runs, node_logs
            from workflow_sessions w
            left join cascadian_leases l on l.workflow_id = w.id
            cross join lateral (
                select k.execution_started_at as keep_from
                from workflow_executions k
                where k.workflow_id = w.id
                order by k.execution_started_at desc
                offset v_keep - 1
                limit 1
            ) b
            join workflow_executions e
                on e.workflow_id = w.id
               and e.execution_started_at < least(v_run_cutoff, b.keep_from)
               and e.status <> 'running'
               and e.id is distinct from l.token
            cross join lateral (
                select count(*) as n from strategy_execution_logs l where l.execution_id = e.id
            ) lc;
        end if;
        if p_tick_retention_seconds is not null then
            select count(*) into ticks
            from cron_ticks t
            where t.started_at < p_now - make_interval(secs => p_tick_retention_seconds)
              and t.id <> (select n.id from cron_ticks n order by n.started_at desc limit 1);
        end if;
        if p_notification_retention_seconds is not null then
            select count(*) into notifications
            from notifications n
            where n.is_read
              and n.created_at < p_now - make_interval(secs => p_notification_retention_seconds);
        end if;
        elapsed_ms := round(extract(epoch from clock_timestamp() - v_started) * 1000)::integer;
        return next;
        return;
    end if;

    -- The tick ledger, oldest first; its newest row stays (the health check reads it).
    if p_tick_retention_seconds is not null then
        loop
            if v_budget <= 0
               or extract(epoch from clock_timestamp() - v_started) * 1000 >= p_max_ms then
                complete := complete and not exists (
                    select 1 from cron_ticks t
                    where t.started_at < p_now - make_interval(secs => p_tick_retention_seconds)
                      and t.id <> (select n.id from cron_ticks n order by n.started_at desc limit 1)
                );
                exit;
            end if;
            delete from cron_ticks t
            where t.id in (
                select o.id from cron_ticks o
                where o.started_at < p_now - make_interval(secs => p_tick_retention_seconds)
                  and o.id <> (select n.id from cron_ticks n order by n.started_at desc limit 1)
                order by o.started_at
                limit least(v_budget, 1000)
                for update skip locked
            );
            get diagnostics v_n = row_count;
            exit when v_n = 0;
            ticks := ticks + v_n;
            v_budget := v_budget - v_n;
        end loop;
    end if;

    -- Read notifications; unread ones are kept whatever their age.
    if p_notification_retention_seconds is not null then
        loop
            if v_budget <= 0
               or extract(epoch from clock_timestamp() - v_started) * 1000 >= p_max_ms then
                complete := complete and not exists (
                    select 1 from notifications n
                    where n.is_read
                      and n.created_at
                          < p_now - make_interval(secs => p_notification_retention_seconds)
                );
                exit;
            end if;
            delete from notifications n
            where n.id in (
                select o.id from notifications o
                where o.is_read
                  and o.created_at < p_now - make_interval(secs => p_notification_retention_seconds)
                order by o.created_at
                limit least(v_budget, 1000)
                for update skip locked
            );
            get diagnostics v_n = row_count;
            exit when v_n = 0;
            notifications := notifications + v_n;
            v_budget := v_budget - v_n;
        end loop;
    end if;

    elapsed_ms := round(extract(epoch from clock_timestamp() - v_started) * 1000)::integer;
    return next;
end;
$$;

select cascadian_restrict_functions_v1();
