-- An event is run once its run is recorded, even when that run's lease ran out and
-- its finish commits while another worker claims events (found after 052).
--
-- cascadian_claim_events_v2 (052), as v1 (028), first marks done the events whose
-- runs are recorded, then claims the next event of each strategy whose lease is free
-- or run out, reading the events in its last statement's snapshot. A run that
-- outlived its lease and was recorded between those statements (its finish
-- committing while the claim waited, e.g. on an event row another claim held) left
-- its event looking undone and its lease free: the event was claimed and run a
-- second time.
--
-- cascadian_claim_events_v3 takes the free leases of the strategies with an event
-- waiting first, in a statement of its own (as cascadian_claim_due_v5 does, 052),
-- and only then marks events done and claims: a finish that needs one of those
-- leases has either committed, and the next statements see its run recorded, or
-- waits for this claim to end and is refused (its lease is gone), as any run that
-- outlives its lease is. Everything else is v2's.

create or replace function cascadian_claim_events_v3(
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
    insert into cascadian_leases (workflow_id)
    select distinct e.workflow_id from cascadian_trigger_events e where e.done_at is null
    on conflict (workflow_id) do nothing;
    -- The free (or run out) leases of the strategies with an event waiting, taken in
    -- a statement of their own, before anything is read of their events: a finish of
    -- a run one of them held has committed by now (the statements below see it) or
    -- waits for this claim's end (and is then refused: its lease is no longer its).
    select coalesce(array_agg(x.workflow_id), '{}') into v_locked
    from (
        select l.workflow_id
        from cascadian_leases l
        where l.workflow_id in (
                select e.workflow_id from cascadian_trigger_events e where e.done_at is null
            )
          and (l.expires_at is null or l.expires_at <= p_now)
        for update skip locked
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

select cascadian_restrict_functions_v1();
