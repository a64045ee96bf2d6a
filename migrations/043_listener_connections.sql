-- A listener's connections: a worker's listener spreads the armed tokens over
-- ceil(N / CASCADIAN_TRIGGER_TOKENS_PER_CONNECTION) market-channel connections
-- (cascadian/triggers/shards.py), so its state says how many are open now beside
-- `connected` (every one it needs is up) and `tokens` (over all of them).
--
-- cascadian_listener_state_v2 and cascadian_trigger_overview_v2 are v1 (028) with
-- the count; v1 stays for the release still running during a deploy (its rows
-- read 0 connections).

alter table cascadian_trigger_listeners
    add column if not exists connections integer not null default 0;

create or replace function cascadian_listener_state_v2(p jsonb, p_now timestamptz)
returns void
language sql
as $$
    insert into cascadian_trigger_listeners as l (
        id, host, started_at, updated_at, connected, connections, tokens, reconnects,
        frames, frames_dropped, last_frame_at
    )
    values (
        (p ->> 'id')::uuid, p ->> 'host', (p ->> 'started_at')::timestamptz, p_now,
        (p ->> 'connected')::boolean, coalesce((p ->> 'connections')::integer, 0),
        (p ->> 'tokens')::integer, (p ->> 'reconnects')::integer,
        (p ->> 'frames')::integer, (p ->> 'frames_dropped')::integer,
        (p ->> 'last_frame_at')::timestamptz
    )
    on conflict (id) do update set
        updated_at = excluded.updated_at, connected = excluded.connected,
        connections = excluded.connections, tokens = excluded.tokens,
        reconnects = excluded.reconnects, frames = excluded.frames,
        frames_dropped = excluded.frames_dropped, last_frame_at = excluded.last_frame_at;
    -- A listener silent for a day is gone.
    delete from cascadian_trigger_listeners where updated_at < p_now - interval '1 day';
$$;

create or replace function cascadian_trigger_overview_v2(
    p_now timestamptz, p_fresh_seconds double precision
)
returns jsonb
language sql
stable
as $$
    select cascadian_trigger_overview_v1(p_now, p_fresh_seconds) || jsonb_build_object(
        'listeners', coalesce((
            select jsonb_agg(jsonb_build_object(
                'id', l.id, 'host', l.host, 'started_at', l.started_at,
                'updated_at', l.updated_at, 'connected', l.connected,
                'connections', l.connections, 'tokens', l.tokens,
                'reconnects', l.reconnects, 'frames', l.frames,
                'frames_dropped', l.frames_dropped, 'last_frame_at', l.last_frame_at
            ) order by l.started_at)
            from cascadian_trigger_listeners l
            where l.updated_at >= p_now - make_interval(secs => p_fresh_seconds)
        ), '[]'::jsonb)
    );
$$;

select cascadian_restrict_functions_v1();
