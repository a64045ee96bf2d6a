"""Paper orders recorded per second, every limit checked, from one process and several.

Each order is one call of cascadian_place_paper_order_v3 (the function the order nodes'
executor calls; --function names another version to compare), in its own transaction,
as a filled fill of 20 shares at 0.5 (v3 first adds the day's unrealised P&L from the
marks and the equity curve to the daily loss, 040): it
takes the portfolio's lock, checks the kill switch, the halt, the position and every
limit (max order, max position, max open positions, the daily loss from midnight in
the strategy's zone, the cash reserve; all set, none binding), and writes the order,
the position (and, by 025's trigger, cascadian_positions) and the portfolio. Every
fourth order of a strategy sells 10 shares of a position it holds, so realised P&L
and the win/loss counters move too. Orders are distinct (their own slot), so none is
a replay.

Variants, on a fresh schema and on one shaped like the original app's (both schemas
alternate, the order of the variants reversed every other round):
  1 process      one connection, orders one after another;
  N processes    N processes (spawned, each its own connection) on strategies of
                 their own: how far orders of different strategies scale;
  N, one hot     the same N processes all ordering for the same few strategies: the
                 portfolio lock serialises them;
  no trigger     1 process with 025's position trigger disabled: what keeping
                 cascadian_positions costs an order.
Throughput is orders over the wall time from the barrier to the last commit; the
latency is each call's, client side (the server's work plus a local round trip).

    .venv/bin/python bench/paper_orders.py [--quick] [--orders N] [--processes N]
        [--function cascadian_place_paper_order_v2]
"""

from __future__ import annotations

import multiprocessing
import time
from datetime import UTC, datetime
from typing import Any

import common
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from schemas import app_database

from cascadian.store.trading import PLACE_PAPER_ORDER

DBS = {"fresh": "cascadian_bench_orders_fresh", "the app's": "cascadian_bench_orders_app"}
STRATEGIES = 200
HOT = 4  # strategies the "one hot" variant shares between its processes
MARKETS = 5


def limits(url: str) -> list[str]:
    """Every strategy's limits, all set, none binding; answers the strategies' ids."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into cascadian_trading_limits (workflow_id, initial_bankroll, "
            "max_order_usd, max_position_usd, max_open_positions, daily_loss_usd, "
            "min_cash_reserve_usd) select id, 1e9, 1e6, 1e8, 1000, 1e6, 1 "
            "from workflow_sessions on conflict do nothing"
        )
        return [str(r[0]) for r in conn.execute("select id from workflow_sessions order by id")]


def order(sid: str, n: int, tag: str) -> dict[str, Any]:
    sell = n % 4 == 3
    return {
        "workflow_id": sid,
        "slot": f"bench-{tag}-{n}",
        "node_id": "sell" if sell else "buy",
        "market_id": f"m{(n // 4) % MARKETS}",
        "outcome": "Yes",
        "side": "sell" if sell else "buy",
        "order_type": "market",
        "result": "filled",
        "fee_usd": "0.05",
        "fills": [{"price": "0.55" if sell else "0.5", "shares": "10" if sell else "20"}],
    }


def place(
    url: str,
    strategies: list[str],
    count: int,
    tag: str,
    start: Any,
    out: Any,
    trigger: bool,
    function: str,
) -> None:
    """One process's share: `count` orders round-robin over `strategies`."""
    latencies = []
    with psycopg.connect(url, autocommit=True) as conn:
        if not trigger:
            conn.execute("set session_replication_role = replica")  # triggers off, this session
        per = {s: 0 for s in strategies}
        calls = []
        for i in range(count):
            sid = strategies[i % len(strategies)]
            calls.append(order(sid, per[sid], tag))
            per[sid] += 1
        start.wait()
        t0 = time.perf_counter()
        for p in calls:
            t = time.perf_counter()
            [answer] = conn.execute(
                sql.SQL("select {}(%s, %s)").format(sql.Identifier(function)),
                (Jsonb(p), datetime.now(UTC)),
            ).fetchone() or [None]
            latencies.append(time.perf_counter() - t)
            assert answer["result"] == "filled", answer
        out.put((t0, time.perf_counter(), latencies))


def variant(
    url: str,
    ids: list[str],
    processes: int,
    orders: int,
    tag: str,
    hot: bool,
    trigger: bool,
    function: str,
) -> tuple[float, list[float]]:
    """Orders per second and every order's latency (s) of one run of a variant."""
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(processes), ctx.Queue()
    share = orders // processes
    slices = [ids[:HOT] if hot else ids[i::processes] for i in range(processes)]
    procs = [
        ctx.Process(
            target=place,
            args=(url, slices[i], share, f"{tag}-{i}", start, out, trigger, function),
        )
        for i in range(processes)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0, f"a process of {tag} failed"
    began, ended = min(r[0] for r in results), max(r[1] for r in results)
    return share * processes / (ended - began), [x for r in results for x in r[2]]


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--orders", type=int, default=None, help="orders per run (default 4000)")
    p.add_argument("--processes", type=int, default=4)
    p.add_argument("--rounds", type=int, default=None, help="rounds per variant (default 3)")
    p.add_argument("--function", default=PLACE_PAPER_ORDER, help="the order function to call")
    args = p.parse_args()
    orders = args.orders or (400 if args.quick else 4000)
    rounds = args.rounds or (1 if args.quick else 3)
    n = args.processes
    admin = common.admin_url()
    urls = {}
    for label, name in DBS.items():
        urls[label] = (
            common.fresh_database(admin, name) if label == "fresh" else (app_database(admin, name))
        )
        common.seed(urls[label], STRATEGIES, due=0)
    common.print_header("paper orders per second, limits checked", urls["fresh"], __doc__ or "")
    ids = {label: limits(url) for label, url in urls.items()}
    variants = {
        "1 process": (1, False, True),
        f"{n} processes": (n, False, True),
        f"{n} processes, one hot ({HOT} strategies)": (n, True, True),
        "1 process, no position trigger": (1, False, False),
    }
    rates: dict[tuple[str, str], list[float]] = {}
    lat: dict[tuple[str, str], list[float]] = {}
    for r in range(rounds):
        order_of = list(variants.items())
        for name, (procs, hot, trigger) in order_of if r % 2 == 0 else order_of[::-1]:
            for label, url in urls.items():
                rate, latencies = variant(
                    url, ids[label], procs, orders, f"r{r}-{name}", hot, trigger, args.function
                )
                rates.setdefault((label, name), []).append(rate)
                lat.setdefault((label, name), []).extend(latencies)
    rows = [
        (
            label,
            name,
            variants[name][0],
            common.median(rates[(label, name)]),
            common.median(lat[(label, name)]) * 1000,
            common.p95(lat[(label, name)]) * 1000,
        )
        for name in variants
        for label in urls
    ]
    common.print_table(
        ["schema", "variant", "processes", "orders/s (median of rounds)", "ms (median)", "p95"],
        rows,
    )
    for name in DBS.values():
        common.drop_database(admin, name)


if __name__ == "__main__":
    main()
