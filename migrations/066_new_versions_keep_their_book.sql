-- A new version keeps its strategy's trading limits, kill switch and halt (review 3).
--
-- A new version (cascadian_new_version_v4, 062: PATCH /api/strategies/{id} with a
-- graph) is a new workflow_sessions row with a new id, and the trading book is keyed
-- by that id: the limits (cascadian_trading_limits), the strategy's kill switch
-- (cascadian_kill_switches, scope = its id) and the daily-loss halt (on
-- cascadian_paper_portfolios) stayed with the old id. So the owner of a halted or
-- switched-off strategy made a new version, resumed it and traded with no halt, no
-- switch and no limits, past the circuit breaker its owner cannot bypass (064) and
-- the operator's switch (057).
--
-- cascadian_new_version_v5 is v4, and in the same transaction, once v3 made the new
-- version (the lease and the session locked, in that order), it locks the old
-- version's portfolio (the order every function takes: lease, session, portfolio)
-- and carries to the new id:
--
-- * the limits, as they are (every column but the id and updated_at);
-- * the strategy's kill switch, with who set it and its kind (set_by, set_by_kind),
--   so a user still cannot turn off an operator's switch on the new version;
-- * the halt: the new version's portfolio is made halted, with the same reason and
--   detail, so its orders are refused until an operator lifts the halt on it.
--
-- The halt is carried rather than the new version refused: refusing would stop the
-- owner fixing the graph that lost, and needs a new answer in every caller; carrying
-- it is three inserts in SQL and keeps who decides (an operator) unchanged.
--
-- The paper portfolio (cash, positions, orders, P&L) stays with the old version, its
-- record: positions are keyed by the orders that made them, which name the old id.
-- The new version's book starts from its initial bankroll (the limits carried), and
-- halted when the old one was. The old version is no longer current and never runs
-- again, so its book changes only by settlement.

create or replace function cascadian_new_version_v5(
    p_id uuid,
    p jsonb,
    p_now timestamptz,
    p_actor jsonb
)
returns table (result text, id uuid)
language plpgsql
as $$
#variable_conflict use_column
declare
    v_result text;
    v_new uuid;
    v_portfolio cascadian_paper_portfolios%rowtype;
    v_bankroll numeric;
begin
    select n.result, n.id into v_result, v_new
    from cascadian_new_version_v4(p_id, p, p_now, p_actor) n;
    if v_result is distinct from 'ok' then
        return query select v_result, v_new;
        return;
    end if;

    select * into v_portfolio from cascadian_paper_portfolios f
    where f.workflow_id = p_id
    for update;

    insert into cascadian_trading_limits
    select (jsonb_populate_record(
        null::cascadian_trading_limits,
        to_jsonb(l) || jsonb_build_object('workflow_id', v_new, 'updated_at', p_now)
    )).*
    from cascadian_trading_limits l
    where l.workflow_id = p_id;

    insert into cascadian_kill_switches
    select (jsonb_populate_record(
        null::cascadian_kill_switches,
        to_jsonb(k) || jsonb_build_object('scope', v_new::text, 'workflow_id', v_new)
    )).*
    from cascadian_kill_switches k
    where k.scope = p_id::text;

    if v_portfolio.halted_at is not null then
        select coalesce(
            (select l.initial_bankroll from cascadian_trading_limits l where l.workflow_id = v_new),
            10000
        ) into v_bankroll;
        insert into cascadian_paper_portfolios (
            workflow_id, initial_bankroll, available_cash, peak_equity, halted_at,
            halt_reason, halt_detail, created_at, updated_at
        )
        values (
            v_new, v_bankroll, v_bankroll, v_bankroll, v_portfolio.halted_at,
            v_portfolio.halt_reason, v_portfolio.halt_detail, p_now, p_now
        );
    end if;
    return query select v_result, v_new;
end;
$$;

select cascadian_restrict_functions_v1();
