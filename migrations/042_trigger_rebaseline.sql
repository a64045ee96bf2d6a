-- A strategy started or resumed re-baselines its price triggers.
--
-- While a strategy is paused, stopped or archived (or an old version) its prices are
-- not observed (cascadian_observe_v1 skips it), so its triggers keep the state they
-- had when it stopped. Compared with that state, the first price after a resume
-- would fire for a crossing that happened while nobody was watching: a paused
-- strategy would buy, on resume, on a move that may be hours old. A trader resuming
-- a strategy means "from now on", so every price trigger of a strategy that becomes
-- armed (auto_run on, running or error, the current version) from not armed goes
-- back to 'waiting': the next price it sees is a baseline, never a crossing (028's
-- rule 1), and only a move across the level after that runs it. Its last price,
-- crossing count and events are kept (event keys stay unique).
--
-- A row trigger, so every way of resuming does it: the control API and CLI
-- (cascadian_resume_*/start_*), bulk changes, and the builder's own updates of
-- workflow_sessions on an existing deployment. Its WHEN clause keeps it off every
-- other update (claims, records, leases): they never call it.
--
-- A resolved trigger is left alone: a resolution is a state, not a move. One that
-- happened during the pause fires once a resolution is observed after the resume:
-- a REST tick sees the market closed; the market channel does not send it again.

create or replace function cascadian_rebaseline_triggers_v1()
returns trigger
language plpgsql
as $$
begin
    update cascadian_triggers t
    set armed = null
    where t.workflow_id = new.id and t.kind = 'price' and t.armed is not null;
    return new;
end;
$$;

drop trigger if exists cascadian_rebaseline_triggers on workflow_sessions;
create trigger cascadian_rebaseline_triggers
    after update of auto_run, status, is_current_version on workflow_sessions
    for each row
    when (
        coalesce(new.auto_run and new.status in ('running', 'error')
                 and new.is_current_version, false)
        and not coalesce(old.auto_run and old.status in ('running', 'error')
                         and old.is_current_version, false)
    )
    execute function cascadian_rebaseline_triggers_v1();

select cascadian_restrict_functions_v1();
