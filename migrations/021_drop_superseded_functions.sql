-- Drop the superseded versions of the state functions that nothing calls any more.
--
-- Each change to a function's behaviour added a new version beside the old one
-- (cascadian_claim_due_v3 beside v2 and v1), so a process of the previous release
-- kept working while the next one was deployed. The versions below have had no
-- caller since the migration named beside each: not the store, not another function
-- (a PL/pgSQL body's calls are not tracked as dependencies, so each body was
-- checked), not a policy, default or trigger.
--
-- Kept on purpose, because a newer version calls them: cascadian_finish_runs_v2 (the
-- finish falls back to it when the database refuses a batch, 015), and
-- cascadian_claim_manual_v2, cascadian_start_v2, cascadian_resume_v2 and
-- cascadian_halt_v2 (their v3 checks for an archived strategy and then calls them,
-- 010). tests/store/test_sql_functions.py lists every function that stays and why.
--
-- Safe over an existing deployment and on Supabase: `if exists` with each exact
-- signature (a function of the same name with other arguments is left alone), no
-- CASCADE (a dependency we did not know of makes the migration fail and roll back,
-- rather than dropping it), nothing that needs a superuser, one transaction. Upgrade
-- in the usual order (migrate, then deploy): only cascadian code older than
-- migrations/015 calls any of these.

-- Superseded by v2 (008: current versions only), then v3 (015: planned the same
-- whatever the statistics).
drop function if exists cascadian_claim_due_v1(timestamp with time zone, integer, double precision);
drop function if exists cascadian_claim_due_v2(timestamp with time zone, integer, double precision);

-- Superseded by v2 (008: side writes isolated), which v3 (015) falls back to.
drop function if exists cascadian_finish_runs_v1(jsonb, integer);

-- Superseded by v2 (012: the delivery id), then v3 (013: the tick's own id).
drop function if exists cascadian_record_tick_v1(jsonb);
drop function if exists cascadian_record_tick_v2(jsonb);

-- Superseded by v2 (012: with each tick's delivery id).
drop function if exists cascadian_ticks_v1(integer);

-- Superseded by v2 (007: through the owner's notification settings).
drop function if exists cascadian_notify_v1(jsonb);

-- Superseded by v2 (008: old versions refused), which v3 (010) calls.
drop function if exists cascadian_start_v1(
    uuid, timestamp with time zone, integer, text, text, timestamp with time zone
);
drop function if exists cascadian_halt_v1(uuid, text);
drop function if exists cascadian_resume_v1(
    uuid, timestamp with time zone, timestamp with time zone
);
drop function if exists cascadian_claim_manual_v1(uuid, timestamp with time zone, double precision);

-- Superseded by v2 (008: node logs in the order they were written).
drop function if exists cascadian_execution_v1(uuid);
