-- Running for months: retention (pruning old history in small bounded batches),
-- schedule lag, and the figures /api/metrics and the health check read.
--
-- Schedule lag is read, not stored: a scheduled run's row is inserted at claim
-- time with its slot (scheduled_for) and its start (execution_started_at, the
-- claim's p_now), so a run started start - slot late. The tick ledger's id may
-- now come from the tick itself, so that its log lines carry the ledger's id.

-- Indexes the pruning and the gauges need. The delete of a run sets null in the
-- rows that reference it (watchlists, paper orders): without an index on the
-- referencing column each deleted run would scan those tables.
create index if not exists workflow_executions_started_idx
    on workflow_executions (execution_started_at);
create index if not exists notifications_read_created_idx
    on notifications (created_at) where is_read;
create index if not exists strategy_watchlists_execution_idx
    on strategy_watchlists (added_by_execution_id) where added_by_execution_id is not null;
create index if not exists cascadian_paper_orders_execution_idx
    on cascadian_paper_orders (execution_id) where execution_id is not null;

do $$
begin
    -- An existing Cascadian deployment's decisions hang off runs (on delete cascade).
    if to_regclass('orchestrator_decisions') is not null then
        create index if not exists orchestrator_decisions_execution_idx
            on orchestrator_decisions (execution_id);
    end if;
end;
$$;

-- Delete history past its retention, in batches, until p_max_rows rows are gone
-- (node logs included) or p_max_ms milliseconds have passed. Both are checked
-- between batches, and a batch takes at most what is left of p_max_rows in runs
-- (500 at most), ticks or notifications (1,000 at most): a call goes over the row
-- cap by the node logs of its last batch at most, and over the time cap by one
-- batch. A null
-- retention keeps that history for ever. Never deleted:
--   - a run still `running`, or one a lease points at (workflow_sessions.lease_token,
--     expired or not): its outcome may still be recorded;
--   - the newest p_keep_last runs of each strategy (at least 1), whatever their age;
--   - unread notifications, and the newest tick of the ledger.
-- Rows another transaction holds locked are skipped (SKIP LOCKED), so a prune never
-- waits for a tick; a lock on a referencing row waits at most 200 ms, then the call
-- fails and changes nothing. `complete` is false when the caps stopped it with
-- history still to delete. With p_dry_run nothing is deleted and the counts are of
-- everything that is due for deletion, without the caps.
-- Runs are found strategies by strategies, in id order after p_after (null: from
-- the first); resume_after is where a call stopped (null: it reached the last
-- strategy), for the next call to go on from, so that the caps never make a pass
-- over many strategies start again from the first one.
create or replace function cascadian_prune_v1(
    p_now timestamptz,
    p_run_retention_seconds double precision,
    p_keep_last integer,
    p_tick_retention_seconds double precision,
    p_notification_retention_seconds double precision,
    p_max_rows integer,
    p_max_ms integer,
    p_dry_run boolean,
    p_after uuid
)
returns table (
    runs bigint,
    node_logs bigint,
    ticks bigint,
    notifications bigint,
    complete boolean,
    elapsed_ms integer,
    resume_after uuid
)
language plpgsql
as $$
declare
    v_started timestamptz := clock_timestamp();
    v_keep integer := greatest(coalesce(p_keep_last, 1), 1);
    v_budget bigint := greatest(coalesce(p_max_rows, 0), 0);
    v_run_cutoff timestamptz;
    v_cursor uuid;
    v_last uuid;
    v_chunk bigint;
    v_found uuid[];
    v_limit bigint;
    v_logs bigint;
    v_runs bigint;
    v_n bigint;
begin
    runs := 0;
    resume_after := null;
    node_logs := 0;
    ticks := 0;
    notifications := 0;
    complete := true;
    if not p_dry_run then
        perform set_config('lock_timeout', '200ms', true);
    end if;

    -- Runs, 200 strategies at a time in id order (only those with a run older than
    -- the cutoff: one index probe each). The newest v_keep runs of a strategy are
    -- found through its (workflow_id, execution_started_at) index; older ones past
    -- the retention go. A batch of strategies is taken again until fewer runs than
    -- the batch's limit are left in it.
    if p_run_retention_seconds is not null then
        v_run_cutoff := p_now - make_interval(secs => p_run_retention_seconds);
    end if;
    if p_run_retention_seconds is not null and not p_dry_run then
        v_cursor := p_after;
        loop
            if v_budget <= 0
               or extract(epoch from clock_timestamp() - v_started) * 1000 >= p_max_ms then
                complete := false;
                exit;
            end if;
            v_limit := least(v_budget, 500);
            with chunk as (
                select w.id, w.lease_token
                from workflow_sessions w
                where (v_cursor is null or w.id > v_cursor)
                  and exists (
                      select 1 from workflow_executions o
                      where o.workflow_id = w.id and o.execution_started_at < v_run_cutoff
                  )
                order by w.id
                limit 200
            ),
            found as (
                select e.id
                from chunk c
                cross join lateral (
                    select k.execution_started_at as keep_from
                    from workflow_executions k
                    where k.workflow_id = c.id
                    order by k.execution_started_at desc
                    offset v_keep - 1
                    limit 1
                ) b
                cross join lateral (
                    select x.id
                    from workflow_executions x
                    where x.workflow_id = c.id
                      and x.execution_started_at < least(v_run_cutoff, b.keep_from)
                      and x.status <> 'running'
                      and x.id is distinct from c.lease_token
                    order by x.execution_started_at
                    limit v_limit
                    for update skip locked
                ) e
                limit v_limit
            )
            select
                coalesce((select array_agg(f.id) from found f), '{}'),
                (select c.id from chunk c order by c.id desc limit 1),
                (select count(*) from chunk)
            into v_found, v_last, v_chunk;

            if cardinality(v_found) > 0 then
                with l as (
                    delete from strategy_execution_logs l
                    where l.execution_id = any (v_found) returning 1
                ), e as (
                    delete from workflow_executions e where e.id = any (v_found) returning 1
                )
                select (select count(*) from l), (select count(*) from e) into v_logs, v_runs;
                node_logs := node_logs + v_logs;
                runs := runs + v_runs;
                v_budget := v_budget - v_logs - v_runs;
            end if;
            if cardinality(v_found) < v_limit then  -- nothing more in this batch
                if v_chunk < 200 then
                    v_cursor := null;  -- the pass reached the last strategy
                    -- It covered them all only if it started at the first.
                    complete := complete and p_after is null;
                    exit;
                end if;
                v_cursor := v_last;
            end if;
        end loop;
        resume_after := v_cursor;
    end if;

    if p_dry_run then
        -- The same rules as the deletes below and above, counted without the caps.
        if p_run_retention_seconds is not null then
            select count(*), coalesce(sum(lc.n), 0) into runs, node_logs
            from workflow_sessions w
            cross join lateral (
                select k.execution_started_at as keep_from
                from workflow_executions k
                where k.workflow_id = w.id
                order by k.execution_started_at desc
                offset v_keep - 1
                limit 1
            ) b
            join workflow_executions e
                on e.workflow_id = w.id
               and e.execution_started_at < least(v_run_cutoff, b.keep_from)
               and e.status <> 'running'
               and e.id is distinct from w.lease_token
            cross join lateral (
                select count(*) as n from strategy_execution_logs l where l.execution_id = e.id
            ) lc;
        end if;
        if p_tick_retention_seconds is not null then
            select count(*) into ticks
            from cron_ticks t
            where t.started_at < p_now - make_interval(secs => p_tick_retention_seconds)
              and t.id <> (select n.id from cron_ticks n order by n.started_at desc limit 1);
        end if;
        if p_notification_retention_seconds is not null then
            select count(*) into notifications
            from notifications n
            where n.is_read
              and n.created_at < p_now - make_interval(secs => p_notification_retention_seconds);
        end if;
        elapsed_ms := round(extract(epoch from clock_timestamp() - v_started) * 1000)::integer;
        return next;
        return;
    end if;

    -- The tick ledger, oldest first; its newest row stays (the health check reads it).
    if p_tick_retention_seconds is not null then
        loop
            if v_budget <= 0
               or extract(epoch from clock_timestamp() - v_started) * 1000 >= p_max_ms then
                complete := complete and not exists (
                    select 1 from cron_ticks t
                    where t.started_at < p_now - make_interval(secs => p_tick_retention_seconds)
                      and t.id <> (select n.id from cron_ticks n order by n.started_at desc limit 1)
                );
                exit;
            end if;
            delete from cron_ticks t
            where t.id in (
                select o.id from cron_ticks o
                where o.started_at < p_now - make_interval(secs => p_tick_retention_seconds)
                  and o.id <> (select n.id from cron_ticks n order by n.started_at desc limit 1)
                order by o.started_at
                limit least(v_budget, 1000)
                for update skip locked
            );
            get diagnostics v_n = row_count;
            exit when v_n = 0;
            ticks := ticks + v_n;
            v_budget := v_budget - v_n;
        end loop;
    end if;

    -- Read notifications; unread ones are kept whatever their age.
    if p_notification_retention_seconds is not null then
        loop
            if v_budget <= 0
               or extract(epoch from clock_timestamp() - v_started) * 1000 >= p_max_ms then
                complete := complete and not exists (
                    select 1 from notifications n
                    where n.is_read
                      and n.created_at
                          < p_now - make_interval(secs => p_notification_retention_seconds)
                );
                exit;
            end if;
            delete from notifications n
            where n.id in (
                select o.id from notifications o
                where o.is_read
                  and o.created_at < p_now - make_interval(secs => p_notification_retention_seconds)
                order by o.created_at
                limit least(v_budget, 1000)
                for update skip locked
            );
            get diagnostics v_n = row_count;
            exit when v_n = 0;
            notifications := notifications + v_n;
            v_budget := v_budget - v_n;
        end loop;
    end if;

    elapsed_ms := round(extract(epoch from clock_timestamp() - v_started) * 1000)::integer;
    return next;
end;
$$;

-- How late a strategy's recent scheduled runs started against their slots, over
-- its newest p_limit scheduled runs (manual runs have no slot). One row; runs is 0
-- and the figures null when it has none.
create or replace function cascadian_schedule_lag_v1(p_id uuid, p_limit integer)
returns table (
    runs integer,
    last_lag_seconds double precision,
    average_lag_seconds double precision,
    max_lag_seconds double precision,
    last_scheduled_for timestamptz
)
language sql
stable
as $$
    select
        count(*)::integer,
        (array_agg(r.lag order by r.started desc))[1],
        avg(r.lag),
        max(r.lag),
        max(r.scheduled_for)
    from (
        select
            greatest(extract(epoch from e.execution_started_at - e.scheduled_for), 0)
                ::double precision as lag,
            e.execution_started_at as started,
            e.scheduled_for
        from workflow_executions e
        where e.workflow_id = p_id
          and e.trigger_kind = 'scheduled'
          and e.scheduled_for is not null
        order by e.execution_started_at desc
        limit p_limit
    ) r;
$$;

-- The due backlog: strategies due now that no live lease holds (what the next claim
-- would take), and how late the oldest of them is. The health check reads it.
create or replace function cascadian_backlog_v1(p_now timestamptz)
returns table (due integer, oldest_due_at timestamptz, oldest_lag_seconds double precision)
language sql
stable
as $$
    select
        count(*)::integer,
        min(s.next_execution_at),
        greatest(extract(epoch from p_now - min(s.next_execution_at)), 0)::double precision
    from workflow_sessions s
    where s.auto_run
      and s.status in ('running', 'error')
      and s.is_current_version
      and s.next_execution_at <= p_now
      and (s.lease_expires_at is null or s.lease_expires_at <= p_now);
$$;

-- Every gauge /api/metrics shows, read from the database in one call, so the
-- figures are right whichever process (or serverless invocation) answers.
-- Auto-pauses: strategies auto-paused now (status error, auto_run off) whose last
-- run, the one that paused them, finished within the hour.
create or replace function cascadian_metrics_v1(p_now timestamptz)
returns jsonb
language sql
stable
as $$
    select jsonb_build_object(
        'due', b.due,
        'oldest_due_lag_seconds', coalesce(b.oldest_lag_seconds, 0),
        'leases_in_flight', (
            select count(*) from workflow_sessions s where s.lease_expires_at > p_now
        ),
        'strategies_by_status', coalesce((
            select jsonb_object_agg(g.status, g.n)
            from (
                select s.status, count(*) as n
                from workflow_sessions s
                where s.is_current_version
                group by s.status
            ) g
        ), '{}'::jsonb),
        'runs_last_5m_by_status', coalesce((
            select jsonb_object_agg(g.status, g.n)
            from (
                select e.status, count(*) as n
                from workflow_executions e
                where e.execution_started_at > p_now - interval '5 minutes'
                group by e.status
            ) g
        ), '{}'::jsonb),
        'auto_pauses_last_hour', (
            select count(*)
            from workflow_sessions s
            where s.status = 'error'
              and not s.auto_run
              and s.last_executed_at > p_now - interval '1 hour'
        ),
        'last_tick_at', (select max(t.started_at) from cron_ticks t),
        'table_rows', (
            select jsonb_object_agg(c.relname, greatest(c.reltuples, 0)::bigint)
            from pg_class c
            where c.oid in (
                to_regclass('workflow_executions'), to_regclass('strategy_execution_logs'),
                to_regclass('cron_ticks'), to_regclass('notifications')
            )
        )
    )
    from cascadian_backlog_v1(p_now) b;
$$;

-- As cascadian_record_tick_v2, with the ledger id the tick chose (p_tick ->> 'id'),
-- so that the tick's log lines and alerts carry it; a new id when it has none.
create or replace function cascadian_record_tick_v3(p_tick jsonb)
returns uuid
language sql
as $$
    insert into cron_ticks (
        id, trigger, started_at, finished_at, success, strategies_checked,
        strategies_executed, succeeded, failed, released, execution_time_ms, error, summary,
        delivery_id
    )
    values (
        coalesce((p_tick ->> 'id')::uuid, gen_random_uuid()),
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

select cascadian_restrict_functions_v1();
