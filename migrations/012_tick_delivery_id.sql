-- The tick ledger records the scheduler's id for each delivery.
--
-- Vercel Schedules give every run an execution id that stays the same for every
-- delivery of that run, so a duplicate delivery shows up in the ledger as two
-- ticks with one delivery_id. The tick is not refused: claims are already
-- exactly-once per slot, so a duplicate finds nothing of that slot left to run.
-- Null when the request carried no id (Cron Jobs, the worker, the CLI).

alter table cron_ticks add column if not exists delivery_id text;

-- As cascadian_record_tick_v1, with p_tick ->> 'delivery_id'.
create or replace function cascadian_record_tick_v2(p_tick jsonb)
returns uuid
language sql
as $$
    insert into cron_ticks (
        trigger, started_at, finished_at, success, strategies_checked,
        strategies_executed, succeeded, failed, released, execution_time_ms, error, summary,
        delivery_id
    )
    values (
        coalesce(p_tick ->> 'trigger', 'cron'),
        (p_tick ->> 'started_at')::timestamptz,
        (p_tick ->> 'finished_at')::timestamptz,
        (p_tick ->> 'success')::boolean,
        coalesce((p_tick ->> 'strategies_checked')::integer, 0),
        coalesce((p_tick ->> 'strategies_executed')::integer, 0),
        coalesce((p_tick ->> 'succeeded')::integer, 0),
        coalesce((p_tick ->> 'failed')::integer, 0),
        coalesce((p_tick ->> 'released')::integer, 0),
        coalesce((p_tick ->> 'execution_time_ms')::integer, 0),
        p_tick ->> 'error',
        coalesce(p_tick -> 'summary', '{}'::jsonb),
        p_tick ->> 'delivery_id'
    )
    returning id;
$$;

-- As cascadian_ticks_v1, with each tick's delivery_id.
create or replace function cascadian_ticks_v2(p_limit integer)
returns table (
    id uuid,
    trigger text,
    started_at timestamptz,
    finished_at timestamptz,
    success boolean,
    strategies_checked integer,
    strategies_executed integer,
    succeeded integer,
    failed integer,
    released integer,
    execution_time_ms integer,
    error text,
    summary jsonb,
    delivery_id text,
    gap_seconds double precision
)
language sql
stable
as $$
    select *
    from (
        select
            t.id, t.trigger, t.started_at, t.finished_at, t.success,
            t.strategies_checked, t.strategies_executed, t.succeeded, t.failed,
            t.released, t.execution_time_ms, t.error, t.summary, t.delivery_id,
            extract(epoch from t.started_at - lag(t.started_at) over (order by t.started_at))
                ::double precision as gap_seconds
        from (
            select * from cron_ticks order by started_at desc limit p_limit + 1
        ) t
    ) g
    order by g.started_at desc
    limit p_limit;
$$;

select cascadian_restrict_functions_v1();
