-- What the scheduler adds to the seed schema: cron schedules, leases, run
-- bookkeeping, per-node logs and the tick ledger.

alter table workflow_sessions
    -- A cron expression, when set, wins over execution_interval_minutes.
    add column if not exists cron_expression text,
    add column if not exists timezone text not null default 'UTC',
    -- The lease a claim takes. lease_token is the id of the workflow_executions
    -- row of the run holding it, and fences that run's outcome: an outcome is
    -- only recorded while its execution id is still the lease token.
    add column if not exists lease_token uuid,
    add column if not exists lease_expires_at timestamptz,
    add column if not exists last_error text;

-- A seed row that is meant to run but was never given a slot runs at once,
-- instead of never (a NULL next_execution_at is never due).
update workflow_sessions
set next_execution_at = now()
where auto_run and status in ('running', 'error') and next_execution_at is null;

-- The due query. Partial, so its size follows the active strategies, not the table.
create index if not exists workflow_sessions_due_idx
    on workflow_sessions (next_execution_at)
    where auto_run and status in ('running', 'error');

alter table workflow_executions
    add column if not exists trigger_kind text not null default 'scheduled'
        check (trigger_kind in ('scheduled', 'manual')),
    -- The slot a scheduled run was for; null for manual runs.
    add column if not exists scheduled_for timestamptz,
    -- 1 for the first claim of a slot; +1 each time an expired lease is re-claimed.
    add column if not exists attempt integer not null default 1;

create index if not exists workflow_executions_workflow_idx
    on workflow_executions (workflow_id, execution_started_at desc);

-- A slot's attempt is claimed once: the database itself refuses a double run.
create unique index if not exists workflow_executions_slot_attempt_key
    on workflow_executions (workflow_id, scheduled_for, attempt)
    where trigger_kind = 'scheduled';

create table if not exists strategy_execution_logs (
    id bigserial primary key,
    execution_id uuid not null references workflow_executions (id) on delete cascade,
    workflow_id uuid not null references workflow_sessions (id) on delete cascade,
    node_id text not null,
    node_type text,
    status text not null check (status in ('success', 'error', 'skipped')),
    started_at timestamptz,
    completed_at timestamptz,
    duration_ms integer,
    error_message text,
    -- A size-capped summary of the node's output, not the whole of it.
    output jsonb,
    created_at timestamptz not null default now()
);

create index if not exists strategy_execution_logs_execution_idx
    on strategy_execution_logs (execution_id);

-- One row per tick. Gaps between started_at values are minutes the cron missed.
create table if not exists cron_ticks (
    id uuid primary key default gen_random_uuid(),
    trigger text not null,
    started_at timestamptz not null,
    finished_at timestamptz not null,
    success boolean not null,
    strategies_checked integer not null default 0,
    strategies_executed integer not null default 0,
    succeeded integer not null default 0,
    failed integer not null default 0,
    released integer not null default 0,
    execution_time_ms integer not null,
    error text,
    summary jsonb not null default '{}'
);

create index if not exists cron_ticks_started_idx on cron_ticks (started_at desc);
