-- Signed-in users on the trading, trigger, bulk and audit routes (issue 33): each
-- read takes p_user, the acting user, or NULL for the operator (who sees
-- everything, as the previous versions answer), and scopes to them in the same
-- statement as the read. A strategy that is not p_user's answers exactly as a
-- missing one does (NULL), never something that would confirm it exists.
--
-- The changes these routes make already check the owner where they write: the
-- limits and a strategy's kill switch (040), the triggers (028), a re-run (026),
-- and bulk's changes, each through 027's actor-aware control functions.
--
-- The previous versions stay for the release still running during a deploy.

-- A strategy's paper portfolio (cascadian_paper_portfolio_v2), if p_user may see it.
create or replace function cascadian_paper_portfolio_v3(
    p_workflow_id uuid, p_now timestamptz, p_user uuid
)
returns jsonb
language sql
stable
as $$
    select cascadian_paper_portfolio_v2(s.id, p_now)
    from workflow_sessions s
    where s.id = p_workflow_id and (p_user is null or s.user_id = p_user);
$$;

-- A page of a strategy's orders (cascadian_trading_orders_v1), if p_user may see it.
create or replace function cascadian_trading_orders_v2(
    p_workflow_id uuid, p_result text, p_limit integer, p_offset integer, p_user uuid
)
returns jsonb
language sql
stable
as $$
    select cascadian_trading_orders_v1(s.id, p_result, p_limit, p_offset)
    from workflow_sessions s
    where s.id = p_workflow_id and (p_user is null or s.user_id = p_user);
$$;

-- A strategy's equity curve (cascadian_equity_curve_v2, 048), if p_user may see it.
create or replace function cascadian_equity_curve_v3(
    p_workflow_id uuid, p_since timestamptz, p_limit integer, p_user uuid
)
returns jsonb
language sql
stable
as $$
    select cascadian_equity_curve_v2(s.id, p_since, p_limit)
    from workflow_sessions s
    where s.id = p_workflow_id and (p_user is null or s.user_id = p_user);
$$;

-- The kill switches that are on (cascadian_kill_switches_v1's shape): for a user,
-- the global one and their own strategies' only (another user's switch would name
-- their strategy).
create or replace function cascadian_kill_switches_v2(p_user uuid)
returns jsonb
language sql
stable
as $$
    select coalesce(jsonb_agg(jsonb_build_object(
        'scope', k.scope, 'workflow_id', k.workflow_id, 'workflow_name', s.name,
        'set_by', k.set_by, 'reason', k.reason, 'set_at', k.set_at
    ) order by k.workflow_id is not null, k.set_at desc), '[]'::jsonb)
    from cascadian_kill_switches k
    left join workflow_sessions s on s.id = k.workflow_id
    where p_user is null or k.workflow_id is null or s.user_id = p_user;
$$;

-- A strategy's triggers with their state (cascadian_triggers_v1), if p_user may see it.
create or replace function cascadian_triggers_v2(p_workflow_id uuid, p_user uuid)
returns jsonb
language sql
stable
as $$
    select cascadian_triggers_v1(s.id)
    from workflow_sessions s
    where s.id = p_workflow_id and (p_user is null or s.user_id = p_user);
$$;

-- A strategy's newest trigger events (cascadian_trigger_events_v1); NULL (v1
-- answered []) for a strategy that is missing or not p_user's.
create or replace function cascadian_trigger_events_v2(
    p_workflow_id uuid, p_limit integer, p_user uuid
)
returns jsonb
language sql
stable
as $$
    select cascadian_trigger_events_v1(s.id, p_limit)
    from workflow_sessions s
    where s.id = p_workflow_id and (p_user is null or s.user_id = p_user);
$$;

-- The triggers' overview (cascadian_trigger_overview_v2, 043) for the operator; for a
-- user, the same counts over their own strategies' triggers and events, and of the
-- listeners only whether each is connected and when it was last heard (their hosts
-- and subscriptions are the deployment's, not the user's).
create or replace function cascadian_trigger_overview_v3(
    p_now timestamptz, p_fresh_seconds double precision, p_user uuid
)
returns jsonb
language sql
stable
as $$
    select case when p_user is null
        then cascadian_trigger_overview_v2(p_now, p_fresh_seconds)
        else jsonb_build_object(
            'listeners', coalesce((
                select jsonb_agg(jsonb_build_object(
                    'connected', l.connected, 'updated_at', l.updated_at,
                    'last_frame_at', l.last_frame_at
                ) order by l.started_at)
                from cascadian_trigger_listeners l
                where l.updated_at >= p_now - make_interval(secs => p_fresh_seconds)
            ), '[]'::jsonb),
            'armed_triggers', (
                select count(*) from cascadian_armed_triggers_v1() a
                join workflow_sessions s on s.id = a.workflow_id
                where s.user_id = p_user
            ),
            'pending_events', (
                select count(*) from cascadian_trigger_events e
                join workflow_sessions s on s.id = e.workflow_id
                where e.done_at is null and s.user_id = p_user
            ),
            'events_last_hour', (
                select count(*) from cascadian_trigger_events e
                join workflow_sessions s on s.id = e.workflow_id
                where e.created_at >= p_now - interval '1 hour' and s.user_id = p_user
            ),
            'lag_last_hour', (
                select jsonb_build_object(
                    'runs', count(*),
                    'average_seconds',
                    avg(extract(epoch from x.execution_started_at - e.observed_at)),
                    'max_seconds', max(extract(epoch from x.execution_started_at - e.observed_at))
                )
                from cascadian_trigger_events e
                join workflow_sessions s on s.id = e.workflow_id
                join workflow_executions x on x.id = e.execution_id
                where e.created_at >= p_now - interval '1 hour' and s.user_id = p_user
            )
        )
    end;
$$;

-- The bulk selection (cascadian_bulk_selection_v1); for a user, their own
-- strategies only, whatever owner the filter names.
create or replace function cascadian_bulk_selection_v2(
    p_now timestamptz,
    p_status text,
    p_user_id uuid,
    p_q text,
    p_auto_paused_within double precision,
    p_limit integer,
    p_user uuid
)
returns table (
    id uuid,
    user_id uuid,
    name text,
    status text,
    auto_run boolean,
    error_count integer,
    last_executed_at timestamptz,
    total bigint
)
language sql
stable
as $$
    select * from cascadian_bulk_selection_v1(
        p_now, p_status, coalesce(p_user, p_user_id), p_q, p_auto_paused_within, p_limit
    );
$$;

-- One page of the audit log (cascadian_audit_log_v1, the same p and answer); for a
-- user, only the entries they made or about their own strategies, and the
-- client's address only on the entries they made (another's, an operator's
-- included, is not theirs to see).
create or replace function cascadian_audit_log_v2(p jsonb, p_user uuid)
returns jsonb
language plpgsql
stable
as $$
declare
    v_where text := 'true';
    v_data jsonb;
begin
    if p_user is not null then
        v_where := v_where || ' and (a.actor_user_id = $3 or exists ('
            || 'select 1 from workflow_sessions o where o.id = a.workflow_id '
            || 'and o.user_id = $3))';
    end if;
    if p ->> 'workflow_id' is not null then
        v_where := v_where || ' and a.workflow_id = ($1 ->> ''workflow_id'')::uuid';
    end if;
    if p ->> 'actor_kind' is not null then
        v_where := v_where || ' and a.actor_kind = $1 ->> ''actor_kind''';
    end if;
    if p ->> 'actor_user_id' is not null then
        v_where := v_where || ' and a.actor_user_id = ($1 ->> ''actor_user_id'')::uuid';
    end if;
    if p ->> 'source' is not null then
        v_where := v_where || ' and a.source = $1 ->> ''source''';
    end if;
    if p ->> 'action' is not null then
        v_where := v_where || ' and a.action = $1 ->> ''action''';
    end if;
    if p ->> 'since' is not null then
        v_where := v_where || ' and a.at >= ($1 ->> ''since'')::timestamptz';
    end if;
    if p ->> 'until' is not null then
        v_where := v_where || ' and a.at < ($1 ->> ''until'')::timestamptz';
    end if;
    if p ->> 'before_at' is not null then
        v_where := v_where || ' and (a.at, a.id) < '
            || '(($1 ->> ''before_at'')::timestamptz, ($1 ->> ''before_id'')::bigint)';
    end if;
    execute format(
        $q$
        select coalesce(jsonb_agg(to_jsonb(e) order by e.at desc, e.id desc), '[]'::jsonb)
        from (
            select a.id, a.at, a.actor_kind, a.actor_user_id, a.source,
                case when $3 is null or a.actor_user_id = $3 then a.address end as address,
                a.action, a.workflow_id, s.name as strategy_name, a.before, a.after
            from (
                select * from cascadian_audit_log a
                where %s
                order by a.at desc, a.id desc
                limit $2
            ) a
            left join workflow_sessions s on s.id = a.workflow_id
        ) e
        $q$,
        v_where
    )
    into v_data
    using p, coalesce((p ->> 'limit')::integer, 50), p_user;
    return v_data;
end;
$$;

select cascadian_restrict_functions_v1();
