-- Triggers: strategies that wake on the market, not only on the clock.
--
-- A trigger belongs to one strategy (cascadian's own table, keyed by the strategy;
-- the builder's `trigger` column is left to the builder). A price trigger watches one
-- token's price of one kind (midpoint, best bid, best ask, last trade) against a
-- level, in one direction, with a hysteresis band; a resolved trigger watches one
-- market for its resolution.
--
-- Whoever sees prices (a tick reading the CLOB's REST prices, a worker's market
-- WebSocket) hands them to cascadian_observe_v1, which keeps every trigger's state
-- here (last price, armed or not, crossings so far) under the trigger's row lock and
-- writes each crossing as an event keyed (trigger, crossing number): two listeners,
-- two workers, or a listener and a tick that see the same move write it once.
-- Python never reads a trigger's state and writes it back.
--
-- An event becomes a run through cascadian_claim_events_v1: the same lease, fence
-- (the run's execution id is the strategy's lease token) and record
-- (cascadian_finish_runs_v3) as a scheduled run, with trigger_kind 'event'. An
-- event's run that dies is claimed again once its lease expires (attempt + 1).

-- An event's run is trigger_kind 'event' (026 let trigger_kind be any short word).

create table if not exists cascadian_triggers (
    id uuid primary key default gen_random_uuid(),
    workflow_id uuid not null references workflow_sessions (id) on delete cascade,
    -- The trigger's name within its strategy (what the API, CLI and console show).
    name text not null,
    position integer not null default 0,
    kind text not null check (kind in ('price', 'resolved')),
    -- price: the token watched (given, or looked up from market_id + outcome).
    token_id text,
    -- The market as given (a Gamma id), its condition id, and the outcome named.
    market_id text,
    condition_id text,
    outcome text,
    level numeric check (level > 0 and level < 1),
    direction text check (direction in ('above', 'below')),
    band numeric not null default 0 check (band >= 0),
    price_kind text check (price_kind in ('midpoint', 'best_bid', 'best_ask', 'last_trade')),
    -- The tokens a listener subscribes to for this trigger; for a resolved trigger,
    -- the market's tokens, and its outcomes in the same order (to settle it).
    asset_ids text[] not null default '{}',
    outcomes text[] not null default '{}',
    -- State, written only by cascadian_observe_v1. armed null: no price seen yet
    -- (the first one is a baseline, never a crossing).
    last_price numeric,
    last_observed_at timestamptz,
    last_source text,
    armed boolean,
    crossings integer not null default 0,
    last_crossing_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (workflow_id, name),
    check (kind <> 'price' or (token_id is not null and level is not null
        and direction is not null and price_kind is not null)),
    check (kind <> 'resolved' or condition_id is not null)
);

create index if not exists cascadian_triggers_token_idx
    on cascadian_triggers (token_id, price_kind) where kind = 'price';
create index if not exists cascadian_triggers_condition_idx
    on cascadian_triggers (condition_id) where kind = 'resolved';

-- One row per crossing (or resolution): the event key is (trigger_id, crossing).
create table if not exists cascadian_trigger_events (
    id uuid primary key default gen_random_uuid(),
    trigger_id uuid not null references cascadian_triggers (id) on delete cascade,
    workflow_id uuid not null references workflow_sessions (id) on delete cascade,
    crossing integer not null,
    trigger_name text not null,
    kind text not null,
    token_id text,
    condition_id text,
    price_kind text,
    level numeric,
    direction text,
    price_before numeric,
    price_after numeric,
    -- When the price was seen (the feed's own timestamp where it sends one), and by
    -- whom (rest, websocket).
    observed_at timestamptz not null,
    source text not null,
    detail jsonb not null default '{}',
    created_at timestamptz not null,
    -- The run that took it (its latest attempt), and when.
    execution_id uuid references workflow_executions (id) on delete set null,
    attempt integer not null default 0,
    claimed_at timestamptz,
    -- Set once the event needs nothing more: its run was recorded (ran), or its
    -- strategy was no longer active when it came to be claimed (skipped).
    done_at timestamptz,
    outcome text check (outcome in ('ran', 'skipped')),
    unique (trigger_id, crossing)
);

create index if not exists cascadian_trigger_events_pending_idx
    on cascadian_trigger_events (workflow_id, observed_at) where done_at is null;
create index if not exists cascadian_trigger_events_workflow_idx
    on cascadian_trigger_events (workflow_id, created_at desc);

-- Each process that listens to the market channel says how it is doing.
create table if not exists cascadian_trigger_listeners (
    id uuid primary key,
    host text not null,
    started_at timestamptz not null,
    updated_at timestamptz not null,
    connected boolean not null,
    tokens integer not null default 0,
    reconnects integer not null default 0,
    frames integer not null default 0,
    frames_dropped integer not null default 0,
    last_frame_at timestamptz
);

-- A new version of a strategy keeps its triggers (with fresh state, as it keeps a
-- fresh count of runs). A row trigger, so versions made by any code (ours, the
-- builder's) carry them.
create or replace function cascadian_copy_triggers_v1()
returns trigger
language plpgsql
as $$
begin
    if new.parent_workflow_id is not null then
        insert into cascadian_triggers (
            workflow_id, name, position, kind, token_id, market_id, condition_id, outcome,
            level, direction, band, price_kind, asset_ids, outcomes
        )
        select new.id, t.name, t.position, t.kind, t.token_id, t.market_id, t.condition_id,
               t.outcome, t.level, t.direction, t.band, t.price_kind, t.asset_ids, t.outcomes
        from cascadian_triggers t
        where t.workflow_id = new.parent_workflow_id
        on conflict (workflow_id, name) do nothing;
    end if;
    return new;
end;
$$;

drop trigger if exists cascadian_copy_triggers on workflow_sessions;
create trigger cascadian_copy_triggers
    after insert on workflow_sessions
    for each row execute function cascadian_copy_triggers_v1();

-- A trigger as the API shows it: its definition, its state and its newest event.
create or replace function cascadian_trigger_json_v1(t cascadian_triggers)
returns jsonb
language sql
stable
as $$
    select jsonb_build_object(
        'id', t.id, 'name', t.name, 'kind', t.kind, 'token_id', t.token_id,
        'market_id', t.market_id, 'condition_id', t.condition_id, 'outcome', t.outcome,
        'level', t.level::text, 'direction', t.direction, 'band', t.band::text,
        'price_kind', t.price_kind, 'asset_ids', to_jsonb(t.asset_ids),
        'last_price', t.last_price::text, 'last_observed_at', t.last_observed_at,
        'last_source', t.last_source,
        'state', case when t.armed is null then 'waiting'
                      when t.armed then 'armed' else 'disarmed' end,
        'crossings', t.crossings, 'last_crossing_at', t.last_crossing_at,
        'last_event', (
            select jsonb_build_object(
                'id', e.id, 'crossing', e.crossing, 'observed_at', e.observed_at,
                'price_before', e.price_before::text, 'price_after', e.price_after::text,
                'source', e.source, 'execution_id', e.execution_id,
                'run_status', x.status, 'run_started_at', x.execution_started_at,
                'lag_seconds', extract(epoch from x.execution_started_at - e.observed_at)
            )
            from cascadian_trigger_events e
            left join workflow_executions x on x.id = e.execution_id
            where e.trigger_id = t.id
            order by e.crossing desc
            limit 1
        )
    );
$$;

-- A strategy's triggers as defined (no state), for the audit log.
create or replace function cascadian_trigger_definitions_v1(p_workflow_id uuid)
returns jsonb
language sql
stable
as $$
    select coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
        'name', t.name, 'kind', t.kind, 'token_id', t.token_id, 'market_id', t.market_id,
        'outcome', t.outcome, 'level', t.level::text, 'direction', t.direction,
        'band', t.band::text, 'price_kind', t.price_kind
    )) order by t.position, t.name), '[]'::jsonb)
    from cascadian_triggers t
    where t.workflow_id = p_workflow_id;
$$;

-- Replace a strategy's triggers with p_triggers (an array of definitions, already
-- validated and looked up by Python), by p_actor (027: a user only on their own
-- strategy; the change is written to the audit log in this transaction). A trigger
-- whose name stays keeps its id and its crossing count (so event keys stay unique);
-- a changed definition starts its state afresh. Answers the triggers, or null for
-- an unknown strategy (or one the user does not own).
create or replace function cascadian_set_triggers_v1(
    p_workflow_id uuid, p_triggers jsonb, p_now timestamptz, p_actor jsonb
)
returns jsonb
language plpgsql
as $$
declare
    v_names text[];
    v_user uuid := cascadian_actor_user_v1(p_actor);
    v_before jsonb;
begin
    perform 1 from workflow_sessions
    where id = p_workflow_id and (v_user is null or user_id = v_user)
    for update;
    if not found then
        return null;
    end if;
    v_before := cascadian_trigger_definitions_v1(p_workflow_id);
    select coalesce(array_agg(d ->> 'name'), '{}') into v_names
    from jsonb_array_elements(p_triggers) d;
    delete from cascadian_triggers t
    where t.workflow_id = p_workflow_id and not (t.name = any (v_names));

    insert into cascadian_triggers as t (
        workflow_id, name, position, kind, token_id, market_id, condition_id, outcome,
        level, direction, band, price_kind, asset_ids, outcomes, created_at, updated_at
    )
    select p_workflow_id, d.name, a.ord::integer, d.kind, d.token_id, d.market_id,
           d.condition_id, d.outcome, d.level, d.direction, coalesce(d.band, 0),
           d.price_kind,
           coalesce(array(select jsonb_array_elements_text(a.value -> 'asset_ids')), '{}'),
           coalesce(array(select jsonb_array_elements_text(a.value -> 'outcomes')), '{}'),
           p_now, p_now
    from jsonb_array_elements(p_triggers) with ordinality as a (value, ord)
    cross join lateral jsonb_to_record(a.value) as d (
        name text, kind text, token_id text, market_id text, condition_id text,
        outcome text, level numeric, direction text, band numeric, price_kind text
    )
    on conflict (workflow_id, name) do update set
        position = excluded.position,
        kind = excluded.kind,
        token_id = excluded.token_id,
        market_id = excluded.market_id,
        condition_id = excluded.condition_id,
        outcome = excluded.outcome,
        level = excluded.level,
        direction = excluded.direction,
        band = excluded.band,
        price_kind = excluded.price_kind,
        asset_ids = excluded.asset_ids,
        outcomes = excluded.outcomes,
        updated_at = excluded.updated_at,
        -- The same definition keeps its state; another starts afresh.
        last_price = case when (t.kind, t.token_id, t.condition_id, t.level, t.direction,
                                t.band, t.price_kind)
                               is not distinct from
                               (excluded.kind, excluded.token_id, excluded.condition_id,
                                excluded.level, excluded.direction, excluded.band,
                                excluded.price_kind)
                          then t.last_price end,
        armed = case when (t.kind, t.token_id, t.condition_id, t.level, t.direction,
                           t.band, t.price_kind)
                          is not distinct from
                          (excluded.kind, excluded.token_id, excluded.condition_id,
                           excluded.level, excluded.direction, excluded.band,
                           excluded.price_kind)
                     then t.armed end;

    perform cascadian_audit_v1(
        p_actor, 'set_triggers', p_workflow_id,
        jsonb_build_object('triggers', v_before),
        jsonb_build_object('triggers', cascadian_trigger_definitions_v1(p_workflow_id)),
        p_now
    );
    return cascadian_triggers_v1(p_workflow_id);
end;
$$;

-- A strategy's triggers with their state, in their order; null for an unknown strategy.
create or replace function cascadian_triggers_v1(p_workflow_id uuid)
returns jsonb
language sql
stable
as $$
    select case when exists (select 1 from workflow_sessions where id = p_workflow_id)
        then coalesce((
            select jsonb_agg(cascadian_trigger_json_v1(t) order by t.position, t.name)
            from cascadian_triggers t
            where t.workflow_id = p_workflow_id
        ), '[]'::jsonb)
    end;
$$;

-- The triggers that are armed now: those of strategies that run (on, current,
-- not archived), a resolved trigger only until it has fired. What a tick prices
-- and a listener subscribes to.
create or replace function cascadian_armed_triggers_v1()
returns table (
    id uuid, workflow_id uuid, name text, kind text, token_id text, condition_id text,
    market_id text, price_kind text, asset_ids text[]
)
language sql
stable
as $$
    select t.id, t.workflow_id, t.name, t.kind, t.token_id, t.condition_id, t.market_id,
           t.price_kind, t.asset_ids
    from cascadian_triggers t
    join workflow_sessions s on s.id = t.workflow_id
    where s.auto_run and s.status in ('running', 'error') and s.is_current_version
      and (t.kind = 'price' or t.crossings = 0)
    order by t.workflow_id, t.position;
$$;

-- The observations cascadian_observe_v1 is given, as rows in the order seen; a price
-- outside [0, 1] or an observation missing its key is left out.
create or replace function cascadian_observations_v1(p_observations jsonb, p_now timestamptz)
returns table (
    ord integer, kind text, token_id text, price_kind text, price numeric,
    condition_id text, winning_token_id text, winning_outcome text,
    observed_at timestamptz, source text
)
language sql
stable
as $$
    select a.ord::integer, coalesce(d.kind, 'price'), d.token_id, d.price_kind, d.price,
           d.condition_id, d.winning_token_id, d.winning_outcome,
           coalesce(d.observed_at, p_now), coalesce(d.source, 'unknown')
    from jsonb_array_elements(p_observations) with ordinality as a (value, ord)
    cross join lateral jsonb_to_record(a.value) as d (
        kind text, token_id text, price_kind text, price numeric, condition_id text,
        winning_token_id text, winning_outcome text, observed_at timestamptz, source text
    )
    where (d.kind = 'resolved' and d.condition_id is not null)
       or (coalesce(d.kind, 'price') = 'price' and d.price >= 0 and d.price <= 1
           and d.token_id is not null and d.price_kind is not null);
$$;

-- Settle a resolved trigger's market: its winner (by token, else by outcome name)
-- paid 1, every other outcome 0. Answers what the settlement did, or why there was
-- none; a settlement that fails is rolled back alone (the crossing still counts).
create or replace function cascadian_settle_resolved_v1(
    t cascadian_triggers, p_winning_token text, p_winning_outcome text, p_now timestamptz
)
returns jsonb
language plpgsql
as $$
declare
    v_prices jsonb;
begin
    if t.market_id is null or cardinality(t.outcomes) = 0 then
        return jsonb_build_object('skipped', 'the trigger knows no market outcomes');
    end if;
    select jsonb_object_agg(
        o.outcome,
        case when t.asset_ids[o.i] = p_winning_token
                  or lower(btrim(o.outcome)) = lower(btrim(p_winning_outcome))
             then 1 else 0 end
    )
    into v_prices
    from unnest(t.outcomes) with ordinality as o (outcome, i);
    if not exists (select 1 from jsonb_each_text(v_prices) p where p.value = '1') then
        return jsonb_build_object('skipped', 'the resolution names no outcome of the market');
    end if;
    return cascadian_settle_market_v2(t.market_id, v_prices, p_now);
exception when others then
    return jsonb_build_object('error', sqlerrm);
end;
$$;

-- Hand observed prices (and resolutions) to the triggers that watch them, and write
-- each crossing as an event. p_observations: an array of
--   {"kind": "price", "token_id", "price_kind", "price", "observed_at", "source"}
--   {"kind": "resolved", "condition_id", "winning_token_id", "winning_outcome",
--    "observed_at", "source"}
-- in the order they were seen. Per trigger, in observation order:
--   the first price is a baseline: armed if on the near side of the level;
--   armed, and the price at or past the level (>= for above, <= for below): a
--     crossing (crossings + 1, an event), disarmed;
--   disarmed, and the price back past the band (< level - band for above,
--     > level + band for below): armed again.
-- An observation older than the trigger's last is ignored (a slower listener's).
-- A resolved trigger's market is settled (the trading book's settlement, 033's v2: every
-- strategy's open paper positions in it, each once) in the same transaction, the
-- winner paid 1 and every other outcome 0; what it did (or why it could not) is
-- kept in the event's detail.
-- The triggers are locked in id order, so concurrent calls never deadlock and see
-- each other's state. Answers the events written.
create or replace function cascadian_observe_v1(p_observations jsonb, p_now timestamptz)
returns table (event_id uuid, workflow_id uuid, trigger_id uuid, crossing integer)
language plpgsql
as $$
#variable_conflict use_column
declare
    o record;
    t cascadian_triggers%rowtype;
    v_current uuid;
    v_fire boolean;
    v_event uuid;
    v_detail jsonb;
begin
    -- Lock every trigger concerned, in one order.
    perform 1
    from cascadian_triggers tr
    where tr.id in (
        select tr2.id from cascadian_triggers tr2
        join cascadian_observations_v1(p_observations, p_now) ob
          on (tr2.kind = 'price' and ob.kind = 'price' and tr2.token_id = ob.token_id
              and tr2.price_kind = ob.price_kind)
          or (tr2.kind = 'resolved' and ob.kind = 'resolved'
              and tr2.condition_id = ob.condition_id)
    )
    order by tr.id
    for update;

    v_current := null;
    for o in
        select tr.id as tid, ob.*
        from cascadian_observations_v1(p_observations, p_now) ob
        join cascadian_triggers tr
          on (tr.kind = 'price' and ob.kind = 'price' and tr.token_id = ob.token_id
              and tr.price_kind = ob.price_kind)
          or (tr.kind = 'resolved' and ob.kind = 'resolved'
              and tr.condition_id = ob.condition_id)
        join workflow_sessions s on s.id = tr.workflow_id
        where s.auto_run and s.status in ('running', 'error') and s.is_current_version
        order by tr.id, ob.observed_at, ob.ord
    loop
        if v_current is distinct from o.tid then
            if v_current is not null then
                update cascadian_triggers x
                set last_price = t.last_price, last_observed_at = t.last_observed_at,
                    last_source = t.last_source, armed = t.armed, crossings = t.crossings,
                    last_crossing_at = t.last_crossing_at
                where x.id = t.id;
            end if;
            select * into t from cascadian_triggers x where x.id = o.tid;
            v_current := o.tid;
        end if;
        if t.last_observed_at is not null and o.observed_at < t.last_observed_at then
            continue;
        end if;
        v_fire := false;
        if t.kind = 'resolved' then
            v_fire := t.crossings = 0;
            t.armed := false;
        elsif t.armed is null then
            t.armed := (t.direction = 'above' and o.price < t.level)
                    or (t.direction = 'below' and o.price > t.level);
        elsif t.armed then
            v_fire := (t.direction = 'above' and o.price >= t.level)
                   or (t.direction = 'below' and o.price <= t.level);
            if v_fire then
                t.armed := false;
            end if;
        elsif (t.direction = 'above' and o.price < t.level - t.band)
           or (t.direction = 'below' and o.price > t.level + t.band) then
            t.armed := true;
        end if;
        if v_fire then
            t.crossings := t.crossings + 1;
            t.last_crossing_at := o.observed_at;
            v_detail := '{}'::jsonb;
            if t.kind = 'resolved' then
                v_detail := jsonb_build_object(
                    'winning_token_id', o.winning_token_id,
                    'winning_outcome', o.winning_outcome,
                    'settlement', cascadian_settle_resolved_v1(t, o.winning_token_id,
                                                               o.winning_outcome, p_now)
                );
            end if;
            insert into cascadian_trigger_events (
                trigger_id, workflow_id, crossing, trigger_name, kind, token_id,
                condition_id, price_kind, level, direction, price_before, price_after,
                observed_at, source, detail, created_at
            )
            values (
                t.id, t.workflow_id, t.crossings, t.name, t.kind, t.token_id,
                t.condition_id, t.price_kind, t.level, t.direction, t.last_price,
                o.price, o.observed_at, o.source, v_detail, p_now
            )
            returning id into v_event;
            event_id := v_event;
            workflow_id := t.workflow_id;
            trigger_id := t.id;
            crossing := t.crossings;
            return next;
        end if;
        if t.kind = 'price' then
            t.last_price := o.price;
        end if;
        t.last_observed_at := o.observed_at;
        t.last_source := o.source;
    end loop;
    if v_current is not null then
        update cascadian_triggers x
        set last_price = t.last_price, last_observed_at = t.last_observed_at,
            last_source = t.last_source, armed = t.armed, crossings = t.crossings,
            last_crossing_at = t.last_crossing_at
        where x.id = t.id;
    end if;
end;
$$;

-- Claim up to p_limit event runs: for each strategy with a pending event and no
-- live lease, its oldest event, under a new lease, as a run with trigger_kind
-- 'event' (the same columns as cascadian_claim_manual_v3, plus the event). The
-- schedule is left alone (next_execution_at is answered, and recorded back). On
-- the way, events whose run was recorded are marked done, and events of strategies
-- no longer active are skipped.
create or replace function cascadian_claim_events_v1(
    p_now timestamptz,
    p_limit integer,
    p_lease_seconds double precision
)
returns table (
    execution_id uuid,
    workflow_id uuid,
    user_id uuid,
    name text,
    nodes text,
    edges text,
    variables text,
    trigger text,
    execution_interval_minutes integer,
    cron_expression text,
    timezone text,
    scheduled_for timestamptz,
    attempt integer,
    lease_expires_at timestamptz,
    next_execution_at timestamptz,
    event jsonb
)
language plpgsql
as $$
#variable_conflict use_column
begin
    update cascadian_trigger_events ev
    set done_at = coalesce(x.execution_completed_at, p_now), outcome = 'ran'
    from workflow_executions x
    where ev.done_at is null and x.id = ev.execution_id
      and x.status in ('completed', 'failed');

    update cascadian_trigger_events ev
    set done_at = p_now, outcome = 'skipped'
    from workflow_sessions s
    where ev.done_at is null and s.id = ev.workflow_id
      and not (s.auto_run and s.status in ('running', 'error') and s.is_current_version);

    return query
    with due as (
        select s.id, s.lease_token as abandoned_token, ev.id as event_id,
               ev.attempt as event_attempt, ev.observed_at
        from workflow_sessions s
        cross join lateral (
            select e.id, e.attempt, e.observed_at
            from cascadian_trigger_events e
            where e.workflow_id = s.id and e.done_at is null
            order by e.observed_at, e.crossing
            limit 1
        ) ev
        where s.id in (
                select e.workflow_id from cascadian_trigger_events e where e.done_at is null
            )
          and s.auto_run and s.status in ('running', 'error') and s.is_current_version
          and (s.lease_expires_at is null or s.lease_expires_at <= p_now)
        order by ev.observed_at
        limit p_limit
        for update of s skip locked
    ),
    abandoned as (
        update workflow_executions e
        set status = 'cancelled',
            execution_completed_at = p_now,
            error_message = 'abandoned: the lease expired before the run was recorded'
        from due
        where e.id = due.abandoned_token and e.status = 'running'
        returning e.id
    ),
    claimed as (
        update workflow_sessions s
        set lease_token = gen_random_uuid(),
            lease_expires_at = p_now + make_interval(secs => p_lease_seconds)
        from due
        where s.id = due.id
        returning s.*, due.event_id, due.event_attempt
    ),
    events as (
        update cascadian_trigger_events ev
        set execution_id = c.lease_token, attempt = c.event_attempt + 1, claimed_at = p_now
        from claimed c
        where ev.id = c.event_id
        returning ev.*
    ),
    payload as (
        select ev.id, ev.execution_id as token, ev.attempt, jsonb_build_object(
            'id', ev.id, 'trigger_id', ev.trigger_id, 'trigger', ev.trigger_name,
            'kind', ev.kind, 'crossing', ev.crossing, 'token_id', ev.token_id,
            'condition_id', ev.condition_id, 'price_kind', ev.price_kind,
            'level', ev.level::text, 'direction', ev.direction,
            'price_before', ev.price_before::text, 'price_after', ev.price_after::text,
            'observed_at', ev.observed_at, 'source', ev.source, 'detail', ev.detail,
            'attempt', ev.attempt
        ) as event
        from events ev
    ),
    runs as (
        insert into workflow_executions (
            id, workflow_id, user_id, execution_started_at, status,
            trigger_kind, scheduled_for, attempt, workflow_snapshot
        )
        select
            c.lease_token, c.id, c.user_id, p_now, 'running', 'event', null, p.attempt,
            jsonb_build_object(
                'name', c.name, 'nodes', c.nodes, 'edges', c.edges,
                'variables', c.variables, 'trigger', c.trigger, 'version', c.version,
                'event', p.event
            )
        from claimed c
        join payload p on p.token = c.lease_token
        returning id
    )
    select
        c.lease_token, c.id, c.user_id, c.name, c.nodes::text, c.edges::text,
        coalesce(c.variables, '{}'::jsonb)::text, c.trigger::text,
        coalesce(c.execution_interval_minutes, 5), c.cron_expression, c.timezone,
        null::timestamptz, p.attempt, c.lease_expires_at, c.next_execution_at, p.event
    from claimed c
    join payload p on p.token = c.lease_token
    join runs r on r.id = c.lease_token
    order by p.event ->> 'observed_at';
end;
$$;

-- A strategy's newest events with their runs, newest first.
create or replace function cascadian_trigger_events_v1(p_workflow_id uuid, p_limit integer)
returns jsonb
language sql
stable
as $$
    select coalesce(jsonb_agg(j order by (j ->> 'created_at') desc), '[]'::jsonb)
    from (
        select jsonb_build_object(
            'id', e.id, 'trigger_id', e.trigger_id, 'trigger', e.trigger_name,
            'kind', e.kind, 'crossing', e.crossing, 'token_id', e.token_id,
            'price_before', e.price_before::text, 'price_after', e.price_after::text,
            'observed_at', e.observed_at, 'source', e.source, 'detail', e.detail,
            'created_at', e.created_at, 'execution_id', e.execution_id,
            'attempt', e.attempt, 'outcome', e.outcome, 'run_status', x.status,
            'lag_seconds', extract(epoch from x.execution_started_at - e.observed_at)
        ) as j
        from cascadian_trigger_events e
        left join workflow_executions x on x.id = e.execution_id
        where e.workflow_id = p_workflow_id
        order by e.created_at desc
        limit p_limit
    ) q;
$$;

-- A listener's state, as it reports it every few seconds.
create or replace function cascadian_listener_state_v1(p jsonb, p_now timestamptz)
returns void
language sql
as $$
    insert into cascadian_trigger_listeners as l (
        id, host, started_at, updated_at, connected, tokens, reconnects, frames,
        frames_dropped, last_frame_at
    )
    values (
        (p ->> 'id')::uuid, p ->> 'host', (p ->> 'started_at')::timestamptz, p_now,
        (p ->> 'connected')::boolean, (p ->> 'tokens')::integer,
        (p ->> 'reconnects')::integer, (p ->> 'frames')::integer,
        (p ->> 'frames_dropped')::integer, (p ->> 'last_frame_at')::timestamptz
    )
    on conflict (id) do update set
        updated_at = excluded.updated_at, connected = excluded.connected,
        tokens = excluded.tokens, reconnects = excluded.reconnects,
        frames = excluded.frames, frames_dropped = excluded.frames_dropped,
        last_frame_at = excluded.last_frame_at;
    -- A listener silent for a day is gone.
    delete from cascadian_trigger_listeners where updated_at < p_now - interval '1 day';
$$;

-- What the console and /api/metrics show of triggers: listeners heard from in the
-- last p_fresh_seconds, armed triggers, pending events, and the lag from event to
-- run over the last hour.
create or replace function cascadian_trigger_overview_v1(
    p_now timestamptz, p_fresh_seconds double precision
)
returns jsonb
language sql
stable
as $$
    select jsonb_build_object(
        'listeners', coalesce((
            select jsonb_agg(jsonb_build_object(
                'id', l.id, 'host', l.host, 'started_at', l.started_at,
                'updated_at', l.updated_at, 'connected', l.connected, 'tokens', l.tokens,
                'reconnects', l.reconnects, 'frames', l.frames,
                'frames_dropped', l.frames_dropped, 'last_frame_at', l.last_frame_at
            ) order by l.started_at)
            from cascadian_trigger_listeners l
            where l.updated_at >= p_now - make_interval(secs => p_fresh_seconds)
        ), '[]'::jsonb),
        'armed_triggers', (select count(*) from cascadian_armed_triggers_v1()),
        'pending_events', (
            select count(*) from cascadian_trigger_events where done_at is null
        ),
        'events_last_hour', (
            select count(*) from cascadian_trigger_events
            where created_at >= p_now - interval '1 hour'
        ),
        'lag_last_hour', (
            select jsonb_build_object(
                'runs', count(*),
                'average_seconds', avg(extract(epoch from x.execution_started_at - e.observed_at)),
                'max_seconds', max(extract(epoch from x.execution_started_at - e.observed_at))
            )
            from cascadian_trigger_events e
            join workflow_executions x on x.id = e.execution_id
            where e.created_at >= p_now - interval '1 hour'
        )
    );
$$;

do $$
declare
    t text;
begin
    if to_regnamespace('auth') is null
       or to_regprocedure('auth.uid()') is null
       or (select count(*) from pg_roles
           where rolname in ('anon', 'authenticated', 'service_role')) < 3 then
        return;
    end if;
    -- Only the store (through its SECURITY DEFINER functions) reads and writes these.
    foreach t in array array[
        'cascadian_triggers', 'cascadian_trigger_events', 'cascadian_trigger_listeners'
    ] loop
        execute format('alter table %I enable row level security', t);
        execute format('revoke all on table %I from anon, authenticated', t);
    end loop;
end;
$$;

select cascadian_restrict_functions_v1();
