-- Supabase's Data API no longer exposes new tables and functions by itself: from
-- 30 May 2026 on new projects, and from 30 October 2026 on every project, a table
-- created in `public` gets no grants to anon, authenticated or service_role, so a
-- project built from our migrations after that date gives signed-in users nothing to
-- read, whatever its row-level security policies allow. Tables that existed before
-- keep their grants (an existing Cascadian deployment's, for one).
--
-- So, where Supabase's roles exist, grant exactly what our policies (006, 009, 011)
-- let signed-in users do, nothing to anon, and the service role (the admin key) the
-- table access it had before. The store itself only calls
-- functions, which are SECURITY DEFINER and granted to service_role by
-- cascadian_restrict_functions_v1; the store's health ping is one of them now, so it
-- needs no table grant either.

create or replace function cascadian_ping_v1()
returns integer
language sql
stable
as $$
    select 1
$$;

create or replace function cascadian_grant_data_api_v1()
returns integer
language plpgsql
as $$
declare
    t text;
    n integer := 0;
begin
    if to_regnamespace('auth') is null
       or (select count(*) from pg_roles
           where rolname in ('anon', 'authenticated', 'service_role')) < 3 then
        return 0;
    end if;
    -- Owner-read policies: workflow_sessions, runs, node logs, watchlists,
    -- notifications, paper orders.
    foreach t in array array[
        'workflow_sessions', 'workflow_executions', 'strategy_execution_logs',
        'strategy_watchlists', 'notifications', 'cascadian_paper_orders'
    ] loop
        if to_regclass(t) is not null then
            execute format('grant select on table %I to authenticated', t);
            n := n + 1;
        end if;
    end loop;
    -- The service role is the project's admin key: Supabase's advice for new tables
    -- is to grant it what it had before (it bypasses row-level security anyway).
    foreach t in array array[
        'workflow_sessions', 'workflow_executions', 'strategy_execution_logs',
        'strategy_watchlists', 'notifications', 'notification_settings',
        'cascadian_paper_orders', 'cron_ticks'
    ] loop
        if to_regclass(t) is not null then
            execute format('grant select, insert, update, delete on table %I to service_role', t);
        end if;
    end loop;
    -- The owner-all policy (009): users keep their own notification settings.
    if to_regclass('notification_settings') is not null then
        grant select, insert, update, delete on table notification_settings to authenticated;
        n := n + 1;
    end if;
    return n;
end;
$$;

select cascadian_grant_data_api_v1();
select cascadian_restrict_functions_v1();
