-- The runs list's `status=running` read through the lease table (issue 32: every
-- filter index-backed at 1M runs).
--
-- On a fresh schema no index names workflow_executions.status, so "the newest
-- running runs" walked the start-time index through every finished run: a
-- sequential read of the table at 1M runs (docs/performance.md, "The runs list at
-- 1M"). An index on status (or one partial on status = 'running') would make every
-- finish's update of the run non-HOT, since the finish changes status. Instead: a run
-- in flight is one a lease holds (its token is the run's id, until the finish, a
-- cancel, a release, or a claim taking an expired lease over ends it, each in the
-- transaction that ends the run), so the runs in flight are read from
-- cascadian_leases (one row per strategy) and fetched by primary key. It is the same
-- set the console overview's "Runs in flight" tile counts (052's
-- cascadian_console_overview_v2).
--
-- A row left 'running' that no lease holds (one the original app's own executor
-- wrote and never finished, or one of a strategy deleted) is listed by its other
-- filters, status=failed and the like, but not as a run in flight: nothing will
-- finish it.

create or replace function cascadian_runs_query_v2(
    p_status text,
    p_workflow_id uuid,
    p_user_id uuid,
    p_trigger text,
    p_since timestamptz,
    p_until timestamptz,
    p_rerun_of uuid,
    p_before_at timestamptz,
    p_before_id uuid,
    p_limit integer
)
returns text
language plpgsql
stable
as $$
declare
    w text := 'true';
    v_from text := 'workflow_executions e';
begin
    if p_status is not null then
        w := w || format(' and e.status = %L', p_status);
    end if;
    if p_status = 'running' then
        v_from := 'cascadian_leases l join workflow_executions e on e.id = l.token';
        w := w || ' and l.token is not null';
    end if;
    if p_workflow_id is not null then
        w := w || format(' and e.workflow_id = %L::uuid', p_workflow_id);
    end if;
    if p_user_id is not null then
        w := w || format(' and e.user_id = %L::uuid', p_user_id);
    end if;
    if p_trigger is not null then
        w := w || format(' and e.trigger_kind = %L', p_trigger);
        if p_trigger <> 'scheduled' then
            -- the partial index's own predicate, so the planner sees it applies
            w := w || ' and e.trigger_kind <> ''scheduled''';
        end if;
    end if;
    if p_since is not null then
        w := w || format(' and e.execution_started_at >= %L::timestamptz', p_since);
    end if;
    if p_until is not null then
        w := w || format(' and e.execution_started_at < %L::timestamptz', p_until);
    end if;
    if p_rerun_of is not null then
        w := w || format(' and e.rerun_of = %L::uuid', p_rerun_of);
    end if;
    if p_before_at is not null then
        w := w || format(
            ' and (e.execution_started_at, e.id) < (%L::timestamptz, %L::uuid)',
            p_before_at, coalesce(p_before_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
        );
    end if;
    return format(
        'select e.id, e.workflow_id, e.user_id, e.status, e.trigger_kind, e.rerun_of, '
        'e.scheduled_for, e.attempt, e.execution_started_at, e.execution_completed_at, '
        'e.duration_ms, e.nodes_executed, e.error_message, '
        'coalesce(s.name, e.workflow_snapshot->>''name'') as workflow_name '
        'from (select e.* from %s where %s '
        'order by e.execution_started_at desc, e.id desc limit %s) e '
        'left join workflow_sessions s on s.id = e.workflow_id '
        'order by e.execution_started_at desc, e.id desc',
        v_from, w, greatest(1, least(coalesce(p_limit, 50), 501))
    );
end;
$$;

-- A page of runs across strategies, newest first (v1, 026, over the v2 query).
create or replace function cascadian_runs_v2(
    p_status text default null,
    p_workflow_id uuid default null,
    p_user_id uuid default null,
    p_trigger text default null,
    p_since timestamptz default null,
    p_until timestamptz default null,
    p_rerun_of uuid default null,
    p_before_at timestamptz default null,
    p_before_id uuid default null,
    p_limit integer default 50
)
returns table (
    id uuid,
    workflow_id uuid,
    user_id uuid,
    status text,
    trigger_kind text,
    rerun_of uuid,
    scheduled_for timestamptz,
    attempt integer,
    execution_started_at timestamptz,
    execution_completed_at timestamptz,
    duration_ms integer,
    nodes_executed integer,
    error_message text,
    workflow_name text
)
language plpgsql
stable
as $$
begin
    return query execute cascadian_runs_query_v2(
        p_status, p_workflow_id, p_user_id, p_trigger, p_since, p_until, p_rerun_of,
        p_before_at, p_before_id, p_limit
    );
end;
$$;

select cascadian_restrict_functions_v1();
