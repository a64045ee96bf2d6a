-- Room on each page for the update every run makes, so that it is a HOT update (a
-- new row version on the same page, no new index entries) instead of one entry more
-- in every index of the table. Only where it can be HOT: an update that changes an
-- indexed column never is, however much room its page has, so a table with such an
-- index (the original app's workflow_executions.status, and its
-- workflow_sessions.updated_at, which its trigger sets on every update) is left as
-- it is rather than given pages half empty for nothing.
--   - workflow_sessions: the claim sets the lease (lease_token, lease_expires_at).
--     The finish moves next_execution_at, which the due index holds: never HOT.
--   - workflow_executions: the finish fills in status, times, outputs and errors.
--     The row grows then, so the page needs about half its room.
-- Measured in docs/performance.md, section 15 (bench/hot_updates.py). Only pages
-- written from now on are left half full.
do $$
declare
    t record;
begin
    for t in
        select *
        from (values
            ('workflow_sessions', array['lease_token', 'lease_expires_at', 'updated_at']),
            ('workflow_executions', array[
                'status', 'execution_completed_at', 'duration_ms', 'nodes_executed',
                'outputs', 'errors', 'error_message'
            ])
        ) as v (name, changed)
    loop
        if not exists (
            select 1
            from pg_index i
            where i.indrelid = t.name::regclass
              -- the index's columns, expressions and predicate, as its definition says
              and pg_get_indexdef(i.indexrelid) ~ ('\m(' || array_to_string(t.changed, '|') || ')\M')
        ) then
            execute format('alter table %I set (fillfactor = 50)', t.name);
        end if;
    end loop;
end;
$$;
