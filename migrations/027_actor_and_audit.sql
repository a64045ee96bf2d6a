-- Who changed what: every change to a strategy is made by an actor, checked and
-- written down in the same transaction as the change.
--
-- An actor is the jsonb every change function below takes last (p_actor):
--   {"kind": "operator" | "user" | "system",
--    "user_id": the user's id when kind is user (and only then),
--    "source": "api" | "cli" | "console" | "cron",
--    "address": the client's address, or null}
-- It is built in Python (cascadian.data.Actor) and passed as an argument on both
-- transports: Supabase's auth.uid() is not involved.
--
-- Each function is the previous version's change with two additions:
--   (a) a row in cascadian_audit_log (who, what, which strategy, when, from where,
--       and the strategy's fields that changed, before and after), written in the
--       same transaction as the change, and only when the change is made (a
--       refusal changes nothing and writes nothing);
--   (b) when the actor is a user, the statement that finds and locks the strategy
--       also requires that the user owns it, so another user's strategy answers
--       'not_found', exactly as a missing one does: the answer never confirms that
--       it exists.
-- The previous versions stay for the release still running during a deploy
-- (migrate, then deploy); a later migration drops them.

create table if not exists cascadian_audit_log (
    id bigint generated always as identity primary key,
    at timestamptz not null,
    actor_kind text not null check (actor_kind in ('operator', 'user', 'system')),
    actor_user_id uuid,
    source text not null check (source in ('api', 'cli', 'console', 'cron')),
    address text,
    action text not null,
    -- No foreign key: the log outlives what it tells of.
    workflow_id uuid,
    before jsonb,
    after jsonb,
    check ((actor_kind = 'user') = (actor_user_id is not null))
);
-- Newest first, and retention's oldest first, both walk (at, id); one strategy's
-- entries and one user's come from their own indexes.
create index if not exists cascadian_audit_log_at_idx on cascadian_audit_log (at, id);
create index if not exists cascadian_audit_log_workflow_idx
    on cascadian_audit_log (workflow_id, at, id) where workflow_id is not null;
create index if not exists cascadian_audit_log_user_idx
    on cascadian_audit_log (actor_user_id, at, id) where actor_user_id is not null;

-- The acting user's id when a user acts (the change functions then find only that
-- user's strategies), null for an operator or the system. A malformed actor raises
-- (SQLSTATE 22023), so no change is ever made unattributed or unscoped.
create or replace function cascadian_actor_user_v1(p_actor jsonb)
returns uuid
language plpgsql
immutable
as $$
declare
    v_kind text := p_actor ->> 'kind';
begin
    if jsonb_typeof(p_actor) is distinct from 'object'
       or v_kind is null or v_kind not in ('operator', 'user', 'system') then
        raise exception 'an actor needs a kind: operator, user or system' using errcode = '22023';
    elsif (p_actor ->> 'source') is null
          or (p_actor ->> 'source') not in ('api', 'cli', 'console', 'cron') then
        raise exception 'an actor needs a source: api, cli, console or cron'
            using errcode = '22023';
    elsif v_kind = 'user' and (p_actor ->> 'user_id') is null then
        raise exception 'a user actor needs the user''s id' using errcode = '22023';
    elsif v_kind <> 'user' and (p_actor ->> 'user_id') is not null then
        raise exception 'only a user actor has a user id' using errcode = '22023';
    end if;
    return (p_actor ->> 'user_id')::uuid;
end;
$$;

-- The fields of a strategy the log compares before and after a change. The graph
-- itself is not copied: a new graph is a new version, whose id and version are.
-- Read by name from the row, so a deployment whose table lacks one (the seed
-- schema has no description) leaves it out rather than failing.
create or replace function cascadian_audit_fields_v1(s workflow_sessions)
returns jsonb
language sql
immutable
as $$
    select coalesce(jsonb_object_agg(f.key, f.value), '{}'::jsonb)
    from jsonb_each(to_jsonb(s)) f
    where f.key in (
        'id', 'user_id', 'name', 'description', 'status', 'auto_run',
        'execution_interval_minutes', 'cron_expression', 'timezone', 'next_execution_at',
        'error_count', 'last_error', 'version', 'is_current_version'
    );
$$;

-- Write one entry: of p_before and p_after only the keys whose values differ
-- (p_before null: a creation, every field of p_after that is set).
create or replace function cascadian_audit_v1(
    p_actor jsonb,
    p_action text,
    p_workflow_id uuid,
    p_before jsonb,
    p_after jsonb,
    p_now timestamptz
)
returns void
language sql
as $$
    with changed as (
        select k.key
        from (
            select jsonb_object_keys(coalesce(p_before, '{}'::jsonb)) as key
            union
            select jsonb_object_keys(coalesce(p_after, '{}'::jsonb))
        ) k
        where p_before -> k.key is distinct from p_after -> k.key
          and (p_before is not null or jsonb_typeof(p_after -> k.key) <> 'null')
    )
    insert into cascadian_audit_log (
        at, actor_kind, actor_user_id, source, address, action, workflow_id, before, after
    )
    select
        p_now,
        p_actor ->> 'kind',
        (p_actor ->> 'user_id')::uuid,
        p_actor ->> 'source',
        left(p_actor ->> 'address', 100),
        p_action,
        p_workflow_id,
        case when p_before is not null then
            coalesce((select jsonb_object_agg(c.key, p_before -> c.key) from changed c), '{}')
        end,
        coalesce((select jsonb_object_agg(c.key, p_after -> c.key) from changed c), '{}');
$$;

-- Start (005's rules, archived refused as 010's v3 does): scheduled, running, a
-- fresh error streak, armed for p_next.
create or replace function cascadian_start_v4(
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
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    s workflow_sessions%rowtype;
    v_after workflow_sessions%rowtype;
begin
    select * into s from workflow_sessions w
    where w.id = p_id and (v_user is null or w.user_id = v_user)
    for update;
    if not found then
        return 'not_found';
    elsif s.status = 'archived' then
        return 'archived';
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
        updated_at = p_now
    where w.id = p_id
    returning * into v_after;
    perform cascadian_audit_v1(
        p_actor, 'start', p_id, cascadian_audit_fields_v1(s), cascadian_audit_fields_v1(v_after),
        p_now
    );
    return 'ok';
end;
$$;

-- Pause or stop (p_status): not scheduled any more; the owner is notified, told who
-- did it. A notification that cannot be sent does not undo the change.
create or replace function cascadian_halt_v4(
    p_id uuid,
    p_status text,
    p_now timestamptz,
    p_actor jsonb
)
returns text
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    s workflow_sessions%rowtype;
    v_after workflow_sessions%rowtype;
begin
    if p_status not in ('paused', 'stopped') then
        raise exception 'cascadian_halt_v4: p_status must be paused or stopped, not %', p_status;
    end if;

    select * into s from workflow_sessions w
    where w.id = p_id and (v_user is null or w.user_id = v_user)
    for update;
    if not found then
        return 'not_found';
    elsif s.status = 'archived' then
        return 'archived';
    elsif s.status = p_status and not s.auto_run then
        return 'already_' || p_status;
    end if;

    update workflow_sessions w
    set auto_run = false, status = p_status, updated_at = p_now
    where w.id = p_id
    returning * into v_after;
    perform cascadian_audit_v1(
        p_actor, case when p_status = 'paused' then 'pause' else 'stop' end, p_id,
        cascadian_audit_fields_v1(s), cascadian_audit_fields_v1(v_after), p_now
    );

    begin
        perform cascadian_send_notification_v1(
            s.user_id, s.id, 'strategy_' || p_status,
            'Strategy ' || p_status || ': ' || s.name,
            format(
                'Strategy "%s" was %s by %s.', s.name, p_status,
                case p_actor ->> 'kind' when 'user' then 'you' when 'system' then 'cascadian'
                    else 'an operator' end
            ),
            '/strategies/' || s.id,
            'normal',
            jsonb_build_object('previous_status', s.status),
            p_now
        );
    exception when others then
        raise warning 'cascadian_halt_v4: notification for strategy % not sent: %', s.id, sqlerrm;
    end;
    return 'ok';
end;
$$;

-- Resume a paused, stopped or auto-paused strategy: running from p_next, its
-- error state cleared.
create or replace function cascadian_resume_v4(
    p_id uuid,
    p_now timestamptz,
    p_next timestamptz,
    p_actor jsonb
)
returns text
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    s workflow_sessions%rowtype;
    v_after workflow_sessions%rowtype;
begin
    select * into s from workflow_sessions w
    where w.id = p_id and (v_user is null or w.user_id = v_user)
    for update;
    if not found then
        return 'not_found';
    elsif s.status = 'archived' then
        return 'archived';
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
        updated_at = p_now
    where w.id = p_id
    returning * into v_after;
    perform cascadian_audit_v1(
        p_actor, 'resume', p_id, cascadian_audit_fields_v1(s), cascadian_audit_fields_v1(v_after),
        p_now
    );
    return 'ok';
end;
$$;

-- Run now: claim the strategy for a manual run (005's rules, archived refused),
-- and log it with the run's id.
create or replace function cascadian_claim_manual_v4(
    p_id uuid,
    p_now timestamptz,
    p_lease_seconds double precision,
    p_actor jsonb
)
returns table (
    result text, execution_id uuid, workflow_id uuid, user_id uuid, name text, nodes text,
    edges text, variables text, trigger text, execution_interval_minutes integer,
    cron_expression text, timezone text, scheduled_for timestamptz, attempt integer,
    lease_expires_at timestamptz, next_execution_at timestamptz
)
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    s workflow_sessions%rowtype;
begin
    select * into s from workflow_sessions w
    where w.id = p_id and (v_user is null or w.user_id = v_user)
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
    perform cascadian_audit_v1(
        p_actor, 'run_now', p_id, '{}'::jsonb, jsonb_build_object('execution_id', s.lease_token),
        p_now
    );

    return query select
        'ok'::text, s.lease_token, s.id, s.user_id, s.name, s.nodes::text, s.edges::text,
        coalesce(s.variables, '{}'::jsonb)::text, s.trigger::text,
        coalesce(s.execution_interval_minutes, 5), s.cron_expression, s.timezone,
        null::timestamptz, 1, s.lease_expires_at, s.next_execution_at;
end;
$$;

-- Create a strategy (010's v1): p as v1 takes it, plus p.origin ('import' logs the
-- creation as an import). A strategy a user creates is that user's, whatever
-- p.user_id says.
create or replace function cascadian_create_strategy_v2(
    p jsonb,
    p_now timestamptz,
    p_actor jsonb
)
returns uuid
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    v_start boolean := coalesce((p ->> 'start')::boolean, false);
    s workflow_sessions%rowtype;
begin
    insert into workflow_sessions (
        user_id, name, description, nodes, edges, variables, trigger, status, auto_run,
        execution_interval_minutes, cron_expression, timezone, next_execution_at,
        created_at, updated_at
    )
    values (
        coalesce(v_user, (p ->> 'user_id')::uuid),
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
    returning * into s;
    perform cascadian_audit_v1(
        p_actor, case when p ->> 'origin' = 'import' then 'import' else 'create' end, s.id,
        null, cascadian_audit_fields_v1(s), p_now
    );
    return s.id;
end;
$$;

-- A new graph: a new version (010's v1 rules), logged against the new version,
-- with both ids.
create or replace function cascadian_new_version_v2(
    p_id uuid,
    p jsonb,
    p_now timestamptz,
    p_actor jsonb
)
returns table (result text, id uuid)
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    s workflow_sessions%rowtype;
    v_after workflow_sessions%rowtype;
    v_new uuid := gen_random_uuid();
    v_schedule boolean := coalesce((p ->> 'schedule')::boolean, false);
    v_scheduled boolean;
begin
    select * into s from workflow_sessions w
    where w.id = p_id and (v_user is null or w.user_id = v_user)
    for update;
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
    )).*
    returning * into v_after;
    perform cascadian_audit_v1(
        p_actor, 'new_version', v_new, cascadian_audit_fields_v1(s),
        cascadian_audit_fields_v1(v_after), p_now
    );
    return query select 'ok'::text, v_new;
end;
$$;

-- Rename, describe or reschedule in place (010's v1 rules).
create or replace function cascadian_update_strategy_v2(
    p_id uuid,
    p jsonb,
    p_now timestamptz,
    p_actor jsonb
)
returns text
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    s workflow_sessions%rowtype;
    v_after workflow_sessions%rowtype;
    v_schedule boolean := coalesce((p ->> 'schedule')::boolean, false);
begin
    select * into s from workflow_sessions w
    where w.id = p_id and (v_user is null or w.user_id = v_user)
    for update;
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
    where w.id = p_id
    returning * into v_after;
    perform cascadian_audit_v1(
        p_actor, 'update', p_id, cascadian_audit_fields_v1(s), cascadian_audit_fields_v1(v_after),
        p_now
    );
    return 'ok';
end;
$$;

-- Archive (010's v1 rules): never claimed or run again; its runs and counters stay.
create or replace function cascadian_archive_strategy_v2(
    p_id uuid,
    p_now timestamptz,
    p_actor jsonb
)
returns text
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    s workflow_sessions%rowtype;
    v_after workflow_sessions%rowtype;
begin
    select * into s from workflow_sessions w
    where w.id = p_id and (v_user is null or w.user_id = v_user)
    for update;
    if not found then
        return 'not_found';
    elsif not s.is_current_version then
        return 'superseded';
    elsif s.status = 'archived' then
        return 'archived';
    end if;
    update workflow_sessions w
    set status = 'archived', auto_run = false, next_execution_at = null, updated_at = p_now
    where w.id = p_id
    returning * into v_after;
    perform cascadian_audit_v1(
        p_actor, 'archive', p_id, cascadian_audit_fields_v1(s), cascadian_audit_fields_v1(v_after),
        p_now
    );
    return 'ok';
end;
$$;

do $$
begin
    if to_regnamespace('auth') is null
       or (select count(*) from pg_roles
           where rolname in ('anon', 'authenticated', 'service_role')) < 3 then
        return;
    end if;
    -- Only the store (through its SECURITY DEFINER functions) reads and writes it.
    alter table cascadian_audit_log enable row level security;
    revoke all on table cascadian_audit_log from anon, authenticated;
end;
$$;

select cascadian_restrict_functions_v1();
