-- Supabase: row-level security, and the state-changing functions reserved to
-- the service role.
--
-- Supabase exposes the public schema over its Data API to anyone holding the
-- project's publishable (anon) key, and grants EXECUTE on new functions to
-- anon and authenticated. So where Supabase's `auth` schema and roles exist:
--   - every table of ours gets row-level security; signed-in users may read
--     their own strategies, runs, node logs, watchlists and notifications, and
--     nothing else; anon reads nothing; nobody writes through the Data API;
--   - every cascadian_* function is SECURITY DEFINER with a fixed search_path,
--     and only service_role (the key the Supabase store uses) may execute it.
-- The service role bypasses row-level security, as does the owner of the
-- tables that the SECURITY DEFINER functions run as.
--
-- On plain PostgreSQL (no `auth` schema) this file only creates the helper
-- function below and changes nothing else.

-- Restrict every cascadian_* function of this schema to service_role. A later
-- migration that adds a function ends with `select cascadian_restrict_functions_v1();`.
-- Answers how many functions it restricted (0 where Supabase's roles are absent).
create or replace function cascadian_restrict_functions_v1()
returns integer
language plpgsql
as $$
declare
    f record;
    n integer := 0;
begin
    if to_regnamespace('auth') is null
       or (select count(*) from pg_roles
           where rolname in ('anon', 'authenticated', 'service_role')) < 3 then
        return 0;
    end if;
    for f in
        select p.oid::regprocedure as signature, ns.nspname as schema
        from pg_proc p
        join pg_namespace ns on ns.oid = p.pronamespace
        where ns.nspname = current_schema() and p.proname like 'cascadian\_%'
    loop
        -- pg_temp last: a caller's temporary objects cannot shadow ours.
        execute format(
            'alter function %s security definer set search_path = %I, pg_temp',
            f.signature, f.schema
        );
        execute format(
            'revoke execute on function %s from public, anon, authenticated', f.signature
        );
        execute format('grant execute on function %s to service_role', f.signature);
        n := n + 1;
    end loop;
    return n;
end;
$$;

do $$
begin
    if to_regnamespace('auth') is null
       or to_regprocedure('auth.uid()') is null
       or (select count(*) from pg_roles
           where rolname in ('anon', 'authenticated', 'service_role')) < 3 then
        return;
    end if;

    alter table workflow_sessions enable row level security;
    alter table workflow_executions enable row level security;
    alter table strategy_execution_logs enable row level security;
    alter table strategy_watchlists enable row level security;
    alter table notifications enable row level security;
    -- Operational tables: no policy, so only the service role sees them. The
    -- migrations ledger is absent when the Supabase CLI applies these files.
    alter table cron_ticks enable row level security;
    if to_regclass('cascadian_migrations') is not null then
        alter table cascadian_migrations enable row level security;
    end if;

    -- Owner-read policies. `(select auth.uid())` is evaluated once per query,
    -- not once per row. Re-created so that re-applying this block is harmless.
    drop policy if exists cascadian_owner_read on workflow_sessions;
    create policy cascadian_owner_read on workflow_sessions
        for select to authenticated
        using (user_id = (select auth.uid()));

    drop policy if exists cascadian_owner_read on workflow_executions;
    create policy cascadian_owner_read on workflow_executions
        for select to authenticated
        using (user_id = (select auth.uid()));

    drop policy if exists cascadian_owner_read on notifications;
    create policy cascadian_owner_read on notifications
        for select to authenticated
        using (user_id = (select auth.uid()));

    -- Logs and watchlist entries belong to the strategy that wrote them.
    drop policy if exists cascadian_owner_read on strategy_execution_logs;
    create policy cascadian_owner_read on strategy_execution_logs
        for select to authenticated
        using (exists (
            select 1 from workflow_sessions s
            where s.id = strategy_execution_logs.workflow_id and s.user_id = (select auth.uid())
        ));

    drop policy if exists cascadian_owner_read on strategy_watchlists;
    create policy cascadian_owner_read on strategy_watchlists
        for select to authenticated
        using (exists (
            select 1 from workflow_sessions s
            where s.id = strategy_watchlists.workflow_id and s.user_id = (select auth.uid())
        ));

    perform cascadian_restrict_functions_v1();
end;
$$;
