-- Operators across strategies: the runs list (every run, filtered, paged by key),
-- a re-run of a failed run with the inputs it had, and the selection a bulk
-- pause, resume or stop acts on.
--
-- The runs list is read newest first, (execution_started_at, id) descending, and
-- paged by that key, never by an offset: a page deep in a million runs costs what
-- the first one does. Which index serves which filter (measured at 1M runs in
-- docs/performance.md, "Runs list at 1M"):
--   - none, status, a time window: the (execution_started_at, id) index below,
--     walked backwards; a status is a filter on that walk, not an index of its own,
--     because the finish changes a run's status, and an index on status (or a
--     predicate on it) would make every finish a non-HOT update with an entry in
--     every index of the table (migrations/020). The app's own schema has a status
--     index already (its finish is never HOT), which the planner may use there;
--   - a strategy: workflow_executions_workflow_idx (002), both schemas;
--   - an owner: (user_id, execution_started_at), created only where no such index
--     exists (the app's schema has idx_workflow_executions_user_id);
--   - a trigger other than scheduled (manual, rerun, and the triggers' kinds to
--     come): a partial index, so the scheduled runs, nearly all of them, add no
--     entry to it;
--   - the re-runs of a run: a partial index on rerun_of (re-runs only).
-- Only columns a run's insert sets and its finish never changes are indexed here,
-- so the finish stays a HOT update where it was one.

-- The started-at index gains the id, the list's tie-break, and replaces 013's,
-- which retention's range reads use just as well: one index, not two, per insert.
create index if not exists workflow_executions_started_id_idx
    on workflow_executions (execution_started_at, id);
drop index if exists workflow_executions_started_idx;

do $$
begin
    if not exists (
        select 1
        from pg_index i
        where i.indrelid = 'workflow_executions'::regclass
          and pg_get_indexdef(i.indexrelid) ~ '\(user_id, execution_started_at'
          and i.indpred is null
    ) then
        create index workflow_executions_owner_idx
            on workflow_executions (user_id, execution_started_at, id);
    end if;
end;
$$;

-- The trigger is an open set: scheduled, manual, rerun (a re-run of a failed run),
-- and whatever kinds triggers add (a market event, say). It stays a short word.
alter table workflow_executions drop constraint if exists workflow_executions_trigger_kind_check;
alter table workflow_executions
    add constraint workflow_executions_trigger_kind_check
        check (trigger_kind ~ '^[a-z][a-z_-]{0,31}$');

create index if not exists workflow_executions_trigger_idx
    on workflow_executions (trigger_kind, execution_started_at, id)
    where trigger_kind <> 'scheduled';

-- A re-run points at the run it repeats. A plain id, not a foreign key: a foreign
-- key would queue a check on every run's insert (the claim, nearly all of them with
-- no re-run to check) and an update of the re-runs on every pruned run. A re-run
-- whose failed run was pruned links to a run that is gone, and says so (404).
alter table workflow_executions add column if not exists rerun_of uuid;
create index if not exists workflow_executions_rerun_of_idx
    on workflow_executions (rerun_of) where rerun_of is not null;

-- The runs list's query, as text with its values quoted in, so that each call is
-- planned for the filters it has (a generic plan over "p is null or ..." would
-- use no index well). bench/runs_list.py EXPLAINs this very text.
create or replace function cascadian_runs_query_v1(
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
begin
    if p_status is not null then
        w := w || format(' and e.status = %L', p_status);
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
        'from (select * from workflow_executions e where %s '
        'order by e.execution_started_at desc, e.id desc limit %s) e '
        'left join workflow_sessions s on s.id = e.workflow_id '
        'order by e.execution_started_at desc, e.id desc',
        w, greatest(1, least(coalesce(p_limit, 50), 501))
    );
end;
$$;

-- A page of runs across strategies, newest first: every filter optional, paged by
-- the key of the last run seen (p_before_at, p_before_id). Read-only.
create or replace function cascadian_runs_v1(
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
    return query execute cascadian_runs_query_v1(
        p_status, p_workflow_id, p_user_id, p_trigger, p_since, p_until, p_rerun_of,
        p_before_at, p_before_id, p_limit
    );
end;
$$;

-- Claim a strategy to re-run one of its failed runs, with that run's recorded
-- graph, variables and trigger (its workflow_snapshot, copied whole into the new
-- run's row, so whatever the run kept, the re-run keeps). It is a manual run in
-- every other way (cascadian_claim_manual_v4, migrations/027): the strategy's lease,
-- so it never overlaps another run of it; refused for an archived strategy or an
-- old version; the schedule unmoved (next_execution_at answered to be recorded
-- back); counted in the counters and towards the auto-pause by the finish, as any
-- run is; the actor's, in the audit log (action `rerun`, with both runs' ids), and a
-- user actor re-runs only runs of their own strategies (another's: run_not_found).
-- The actor and audit functions are 027's: PL/pgSQL finds them when it runs.
-- Refusals: run_not_found, not_failed (only a failed run is re-run), no_snapshot
-- (the run kept no graph, e.g. one the original app wrote), and claim_manual's.
create or replace function cascadian_claim_rerun_v1(
    p_execution_id uuid,
    p_now timestamptz,
    p_lease_seconds double precision,
    p_actor jsonb
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
    v_user uuid := cascadian_actor_user_v1(p_actor);
    e workflow_executions%rowtype;
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
    elsif s.lease_expires_at > p_now then
        result := 'run_in_flight';
        return next;
        return;
    end if;

    if s.lease_token is not null then
        update workflow_executions x
        set status = 'cancelled',
            execution_completed_at = p_now,
            error_message = 'abandoned: the lease expired before the run was recorded'
        where x.id = s.lease_token and x.status = 'running';
    end if;

    update workflow_sessions w
    set lease_token = gen_random_uuid(),
        lease_expires_at = p_now + make_interval(secs => p_lease_seconds)
    where w.id = s.id
    returning * into s;

    insert into workflow_executions (
        id, workflow_id, user_id, execution_started_at, status,
        trigger_kind, scheduled_for, attempt, workflow_snapshot, rerun_of
    )
    values (
        s.lease_token, s.id, s.user_id, p_now, 'running', 'rerun', null, 1,
        e.workflow_snapshot, e.id
    );
    perform cascadian_audit_v1(
        p_actor, 'rerun', s.id, '{}'::jsonb,
        jsonb_build_object('execution_id', s.lease_token, 'rerun_of', e.id),
        p_now
    );

    return query select
        'ok'::text, s.lease_token, s.id, s.user_id,
        coalesce(e.workflow_snapshot->>'name', s.name),
        (e.workflow_snapshot->'nodes')::text,
        coalesce(e.workflow_snapshot->'edges', '[]'::jsonb)::text,
        coalesce(e.workflow_snapshot->'variables', '{}'::jsonb)::text,
        (e.workflow_snapshot->'trigger')::text,
        coalesce(s.execution_interval_minutes, 5), s.cron_expression, s.timezone,
        null::timestamptz, 1, s.lease_expires_at, s.next_execution_at;
end;
$$;

-- The current strategies a bulk pause, resume or stop would act on, by name then
-- id: a status ('auto-paused': status error and not scheduled, as the metrics
-- count it), an owner, a name substring, and "auto-paused within the last
-- p_auto_paused_within seconds" (its last run, the one that paused it, that
-- recent). At most p_limit rows; `total` counts every match, so a selection too
-- large to act on says so. Read-only: each change then goes through the control
-- functions, one strategy at a time.
create or replace function cascadian_bulk_selection_v1(
    p_now timestamptz,
    p_status text default null,
    p_user_id uuid default null,
    p_q text default null,
    p_auto_paused_within double precision default null,
    p_limit integer default 500
)
returns table (
    id uuid,
    user_id uuid,
    name text,
    status text,
    auto_run boolean,
    error_count integer,
    last_executed_at timestamptz,
    total bigint
)
language sql
stable
as $$
    select s.id, s.user_id, s.name, s.status, s.auto_run, coalesce(s.error_count, 0),
           s.last_executed_at, count(*) over ()
    from workflow_sessions s
    where s.is_current_version
      and s.status <> 'archived'
      and (p_status is null
           or (p_status = 'auto-paused' and s.status = 'error' and not s.auto_run)
           or s.status = p_status)
      and (p_user_id is null or s.user_id = p_user_id)
      and (p_q is null or strpos(lower(s.name), lower(p_q)) > 0)
      and (p_auto_paused_within is null
           or (s.status = 'error' and not s.auto_run
               and s.last_executed_at > p_now - make_interval(secs => p_auto_paused_within)))
    order by s.name, s.id
    limit greatest(0, least(coalesce(p_limit, 500), 5000));
$$;

select cascadian_restrict_functions_v1();
