-- Row-level security that holds on an existing Cascadian deployment too.
--
-- Permissive policies are OR'd: the owner-read policies of 006 do nothing
-- while the original app's policies still grant more (public read of every
-- notification, anyone may insert one, anonymous workflows readable and
-- writable without a JWT). So, where Supabase's auth schema and roles exist,
-- every policy on the tables cascadian writes that is not one of ours is saved
-- in cascadian_replaced_policies and dropped, and ours are the only ones left:
--   - anon reads and writes nothing;
--   - a signed-in user reads only their own strategies, runs, node logs,
--     watchlists and notifications (006), and their own notification settings;
--   - where the original app was using the Data API (it had policies on
--     workflow_sessions), its signed-in users keep what its pages do: save,
--     edit and delete their own strategies, mark their own notifications read
--     or archived, remove their own watchlist entries, and edit their own
--     notification settings. Inserting runs, node logs or notifications from a
--     browser is no longer possible (cascadian writes those).
-- cascadian_restore_policies_v1() puts the saved policies back (see
-- docs/existing-deployment.md, "Rolling back").

create table if not exists cascadian_replaced_policies (
    table_name text not null,
    policy_name text not null,
    permissive text not null,
    roles name[] not null,
    command text not null,
    using_expression text,
    check_expression text,
    replaced_at timestamptz not null default now(),
    primary key (table_name, policy_name)
);

do $$
declare
    p record;
    app_used_data_api boolean;
begin
    if to_regnamespace('auth') is null
       or to_regprocedure('auth.uid()') is null
       or (select count(*) from pg_roles
           where rolname in ('anon', 'authenticated', 'service_role')) < 3 then
        return;
    end if;

    alter table cascadian_replaced_policies enable row level security;
    alter table notification_settings enable row level security;

    select exists (
        select 1 from pg_policies
        where schemaname = current_schema() and tablename = 'workflow_sessions'
          and policyname not like 'cascadian\_%'
    ) into app_used_data_api;

    for p in
        select * from pg_policies
        where schemaname = current_schema()
          and tablename in (
              'workflow_sessions', 'workflow_executions', 'strategy_execution_logs',
              'strategy_watchlists', 'notifications', 'notification_settings', 'cron_ticks'
          )
          and policyname not like 'cascadian\_%'
    loop
        insert into cascadian_replaced_policies (
            table_name, policy_name, permissive, roles, command, using_expression, check_expression
        )
        values (p.tablename, p.policyname, p.permissive, p.roles, p.cmd, p.qual, p.with_check)
        on conflict do nothing;
        execute format('drop policy %I on %I', p.policyname, p.tablename);
    end loop;

    drop policy if exists cascadian_owner_all on notification_settings;
    create policy cascadian_owner_all on notification_settings
        for all to authenticated
        using (user_id = (select auth.uid()))
        with check (user_id = (select auth.uid()));

    if not app_used_data_api then
        return;
    end if;

    drop policy if exists cascadian_owner_insert on workflow_sessions;
    create policy cascadian_owner_insert on workflow_sessions
        for insert to authenticated
        with check (user_id = (select auth.uid()));
    drop policy if exists cascadian_owner_update on workflow_sessions;
    create policy cascadian_owner_update on workflow_sessions
        for update to authenticated
        using (user_id = (select auth.uid()))
        with check (user_id = (select auth.uid()));
    drop policy if exists cascadian_owner_delete on workflow_sessions;
    create policy cascadian_owner_delete on workflow_sessions
        for delete to authenticated
        using (user_id = (select auth.uid()));

    drop policy if exists cascadian_owner_update on notifications;
    create policy cascadian_owner_update on notifications
        for update to authenticated
        using (user_id = (select auth.uid()))
        with check (user_id = (select auth.uid()));

    drop policy if exists cascadian_owner_delete on strategy_watchlists;
    create policy cascadian_owner_delete on strategy_watchlists
        for delete to authenticated
        using (exists (
            select 1 from workflow_sessions s
            where s.id = strategy_watchlists.workflow_id and s.user_id = (select auth.uid())
        ));
end;
$$;

-- Put back the policies this migration replaced, and drop the write policies it
-- added in their place (the owner-read policies of 006 stay). Answers how many
-- it restored.
create or replace function cascadian_restore_policies_v1()
returns integer
language plpgsql
as $$
declare
    p record;
    n integer := 0;
begin
    drop policy if exists cascadian_owner_insert on workflow_sessions;
    drop policy if exists cascadian_owner_update on workflow_sessions;
    drop policy if exists cascadian_owner_delete on workflow_sessions;
    drop policy if exists cascadian_owner_update on notifications;
    drop policy if exists cascadian_owner_delete on strategy_watchlists;
    drop policy if exists cascadian_owner_all on notification_settings;
    for p in select * from cascadian_replaced_policies order by table_name, policy_name loop
        execute format(
            'create policy %I on %I as %s for %s to %s%s%s',
            p.policy_name, p.table_name, p.permissive, p.command,
            (select string_agg(quote_ident(r), ', ') from unnest(p.roles) r),
            case when p.using_expression is not null
                then ' using (' || p.using_expression || ')' else '' end,
            case when p.check_expression is not null
                then ' with check (' || p.check_expression || ')' else '' end
        );
        n := n + 1;
    end loop;
    delete from cascadian_replaced_policies;
    return n;
end;
$$;

select cascadian_restrict_functions_v1();
