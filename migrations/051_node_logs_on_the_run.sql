-- A run's node logs as one jsonb value of its execution row (issue 34: each row
-- written once), instead of one strategy_execution_logs row per node.
--
-- The finish updates the execution row anyway (its status, times, outputs); the
-- logs ride along in that one update. One row per node cost an insert each, with
-- its index entry and, on the app's schema, two foreign-key checks (the run and
-- the strategy): per run of a start -> end graph, more server work than the
-- execution row itself (measured in docs/performance.md, "Each row written once").
-- Nothing in the original app reads strategy_execution_logs; cascadian's run API,
-- console and CLI read a run's logs through cascadian_execution_v4, which reads
-- either form.
--
--   - workflow_executions.node_logs: the logs as the finish takes them (a JSON
--     array, in the order the nodes ran, each output already capped); NULL for a
--     run whose logs are rows of strategy_execution_logs (runs recorded before
--     this migration, with CASCADIAN_NODE_LOG_ROWS, or through the fallback
--     below), or that is not finished.
--   - cascadian_finish_runs_v4: cascadian_finish_runs_v3 with p_log_rows: false
--     writes the logs into node_logs, true writes rows of strategy_execution_logs
--     as v3 does (for a deployment that reads that table). A batch the database
--     refuses still goes through cascadian_finish_runs_v2, one outcome at a time,
--     which writes rows: that path is rare and keeps its side-error reporting.
--   - cascadian_execution_v4: one run with its logs, from either form, in the
--     same shape as cascadian_execution_v3's answer.
--
-- Adding a nullable column without a default rewrites nothing (a catalog change).

alter table workflow_executions add column if not exists node_logs jsonb;

create or replace function cascadian_finish_runs_v4(
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
    -- The same run twice in one batch is written one at a time, as v2 does.
    if (select count(distinct o ->> 'execution_id') from jsonb_array_elements(p_outcomes) o)
        <> jsonb_array_length(p_outcomes) then
        return query select * from cascadian_finish_runs_v2(p_outcomes, p_pause_threshold);
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

-- One run with its outputs, errors and node logs (cascadian_execution_v3's
-- answer), if its strategy is p_user's (p_user NULL: any). The logs come from
-- node_logs when the run has them there, else from its strategy_execution_logs
-- rows; either way each log reads as a row of that table would (node_type '' for
-- none, started_at falling back to completed_at and then the run's end, times as
-- timestamptz), in the order the nodes ran.
create or replace function cascadian_execution_v4(p_id uuid, p_user uuid)
returns jsonb
language sql
stable
as $$
    select (to_jsonb(e) - 'workflow_snapshot' - 'node_logs') || jsonb_build_object(
        'logs', case
            when e.node_logs is not null then coalesce((
                select jsonb_agg(
                    jsonb_build_object(
                        'node_id', l.node_id, 'node_type', coalesce(l.node_type, ''),
                        'status', l.status,
                        'started_at', coalesce(
                            l.started_at, l.completed_at, e.execution_completed_at
                        ),
                        'completed_at', l.completed_at,
                        'duration_ms', l.duration_ms, 'error_message', l.error_message,
                        'output', l.output
                    )
                    order by x.ord
                )
                from jsonb_array_elements(e.node_logs) with ordinality as x (log, ord)
                cross join lateral jsonb_to_record(x.log) as l (
                    node_id text, node_type text, status text, started_at timestamptz,
                    completed_at timestamptz, duration_ms integer, error_message text,
                    output jsonb
                )
            ), '[]'::jsonb)
            else coalesce((
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
        end
    )
    from workflow_executions e
    where e.id = p_id
      and (p_user is null or exists (
          select 1 from workflow_sessions s
          where s.id = e.workflow_id and s.user_id = p_user
      ));
$$;

select cascadian_restrict_functions_v1();
