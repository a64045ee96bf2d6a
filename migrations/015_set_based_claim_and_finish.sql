-- The claim and the record of a tick again (v3 beside v2), for speed, with the
-- same rows written and the same answers:
--   - cascadian_claim_due_v3: the due rows are read in the due index's order and
--     the scan stops after p_limit of them, whatever the statistics say. The time
--     the claim compares with is hidden from the planner (an InitPlan), so its
--     estimate of the due rows is the default third of the active strategies,
--     never the handful that stale statistics give for a backlog made due since
--     the last ANALYZE (which made v2 read and sort every due row at each claim).
--   - cascadian_finish_runs_v3: a batch is written set-based, one statement per
--     table (sessions, executions, node logs), instead of a loop with a
--     subtransaction per outcome. When the database refuses any part of it (a
--     node log, a notification, any write of any outcome), the whole attempt is
--     rolled back and the batch goes through cascadian_finish_runs_v2, so one
--     refused outcome still never leaves the others unrecorded, and a refused side
--     write is still reported as a side error of its own run.

create or replace function cascadian_claim_due_v3(
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
          -- (select p_now): a value the planner cannot see, so its plan is the
          -- index-ordered scan with a limit at any due count and any statistics.
          and s.next_execution_at <= (select p_now)
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

-- Record finished runs as cascadian_finish_runs_v2 does (same arguments, same
-- answers, in the batch's order), set-based; see the top of this file.
create or replace function cascadian_finish_runs_v3(
    p_outcomes jsonb,
    p_pause_threshold integer
)
returns table (execution_id uuid, accepted boolean, auto_paused boolean, side_errors jsonb)
language plpgsql
as $$
declare
    v_answers jsonb;
    p record;
begin
    -- The same run twice in one batch is written one at a time, as v2 does.
    if (select count(distinct o ->> 'execution_id') from jsonb_array_elements(p_outcomes) o)
        <> jsonb_array_length(p_outcomes) then
        return query select * from cascadian_finish_runs_v2(p_outcomes, p_pause_threshold);
        return;
    end if;

    begin
        with o as (
            -- outputs and errors as the JSON they are (a JSON null stays one).
            select x.*, a.value -> 'outputs' as outputs, a.value -> 'errors' as errors, a.ord
            from jsonb_array_elements(p_outcomes) with ordinality as a (value, ord)
            cross join lateral jsonb_to_record(a.value) as x (
                execution_id uuid, workflow_id uuid, success boolean,
                finished_at timestamptz, duration_ms integer, nodes_executed integer,
                error_message text, next_execution_at timestamptz, logs jsonb
            )
        ),
        -- The runs whose lease still holds, their sessions locked, with what v2
        -- derives from the session as it was.
        cur as (
            select
                o.*,
                w.user_id, w.name,
                coalesce(w.execution_count, 0) as v_count,
                case when o.success then 0 else coalesce(w.error_count, 0) + 1 end as v_errors,
                not o.success and w.auto_run
                    and coalesce(w.error_count, 0) + 1 >= p_pause_threshold as v_pause
            from o
            join workflow_sessions w
                on w.id = o.workflow_id and w.lease_token = o.execution_id
            for update of w
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
                lease_token = null,
                lease_expires_at = null,
                updated_at = now()
            from cur c
            where w.id = c.workflow_id
            returning w.id
        ),
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
            cross join lateral jsonb_array_elements(coalesce(c.logs, '[]'::jsonb))
                with ordinality as e (log, ord)
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
                error_message = c.error_message
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

        -- The auto-pause notifications; one refused sends the batch through v2,
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
        return query select * from cascadian_finish_runs_v2(p_outcomes, p_pause_threshold);
        return;
    end;

    return query
        select (a ->> 'execution_id')::uuid, (a ->> 'accepted')::boolean,
               (a ->> 'auto_paused')::boolean, '[]'::jsonb
        from jsonb_array_elements(coalesce(v_answers, '[]'::jsonb)) with ordinality as t (a, n)
        order by t.n;
end;
$$;

select cascadian_restrict_functions_v1();
