"""Trigger latency: from a market-channel frame to the start of the run it triggers.

1,000 strategies, each with one armed price trigger (midpoint crosses above), over
500 tokens (two triggers per token, at 0.60 and 0.70), spread over the listener's
connections (ceil(500 / tokens a connection): 3 by default). A fake market channel
on 127.0.0.1 (the `websockets` package) answers each connection's subscription with
a book snapshot of its tokens (midpoint 0.50), then sends a burst, each frame on
the connection carrying its token: 100 `price_change` frames, one per token, 10 ms
apart (one second), each moving its token's midpoint to 0.61, so 100 triggers cross
(the 0.70 ones do not), while 400 noise frames move the other tokens between 0.50
and 0.51. The worker is cascadian's own: MarketListener ->
cascadian_observe_v1 -> EventRunner -> cascadian_claim_events_v1 ->
TickService.run_claimed, with a no-op executor that notes when each run starts.

Latency is measured on one clock (time.monotonic, one process) from the moment the
channel sends a crossing frame to the moment its run starts: an upper bound of frame
arrival to run start. Then the prices go back to 0.50 (re-arming every trigger) and
the next round begins; the rounds' latencies are pooled.

    .venv/bin/python bench/trigger_latency.py [--quick] [--rounds 5] [--per-connection 200]
"""

from __future__ import annotations

import asyncio
import json
import time

import common
import psycopg
import websockets
from websockets.asyncio.server import ServerConnection

from cascadian.data import RunResult, Workflow
from cascadian.store.sql_store import SqlStore
from cascadian.triggers.listener import MarketListener
from cascadian.triggers.runner import EventRunner

DB = "cascadian_bench_triggers"
TOKENS = 500
TRIGGERS = 1000
BURST = 100


def token(i: int) -> str:
    return "9" + f"{i:076d}"  # 77 digits, as the CLOB's token ids


def change(tok: str, bid: str, ask: str) -> str:
    return json.dumps(
        {
            "event_type": "price_change",
            "market": "0x5f65",
            "price_changes": [
                {
                    "asset_id": tok,
                    "price": bid,
                    "size": "10",
                    "side": "BUY",
                    "hash": "h",
                    "best_bid": bid,
                    "best_ask": ask,
                }
            ],
        }
    )


def seed_triggers(url: str) -> None:
    """1,000 running strategies (next slot in a day: only events run them), one trigger
    each: strategy k watches token k % 500, level 0.60 for k < 500, else 0.70."""
    common.seed(url, TRIGGERS, due=0)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "update workflow_sessions set next_execution_at = now() + interval '1 day',"
            " name = 'bench ' || (regexp_replace(name, '\\D', '', 'g')::int - 1)"
        )
        conn.execute(
            """
            insert into cascadian_triggers (
                workflow_id, name, kind, token_id, level, direction, band, price_kind,
                asset_ids
            )
            select s.id, 'cross', 'price', t.tok,
                   case when k < 500 then 0.60 else 0.70 end, 'above', 0.02, 'midpoint',
                   array[t.tok]
            from workflow_sessions s
            cross join lateral (select substr(s.name, 7)::int as k) kk
            cross join lateral (select '9' || lpad((k % 500)::text, 76, '0') as tok) t
            """
        )
        conn.execute("analyze")


class Starts:
    """The no-op executor: notes when each strategy's run starts."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.all_in = asyncio.Event()
        self.expected = BURST

    async def execute(self, workflow: Workflow, deadline: float | None = None) -> RunResult:
        self.started[workflow.name] = time.monotonic()
        if len(self.started) >= self.expected:
            self.all_in.set()
        return RunResult(True, {}, [], 0, 0, [])


class Channel:
    """The fake market channel: every connection the listener opens, and which one
    carries each token; answers PING, and a subscription with a book snapshot of the
    tokens it names (midpoint 0.50)."""

    def __init__(self) -> None:
        self.by_token: dict[str, ServerConnection] = {}
        self.connections = 0
        self.subscribed = asyncio.Event()

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        async for message in ws:
            if message == "PING":
                await ws.send("PONG")
                continue
            tokens = json.loads(message).get("assets_ids") or []
            for tok in tokens:
                self.by_token[tok] = ws
            await ws.send(
                json.dumps(
                    [
                        {
                            "event_type": "book",
                            "asset_id": tok,
                            "market": "0x5f65",
                            "bids": [{"price": "0.49", "size": "10"}],
                            "asks": [{"price": "0.51", "size": "10"}],
                        }
                        for tok in tokens
                    ]
                )
            )
            if len(self.by_token) >= TOKENS:
                self.subscribed.set()

    async def send(self, tok: str, frame: str) -> None:
        await self.by_token[tok].send(frame)


async def settled(url: str, what: str) -> None:
    """Poll (a benchmark may) until `what` (a count query) answers 0."""
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            row = conn.execute(what).fetchone()
            if row is not None and row[0] == 0:
                return
            await asyncio.sleep(0.05)


async def round_of(url: str, channel: Channel, starts: Starts) -> list[float]:
    starts.started.clear()
    starts.all_in.clear()
    sent: dict[str, float] = {}
    t0 = time.monotonic()
    for i in range(BURST):
        # The crossing for token i (strategy i), then four noise frames elsewhere.
        at = t0 + i * (1.0 / BURST)
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        sent[f"bench {i}"] = time.monotonic()
        await channel.send(token(i), change(token(i), "0.60", "0.62"))
        for j in range(4):
            noise = token(BURST + (i * 4 + j) % (TOKENS - BURST))
            await channel.send(noise, change(noise, "0.50", "0.52" if j % 2 else "0.51"))
    async with asyncio.timeout(60):
        await starts.all_in.wait()
    latencies = [starts.started[name] - at for name, at in sent.items()]
    # Re-arm: every token back to 0.50, and wait until the runs are recorded.
    await settled(url, "select count(*) from cascadian_leases where token is not null")
    for i in range(BURST):
        await channel.send(token(i), change(token(i), "0.49", "0.51"))
    await settled(
        url,
        "select count(*) from cascadian_triggers where not coalesce(armed, false) and level = 0.60",
    )
    return latencies


async def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--rounds", type=int, default=None, help="bursts (default 5)")
    p.add_argument(
        "--per-connection",
        type=int,
        default=None,
        help="tokens a connection carries (default CASCADIAN_TRIGGER_TOKENS_PER_CONNECTION)",
    )
    args = p.parse_args()
    rounds = args.rounds or (1 if args.quick else 5)
    admin = common.admin_url()
    url = common.fresh_database(admin, DB)
    seed_triggers(url)
    common.print_header(
        "trigger latency",
        url,
        f"{TRIGGERS} armed triggers over {TOKENS} tokens; {rounds} burst(s) of {BURST} "
        f"crossings in one second (plus {BURST * 4} noise frames) from a fake market "
        "channel on 127.0.0.1; latency from the frame's send to its run's start.",
    )
    settings = common.bench_settings(url)
    per_connection = args.per_connection or settings.trigger_tokens_per_connection
    store = SqlStore.postgres(url, pool_size=10)
    await store.open()
    starts = Starts()
    channel = Channel()
    stop = asyncio.Event()
    latencies: list[float] = []
    try:
        async with websockets.serve(channel.handler, "127.0.0.1", 0, max_size=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            ticks = common.tick_service(store, starts, settings)
            runner = EventRunner(
                store,
                ticks,
                max_concurrency=settings.max_concurrency,
                lease_seconds=settings.lease_seconds,
            )
            listener = MarketListener(
                store,
                f"ws://127.0.0.1:{port}",
                on_events=runner.wake,
                tokens_per_connection=per_connection,
            )
            tasks = [asyncio.create_task(listener.run(stop)), asyncio.create_task(runner.run(stop))]
            await channel.subscribed.wait()
            await settled(url, "select count(*) from cascadian_triggers where armed is null")
            for _ in range(rounds):
                latencies += await round_of(url, channel, starts)
            stop.set()
            await asyncio.gather(*tasks)
    finally:
        await store.close()
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    common.print_table(
        ["tokens a connection", "connections", "crossings", "p50 ms", "p95 ms", "p99 ms", "max ms"],
        [
            (
                per_connection,
                channel.connections,
                len(ordered),
                pct(0.5),
                pct(0.95),
                pct(0.99),
                ordered[-1] * 1000,
            )
        ],
    )
    target = pct(0.99) < 1000
    print(f"target: p99 under 1 s: {'met' if target else 'NOT met'} ({pct(0.99):.0f} ms)")
    common.drop_database(admin, DB)


if __name__ == "__main__":
    common.run(main)
