-- The state functions again (v2 beside v1), for the tables as an existing
-- Cascadian deployment defines them as well as for ours:
--   - only the current version of a strategy is claimed, or run now, or started;
--   - a side write the database refuses (the auto-pause or a control change's
--     notification, a run's node logs) is reported, never lets the run's record
--     or the control change fail: each is tried in a subtransaction of its own;
--   - node logs are written for every node (a skipped one has no start of its
--     own: it takes the run's end) and keep the graph's order;
--   - counters and the interval may be NULL there, and count as 0 and 5 minutes.
-- Control functions answer one more result code: superseded (an old version).

create or replace function cascadian_claim_due_v2(
    p_now timestamptz,
    p_limit integer,
    p_lease_seconds double precision
)
returns table (
    execution_id uuid,
    workflow_id uuid,
    user_id uuid,
    name text,
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
          and s.is_current_version
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
                'variables', c.variables, 'trigger', c.trigger, 'version', c.version
            )
        from claimed c
        returning id, attempt
    )
    select
        c.lease_token, c.id, c.user_id, c.name, c.nodes::text, c.edges::text,
        coalesce(c.variables, '{}'::jsonb)::text, c.trigger::text,
        coalesce(c.execution_interval_minutes, 5), c.cron_expression, c.timezone,
        c.next_execution_at, r.attempt, c.lease_expires_at
    from claimed c
    join runs r on r.id = c.lease_token
    order by c.next_execution_at;
$$;

-- Record finished runs, as cascadian_finish_runs_v1 does, and answer for each
-- outcome the side writes the database refused (side_errors: a JSON array of
-- {"write", "error"}); they are appended to the run's errors too.
create or replace function cascadian_finish_runs_v2(
    p_outcomes jsonb,
    p_pause_threshold integer
)
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

        v_count := coalesce(s.execution_count, 0);
        v_errors := case when v_success then 0 else coalesce(s.error_count, 0) + 1 end;
        -- A strategy an operator stopped mid-run is not auto-paused on top.
        v_pause := not v_success and s.auto_run and v_errors >= p_pause_threshold;

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
            lease_token = null,
            lease_expires_at = null,
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

-- Claim a strategy for a manual run (cascadian_claim_manual_v1), unless it is an
-- old version (superseded).
create or replace function cascadian_claim_manual_v2(
    p_id uuid,
    p_now timestamptz,
    p_lease_seconds double precision
)
returns table (
    result text,
    execution_id uuid,
    workflow_id uuid,
    user_id uuid,
    name text,
    nodes text,
    edges text,
    variables text,
    trigger text,
    execution_interval_minutes integer,
    cron_expression text,
    timezone text,
    scheduled_for timestamptz,
    attempt integer,
    lease_expires_at timestamptz,
    next_execution_at timestamptz
)
language plpgsql
as $$
declare
    s workflow_sessions%rowtype;
begin
    select * into s from workflow_sessions w where w.id = p_id for update;
    if not found then
        result := 'not_found';
        return next;
        return;
    elsif not s.is_current_version then
        result := 'superseded';
        return next;
        return;
    elsif s.lease_expires_at > p_now then
        result := 'run_in_flight';
        return next;
        return;
    end if;

    if s.lease_token is not null then
        update workflow_executions e
        set status = 'cancelled',
            execution_completed_at = p_now,
            error_message = 'abandoned: the lease expired before the run was recorded'
        where e.id = s.lease_token and e.status = 'running';
    end if;

    update workflow_sessions w
    set lease_token = gen_random_uuid(),
        lease_expires_at = p_now + make_interval(secs => p_lease_seconds)
    where w.id = p_id
    returning * into s;

    insert into workflow_executions (
        id, workflow_id, user_id, execution_started_at, status,
        trigger_kind, scheduled_for, attempt, workflow_snapshot
    )
    values (
        s.lease_token, s.id, s.user_id, p_now, 'running', 'manual', null, 1,
        jsonb_build_object(
            'name', s.name, 'nodes', s.nodes, 'edges', s.edges,
            'variables', s.variables, 'trigger', s.trigger, 'version', s.version
        )
    );

    return query select
        'ok'::text, s.lease_token, s.id, s.user_id, s.name, s.nodes::text, s.edges::text,
        coalesce(s.variables, '{}'::jsonb)::text, s.trigger::text,
        coalesce(s.execution_interval_minutes, 5), s.cron_expression, s.timezone,
        null::timestamptz, 1, s.lease_expires_at, s.next_execution_at;
end;
$$;

-- Start a strategy on a schedule (cascadian_start_v1), unless it is an old version.
create or replace function cascadian_start_v2(
    p_id uuid,
    p_now timestamptz,
    p_interval integer,
    p_cron text,
    p_timezone text,
    p_next timestamptz
)
returns text
language plpgsql
as $$
declare
    s workflow_sessions%rowtype;
begin
    select * into s from workflow_sessions w where w.id = p_id for update;
    if not found then
        return 'not_found';
    elsif not s.is_current_version then
        return 'superseded';
    elsif s.auto_run and s.status = 'running' then
        return 'already_running';
    elsif s.lease_expires_at > p_now then
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
        updated_at = now()
    where w.id = p_id;
    return 'ok';
end;
$$;

-- Resume a paused, stopped or errored strategy (cascadian_resume_v1), unless it
-- is an old version.
create or replace function cascadian_resume_v2(p_id uuid, p_now timestamptz, p_next timestamptz)
returns text
language plpgsql
as $$
declare
    s workflow_sessions%rowtype;
begin
    select * into s from workflow_sessions w where w.id = p_id for update;
    if not found then
        return 'not_found';
    elsif not s.is_current_version then
        return 'superseded';
    elsif s.auto_run and s.status = 'running' then
        return 'already_running';
    elsif s.status not in ('paused', 'stopped', 'error', 'running') then
        return 'not_resumable';
    elsif s.lease_expires_at > p_now then
        return 'run_in_flight';
    end if;

    update workflow_sessions w
    set auto_run = true,
        status = 'running',
        error_count = 0,
        last_error = null,
        next_execution_at = p_next,
        updated_at = now()
    where w.id = p_id;
    return 'ok';
end;
$$;

-- Pause or stop a strategy (cascadian_halt_v1) and tell its owner, through the
-- owner's notification settings; a notification the database refuses does not
-- undo the change.
create or replace function cascadian_halt_v2(p_id uuid, p_status text, p_now timestamptz)
returns text
language plpgsql
as $$
declare
    s workflow_sessions%rowtype;
begin
    if p_status not in ('paused', 'stopped') then
        raise exception 'cascadian_halt_v2: p_status must be paused or stopped, not %', p_status;
    end if;

    select * into s from workflow_sessions w where w.id = p_id for update;
    if not found then
        return 'not_found';
    elsif s.status = p_status and not s.auto_run then
        return 'already_' || p_status;
    end if;

    update workflow_sessions w
    set auto_run = false, status = p_status, updated_at = now()
    where w.id = p_id;

    begin
        perform cascadian_send_notification_v1(
            s.user_id, s.id, 'strategy_' || p_status,
            'Strategy ' || p_status || ': ' || s.name,
            format('Strategy "%s" was %s by an operator.', s.name, p_status),
            '/strategies/' || s.id,
            'normal',
            jsonb_build_object('previous_status', s.status),
            p_now
        );
    exception when others then
        raise warning 'cascadian_halt_v2: notification for strategy % not sent: %', s.id, sqlerrm;
    end;
    return 'ok';
end;
$$;

-- One run with its outputs, errors and per-node logs in the order they were
-- written (cascadian_execution_v1, ordered by node_index: ids may be uuids).
create or replace function cascadian_execution_v2(p_id uuid)
returns jsonb
language sql
stable
as $$
    select (to_jsonb(e) - 'workflow_snapshot') || jsonb_build_object(
        'logs', coalesce((
            select jsonb_agg(
                jsonb_build_object(
                    'node_id', l.node_id, 'node_type', l.node_type, 'status', l.status,
                    'started_at', l.started_at, 'completed_at', l.completed_at,
                    'duration_ms', l.duration_ms, 'error_message', l.error_message,
                    'output', l.output
                )
                order by l.node_index, l.created_at, l.node_id
            )
            from strategy_execution_logs l
            where l.execution_id = e.id
        ), '[]'::jsonb)
    )
    from workflow_executions e
    where e.id = p_id;
$$;

select cascadian_restrict_functions_v1();
