-- Fair claims across owners (issue 33): "maximum concurrent executions per user:
-- 10", and one owner with 10,000 due strategies cannot starve the others.
--
-- cascadian_claim_due_v4 claims as v3 does (the same lease, fence, abandoned-run
-- cancel and execution row, in one statement's transaction), but chooses which due
-- strategies in two steps:
--
--   1. each owner's share: up to p_owner_limit of their due strategies minus those
--      of theirs a live lease holds now (their runs in flight, from any tick or
--      worker), earliest first; p_owner_limit 0 is no cap;
--   2. the shares interleaved by rank: every owner's first, then every owner's
--      second, ..., the earlier slot first within a rank, up to p_limit.
--
-- Which owners are looked at: those of the first 4 x p_limit due rows in the due
-- index's order (one bounded index scan, as v3's). Only when that window is full
-- and still gives fewer than p_limit strategies (one owner's backlog fills it while
-- their share is used up) are all owners with a scheduled strategy looked at, one
-- index probe each (a loose index scan of the owner index below), so a backlog of
-- one owner costs the others nothing but that walk.
--
-- Concurrent claims take turns (a transaction-level advisory lock), so each sees
-- the leases of the one before and no two choose the same strategies.
--
-- In flight counts the runs of scheduled strategies whose slot has come (their
-- lease is held while next_execution_at is still the slot), among the owner's cap
-- earliest due (see below); a run-now of a strategy whose slot has not come is not
-- counted.

-- Each owner's due strategies in slot order (the claim's predicate, as the due index).
create index if not exists workflow_sessions_due_owner_idx
    on workflow_sessions (user_id, next_execution_at)
    where auto_run and status in ('running', 'error') and is_current_version;

-- The strategies to claim for these owners, in claim order (steps 1 and 2 above).
-- One bounded index scan per owner: their `cap` earliest due strategies, held ones
-- (a live lease: a run in flight) and free ones alike. A claim takes an owner's
-- earliest first and a run's finish moves its slot ahead, so the runs in flight are
-- the earliest due, and a share (cap less those in flight) always lies within the
-- first `cap`: the free ones among them, ranked after the held ones. (A strategy
-- due earlier than one in flight is one whose lease expired: free again.) Without a
-- cap, each owner's `p_limit` earliest free strategies.
create or replace function cascadian_fair_picks_v1(
    p_owners uuid[],
    p_now timestamptz,
    p_limit integer,
    p_owner_limit integer
)
returns uuid[]
language sql
stable
as $$
    select coalesce(array_agg(p.id order by p.rank, p.next_execution_at), '{}')
    from (
        select d.id, d.next_execution_at, d.busy + d.nth as rank
        from unnest(p_owners) as o (user_id)
        cross join lateral (
            select
                h.id,
                h.next_execution_at,
                h.held,
                count(*) filter (where h.held) over () as busy,
                row_number() over (partition by h.held order by h.next_execution_at) as nth
            from (
                select
                    s.id,
                    s.next_execution_at,
                    coalesce(s.lease_expires_at > p_now, false) as held
                from workflow_sessions s
                where s.user_id = o.user_id
                  and s.auto_run
                  and s.status in ('running', 'error')
                  and s.is_current_version
                  and s.next_execution_at <= (select p_now)
                  and (p_owner_limit > 0
                       or s.lease_expires_at is null or s.lease_expires_at <= p_now)
                order by s.next_execution_at
                limit case when p_owner_limit > 0 then p_owner_limit else p_limit end
            ) as h
        ) as d
        where not d.held
        order by rank, d.next_execution_at
        limit p_limit
    ) as p;
$$;

create or replace function cascadian_claim_due_v4(
    p_now timestamptz,
    p_limit integer,
    p_lease_seconds double precision,
    p_owner_limit integer
)
returns table (
    execution_id uuid,
    workflow_id uuid,
    user_id uuid,
    name text,
    nodes text,
    edges text,
    variables text,
    trigger text,
    execution_interval_minutes integer,
    cron_expression text,
    timezone text,
    scheduled_for timestamptz,
    attempt integer,
    lease_expires_at timestamptz
)
language plpgsql
as $$
#variable_conflict use_column
declare
    v_window integer := p_limit * 4;
    v_seen integer;
    v_owners uuid[];
    v_picks uuid[];
begin
    -- Claims take turns (a transaction lock, held for the claim's few milliseconds):
    -- the shares are chosen from a snapshot, so a claim must see the leases of the
    -- one before it, or two workers would choose the same strategies and one of them
    -- would go without; in turn, the cap also holds exactly across workers.
    perform pg_advisory_xact_lock(hashtextextended('cascadian_claim_due', 0));
    -- The owners of the first due rows, as v3 reads them (index order, a limit).
    select count(*), array_agg(distinct w.user_id)
    into v_seen, v_owners
    from (
        select s.user_id
        from workflow_sessions s
        where s.auto_run
          and s.status in ('running', 'error')
          and s.is_current_version
          and s.next_execution_at <= (select p_now)
          and (s.lease_expires_at is null or s.lease_expires_at <= p_now)
        order by s.next_execution_at
        limit v_window
    ) as w;
    if v_seen = 0 then
        return;
    end if;
    v_picks := cascadian_fair_picks_v1(v_owners, p_now, p_limit, p_owner_limit);
    if v_seen = v_window and cardinality(v_picks) < p_limit then
        -- The window is one backlog whose share is used up: every owner, once each.
        with recursive owners as (
            (
                select s.user_id
                from workflow_sessions s
                where s.auto_run and s.status in ('running', 'error') and s.is_current_version
                order by s.user_id
                limit 1
            )
            union all
            select (
                select s.user_id
                from workflow_sessions s
                where s.auto_run and s.status in ('running', 'error') and s.is_current_version
                  and s.user_id > owners.user_id
                order by s.user_id
                limit 1
            )
            from owners
            where owners.user_id is not null
        )
        select array_agg(owners.user_id) into v_owners
        from owners
        where owners.user_id is not null;
        v_picks := cascadian_fair_picks_v1(v_owners, p_now, p_limit, p_owner_limit);
    end if;

    return query
    with due as (
        select s.id, s.lease_token as abandoned_token
        from workflow_sessions s
        where s.id = any (v_picks)
          -- Again under the lock: another claim may have leased it meanwhile.
          and s.auto_run
          and s.status in ('running', 'error')
          and s.is_current_version
          and s.next_execution_at <= p_now
          and (s.lease_expires_at is null or s.lease_expires_at <= p_now)
        for update skip locked
    ),
    abandoned as (
        update workflow_executions e
        set status = 'cancelled',
            execution_completed_at = p_now,
            error_message = 'abandoned: the lease expired before the run was recorded'
        from due
        where e.id = due.abandoned_token and e.status = 'running'
        returning e.id
    ),
    claimed as (
        update workflow_sessions s
        set lease_token = gen_random_uuid(),
            lease_expires_at = p_now + make_interval(secs => p_lease_seconds)
        from due
        where s.id = due.id
        returning s.*
    ),
    runs as (
        insert into workflow_executions (
            id, workflow_id, user_id, execution_started_at, status,
            trigger_kind, scheduled_for, attempt, workflow_snapshot
        )
        select
            c.lease_token, c.id, c.user_id, p_now, 'running',
            'scheduled', c.next_execution_at,
            1 + coalesce((
                select max(prior.attempt)
                from workflow_executions prior
                where prior.workflow_id = c.id
                  and prior.scheduled_for = c.next_execution_at
                  and prior.trigger_kind = 'scheduled'
            ), 0),
            jsonb_build_object(
                'name', c.name, 'nodes', c.nodes, 'edges', c.edges,
                'variables', c.variables, 'trigger', c.trigger, 'version', c.version
            )
        from claimed c
        returning workflow_executions.id, workflow_executions.attempt
    )
    select
        c.lease_token, c.id, c.user_id, c.name, c.nodes::text, c.edges::text,
        coalesce(c.variables, '{}'::jsonb)::text, c.trigger::text,
        coalesce(c.execution_interval_minutes, 5), c.cron_expression, c.timezone,
        c.next_execution_at, r.attempt, c.lease_expires_at
    from claimed c
    join runs r on r.id = c.lease_token
    order by c.next_execution_at;
end;
$$;

select cascadian_restrict_functions_v1();
