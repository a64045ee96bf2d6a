-- When the next strategy falls due, so a worker sleeps until then instead of
-- polling at a fixed interval. The earliest slot of a current, scheduled strategy
-- whose lease is not held, read from the due index in its order (one row); NULL
-- when none is scheduled. A lease held now that expires later (a run whose worker
-- died) is not waited for: the worker's bounded interval catches it.

create or replace function cascadian_next_due_v1(p_now timestamptz)
returns timestamptz
language sql
stable
as $$
    select s.next_execution_at
    from workflow_sessions s
    where s.auto_run
      and s.status in ('running', 'error')
      and s.is_current_version
      and s.next_execution_at is not null
      and (s.lease_expires_at is null or s.lease_expires_at <= p_now)
    order by s.next_execution_at
    limit 1;
$$;

select cascadian_restrict_functions_v1();
