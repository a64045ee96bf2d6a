-- Every state transition of a strategy is one of these functions, so each is
-- one transaction, and the Postgres and Supabase stores share them.
-- Versioned names: a later migration adds a _v2 beside a _v1 instead of
-- changing a function under a running deployment.

-- Claim up to p_limit due strategies for one run each.
-- Due: auto_run, status running/error, next_execution_at <= p_now, and no live
-- lease. SKIP LOCKED lets concurrent ticks claim disjoint sets; the lease keeps
-- a claimed strategy out of later ticks until its run is recorded or the lease
-- expires (its process died). Each claim inserts the 'running' execution row
-- whose id is the lease token; the row of an abandoned earlier attempt at the
-- same slot is marked cancelled.
create or replace function cascadian_claim_due_v1(
    p_now timestamptz,
    p_limit integer,
    p_lease_seconds double precision
)
returns table (
    execution_id uuid,
    workflow_id uuid,
    user_id uuid,
    name text,
    -- The graph as JSON text: each row is decoded on its own by the caller, so
    -- one strategy whose JSON cannot be read fails alone, not the whole claim.
    nodes text,
    edges text,
    variables text,
    trigger text,
    execution_interval_minutes integer,
    cron_expression text,
    timezone text,
    scheduled_for timestamptz,
    attempt integer,
    lease_expires_at timestamptz
)
language sql
as $$
    with due as (
        select s.id, s.lease_token as abandoned_token
        from workflow_sessions s
        where s.auto_run
          and s.status in ('running', 'error')
          and s.next_execution_at <= p_now
          and (s.lease_expires_at is null or s.lease_expires_at <= p_now)
        order by s.next_execution_at
        limit p_limit
        for update skip locked
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
    claimed as (
        update workflow_sessions s
        set lease_token = gen_random_uuid(),
            lease_expires_at = p_now + make_interval(secs => p_lease_seconds)
        from due
        where s.id = due.id
        returning s.*
    ),
    runs as (
        insert into workflow_executions (
            id, workflow_id, user_id, execution_started_at, status,
            trigger_kind, scheduled_for, attempt, workflow_snapshot
        )
        select
            c.lease_token, c.id, c.user_id, p_now, 'running',
            'scheduled', c.next_execution_at,
            -- max, not count: history rows deleted by a clean-up must not make
            -- the next attempt collide with a surviving one.
            1 + coalesce((
                select max(prior.attempt)
                from workflow_executions prior
                where prior.workflow_id = c.id
                  and prior.scheduled_for = c.next_execution_at
                  and prior.trigger_kind = 'scheduled'
            ), 0),
            jsonb_build_object(
                'name', c.name, 'nodes', c.nodes, 'edges', c.edges,
                'variables', c.variables, 'trigger', c.trigger
            )
        from claimed c
        returning id, attempt
    )
    select
        c.lease_token, c.id, c.user_id, c.name, c.nodes::text, c.edges::text,
        coalesce(c.variables, '{}'::jsonb)::text, c.trigger::text,
        c.execution_interval_minutes, c.cron_expression, c.timezone,
        c.next_execution_at, r.attempt, c.lease_expires_at
    from claimed c
    join runs r on r.id = c.lease_token
    order by c.next_execution_at;
$$;

-- Record finished runs. p_outcomes is a JSON array; each element:
--   {execution_id, workflow_id, success, finished_at, duration_ms, nodes_executed,
--    outputs, errors, error_message, next_execution_at, logs: [...]}
-- An outcome is recorded only while its execution id still holds the lease;
-- otherwise (another tick re-claimed an expired lease) it is rejected whole.
-- Counters, the rolling average, re-arming, auto-pause with its notification,
-- the execution row and the node logs change together or not at all.
create or replace function cascadian_finish_runs_v1(
    p_outcomes jsonb,
    p_pause_threshold integer
)
returns table (execution_id uuid, accepted boolean, auto_paused boolean)
language plpgsql
as $$
declare
    o jsonb;
    s workflow_sessions%rowtype;
    v_success boolean;
    v_duration integer;
    v_errors integer;
    v_pause boolean;
begin
    for o in select value from jsonb_array_elements(p_outcomes) loop
        execution_id := (o ->> 'execution_id')::uuid;
        v_success := (o ->> 'success')::boolean;
        v_duration := (o ->> 'duration_ms')::integer;

        select * into s
        from workflow_sessions w
        where w.id = (o ->> 'workflow_id')::uuid and w.lease_token = execution_id
        for update;

        if not found then
            accepted := false;
            auto_paused := false;
            return next;
            continue;
        end if;

        v_errors := case when v_success then 0 else s.error_count + 1 end;
        -- A strategy an operator stopped mid-run is not auto-paused on top.
        v_pause := not v_success and s.auto_run and v_errors >= p_pause_threshold;

        update workflow_sessions w
        set last_executed_at = (o ->> 'finished_at')::timestamptz,
            execution_count = s.execution_count + 1,
            success_count = s.success_count + v_success::integer,
            error_count = v_errors,
            -- Rolling mean over all runs: (prev_avg * prev_count + new) / (prev_count + 1).
            average_execution_time_ms = case
                when s.average_execution_time_ms is null or s.execution_count = 0 then v_duration
                else round(
                    (s.average_execution_time_ms::numeric * s.execution_count + v_duration)
                    / (s.execution_count + 1)
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
            lease_token = null,
            lease_expires_at = null,
            updated_at = now()
        where w.id = s.id;

        update workflow_executions e
        set status = case when v_success then 'completed' else 'failed' end,
            execution_completed_at = (o ->> 'finished_at')::timestamptz,
            duration_ms = v_duration,
            nodes_executed = coalesce((o ->> 'nodes_executed')::integer, 0),
            outputs = o -> 'outputs',
            errors = o -> 'errors',
            error_message = o ->> 'error_message'
        where e.id = execution_id;

        insert into strategy_execution_logs (
            execution_id, workflow_id, node_id, node_type, status,
            started_at, completed_at, duration_ms, error_message, output
        )
        select
            execution_id, s.id, l.node_id, l.node_type, l.status,
            l.started_at, l.completed_at, l.duration_ms, l.error_message, l.output
        from jsonb_to_recordset(coalesce(o -> 'logs', '[]'::jsonb)) as l (
            node_id text, node_type text, status text, started_at timestamptz,
            completed_at timestamptz, duration_ms integer, error_message text, output jsonb
        );

        if v_pause then
            insert into notifications (
                user_id, workflow_id, type, title, message, link, priority, metadata
            )
            values (
                s.user_id, s.id, 'strategy_error',
                'Strategy paused: ' || s.name,
                format(
                    'Strategy "%s" was paused after %s consecutive errors. Last error: %s',
                    s.name, v_errors, coalesce(o ->> 'error_message', 'unknown error')
                ),
                '/strategies/' || s.id,
                'high',
                jsonb_build_object('error_count', v_errors, 'execution_id', execution_id)
            );
        end if;

        accepted := true;
        auto_paused := v_pause;
        return next;
    end loop;
end;
$$;

-- Give back claims whose runs never started (the tick ran out of time, or a
-- worker is shutting down): the lease is dropped and the unstarted execution
-- row removed, so the strategy is due again as if never claimed.
create or replace function cascadian_release_runs_v1(p_execution_ids uuid[])
returns integer
language sql
as $$
    with held as (
        select s.id, s.lease_token
        from workflow_sessions s
        join workflow_executions e on e.workflow_id = s.id
        where e.id = any (p_execution_ids) and s.lease_token = e.id
        for update of s
    ),
    dropped as (
        delete from workflow_executions e
        using held
        where e.id = held.lease_token and e.status = 'running'
        returning e.id
    ),
    released as (
        update workflow_sessions s
        set lease_token = null, lease_expires_at = null
        from held
        where s.id = held.id
        returning s.id
    )
    select count(*)::integer from released;
$$;

-- Append one tick to the ledger.
create or replace function cascadian_record_tick_v1(p_tick jsonb)
returns uuid
language sql
as $$
    insert into cron_ticks (
        trigger, started_at, finished_at, success, strategies_checked,
        strategies_executed, succeeded, failed, released, execution_time_ms, error, summary
    )
    values (
        coalesce(p_tick ->> 'trigger', 'cron'),
        (p_tick ->> 'started_at')::timestamptz,
        (p_tick ->> 'finished_at')::timestamptz,
        (p_tick ->> 'success')::boolean,
        coalesce((p_tick ->> 'strategies_checked')::integer, 0),
        coalesce((p_tick ->> 'strategies_executed')::integer, 0),
        coalesce((p_tick ->> 'succeeded')::integer, 0),
        coalesce((p_tick ->> 'failed')::integer, 0),
        coalesce((p_tick ->> 'released')::integer, 0),
        coalesce((p_tick ->> 'execution_time_ms')::integer, 0),
        p_tick ->> 'error',
        coalesce(p_tick -> 'summary', '{}'::jsonb)
    )
    returning id;
$$;
