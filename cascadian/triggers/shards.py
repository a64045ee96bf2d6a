"""Which market-channel connection carries which token: the armed tokens spread over
ceil(N / cap) connections, moving as few as possible when triggers are armed or
disarmed. Pure: the listener applies the plan.

- A token still wanted stays on its connection (its subscription is never dropped).
- A token no longer wanted leaves its connection (unsubscribed there).
- When tokens went away and fewer connections would do, the smallest connections are
  emptied (closed) and their tokens join the new ones: exactly ceil(N / cap)
  connections stay open.
- New tokens fill the open connections' room first, in order, then new connections.

A token that moves is subscribed on its new connection, whose `book` snapshot of it
re-evaluates its triggers, as a reconnect's does.
"""

from __future__ import annotations

from collections.abc import Sequence


def plan_shards(current: Sequence[set[str]], wanted: set[str], cap: int) -> list[set[str]]:
    """Each connection's tokens after the change, by position (`current[i]` is
    connection i); an empty set closes that connection, and positions past
    `len(current)` are new connections."""
    if cap < 1:
        raise ValueError("a connection carries at least one token")
    shards = [set(s) & wanted for s in current]
    pool: list[str] = []
    for shard in shards:
        while len(shard) > cap:  # a cap lowered since: the excess moves
            pool.append(max(shard))
            shard.discard(pool[-1])
    placed = set().union(*shards) if shards else set()
    pool += sorted(wanted - placed)
    needed = -(-len(wanted) // cap)
    open_ = [i for i, s in enumerate(shards) if s]
    while len(open_) > needed:
        smallest = min(open_, key=lambda i: (len(shards[i]), -i))
        pool += sorted(shards[smallest])
        shards[smallest] = set()
        open_.remove(smallest)
    for i in open_:
        room = cap - len(shards[i])
        shards[i] |= set(pool[:room])
        pool = pool[room:]
    while pool:
        shards.append(set(pool[:cap]))
        pool = pool[cap:]
    return shards
