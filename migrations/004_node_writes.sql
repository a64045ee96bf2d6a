-- What nodes write during a run: watchlist entries and owner notifications.

create table if not exists strategy_watchlists (
    id bigserial primary key,
    workflow_id uuid not null references workflow_sessions (id) on delete cascade,
    market_id text not null,
    -- The run that added the entry (a real workflow_executions id).
    added_by_execution_id uuid references workflow_executions (id) on delete set null,
    reason text,
    metadata jsonb not null default '{}',
    added_at timestamptz not null default now(),
    unique (workflow_id, market_id)
);

-- Add markets to a strategy's watchlist; a market already on it is counted as
-- a duplicate, not an error. p_entries: [{market_id, reason?, metadata?}, ...].
create or replace function cascadian_add_to_watchlist_v1(
    p_workflow_id uuid,
    p_execution_id uuid,
    p_entries jsonb
)
returns table (added integer, duplicates integer)
language sql
as $$
    with entries as (
        select distinct on (e.market_id) e.market_id, e.reason, e.metadata
        from jsonb_to_recordset(p_entries) as e (market_id text, reason text, metadata jsonb)
        where e.market_id is not null
    ),
    inserted as (
        insert into strategy_watchlists (
            workflow_id, market_id, added_by_execution_id, reason, metadata
        )
        select p_workflow_id, market_id, p_execution_id, reason, coalesce(metadata, '{}')
        from entries
        on conflict (workflow_id, market_id) do nothing
        returning 1
    )
    select
        (select count(*) from inserted)::integer,
        ((select count(*) from entries) - (select count(*) from inserted))::integer;
$$;

-- Notify a strategy's owner. p: {user_id, workflow_id, type, title, message,
-- priority, link, metadata}.
create or replace function cascadian_notify_v1(p jsonb)
returns bigint
language sql
as $$
    insert into notifications (user_id, workflow_id, type, title, message, link, priority, metadata)
    values (
        (p ->> 'user_id')::uuid,
        (p ->> 'workflow_id')::uuid,
        coalesce(p ->> 'type', 'strategy_alert'),
        p ->> 'title',
        p ->> 'message',
        p ->> 'link',
        coalesce(p ->> 'priority', 'normal'),
        coalesce(p -> 'metadata', '{}'::jsonb)
    )
    returning id;
$$;
