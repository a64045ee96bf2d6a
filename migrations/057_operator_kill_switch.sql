-- A kill switch an operator turned on is the operator's to turn off (a review of
-- issue 33): with 049 a signed-in user could clear, or overwrite, the switch an
-- operator had put on their strategy, and so lift an operator's stop on their own.
--
--   - cascadian_kill_switches.set_by_kind: who turned the switch on ('operator',
--     'user' or 'system', as the audit log's actor_kind); NULL for a switch turned on
--     before this migration, which counts as an operator's (the stricter reading).
--   - cascadian_set_kill_switch_v3: v2, but a user may neither turn off nor overwrite
--     a switch that is not a user's. Turning it off answers
--     {"refused": "operator_switch"} and changes nothing (no audit entry); turning it
--     on while an operator's is on keeps the operator's, as it is, and writes nothing:
--     the switch is on either way. An operator may still turn off any switch.
--
-- Adding a nullable column without a default rewrites nothing.

alter table cascadian_kill_switches add column if not exists set_by_kind text;

create or replace function cascadian_set_kill_switch_v3(
    p_workflow_id uuid, p_on boolean, p_by text, p_reason text, p_now timestamptz,
    p_actor jsonb
)
returns jsonb
language plpgsql
as $$
declare
    v_user uuid := cascadian_actor_user_v1(p_actor);
    v_kind text := coalesce(p_actor ->> 'kind', 'operator');
    v_held text;
    v_found boolean;
    v_answer jsonb;
begin
    if p_workflow_id is not null and v_kind = 'user' then
        -- The strategy first, then its switch: the order v2 locks them in.
        perform 1 from workflow_sessions w
        where w.id = p_workflow_id and w.user_id = v_user
        for update;
        if not found then
            return null;
        end if;
        select true, coalesce(k.set_by_kind, 'operator')
        into v_found, v_held
        from cascadian_kill_switches k
        where k.scope = p_workflow_id::text
        for update;
        if v_found and v_held <> 'user' then
            if p_on then
                return jsonb_build_object('on', true, 'scope', p_workflow_id::text, 'kept', v_held);
            end if;
            return jsonb_build_object('refused', 'operator_switch', 'set_by_kind', v_held);
        end if;
    end if;
    v_answer := cascadian_set_kill_switch_v2(
        p_workflow_id, p_on, p_by, p_reason, p_now, p_actor
    );
    if v_answer is not null and p_on then
        update cascadian_kill_switches
        set set_by_kind = v_kind
        where scope = coalesce(p_workflow_id::text, 'global');
    end if;
    return v_answer;
end;
$$;

select cascadian_restrict_functions_v1();
