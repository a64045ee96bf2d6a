"""Market sharing: N strategies asking Gamma the same question in one tick.

A local fake Gamma (a starlette app under uvicorn on 127.0.0.1, in a process of its
own) answers GET /markets/keyset with 100 markets in the real shape after 100 ms,
and counts the requests. N due strategies, each start -> polymarket-markets (the
demo's query: top 100 by 24h volume, 24h volume over $100k) -> filter -> end, run
through one real tick (TickService, GraphExecutor, the Postgres store) with the
default settings (claim 25, concurrency 25, run timeout 30 s) except the tick
budget: 600 s, so that the one tick claims every due strategy.

  shared            the default: identical requests made once, kept 30 s; rate limit on
  not shared        every strategy asks upstream; the rate limit (150 per 10 s) on
  not shared, no limit  every strategy asks upstream as fast as it can (the old code)

For each: upstream requests, runs completed in the tick, the tick's time, and the
runs' own time (the executor's, without recording the outcome).

    .venv/bin/python bench/market_sharing.py [--quick] [--sizes 1,100,1000]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import socket
import time
from pathlib import Path
from typing import Any

import common
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cascadian.clock import SystemClock
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from cascadian.workflow.executor import GraphExecutor
from cascadian.workflow.market import MarketData
from cascadian.workflow.node_api import NodeServices

LATENCY = 0.1
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
VARIANTS = {
    "shared": {"share": True, "limit": True},
    "not shared": {"share": False, "limit": True},
    "not shared, no limit": {"share": False, "limit": False},
}

GRAPH = common.chain(
    common.node("start", "start"),
    common.node(
        "fetch", "polymarket-markets", limit=100, order="volume24hr", min_volume_24h=100_000
    ),
    common.node(
        "cheap",
        "filter",
        conditions=[{"field": "yes_price", "operator": "between", "value": [0.2, 0.4]}],
    ),
    common.node("end", "end"),
)


def page_body(shift: int = 0) -> bytes:
    """100 markets in Gamma's shape, made from the test fixture's first record: 24h
    volumes from $500k down (half over $100k), Yes prices from 0.01 up (a fifth of
    those between 0.2 and 0.4), as in a real top-100 list. `shift` moves every price."""
    [record, *_] = json.loads((FIXTURES / "gamma_markets_keyset_page1.json").read_text())["markets"]
    markets = []
    for i in range(100):
        yes = round(0.01 + ((i * 37 + shift) % 100) * 0.0098, 4)
        prices = json.dumps([str(yes), str(round(1 - yes, 4))])
        markets.append(
            {
                **record,
                "id": str(600000 + i),
                "slug": f"market-{i}",
                "volume24hr": 500_000 - i * 8_000,
                "outcomePrices": prices,
            }
        )
    return json.dumps({"markets": markets}).encode()


class FakeGamma:
    """The keyset endpoint, 100 ms late, counting what it is asked: in a process of its
    own, so its latency does not wait for this one's CPU."""

    def __init__(self, moving: bool = False) -> None:
        """`moving`: every answer's prices differ from the last one's."""
        self._count = multiprocessing.Value("i", 0)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._process = multiprocessing.get_context("fork").Process(
            target=_serve, args=(self.port, self._count, moving), daemon=True
        )

    @property
    def requests(self) -> int:
        return int(self._count.value)

    def __enter__(self) -> str:
        self._process.start()
        for _ in range(500):
            with socket.socket() as s, contextlib.suppress(OSError):
                s.connect(("127.0.0.1", self.port))
                break
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.join()


def _serve(port: int, count: Any, moving: bool = False) -> None:
    body = page_body()

    async def markets(request: Request) -> Response:
        with count.get_lock():
            count.value += 1
            n = count.value
        await asyncio.sleep(LATENCY)
        return Response(page_body(n) if moving else body, media_type="application/json")

    app = Starlette(routes=[Route("/markets/keyset", markets)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


async def one_tick(url: str, gamma: str, store: SqlStore, fake: FakeGamma, **how: Any) -> Any:
    settings = common.bench_settings(
        url,
        CASCADIAN_POLYMARKET_URL=gamma,
        CASCADIAN_TICK_BUDGET_SECONDS=600,
        CASCADIAN_LEASE_SECONDS=900,
    )
    async with httpx.AsyncClient(timeout=settings.node_http_timeout_seconds) as http:
        markets = MarketData.create(settings, http, **how)
        services = NodeServices(settings, http=http, store=store, markets=markets)
        service = TickService(store, GraphExecutor(services=services), settings, SystemClock())
        before = fake.requests
        t0 = time.perf_counter()
        report = await service.tick(trigger="bench")
        elapsed = time.perf_counter() - t0
    done = sum(1 for e in report.executions if e.status == "completed")
    errors = {e.error.split(":")[0] for e in report.executions if e.error}
    runs = [e.duration_ms for e in report.executions] or [0]
    return fake.requests - before, done, elapsed, runs, errors


async def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--sizes", default=None, help="strategy counts (default 1,100,1000)")
    args = p.parse_args()
    default = "1,10,100" if args.quick else "1,100,1000"
    sizes = [int(n) for n in (args.sizes or default).split(",")]
    admin = common.admin_url()
    url = common.fresh_database(admin, "cascadian_bench_markets")
    common.print_header(
        "market sharing",
        url,
        f"N due strategies with the same market query, one tick each, per variant; the fake "
        f"Gamma answers after {LATENCY * 1000:g} ms. Sizes {sizes}.",
    )
    store = SqlStore.postgres(url, pool_size=10)
    await store.open()
    rows = []
    try:
        fake = FakeGamma()
        with fake as gamma:
            common.seed(url, 1, graph=GRAPH)  # warm up: imports, the pool, plans
            await one_tick(url, gamma, store, fake)
            for n in sizes:
                for name, how in VARIANTS.items():
                    common.reset(url)
                    common.seed(url, n, graph=GRAPH)
                    answer = await one_tick(url, gamma, store, fake, **how)
                    upstream, done, elapsed, runs, errors = answer
                    rows.append(
                        (
                            n,
                            name,
                            upstream,
                            f"{done}/{n}",
                            elapsed * 1000,
                            common.median(runs),
                            common.p95(runs),
                            "; ".join(sorted(errors)) or "none",
                        )
                    )
    finally:
        await store.close()
    headers = ["strategies", "variant", "upstream requests", "runs completed", "tick ms"]
    common.print_table([*headers, "run ms median", "run ms p95", "errors"], rows)
    common.drop_database(admin, "cascadian_bench_markets")


if __name__ == "__main__":
    common.run(main)
