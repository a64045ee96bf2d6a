-- Strategies as a resource: create, list, read, edit (a new version for a new
-- graph), rename or reschedule, and archive. Each change is one function, so
-- one transaction, shared by the Postgres and Supabase stores; each answers a
-- result code as the control functions of 005 do, plus:
--   archived    the strategy is archived: it never runs or changes again
-- Schedule maths stays in Python: the caller passes the next slot in.
--
-- Versions follow the original builder (007, 008): a new graph is a new row,
-- version + 1, whose parent_workflow_id is the row it replaces; the old row is
-- marked is_current_version = false, keeps its runs, counters and (as the
-- builder leaves it) auto_run, and is never claimed again. Runs point at the
-- row, so at the version, they ran.

-- Listing: the default order (by name) walks the first index and stops at its
-- page; one owner's strategies come from the second. Every other list reads the
-- matching rows once, for its page and its total together. Every recorded run
-- updates its strategy's row, and such an update adds an entry to every index on
-- the table, so there are no more list indexes than these two (measured in
-- docs/performance.md, bench/list_strategies.py).
create index if not exists workflow_sessions_list_name_idx
    on workflow_sessions (name, id) where is_current_version;
create index if not exists workflow_sessions_list_owner_idx
    on workflow_sessions (user_id, name, id) where is_current_version;
-- A strategy's later versions, found from an old one.
create index if not exists workflow_sessions_parent_idx
    on workflow_sessions (parent_workflow_id) where parent_workflow_id is not null;

-- One strategy as the API reads it: the row without its lease token, with
-- counters as numbers (the builder leaves them null), run_in_flight,
-- success_rate, and current_version_id (the current row of its line of versions,
-- following parent_workflow_id down from this one). Null: no such strategy.
create or replace function cascadian_strategy_v1(p_id uuid, p_now timestamptz)
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
        'run_in_flight', coalesce(s.lease_expires_at > p_now, false),
        'current_version_id', (
            select l.id from later l where l.is_current_version order by l.depth limit 1
        )
    )
    from workflow_sessions s
    where s.id = p_id;
$$;

-- A page of current versions, as {"total": <all that match>, "data": [<rows>]}.
-- p: {status?, user_id?, auto_run?, q? (a substring of the name, any case),
-- sort: name | next_run | last_run | error_streak, descending: bool, limit,
-- offset}. Archived strategies are listed only when p.status asks for them.
-- By name (the default) without a search, the page walks
-- workflow_sessions_list_name_idx and stops, and the total is counted apart. In
-- any other order, or with a search (which a walk would test against every name a
-- second time when few match), the matching rows are read once: their ids and sort keys are kept, counted for the total, and the page is
-- picked from them (a top-N sort); then the page's rows are read by id. Dynamic
-- SQL so each shape gets its own plan (one owner's rows come from
-- workflow_sessions_list_owner_idx); only whitelisted column names reach the
-- statement, every value is a parameter.
create or replace function cascadian_list_strategies_v1(p jsonb, p_now timestamptz)
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
        raise exception 'cascadian_list_strategies_v1: unknown sort %', p ->> 'sort';
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
                coalesce(s.lease_expires_at > $2, false) as run_in_flight,
                s.lease_expires_at, s.version, s.is_current_version, s.parent_workflow_id,
                s.created_at, s.updated_at
            from workflow_sessions s
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

-- Create a strategy. p: {user_id, name, description, nodes, edges, variables,
-- trigger, interval_minutes, cron, timezone, start, next_execution_at}. A draft
-- unless p.start (then running, auto_run, armed for p.next_execution_at). The
-- graph was validated by the caller. Answers the new id.
create or replace function cascadian_create_strategy_v1(p jsonb, p_now timestamptz)
returns uuid
language plpgsql
as $$
declare
    v_start boolean := coalesce((p ->> 'start')::boolean, false);
    v_id uuid;
begin
    insert into workflow_sessions (
        user_id, name, description, nodes, edges, variables, trigger, status, auto_run,
        execution_interval_minutes, cron_expression, timezone, next_execution_at,
        created_at, updated_at
    )
    values (
        (p ->> 'user_id')::uuid,
        p ->> 'name',
        p ->> 'description',
        coalesce(p -> 'nodes', '[]'::jsonb),
        coalesce(p -> 'edges', '[]'::jsonb),
        coalesce(p -> 'variables', '{}'::jsonb),
        case when jsonb_typeof(p -> 'trigger') = 'object' then p -> 'trigger' end,
        case when v_start then 'running' else 'draft' end,
        v_start,
        coalesce((p ->> 'interval_minutes')::integer, 5),
        p ->> 'cron',
        coalesce(p ->> 'timezone', 'UTC'),
        case when v_start then (p ->> 'next_execution_at')::timestamptz end,
        p_now,
        p_now
    )
    returning id into v_id;
    return v_id;
end;
$$;

-- A new graph for a strategy: a new row, the current version, copying every
-- column of the old one (the builder's tags, folder, ... included) but the
-- graph, which p gives (nodes, edges, variables, trigger), and any of name,
-- description and schedule p also gives (as cascadian_update_strategy_v1 takes
-- them). Its runs, counters and lease start afresh; its status, auto_run and
-- (unless p changes it) schedule and next slot carry over, so a running
-- strategy keeps running, now on the new graph. The old row is marked not
-- current.
-- Refused for an old version (superseded), an archived strategy, and while a
-- run holds the lease (its outcome would re-arm the old row's schedule).
create or replace function cascadian_new_version_v1(p_id uuid, p jsonb, p_now timestamptz)
returns table (result text, id uuid)
language plpgsql
as $$
declare
    s workflow_sessions%rowtype;
    v_new uuid := gen_random_uuid();
    v_schedule boolean := coalesce((p ->> 'schedule')::boolean, false);
    v_scheduled boolean;
begin
    select * into s from workflow_sessions w where w.id = p_id for update;
    if not found then
        return query select 'not_found'::text, null::uuid;
        return;
    elsif not s.is_current_version then
        return query select 'superseded'::text, null::uuid;
        return;
    elsif s.status = 'archived' then
        return query select 'archived'::text, null::uuid;
        return;
    elsif s.lease_expires_at > p_now then
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
    )).*;
    return query select 'ok'::text, v_new;
end;
$$;

-- Rename, describe or reschedule a strategy in place (no new version). p:
-- {name?, description?, interval_minutes?, cron?, timezone?, schedule (whether
-- the schedule changes), next_execution_at}. A scheduled strategy is re-armed
-- for p.next_execution_at. A schedule change waits for a run in flight, whose
-- outcome would re-arm the old schedule; a rename does not.
create or replace function cascadian_update_strategy_v1(p_id uuid, p jsonb, p_now timestamptz)
returns text
language plpgsql
as $$
declare
    s workflow_sessions%rowtype;
    v_schedule boolean := coalesce((p ->> 'schedule')::boolean, false);
begin
    select * into s from workflow_sessions w where w.id = p_id for update;
    if not found then
        return 'not_found';
    elsif not s.is_current_version then
        return 'superseded';
    elsif s.status = 'archived' then
        return 'archived';
    elsif v_schedule and s.lease_expires_at > p_now then
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
    where w.id = p_id;
    return 'ok';
end;
$$;

-- Archive a strategy: status archived, auto_run off, never claimed or run again
-- (the functions below refuse it too); its runs and counters stay. A run in
-- flight finishes and is recorded, and does not re-arm it. An old version is
-- refused: archive the current one.
create or replace function cascadian_archive_strategy_v1(p_id uuid, p_now timestamptz)
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
    elsif s.status = 'archived' then
        return 'archived';
    end if;
    update workflow_sessions w
    set status = 'archived', auto_run = false, next_execution_at = null, updated_at = p_now
    where w.id = p_id;
    return 'ok';
end;
$$;

-- The control calls of 008, refusing an archived strategy (which would
-- otherwise be started, resumed, paused out of its archive, or run now).
-- Each locks the row, so the check and the change are one transaction.
create or replace function cascadian_archived_v1(p_id uuid)
returns boolean
language sql
as $$
    select coalesce(
        (select s.status = 'archived' from workflow_sessions s where s.id = p_id for update),
        false
    );
$$;

create or replace function cascadian_start_v3(
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
begin
    if cascadian_archived_v1(p_id) then
        return 'archived';
    end if;
    return cascadian_start_v2(p_id, p_now, p_interval, p_cron, p_timezone, p_next);
end;
$$;

create or replace function cascadian_resume_v3(p_id uuid, p_now timestamptz, p_next timestamptz)
returns text
language plpgsql
as $$
begin
    if cascadian_archived_v1(p_id) then
        return 'archived';
    end if;
    return cascadian_resume_v2(p_id, p_now, p_next);
end;
$$;

create or replace function cascadian_halt_v3(p_id uuid, p_status text, p_now timestamptz)
returns text
language plpgsql
as $$
begin
    if cascadian_archived_v1(p_id) then
        return 'archived';
    end if;
    return cascadian_halt_v2(p_id, p_status, p_now);
end;
$$;

create or replace function cascadian_claim_manual_v3(
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
begin
    if cascadian_archived_v1(p_id) then
        result := 'archived';
        return next;
        return;
    end if;
    return query select * from cascadian_claim_manual_v2(p_id, p_now, p_lease_seconds);
end;
$$;

select cascadian_restrict_functions_v1();
