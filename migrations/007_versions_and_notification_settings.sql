-- What an existing Cascadian deployment already has, added where it is missing, so
-- the same functions work on both: strategy versions as rows, per-node log order,
-- and notification settings with the original app's send rule.
-- Nothing here changes a column, constraint, index or trigger that exists.

-- Versions: the original builder saves a new version as a new row and marks the
-- old one is_current_version = false (leaving its auto_run as it was). Only the
-- current version of a strategy is ever claimed (migrations/008).
alter table workflow_sessions
    add column if not exists version integer not null default 1,
    add column if not exists is_current_version boolean not null default true,
    add column if not exists parent_workflow_id uuid;

-- The due query's index, now for current versions only (the claim's predicate).
create index if not exists workflow_sessions_due_current_idx
    on workflow_sessions (next_execution_at)
    where auto_run and status in ('running', 'error') and is_current_version;
drop index if exists workflow_sessions_due_idx;

-- The order a run's node logs were written in (the graph's order). Ids cannot
-- give it: they are uuids on an existing deployment.
alter table strategy_execution_logs add column if not exists node_index integer;

-- Per-user, per-type notification switches and quiet hours, as the original app
-- keeps them. Created only where missing; where Supabase's auth.users exists the
-- owner references it, as in the original.
do $$
begin
    if to_regclass('notification_settings') is not null then
        return;
    end if;
    create table notification_settings (
        id uuid primary key default gen_random_uuid(),
        user_id uuid not null,
        notification_type text not null check (notification_type in (
            'strategy_started', 'strategy_paused', 'strategy_stopped', 'strategy_error',
            'watchlist_updated', 'execution_completed', 'execution_failed'
        )),
        enabled boolean default true,
        delivery_method text default 'in-app' check (delivery_method in ('in-app', 'email', 'both')),
        quiet_hours_enabled boolean default false,
        quiet_hours_start time,
        quiet_hours_end time,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        unique (user_id, notification_type)
    );
    if to_regclass('auth.users') is not null then
        alter table notification_settings
            add foreign key (user_id) references auth.users (id) on delete cascade;
    end if;
end;
$$;

-- Whether a notification of this type may be sent to this user now, by the
-- original's rule: no settings row sends; a disabled type does not (a NULL
-- `enabled` still sends); quiet hours suppress when both ends are set, read in
-- the database's time zone, both ends inclusive, possibly across midnight.
create or replace function cascadian_notification_allowed_v1(
    p_user_id uuid,
    p_type text,
    p_now timestamptz
)
returns boolean
language sql
stable
as $$
    select coalesce((
        select not (
            st.enabled is false
            or (
                st.quiet_hours_enabled is true
                and st.quiet_hours_start is not null
                and st.quiet_hours_end is not null
                and case
                    when st.quiet_hours_start > st.quiet_hours_end
                        then t.now >= st.quiet_hours_start or t.now <= st.quiet_hours_end
                    else t.now >= st.quiet_hours_start and t.now <= st.quiet_hours_end
                end
            )
        )
        from notification_settings st,
             (select (p_now at time zone current_setting('TimeZone'))::time as now) t
        where st.user_id = p_user_id and st.notification_type = p_type
    ), true);
$$;

-- Send one notification, unless the owner's settings suppress it (then null).
-- A row the database refuses (a type its CHECK does not list, an owner that is
-- not a user) raises; callers that must not fail catch it.
create or replace function cascadian_send_notification_v1(
    p_user_id uuid,
    p_workflow_id uuid,
    p_type text,
    p_title text,
    p_message text,
    p_link text,
    p_priority text,
    p_metadata jsonb,
    p_now timestamptz
)
returns bigint
language plpgsql
as $$
declare
    new_id bigint;
begin
    if not cascadian_notification_allowed_v1(p_user_id, p_type, p_now) then
        return null;
    end if;
    insert into notifications (user_id, workflow_id, type, title, message, link, priority, metadata)
    values (
        p_user_id, p_workflow_id, p_type, p_title, p_message, p_link,
        coalesce(p_priority, 'normal'), coalesce(p_metadata, '{}'::jsonb)
    )
    returning id into new_id;
    return new_id;
end;
$$;

-- The notify node's call: p is {user_id, workflow_id, type, title, message,
-- priority, link, metadata}. Answers the new id, or null when suppressed.
create or replace function cascadian_notify_v2(p jsonb, p_now timestamptz)
returns bigint
language sql
as $$
    select cascadian_send_notification_v1(
        (p ->> 'user_id')::uuid,
        (p ->> 'workflow_id')::uuid,
        p ->> 'type',
        p ->> 'title',
        p ->> 'message',
        p ->> 'link',
        p ->> 'priority',
        p -> 'metadata',
        p_now
    );
$$;

select cascadian_restrict_functions_v1();
