-- Leases locked only when needed (two faults the review of 052-059 left alone).
--
-- 1. An event claim locked every free lease with an event waiting. cascadian_claim_
--    events_v3 (058) took them all, then claimed at most p_limit: a second event
--    worker found every such lease locked and claimed nothing until the first
--    committed. cascadian_claim_events_v4 locks at most p_limit of them, the
--    strategies whose oldest waiting event is oldest, runnable and not already run
--    (for update skip locked: a second worker takes the next ones), and makes only
--    the lease rows missing (v3's insert of every one waited for any other claim
--    not yet committed whose lease it named). 058's guarantee
--    stays: the leases are taken in a statement of their own before the events are
--    marked done and claimed, so a late finish of a run one of them held has either
--    committed (and its event is done) or waits and is refused. A lease taken whose
--    event turns out done meanwhile claims nothing this time: the next claim takes
--    another strategy.
--
-- 2. A user naming another user's strategy took its lease's lock. The control
--    functions of 052 (start_v5, resume_v5, update_strategy_v3, new_version_v3) lock
--    the lease (making its row if it had none) before they read the strategy under
--    the caller's ownership: the call answered not_found but delayed that
--    strategy's claims while its transaction lasted, and left a lease row behind.
--    Each v(n+1) asks first whether the caller may change the strategy, without a
--    lock, and only then calls v(n), which locks the lease and checks the owner
--    again under the session's lock.

create or replace function cascadian_claim_events_v4(
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
declare
    v_locked uuid[];
begin
    -- Only the lease rows missing: ON CONFLICT waits for a transaction that changed
    -- the row it conflicts with (another claim's lease, claimed and not yet
    -- committed), which would queue this claim behind every other one.
    insert into cascadian_leases (workflow_id)
    select distinct e.workflow_id
    from cascadian_trigger_events e
    where e.done_at is null
      and not exists (select 1 from cascadian_leases l where l.workflow_id = e.workflow_id)
    on conflict (workflow_id) do nothing;
    -- At most p_limit free (or run out) leases, in the order the claim below takes
    -- their events, taken in a statement of their own before the events are marked
    -- or claimed (058). An event whose run is recorded is about to be marked done,
    -- and a strategy not runnable has its events skipped: neither is worth a lock.
    select coalesce(array_agg(x.workflow_id), '{}') into v_locked
    from (
        select l.workflow_id
        from cascadian_leases l
        join (
            select e.workflow_id, min(e.observed_at) as first_at
            from cascadian_trigger_events e
            left join workflow_executions r on r.id = e.execution_id
            where e.done_at is null
              and (r.status is null or r.status not in ('completed', 'failed'))
            group by e.workflow_id
        ) as w on w.workflow_id = l.workflow_id
        join workflow_sessions s on s.id = l.workflow_id
        where (l.expires_at is null or l.expires_at <= p_now)
          and s.auto_run and s.status in ('running', 'error') and s.is_current_version
        order by w.first_at, l.workflow_id
        limit p_limit
        for update of l skip locked
    ) as x;

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
        where l.workflow_id = any (v_locked)
          and s.auto_run and s.status in ('running', 'error') and s.is_current_version
        order by ev.observed_at
        limit p_limit
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

-- Whether the actor may change the strategy: the operator and the system any (one
-- that does not exist included: the function called next answers not_found), a
-- user only their own. Read without a lock: a strategy's owner never changes
-- under it here, and the function called next checks again under the lock.
create or replace function cascadian_may_change_v1(p_id uuid, p_actor jsonb)
returns boolean
language sql
stable
as $$
    select cascadian_actor_user_v1(p_actor) is null
        or exists (
            select 1 from workflow_sessions w
            where w.id = p_id and w.user_id = cascadian_actor_user_v1(p_actor)
        );
$$;

create or replace function cascadian_start_v6(
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
begin
    if not cascadian_may_change_v1(p_id, p_actor) then
        return 'not_found';
    end if;
    return cascadian_start_v5(p_id, p_now, p_interval, p_cron, p_timezone, p_next, p_actor);
end;
$$;

create or replace function cascadian_resume_v6(
    p_id uuid,
    p_now timestamptz,
    p_next timestamptz,
    p_actor jsonb
)
returns text
language plpgsql
as $$
begin
    if not cascadian_may_change_v1(p_id, p_actor) then
        return 'not_found';
    end if;
    return cascadian_resume_v5(p_id, p_now, p_next, p_actor);
end;
$$;

create or replace function cascadian_update_strategy_v4(
    p_id uuid,
    p jsonb,
    p_now timestamptz,
    p_actor jsonb
)
returns text
language plpgsql
as $$
begin
    if not cascadian_may_change_v1(p_id, p_actor) then
        return 'not_found';
    end if;
    return cascadian_update_strategy_v3(p_id, p, p_now, p_actor);
end;
$$;

create or replace function cascadian_new_version_v4(
    p_id uuid,
    p jsonb,
    p_now timestamptz,
    p_actor jsonb
)
returns table (result text, id uuid)
language plpgsql
as $$
begin
    if not cascadian_may_change_v1(p_id, p_actor) then
        return query select 'not_found'::text, null::uuid;
        return;
    end if;
    return query select * from cascadian_new_version_v3(p_id, p, p_now, p_actor);
end;
$$;

select cascadian_restrict_functions_v1();
