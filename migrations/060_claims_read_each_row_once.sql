-- The scheduled claim's server work per run (issue 34), and one index written twice
-- on the app's schema.
--
-- cascadian_claim_due_v6 is v5 (052) with two statements' work cut:
--   - v5 inserted a lease row for every pick (on conflict do nothing) before taking
--     the picks' leases, at every claim, though a strategy claimed before already has
--     its row: a look-up in the key's index and a speculative insert per pick. v6
--     takes the leases first (the same statement of its own, for the same reason: the
--     claim's last statement reads the sessions only once the leases are its own)
--     and inserts rows only for picks that have none, which only a strategy's first
--     claim needs. A row this claim inserts is its own until the claim commits (a
--     claim, finish or control function that wants it waits, as for a taken lease),
--     so it joins the leases taken. A pick whose row another transaction holds is
--     passed over, as in v5: its row exists, so nothing is inserted for it.
--   - v5's last statement read each due session twice (once to check it is still
--     due, once to return and snapshot its graph); v6 reads it once and carries its
--     columns along.
-- Everything else (the turns taken under the advisory lock, the fair picks, the
-- abandoned runs cancelled, the token, the attempt, the execution row and its
-- snapshot) is v5's.
--
-- workflow_executions_workflow_idx (002) is (workflow_id, execution_started_at desc).
-- The app's schema has the same index under its own name
-- (idx_workflow_executions_workflow_id), so there every run wrote the same entry
-- into two indexes, at its claim and again at its finish (the app's status index
-- makes no finish HOT there). Ours is dropped where another index on the same
-- columns in the same order exists; reads that used it use the app's. A fresh
-- schema keeps it.

do $$
declare
    v_ours regclass := to_regclass('workflow_executions_workflow_idx');
begin
    if v_ours is not null and exists (
        select 1
        from pg_index o
        join pg_index i on i.indrelid = o.indrelid and i.indexrelid <> o.indexrelid
        where o.indexrelid = v_ours
          and i.indkey::text = o.indkey::text
          and i.indoption::text = o.indoption::text
          and i.indclass::text = o.indclass::text
          and i.indpred is null
          and i.indexprs is null
          and i.indisvalid
    ) then
        drop index workflow_executions_workflow_idx;
    end if;
end;
$$;

create or replace function cascadian_claim_due_v6(
    p_now timestamptz,
    p_limit integer,
    p_lease_seconds double precision,
    p_owner_limit integer
)
returns table (
    execution_id uuid, workflow_id uuid, user_id uuid, name text, nodes text, edges text,
    variables text, trigger text, execution_interval_minutes integer, cron_expression text,
    timezone text, scheduled_for timestamptz, attempt integer, lease_expires_at timestamptz
)
language plpgsql
as $$
#variable_conflict use_column
declare
    v_window integer := p_limit * 4;
    v_seen integer;
    v_owners uuid[];
    v_picks uuid[];
    v_locked uuid[];
begin
    -- Claims take turns, as in v4 (039).
    perform pg_advisory_xact_lock(hashtextextended('cascadian_claim_due', 0));
    select count(*), array_agg(distinct w.user_id)
    into v_seen, v_owners
    from (
        select s.user_id
        from workflow_sessions s
        where s.auto_run
          and s.status in ('running', 'error')
          and s.is_current_version
          and s.next_execution_at <= (select p_now)
          and not exists (
              select 1 from cascadian_leases l
              where l.workflow_id = s.id and l.expires_at > p_now
          )
        order by s.next_execution_at
        limit v_window
    ) as w;
    if v_seen = 0 then
        return;
    end if;
    v_picks := cascadian_fair_picks_v2(v_owners, p_now, p_limit, p_owner_limit);
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
        v_picks := cascadian_fair_picks_v2(v_owners, p_now, p_limit, p_owner_limit);
    end if;

    -- The picks' lease rows, taken in a statement of their own (one a finish or a
    -- manual claim holds is passed over): the next statement's snapshot, taken once
    -- they are ours, shows each session as no one else can change its run now (a run
    -- whose lease ran out may have been recorded meanwhile, moving its next slot).
    select coalesce(array_agg(x.workflow_id), '{}') into v_locked
    from (
        select l.workflow_id
        from cascadian_leases l
        where l.workflow_id = any (v_picks)
          and (l.expires_at is null or l.expires_at <= p_now)
        for update skip locked
    ) as x;
    -- A strategy's first claim makes its lease row, ours until this claim ends. Only
    -- a pick with no row is inserted: nearly always there is none to make.
    if cardinality(v_locked) < cardinality(v_picks) then
        with made as (
            insert into cascadian_leases (workflow_id)
            select p.id
            from unnest(v_picks) as p (id)
            where not exists (select 1 from cascadian_leases l where l.workflow_id = p.id)
            on conflict (workflow_id) do nothing
            returning cascadian_leases.workflow_id
        )
        select v_locked || coalesce(array_agg(made.workflow_id), '{}') into v_locked
        from made;
    end if;

    return query
    with due as (
        select
            l.workflow_id as id, l.token as abandoned_token, s.user_id, s.name, s.nodes,
            s.edges, s.variables, s.trigger, s.version, s.execution_interval_minutes,
            s.cron_expression, s.timezone, s.next_execution_at
        from cascadian_leases l
        join workflow_sessions s on s.id = l.workflow_id
        where l.workflow_id = any (v_locked)
          -- Again, as the session is now: a pause or a late finish may have come first.
          and s.auto_run
          and s.status in ('running', 'error')
          and s.is_current_version
          and s.next_execution_at <= p_now
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
    leased as (
        update cascadian_leases l
        set token = gen_random_uuid(),
            expires_at = p_now + make_interval(secs => p_lease_seconds)
        from due
        where l.workflow_id = due.id
        returning l.workflow_id, l.token, l.expires_at
    ),
    claimed as (
        select le.token, le.expires_at, d.*
        from leased le
        join due d on d.id = le.workflow_id
    ),
    runs as (
        insert into workflow_executions (
            id, workflow_id, user_id, execution_started_at, status,
            trigger_kind, scheduled_for, attempt, workflow_snapshot
        )
        select
            c.token, c.id, c.user_id, p_now, 'running',
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
        c.token, c.id, c.user_id, c.name, c.nodes::text, c.edges::text,
        coalesce(c.variables, '{}'::jsonb)::text, c.trigger::text,
        coalesce(c.execution_interval_minutes, 5), c.cron_expression, c.timezone,
        c.next_execution_at, r.attempt, c.expires_at
    from claimed c
    join runs r on r.id = c.token
    order by c.next_execution_at;
end;
$$;


select cascadian_restrict_functions_v1();
