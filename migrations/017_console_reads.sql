-- Reads for the operators' console (cascadian/web/console/): what an operator on
-- call looks at first. Read-only (stable) functions, so the Postgres and the
-- Supabase (PostgREST .rpc) stores share them; nothing here changes a table.
--
-- Old versions of a strategy (is_current_version false) never run again, so the
-- console lists only current versions; a run or a paper order still names the
-- version it ran.

-- The scheduler at a glance: current strategies by status, and runs in flight. (The
-- due backlog and its oldest lag are cascadian_backlog_v1's, migrations/013.)
create or replace function cascadian_console_overview_v1(p_now timestamptz)
returns jsonb
language sql
stable
as $$
    select jsonb_build_object(
        'by_status', coalesce((
            select jsonb_object_agg(c.status, c.n)
            from (
                select coalesce(s.status, 'draft') as status, count(*) as n
                from workflow_sessions s
                where s.is_current_version
                group by 1
            ) c
        ), '{}'::jsonb),
        'in_flight', (
            select count(*) from workflow_sessions s where s.lease_expires_at > p_now
        )
    );
$$;

-- A page of strategies with the columns of cascadian_strategies_v1, plus the total
-- that match. p_filter: 'all'; 'failing' (auto-paused, or an error streak); 'due'
-- (its slot has come and it has not been claimed); or a status ('running',
-- 'paused', ...). p_search: part of the name (case-insensitive), or the whole id.
-- p_sort: 'attention' (failing first, longest streak, most overdue), 'name',
-- 'next_run' or 'last_run'.
create or replace function cascadian_console_strategies_v1(
    p_now timestamptz,
    p_filter text,
    p_search text,
    p_sort text,
    p_limit integer,
    p_offset integer
)
returns table (
    id uuid,
    user_id uuid,
    name text,
    status text,
    auto_run boolean,
    execution_interval_minutes integer,
    cron_expression text,
    timezone text,
    next_execution_at timestamptz,
    last_executed_at timestamptz,
    execution_count integer,
    success_count integer,
    error_count integer,
    success_rate double precision,
    average_execution_time_ms integer,
    last_error text,
    run_in_flight boolean,
    lease_expires_at timestamptz,
    total bigint
)
language sql
stable
as $$
    with matching as (
        select
            s.*,
            (coalesce(s.auto_run, false) and s.status in ('running', 'error')
                and s.next_execution_at <= p_now) as is_due,
            (s.status = 'error' or coalesce(s.error_count, 0) > 0) as is_failing
        from workflow_sessions s
        where s.is_current_version
          and (
              p_search is null or p_search = ''
              or strpos(lower(s.name), lower(p_search)) > 0
              or s.id::text = lower(p_search)
          )
    ),
    filtered as (
        select m.*
        from matching m
        where coalesce(p_filter, 'all') = 'all'
           or (p_filter = 'failing' and m.is_failing)
           or (p_filter = 'due' and m.is_due)
           or m.status = p_filter
    )
    select
        f.id, f.user_id, f.name, coalesce(f.status, 'draft'), coalesce(f.auto_run, false),
        f.execution_interval_minutes, f.cron_expression, f.timezone,
        f.next_execution_at, f.last_executed_at,
        coalesce(f.execution_count, 0), coalesce(f.success_count, 0),
        coalesce(f.error_count, 0),
        case when f.execution_count > 0
            then coalesce(f.success_count, 0)::double precision / f.execution_count
        end,
        f.average_execution_time_ms, f.last_error,
        coalesce(f.lease_expires_at > p_now, false),
        f.lease_expires_at,
        count(*) over ()
    from filtered f
    order by
        case when p_sort = 'attention' then f.is_failing end desc nulls last,
        case when p_sort = 'attention' then coalesce(f.error_count, 0) end desc nulls last,
        case when p_sort = 'attention' and f.is_due then f.next_execution_at end asc nulls last,
        case when p_sort = 'next_run' then f.next_execution_at end asc nulls last,
        case when p_sort = 'last_run' then f.last_executed_at end desc nulls last,
        f.name, f.id
    limit p_limit
    offset p_offset;
$$;

-- The newest notifications, of every owner, with the name of the strategy that
-- sent each (null: not sent by a strategy, or the strategy is gone), as
-- {"total": <all of them>, "data": [...]}. p_workflow_id null: all strategies.
create or replace function cascadian_console_notifications_v1(
    p_workflow_id uuid,
    p_limit integer,
    p_offset integer
)
returns jsonb
language sql
stable
as $$
    select jsonb_build_object(
        'total', (
            select count(*) from notifications n
            where p_workflow_id is null or n.workflow_id = p_workflow_id
        ),
        'data', coalesce((
            select jsonb_agg(to_jsonb(page) order by page.created_at desc, page.id desc)
            from (
                select
                    n.id::text as id, n.user_id, n.workflow_id, s.name as workflow_name,
                    n.type, n.title, n.message, n.link, coalesce(n.priority, 'normal') as priority,
                    n.is_read, n.created_at
                from notifications n
                left join workflow_sessions s on s.id = n.workflow_id
                where p_workflow_id is null or n.workflow_id = p_workflow_id
                order by n.created_at desc, n.id desc
                limit p_limit
                offset p_offset
            ) page
        ), '[]'::jsonb)
    );
$$;

-- The newest paper orders (simulated, never real) of every strategy, each with
-- its strategy's name and the position it left, as {"total", "data"}.
create or replace function cascadian_console_paper_orders_v1(p_limit integer, p_offset integer)
returns jsonb
language sql
stable
as $$
    select jsonb_build_object(
        'total', (select count(*) from cascadian_paper_orders),
        'data', coalesce((
            select jsonb_agg(to_jsonb(page) order by page.seq desc)
            from (
                select
                    o.id as seq, o.order_id, o.workflow_id, s.name as workflow_name,
                    o.execution_id, o.node_id, o.market_id, o.market_question, o.outcome,
                    o.side, o.order_type, o.amount_usd, o.price, o.shares, o.price_source,
                    o.limit_price, o.position_shares, o.realized_pnl, o.created_at
                from cascadian_paper_orders o
                join workflow_sessions s on s.id = o.workflow_id
                order by o.id desc
                limit p_limit
                offset p_offset
            ) page
        ), '[]'::jsonb)
    );
$$;

select cascadian_restrict_functions_v1();
