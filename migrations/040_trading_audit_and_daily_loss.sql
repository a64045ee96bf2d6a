-- The trading book's changes go to the audit log (issue 28, with 027's actor):
-- cascadian_set_trading_limits_v3 and cascadian_set_kill_switch_v2 take the actor
-- last (p_actor) and write the entry (the settings or the switch, before and after)
-- in the same transaction as the change, and only when a change is made: a refusal
-- (a bad value, a strategy not found) changes nothing and writes nothing.
--
-- A user actor finds only their own strategies (another's answers null, exactly as
-- a missing one does); the global kill switch is an operator's alone.
--
-- Each calls the previous version for the change itself, so its checks stay in one
-- place; the previous versions stay for the release still running during a deploy.

-- Set some of a strategy's trading settings as v2 (032) does, as p_actor. Answers
-- the settings, or null for a strategy not found (or not the user's).
create or replace function cascadian_set_trading_limits_v3(
    p_workflow_id uuid, p jsonb, p_now timestamptz, p_actor jsonb
)
returns jsonb
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    v_before jsonb;
    v_answer jsonb;
begin
    perform 1 from workflow_sessions w
    where w.id = p_workflow_id and (v_user is null or w.user_id = v_user)
    for update;
    if not found then
        -- v2's checks of p still answer a bad value first, as they did.
        perform cascadian_set_trading_limits_v2(null, p, p_now);
        return null;
    end if;
    -- The settings without when they were set: the entry's own time says that.
    select cascadian_limits_json_v1(l) - 'updated_at' into v_before
    from cascadian_trading_limits l where l.workflow_id = p_workflow_id
    for update;
    v_before := coalesce(
        v_before, cascadian_limits_json_v1(null::cascadian_trading_limits) - 'updated_at'
    );
    v_answer := cascadian_set_trading_limits_v2(p_workflow_id, p, p_now);
    if v_answer - 'updated_at' is distinct from v_before then
        perform cascadian_audit_v1(
            p_actor, 'set_limits', p_workflow_id, v_before, v_answer - 'updated_at', p_now
        );
    end if;
    return v_answer;
end;
$$;

-- Turn a kill switch on or off as v1 (023) does, as p_actor: the global one
-- (p_workflow_id null; an operator only, else 22023) or a strategy's (null for a
-- strategy not found or not the user's). Turning off a switch that is off is not an
-- error and writes no entry.
create or replace function cascadian_set_kill_switch_v2(
    p_workflow_id uuid, p_on boolean, p_by text, p_reason text, p_now timestamptz,
    p_actor jsonb
)
returns jsonb
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    v_scope text := coalesce(p_workflow_id::text, 'global');
    v_before jsonb;
    v_answer jsonb;
    v_after jsonb;
begin
    if p_workflow_id is null and p_actor ->> 'kind' <> 'operator' then
        raise exception 'only an operator sets the global kill switch' using errcode = '22023';
    end if;
    if p_workflow_id is not null then
        perform 1 from workflow_sessions w
        where w.id = p_workflow_id and (v_user is null or w.user_id = v_user)
        for update;
        if not found then
            return null;
        end if;
    end if;
    select jsonb_build_object('on', true, 'set_by', k.set_by, 'reason', k.reason)
    into v_before
    from cascadian_kill_switches k where k.scope = v_scope
    for update;
    v_before := coalesce(v_before, jsonb_build_object('on', false));
    v_answer := cascadian_set_kill_switch_v1(p_workflow_id, p_on, p_by, p_reason, p_now);
    v_after := case when p_on
        then jsonb_build_object(
            'on', true, 'set_by', v_answer ->> 'set_by', 'reason', v_answer ->> 'reason'
        )
        else jsonb_build_object('on', false) end;
    if v_after is distinct from v_before or p_on then
        perform cascadian_audit_v1(
            p_actor, case when p_on then 'kill_switch_on' else 'kill_switch_off' end,
            p_workflow_id, v_before, v_after, p_now
        );
    end if;
    return v_answer;
end;
$$;

select cascadian_restrict_functions_v1();
