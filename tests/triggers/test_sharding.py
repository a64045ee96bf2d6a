"""More tokens than one connection carries: the listener spreads them over
ceil(N / cap) connections to the scripted channel on 127.0.0.1, each of which
subscribes, PINGs and reconnects on its own, and arming or disarming a strategy
changes only the connections whose tokens change. The plan itself is a property:
every token once, no connection over the cap, and no more connections than needed."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cascadian.store.sql_store import SqlStore
from cascadian.triggers.shards import plan_shards
from tests.factories import add_strategy
from tests.triggers.fake_channel import book, price_change
from tests.triggers.test_listener import NOW, OPERATOR, World, trigger, world

T = [
    f"7132104567925221259462638553270691275033272857194253228963137931245558399256{i}"
    for i in range(8)
]

token_sets = st.sets(st.sampled_from([f"t{i}" for i in range(30)]), max_size=30)


@given(
    current=st.lists(token_sets, max_size=6),
    wanted=token_sets,
    cap=st.integers(min_value=1, max_value=7),
)
def test_a_plan_carries_every_wanted_token_once_within_the_cap_on_as_few_connections_as_needed(
    current: list[set[str]], wanted: set[str], cap: int
) -> None:
    # Connections as they may be: disjoint, none over the cap.
    seen: set[str] = set()
    shards = []
    for s in current:
        shard = set(sorted(s - seen)[:cap])
        seen |= shard
        shards.append(shard)
    plan = plan_shards(shards, wanted, cap)
    open_ = [s for s in plan if s]
    assert sorted(t for s in open_ for t in s) == sorted(wanted)  # each once
    assert all(len(s) <= cap for s in open_)
    assert len(open_) == -(-len(wanted) // cap)
    # A connection that stays open keeps every wanted token it had.
    for before, after in zip(shards, plan, strict=False):
        if after:
            assert before & wanted <= after


def test_a_plan_closes_the_smallest_connection_when_fewer_will_do() -> None:
    plan = plan_shards([{"a", "b"}, {"c", "d"}, {"e"}], {"a", "b", "c", "e"}, 2)
    assert plan == [{"a", "b"}, {"c", "e"}, set()]


async def subscriptions(w: World, n: int) -> dict[Any, set[str]]:
    """The next `n` connections and the tokens each subscribed to."""
    found = {}
    for _ in range(n):
        ws = await w.channel.connection()
        found[ws] = set()
    while not all(found.values()):
        ws, message = await w.channel.message()
        assert message["type"] == "market" and message["custom_feature_enabled"] is True
        found[ws] = set(message["assets_ids"])
    return found


async def baselines(w: World, tokens: set[str]) -> None:
    """Wait until a price of each of `tokens` was written."""
    while tokens:
        observed, _ = await w.store.next_write()
        tokens = tokens - {o.token_id for o in observed}


async def test_tokens_past_the_cap_are_spread_over_connections_each_pinging_and_reconnecting_alone(
    store: SqlStore, db: Any
) -> None:
    later = NOW + timedelta(days=1)
    a = add_strategy(db, name="a", next_execution_at=later)
    b = add_strategy(db, name="b", next_execution_at=later)
    c = add_strategy(db, name="c", next_execution_at=later)
    await store.set_triggers(a, [trigger(T[0], "t0"), trigger(T[1], "t1")], NOW, OPERATOR)
    await store.set_triggers(b, [trigger(T[2], "t2")], NOW, OPERATOR)
    await store.set_triggers(c, [trigger(T[3], "t3"), trigger(T[4], "t4")], NOW, OPERATOR)
    async with world(store, per_connection=2) as w:
        # Five tokens, two a connection: three connections, each token on one.
        subs = await subscriptions(w, 3)
        assert sorted(sorted(s) for s in subs.values()) == [[T[0], T[1]], [T[2], T[3]], [T[4]]]
        first, second, third = sorted(subs, key=lambda ws: sorted(subs[ws]))
        for ws, tokens in subs.items():
            for token in sorted(tokens):
                await ws.send(book(token, "0.49", "0.51"))
        await baselines(w, set(T[:5]))
        # A crossing on the second connection runs b.
        await second.send(price_change(T[2], "0.60", "0.62"))
        assert (await w.runs.next()).variables["trigger_event"]["token_id"] == T[2]
        assert w.listeners[0].state.record()["connections"] == 3  # what it reports

        # Each connection PINGs on its own.
        for _ in range(3):
            await w.sleep.asked_for(10.0)
        w.sleep.advance(10.0)
        pings = [await w.channel.message(skip_pings=False) for _ in range(3)]
        assert {ws for ws, text in pings if text == "PING"} == {first, second, third}

        # c paused: its T[3] leaves the second connection, and the third, now empty,
        # closes; the first is not touched.
        db.execute(
            "update workflow_sessions set auto_run = false, status = 'paused' where id = %s", (c,)
        )
        await w.sleep.pending(2.0)  # the listener waits to read the armed triggers
        w.sleep.advance(2.0)
        ws, message = await w.channel.message()
        assert (ws, message) == (second, {"operation": "unsubscribe", "assets_ids": [T[3]]})
        assert await w.channel.closing() is third

        # d armed with two more tokens: one fills the second connection's room, the
        # other opens a third connection.
        d = add_strategy(db, name="d", next_execution_at=later)
        await store.set_triggers(d, [trigger(T[5], "t5"), trigger(T[6], "t6")], NOW, OPERATOR)
        await w.sleep.pending(2.0)  # the listener waits to read the armed triggers
        w.sleep.advance(2.0)
        new = await w.channel.connection()
        got = {}
        while len(got) < 2:
            ws, message = await w.channel.message()
            got[ws] = message
        assert got[second] == {
            "operation": "subscribe",
            "assets_ids": [T[5]],
            "custom_feature_enabled": True,
        }
        assert got[new]["assets_ids"] == [T[6]]
        await second.send(book(T[5], "0.49", "0.51"))
        await baselines(w, {T[5]})

        # The second connection drops; while it is down T[5] crosses 0.60. It alone
        # reconnects, resubscribes its tokens, and its snapshot runs d.
        await second.close()
        await w.sleep.asked_for(3.0)
        w.sleep.advance(3.0)
        [(again, tokens)] = (await subscriptions(w, 1)).items()
        assert tokens == {T[2], T[5]}
        await again.send(book(T[5], "0.64", "0.66"))
        assert (await w.runs.next()).variables["trigger_event"]["token_id"] == T[5]
        assert w.listeners[0].state.reconnects == 1
    assert w.runs.count == 2
    # The first connection only ever subscribed, and answered PINGs.
    assert [json.loads(m)["assets_ids"] for m in w.channel.received[first] if m != "PING"] == [
        [T[0], T[1]]
    ]
