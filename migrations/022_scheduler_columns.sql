-- The scheduler's columns of workflow_sessions are the scheduler's, also where the
-- original app's signed-in users write their own strategies through Supabase's Data
-- API (the owner policies of 009, on an existing deployment).
--
-- A row policy cannot tell one column from another: the owner's update policy let a
-- signed-in user un-archive a strategy, set next_execution_at to now to run at every
-- tick, write the counters, clear a live lease, or insert a running, due strategy,
-- past the control API's 409s and the auto-pause. So a trigger refuses, for the Data
-- API's roles only (anon, authenticated: `current_user`, which is the function's
-- owner inside our SECURITY DEFINER functions and the service role for the service
-- key, so neither the scheduler nor the app's server routes are affected):
--   - any change to lease_token, lease_expires_at, next_execution_at,
--     last_executed_at, execution_count, success_count, error_count,
--     average_execution_time_ms, last_error and auto_run, and an insert that sets
--     any of them (counters may be 0, auto_run false);
--   - a change to the schedule (execution_interval_minutes, cron_expression,
--     timezone) while the strategy is scheduled (auto_run): the API validates a
--     schedule and moves the next run with it;
--   - a status change out of 'archived', or into 'running' or 'error' (start and
--     resume are the API's); draft, active, paused, stopped and archived stay the
--     owner's, as the builder sets them;
--   - setting is_current_version back to true (an old version is never run again).
-- What the builder writes (name, description, nodes, edges, trigger, variables,
-- tags, folder, is_favorite, is_template, a new version's row) is untouched.
--
-- Refusals are SQLSTATE 42501 (insufficient_privilege; PostgREST answers 403) with
-- a message naming the columns or the status. The trigger's WHEN clause leaves the
-- scheduler's own updates without a function call. Only where Supabase's roles
-- exist; on plain PostgreSQL this file creates the function and nothing else.
-- `drop trigger cascadian_scheduler_columns on workflow_sessions;` undoes it
-- (docs/existing-deployment.md).

create or replace function cascadian_guard_scheduler_columns_v1()
returns trigger
language plpgsql
as $$
declare
    written text[];
    statuses constant text[] := array['draft', 'active', 'paused', 'stopped', 'archived'];
begin
    if tg_op = 'INSERT' then
        written := array_remove(array[
            case when new.lease_token is not null then 'lease_token' end,
            case when new.lease_expires_at is not null then 'lease_expires_at' end,
            case when new.next_execution_at is not null then 'next_execution_at' end,
            case when new.last_executed_at is not null then 'last_executed_at' end,
            case when coalesce(new.execution_count, 0) <> 0 then 'execution_count' end,
            case when coalesce(new.success_count, 0) <> 0 then 'success_count' end,
            case when coalesce(new.error_count, 0) <> 0 then 'error_count' end,
            case when new.average_execution_time_ms is not null
                then 'average_execution_time_ms' end,
            case when new.last_error is not null then 'last_error' end,
            case when coalesce(new.auto_run, false) then 'auto_run' end
        ], null);
    else
        written := array_remove(array[
            case when new.lease_token is distinct from old.lease_token then 'lease_token' end,
            case when new.lease_expires_at is distinct from old.lease_expires_at
                then 'lease_expires_at' end,
            case when new.next_execution_at is distinct from old.next_execution_at
                then 'next_execution_at' end,
            case when new.last_executed_at is distinct from old.last_executed_at
                then 'last_executed_at' end,
            case when new.execution_count is distinct from old.execution_count
                then 'execution_count' end,
            case when new.success_count is distinct from old.success_count
                then 'success_count' end,
            case when new.error_count is distinct from old.error_count then 'error_count' end,
            case when new.average_execution_time_ms is distinct from old.average_execution_time_ms
                then 'average_execution_time_ms' end,
            case when new.last_error is distinct from old.last_error then 'last_error' end,
            case when new.auto_run is distinct from old.auto_run then 'auto_run' end,
            case when coalesce(old.auto_run, false)
                and new.execution_interval_minutes is distinct from old.execution_interval_minutes
                then 'execution_interval_minutes' end,
            case when coalesce(old.auto_run, false)
                and new.cron_expression is distinct from old.cron_expression
                then 'cron_expression' end,
            case when coalesce(old.auto_run, false) and new.timezone is distinct from old.timezone
                then 'timezone' end
        ], null);
    end if;

    if written <> '{}' then
        raise exception 'workflow_sessions: % cannot be written through the Data API',
                array_to_string(written, ', ')
            using errcode = 'insufficient_privilege',
                detail = 'The lease, the counters, the next run, auto_run, and the schedule '
                    'of a scheduled strategy are written by cascadian''s scheduler.',
                hint = 'Start, pause, resume or stop a strategy, or change its schedule, '
                    'through cascadian''s API (/api/strategies/{id}).';
    end if;

    if tg_op = 'UPDATE' and new.status is distinct from old.status then
        if old.status = 'archived' then
            raise exception 'workflow_sessions: an archived strategy stays archived '
                    '(status % refused)', quote_nullable(new.status)
                using errcode = 'insufficient_privilege',
                    hint = 'Make a new strategy from its graph instead.';
        elsif new.status is null or new.status <> all (statuses) then
            raise exception 'workflow_sessions: status % cannot be set through the Data API',
                    quote_nullable(new.status)
                using errcode = 'insufficient_privilege',
                    detail = 'A signed-in user may set draft, active, paused, stopped or '
                        'archived; running and error are the scheduler''s.',
                    hint = 'Start or resume a strategy through cascadian''s API '
                        '(/api/strategies/{id}/start, /resume).';
        end if;
    end if;

    if tg_op = 'UPDATE' and new.is_current_version and not old.is_current_version then
        raise exception 'workflow_sessions: an old version of a strategy stays old '
                '(is_current_version cannot be set back to true)'
            using errcode = 'insufficient_privilege',
                hint = 'Save the graph as a new version instead.';
    end if;
    return new;
end;
$$;

do $$
begin
    if to_regnamespace('auth') is null
       or (select count(*) from pg_roles
           where rolname in ('anon', 'authenticated', 'service_role')) < 3 then
        return;
    end if;
    create or replace trigger cascadian_scheduler_columns
        before insert or update on workflow_sessions
        for each row
        when (current_user in ('anon', 'authenticated'))
        execute function cascadian_guard_scheduler_columns_v1();
end;
$$;

select cascadian_restrict_functions_v1();
