-- A deleted strategy's lease, and a re-run's slot (the review of 052-059 left both).
--
-- 1. Orphan leases. Since 059 cascadian_leases references no table (the cascade
--    deadlocked a finish against a delete), so a deleted strategy's lease row stayed
--    for ever; the metrics counted it as a live lease while its time lasted; and a
--    strategy created again with the same id inherited it: its claims waited for the
--    old run's lease, and the old run's finish was accepted as its own run. Now:
--    - a strategy's row, when inserted, deletes a lease row left under its id
--      (cascadian_forget_lease_v1, an AFTER INSERT trigger on workflow_sessions):
--      a strategy starts with no run in flight, and the deleted strategy's run,
--      if it finishes later, is refused, as any run whose lease was taken over. The
--      delete waits for a claim or finish holding that row, but nothing that holds
--      a lease row waits for the new session row, which no one else sees until it
--      commits: no lock order is reversed. Deletes are left alone: the app deletes
--      strategies through the Data API (PostgREST, RLS), where no function of ours
--      can take the lease first, and a trigger on delete runs with the session
--      row already locked (052's cascade deadlock again);
--    - retention deletes the lease rows of strategies that no longer exist and that
--      no run holds (cascadian_prune_v3: in the id ranges of its pass over the
--      strategies, so a whole pass covers every row, within the same caps; it
--      answers how many as `leases`);
--    - the metrics' count of live leases counts only existing strategies'
--      (cascadian_metrics_v3). Every other read of leases reaches them through a
--      strategy or a run (the claims, the strategy reads, the runs in flight of 053
--      and the console: a deleted strategy's runs are deleted with it).
--
-- 2. A re-run's slot. A re-run keys its orders by the slot of the run its chain of
--    re-runs goes back to (054's cascadian_run_slot_v1, following rerun_of); once
--    retention had pruned the original, a re-run of a re-run was keyed by the
--    middle run and could buy again. cascadian_claim_rerun_v4 records that slot on
--    the re-run's own row (workflow_executions.order_slot, new), takes it from
--    there when a re-run is re-run, and answers it with the claim, so the run's
--    order and decision nodes name it (a re-run claimed by v3 has none, and is
--    followed back as before).

alter table workflow_executions add column if not exists order_slot text;

create or replace function cascadian_forget_lease_v1()
returns trigger
language plpgsql
as $$
begin
    delete from cascadian_leases l where l.workflow_id = new.id;
    return new;
end;
$$;

drop trigger if exists cascadian_forget_lease on workflow_sessions;
create trigger cascadian_forget_lease
    after insert on workflow_sessions
    for each row execute function cascadian_forget_lease_v1();

create or replace function cascadian_claim_rerun_v4(
    p_execution_id uuid,
    p_now timestamptz,
    p_lease_seconds double precision,
    p_actor jsonb
)
returns table (
    result text, execution_id uuid, workflow_id uuid, user_id uuid, name text, nodes text,
    edges text, variables text, trigger text, execution_interval_minutes integer,
    cron_expression text, timezone text, scheduled_for timestamptz, attempt integer,
    lease_expires_at timestamptz, next_execution_at timestamptz, event jsonb, order_slot text
)
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    v_event jsonb;
    v_snapshot jsonb;
    v_slot text;
    v_held boolean;
    e workflow_executions%rowtype;
    l cascadian_leases%rowtype;
    s workflow_sessions%rowtype;
begin
    select * into e from workflow_executions x
    where x.id = p_execution_id and (v_user is null or x.user_id = v_user);
    if not found then
        result := 'run_not_found';
        return next;
        return;
    elsif e.status <> 'failed' then
        result := 'not_failed';
        return next;
        return;
    elsif e.workflow_snapshot is null or jsonb_typeof(e.workflow_snapshot->'nodes') is null then
        result := 'no_snapshot';
        return next;
        return;
    end if;

    if not exists (
        select 1 from workflow_sessions w
        where w.id = e.workflow_id and (v_user is null or w.user_id = v_user)
    ) then
        result := 'not_found';
        return next;
        return;
    end if;
    v_held := cascadian_lock_lease_v1(e.workflow_id, p_now);
    select * into s from workflow_sessions w
    where w.id = e.workflow_id and (v_user is null or w.user_id = v_user)
    for update;
    if not found then
        result := 'not_found';
        return next;
        return;
    elsif s.status = 'archived' then
        result := 'archived';
        return next;
        return;
    elsif not s.is_current_version then
        result := 'superseded';
        return next;
        return;
    elsif v_held then
        result := 'run_in_flight';
        return next;
        return;
    end if;

    update workflow_executions x
    set status = 'cancelled',
        execution_completed_at = p_now,
        error_message = 'abandoned: the lease expired before the run was recorded'
    from cascadian_leases h
    where h.workflow_id = s.id and x.id = h.token and x.status = 'running';

    update cascadian_leases h
    set token = gen_random_uuid(),
        expires_at = p_now + make_interval(secs => p_lease_seconds)
    where h.workflow_id = s.id
    returning * into l;

    v_snapshot := e.workflow_snapshot;
    if jsonb_typeof(v_snapshot->'event') = 'object' then
        v_event := (v_snapshot->'event')
            || jsonb_build_object('rerun', true, 'rerun_of', e.id);
        v_snapshot := jsonb_set(v_snapshot, '{event}', v_event);
    end if;

    -- The slot the run re-run was keyed by: its own recorded one if it is a re-run
    -- claimed by this version, else the one its chain leads to (054).
    v_slot := coalesce(e.order_slot, cascadian_run_slot_v1(e.workflow_id, e.id));
    insert into workflow_executions (
        id, workflow_id, user_id, execution_started_at, status,
        trigger_kind, scheduled_for, attempt, workflow_snapshot, rerun_of, order_slot
    )
    values (
        l.token, s.id, s.user_id, p_now, 'running', 'rerun', null, 1,
        v_snapshot, e.id, v_slot
    );
    perform cascadian_audit_v1(
        p_actor, 'rerun', s.id, '{}'::jsonb,
        jsonb_build_object('execution_id', l.token, 'rerun_of', e.id),
        p_now
    );

    return query select
        'ok'::text, l.token, s.id, s.user_id,
        coalesce(e.workflow_snapshot->>'name', s.name),
        (e.workflow_snapshot->'nodes')::text,
        coalesce(e.workflow_snapshot->'edges', '[]'::jsonb)::text,
        coalesce(e.workflow_snapshot->'variables', '{}'::jsonb)::text,
        (e.workflow_snapshot->'trigger')::text,
        coalesce(s.execution_interval_minutes, 5), s.cron_expression, s.timezone,
        null::timestamptz, 1, l.expires_at, s.next_execution_at, v_event, v_slot;
end;
$$;

create or replace function cascadian_metrics_v3(p_now timestamptz)
returns jsonb
language sql
stable
as $$
    select jsonb_build_object(
        'due', b.due,
        'oldest_due_lag_seconds', coalesce(b.oldest_lag_seconds, 0),
        'leases_in_flight', (
            select count(*)
            from cascadian_leases l
            where l.expires_at > p_now
              and exists (select 1 from workflow_sessions s where s.id = l.workflow_id)
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
    from cascadian_backlog_v2(p_now) b;
$$;

create or replace function cascadian_prune_v3(
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
    runs bigint, node_logs bigint, ticks bigint, notifications bigint, complete boolean,
    elapsed_ms integer, resume_after uuid, leases bigint
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
    leases := 0;
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
                select w.id, l.token as lease_token
                from workflow_sessions w
                left join cascadian_leases l on l.workflow_id = w.id
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
                -- The lease rows of deleted strategies in the ids this batch covers
                -- (up to its last strategy, or to the end for the last batch), so
                -- that a whole pass covers every lease row. One a run still holds
                -- stays until it runs out; one being taken is passed over (the
                -- session is never locked here, so no lock order is involved).
                if v_budget > 0 then
                    with gone as (
                        delete from cascadian_leases l
                        where l.workflow_id in (
                            select o.workflow_id
                            from cascadian_leases o
                            where (v_cursor is null or o.workflow_id > v_cursor)
                              and (v_chunk < 200 or o.workflow_id <= v_last)
                              and (o.expires_at is null or o.expires_at <= p_now)
                              and not exists (
                                  select 1 from workflow_sessions s where s.id = o.workflow_id
                              )
                            order by o.workflow_id
                            limit least(v_budget, 500)
                            for update skip locked
                        )
                        returning 1
                    )
                    select count(*) into v_n from gone;
                    leases := leases + v_n;
                    v_budget := v_budget - v_n;
                end if;
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
            left join cascadian_leases l on l.workflow_id = w.id
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
               and e.id is distinct from l.token
            cross join lateral (
                select count(*) as n from strategy_execution_logs l where l.execution_id = e.id
            ) lc;
            select count(*) into leases
            from cascadian_leases o
            where (o.expires_at is null or o.expires_at <= p_now)
              and not exists (select 1 from workflow_sessions s where s.id = o.workflow_id);
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

select cascadian_restrict_functions_v1();
