-- A signed-in user's requests per minute over a sliding window (issue 33), in
-- place of 031's fixed one, which let up to twice the limit through across a
-- minute's boundary (the limit at 12:00:59, the limit again at 12:01:00).
--
-- Each user's accepted requests are counted by the second they came in (at most 61
-- seconds are kept, whatever the limit). A request is accepted while fewer than the
-- limit were accepted in its own second and the 60 before it: so any 60 seconds
-- hold at most the limit (a second is counted whole, for up to a second longer than
-- 60: the window errs on the strict side, never the lenient). A refused request
-- is not counted: the answer is the whole seconds until enough of the oldest
-- seconds have left the window, so a request made then is accepted (unless others
-- took the place first).

create table if not exists cascadian_user_request_seconds (
    user_id uuid primary key,
    -- The epoch seconds with accepted requests, oldest first, and how many in each.
    seconds bigint[] not null,
    counts integer[] not null
);

-- Count one request of p_user at p_now against p_limit (> 0): 0 when accepted,
-- else the seconds to wait. One call, one transaction: the user's row is locked
-- (created on their first request) before it is read, so concurrent requests of
-- one user take their turns, in every process alike.
create or replace function cascadian_count_user_request_v2(
    p_user uuid, p_now timestamptz, p_limit integer
)
returns integer
language plpgsql
as $$
declare
    v_now numeric := extract(epoch from p_now);
    v_second bigint := floor(v_now)::bigint;
    v_seconds bigint[];
    v_counts integer[];
    v_total integer;
    v_last integer;
    v_free bigint;
begin
    insert into cascadian_user_request_seconds (user_id, seconds, counts)
    values (p_user, '{}', '{}')
    on conflict (user_id) do nothing;
    perform 1 from cascadian_user_request_seconds where user_id = p_user for update;
    -- The seconds still in the window (v_second - 60 .. v_second), oldest first.
    select coalesce(array_agg(u.s order by u.s), '{}'),
           coalesce(array_agg(u.c order by u.s), '{}'),
           coalesce(sum(u.c), 0)
    into v_seconds, v_counts, v_total
    from cascadian_user_request_seconds r,
         lateral unnest(r.seconds, r.counts) as u (s, c)
    where r.user_id = p_user and u.s >= v_second - 60;
    if v_total < p_limit then
        v_last := cardinality(v_seconds);
        if v_last > 0 and v_seconds[v_last] = v_second then
            v_counts[v_last] := v_counts[v_last] + 1;
        else
            v_seconds := v_seconds || v_second;
            v_counts := v_counts || 1;
        end if;
        update cascadian_user_request_seconds
        set seconds = v_seconds, counts = v_counts
        where user_id = p_user;
        return 0;
    end if;
    -- Refused: the newest second that must leave the window (with every older one)
    -- for fewer than p_limit to remain; it leaves at that second + 61.
    select min(w.s) into v_free
    from (
        select u.s, v_total - sum(u.c) over (order by u.s) as remaining
        from unnest(v_seconds, v_counts) as u (s, c)
    ) as w
    where w.remaining < p_limit;
    update cascadian_user_request_seconds
    set seconds = v_seconds, counts = v_counts
    where user_id = p_user;
    return greatest(1, ceil(v_free + 61 - v_now))::integer;
end;
$$;

-- On Supabase (its auth schema and roles, as 023 asks), only the store's functions
-- reach the table.
do $$
begin
    if to_regnamespace('auth') is not null
       and to_regprocedure('auth.uid()') is not null
       and (select count(*) from pg_roles
            where rolname in ('anon', 'authenticated', 'service_role')) = 3 then
        alter table cascadian_user_request_seconds enable row level security;
        revoke all on table cascadian_user_request_seconds from anon, authenticated;
    end if;
end;
$$;

select cascadian_restrict_functions_v1();
