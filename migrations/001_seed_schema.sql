-- The tables as the seed and the existing dashboards know them.
-- `if not exists` everywhere: on a deployment that already has the seed's tables
-- this file changes nothing, and 002 adds what the scheduler needs.

create table if not exists workflow_sessions (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null,
    name text not null,
    description text,
    nodes jsonb not null default '[]',
    edges jsonb not null default '[]',
    variables jsonb default '{}',
    trigger jsonb,
    status text not null default 'draft'
        check (status in ('draft', 'active', 'paused', 'archived', 'running', 'stopped', 'error')),
    auto_run boolean not null default false,
    execution_interval_minutes integer not null default 5 check (execution_interval_minutes >= 1),
    next_execution_at timestamptz,
    last_executed_at timestamptz,
    execution_count integer not null default 0,
    success_count integer not null default 0,
    -- Consecutive errors: reset to 0 by a successful run.
    error_count integer not null default 0,
    average_execution_time_ms integer,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table if not exists workflow_executions (
    id uuid primary key default gen_random_uuid(),
    workflow_id uuid not null references workflow_sessions (id) on delete cascade,
    user_id uuid not null,
    execution_started_at timestamptz not null default now(),
    execution_completed_at timestamptz,
    duration_ms integer,
    status text not null default 'running'
        check (status in ('running', 'completed', 'failed', 'cancelled')),
    nodes_executed integer not null default 0,
    outputs jsonb,
    errors jsonb,
    error_message text,
    workflow_snapshot jsonb
);

create table if not exists notifications (
    id bigserial primary key,
    user_id uuid not null,
    workflow_id uuid references workflow_sessions (id) on delete set null,
    type text not null,
    title text not null,
    message text not null,
    link text,
    priority text not null default 'normal' check (priority in ('low', 'normal', 'high', 'urgent')),
    metadata jsonb not null default '{}',
    is_read boolean not null default false,
    created_at timestamptz not null default now()
);

create index if not exists notifications_user_idx on notifications (user_id, created_at desc);
