-- Operators' control of a strategy (start, pause, stop, resume), manual runs,
-- giving back runs a stopping worker cancels, and the tick ledger read.
-- Each state change is one function, so one transaction, shared by all stores.
-- Control functions answer a result code instead of raising:
--   ok               the change was made
--   not_found        no strategy has this id
--   already_running  it is already scheduled (auto_run, status running)
--   already_paused   it is already paused
--   already_stopped  it is already stopped
--   not_resumable    only a paused, stopped or errored strategy can be resumed
--   run_in_flight    a run holds an unexpired lease
-- Schedule maths stays in Python: the caller passes the next slot in.

-- Start a strategy on a schedule: auto_run, status running, armed for p_next,
-- with a fresh error streak (an auto-paused strategy is not re-paused by its
-- next single error). A run in flight would re-arm the strategy from its old
-- schedule when it is recorded, so starting waits until it has finished.
create or replace function cascadian_start_v1(
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

-- Pause (p_status 'paused') or stop (p_status 'stopped') a strategy, and tell
-- its owner. A run in flight keeps its lease and finishes; its outcome is
-- recorded, but it does not re-arm a strategy that is no longer auto_run.
create or replace function cascadian_halt_v1(p_id uuid, p_status text)
returns text
language plpgsql
as $$
declare
    s workflow_sessions%rowtype;
begin
    if p_status not in ('paused', 'stopped') then
        raise exception 'cascadian_halt_v1: p_status must be paused or stopped, not %', p_status;
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

    insert into notifications (user_id, workflow_id, type, title, message, link, priority, metadata)
    values (
        s.user_id, s.id, 'strategy_' || p_status,
        'Strategy ' || p_status || ': ' || s.name,
        format('Strategy "%s" was %s by an operator.', s.name, p_status),
        '/strategies/' || s.id,
        'normal',
        jsonb_build_object('previous_status', s.status)
    );
    return 'ok';
end;
$$;

-- Resume a paused, stopped or errored (e.g. auto-paused) strategy: the error
-- state is cleared and it runs next at p_next. 'running' without auto_run (a
-- row edited by hand, or left so by an older version) is accepted too.
create or replace function cascadian_resume_v1(p_id uuid, p_now timestamptz, p_next timestamptz)
returns text
language plpgsql
as $$
declare
    s workflow_sessions%rowtype;
begin
    select * into s from workflow_sessions w where w.id = p_id for update;
    if not found then
        return 'not_found';
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

-- Claim a strategy for a manual run ("execute now"), whatever its status.
-- It takes the same lease as a scheduled claim, so the two never overlap:
-- while an unexpired lease is held the answer is run_in_flight. The row of an
-- abandoned run (expired lease) is marked cancelled, as cascadian_claim_due_v1
-- does. The strategy's next_execution_at is returned so the caller can record
-- the outcome without moving the schedule.
create or replace function cascadian_claim_manual_v1(
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
    nodes text,  -- JSON text, as cascadian_claim_due_v1 returns it
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
            'variables', s.variables, 'trigger', s.trigger
        )
    );

    return query select
        'ok'::text, s.lease_token, s.id, s.user_id, s.name, s.nodes::text, s.edges::text,
        coalesce(s.variables, '{}'::jsonb)::text, s.trigger::text,
        s.execution_interval_minutes, s.cron_expression, s.timezone,
        null::timestamptz, 1, s.lease_expires_at, s.next_execution_at;
end;
$$;

-- Give back runs that were started but cut short (a worker shutting down ran
-- out of its grace period): the lease is dropped and the run's row marked
-- cancelled with p_reason. Counters and next_execution_at are left alone, so a
-- scheduled strategy is due again for the same slot, as attempt 2.
-- Runs whose lease was already taken over or recorded are left as they are.
create or replace function cascadian_cancel_runs_v1(
    p_execution_ids uuid[],
    p_reason text,
    p_now timestamptz
)
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
    cancelled as (
        update workflow_executions e
        set status = 'cancelled', execution_completed_at = p_now, error_message = p_reason
        from held
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

-- The newest p_limit ticks of the ledger, newest first, each with the gap in
-- seconds since the tick before it (null for the oldest tick there is).
-- Reads p_limit + 1 rows through cron_ticks_started_idx, not the whole ledger.
create or replace function cascadian_ticks_v1(p_limit integer)
returns table (
    id uuid,
    trigger text,
    started_at timestamptz,
    finished_at timestamptz,
    success boolean,
    strategies_checked integer,
    strategies_executed integer,
    succeeded integer,
    failed integer,
    released integer,
    execution_time_ms integer,
    error text,
    summary jsonb,
    gap_seconds double precision
)
language sql
stable
as $$
    select *
    from (
        select
            t.id, t.trigger, t.started_at, t.finished_at, t.success,
            t.strategies_checked, t.strategies_executed, t.succeeded, t.failed,
            t.released, t.execution_time_ms, t.error, t.summary,
            extract(epoch from t.started_at - lag(t.started_at) over (order by t.started_at))
                ::double precision as gap_seconds
        from (
            select * from cron_ticks order by started_at desc limit p_limit + 1
        ) t
    ) g
    order by g.started_at desc
    limit p_limit;
$$;

-- Reads for operators and dashboards. Functions rather than ad-hoc SELECTs so
-- the Postgres and Supabase (PostgREST .rpc) stores share them.

-- The status of one strategy (p_id), or a page of all of them by name (p_id null).
-- run_in_flight: a run holds an unexpired lease at p_now. success_rate: the
-- share of recorded runs that succeeded, 0 to 1; null before the first run.
create or replace function cascadian_strategies_v1(
    p_now timestamptz,
    p_id uuid,
    p_limit integer,
    p_offset integer
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
    where p_id is null or s.id = p_id
    order by s.name, s.id
    limit p_limit
    offset p_offset;
$$;

-- A page of a strategy's runs, newest first, as
-- {"total": <all its runs>, "data": [<run without outputs, errors or logs>]};
-- null when there is no such strategy.
create or replace function cascadian_executions_v1(
    p_workflow_id uuid,
    p_limit integer,
    p_offset integer
)
returns jsonb
language sql
stable
as $$
    select jsonb_build_object(
        'total', (select count(*) from workflow_executions e where e.workflow_id = s.id),
        'data', coalesce((
            select jsonb_agg(to_jsonb(page) order by page.execution_started_at desc, page.id desc)
            from (
                select
                    e.id, e.workflow_id, e.status, e.trigger_kind, e.scheduled_for, e.attempt,
                    e.execution_started_at, e.execution_completed_at, e.duration_ms,
                    e.nodes_executed, e.error_message
                from workflow_executions e
                where e.workflow_id = s.id
                order by e.execution_started_at desc, e.id desc
                limit p_limit
                offset p_offset
            ) page
        ), '[]'::jsonb)
    )
    from workflow_sessions s
    where s.id = p_workflow_id;
$$;

-- One run with its outputs, errors and per-node logs (in the order written);
-- null when there is no such run.
create or replace function cascadian_execution_v1(p_id uuid)
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
                order by l.id
            )
            from strategy_execution_logs l
            where l.execution_id = e.id
        ), '[]'::jsonb)
    )
    from workflow_executions e
    where e.id = p_id;
$$;
