-- Reading the audit log (027) a page at a time, and pruning it by its own retention.

-- One page of the audit log, newest first, as a jsonb array of entries (each with
-- its strategy's name, when the strategy still exists). p: {workflow_id?,
-- actor_kind?, actor_user_id?, source?, action?, since?, until? (at >= since and
-- at < until), before_at? and before_id? (the keyset cursor: entries older than
-- that one), limit}. Keyset paging walks (at, id) down an index from the cursor,
-- so a page deep in a long log costs what the first one does. Dynamic SQL, so each
-- filter's shape gets its own plan (one strategy's entries from
-- cascadian_audit_log_workflow_idx, one user's from cascadian_audit_log_user_idx);
-- only fixed predicates reach the statement, every value is a parameter.
create or replace function cascadian_audit_log_v1(p jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
    v_where text := 'true';
    v_data jsonb;
begin
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
            select a.id, a.at, a.actor_kind, a.actor_user_id, a.source, a.address, a.action,
                a.workflow_id, s.name as strategy_name, a.before, a.after
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
    using p, coalesce((p ->> 'limit')::integer, 50);
    return v_data;
end;
$$;

-- Delete (or, p_dry_run, count) the entries older than p_before, at most p_max_rows,
-- oldest first; answers how many. Entries another transaction holds are skipped.
create or replace function cascadian_prune_audit_v1(
    p_before timestamptz,
    p_max_rows integer,
    p_dry_run boolean
)
returns integer
language plpgsql
as $$
declare
    n integer;
begin
    if p_dry_run then
        select count(*) into n from cascadian_audit_log a where a.at < p_before;
        return n;
    end if;
    with doomed as (
        select a.id from cascadian_audit_log a
        where a.at < p_before
        order by a.at, a.id
        limit p_max_rows
        for update skip locked
    )
    delete from cascadian_audit_log a using doomed d where a.id = d.id;
    get diagnostics n = row_count;
    return n;
end;
$$;

select cascadian_restrict_functions_v1();
