"""The trading book under real concurrency: orders raced from several processes, each
its own connection, never overshoot a limit or the cash; and a worker process
SIGKILLed after recording its order leaves one order, which the re-run of its slot
sees, not a second one (issue 28)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest

from cascadian.bootstrap import build_executor
from cascadian.clock import FakeClock
from cascadian.config import Settings
from cascadian.store.sql_store import SqlStore
from cascadian.tick import TickService
from tests.factories import NODE_LOGS, add_strategy, rows
from tests.polymarket_fixtures import PRICES, RECORDS
from tests.store.test_trading_book_sql import limits, place, portfolio

PROCESSES = 5
STRATEGIES = 10
ORDERS = PROCESSES  # per strategy, one from each process: 50 in all, each sent twice


def race(
    database_url: str,
    calls: list[tuple[str, str, str, str]],
    start: Any,
    answers: Any,
) -> None:
    """One process: its own connection, waiting at the barrier, then its share."""
    found = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        start.wait()
        for sid, slot, node, market in calls:
            a = place(conn, UUID(sid), "buy", [("0.5", "300")], slot=slot, node=node, market=market)
            found.append((sid, a["result"], a.get("refusal"), a["replayed"], a["available_cash"]))
    answers.put(found)


@pytest.mark.slow
@pytest.mark.both_schemas
def test_fifty_orders_of_ten_strategies_raced_twice_from_five_processes_never_overshoot(
    schema: str, database_url: str, db: psycopg.Connection[Any]
) -> None:
    ids = [add_strategy(db, next_execution_at=None) for _ in range(STRATEGIES)]
    for sid in ids:
        # $150 an order (300 shares at 0.5), $100 always kept: two fill, no more.
        limits(db, sid, initial_bankroll=500, min_cash_reserve_usd=100, max_open_positions=3)
    # Portfolios that exist already (strategies that traded before), so no order waits
    # on another's insert of the row: only the lock orders them. Without it (a copy of
    # the function without `for update`) this race fills a third order of a strategy,
    # breaks the reserve, and trips the cash check.
    db.execute(
        "insert into cascadian_paper_portfolios (workflow_id, initial_bankroll, available_cash, "
        "peak_equity) select id, 500, 500, 500 from workflow_sessions"
    )
    # Process i places order node-i of every strategy, then sends node-(i+1) of every
    # strategy again (a re-run racing the first): each strategy's 5 orders race from 5
    # processes at once, and each is sent twice, by two different processes.
    shares = [
        [(str(sid), "slot-1", f"node-{i}", f"m{i}") for sid in ids]
        + [
            (str(sid), "slot-1", f"node-{(i + 1) % ORDERS}", f"m{(i + 1) % ORDERS}")
            for sid in ids[::-1]
        ]
        for i in range(PROCESSES)
    ]
    ctx = multiprocessing.get_context("spawn")
    start, answers = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [
        ctx.Process(target=race, args=(database_url, shares[i], start, answers))
        for i in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    found = [a for _ in procs for a in answers.get(timeout=120)]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert len({p.pid for p in procs} | {os.getpid()}) == PROCESSES + 1

    assert len(found) == 2 * STRATEGIES * ORDERS
    # A fill is answered again (replayed); a refusal uses up no key (054), so the
    # second send of a refused order is tried afresh, and refused again: the cash
    # two fills left never comes back.
    assert Counter(replayed for *_, replayed, _ in found) == {True: 20, False: 80}
    assert all(Decimal(cash) >= 0 for *_, cash in found)
    recorded = rows(db, "select workflow_id, result, refusal from cascadian_trading_orders")
    assert len(recorded) == STRATEGIES * (2 + 3 * 2)
    for sid in ids:
        mine = [r for r in recorded if r["workflow_id"] == sid]
        assert Counter(r["result"] for r in mine) == {"filled": 2, "refused": 6}
        assert {r["refusal"] for r in mine if r["result"] == "refused"} == {"min_cash_reserve_usd"}
        book = portfolio(db, sid)
        assert Decimal(str(book["available_cash"])) == Decimal(200)
        assert Decimal(str(book["deployed_capital"])) == Decimal(300)
        assert book["open_positions"] == 2


class Polymarket(ThreadingHTTPServer):
    """Gamma and the CLOB on 127.0.0.1, in their real shapes, for a worker process;
    GET /hold is where the strategy waits after its order: it says it arrived
    (`held`) and answers once `release` is set."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Answer)
        self.held, self.release = threading.Event(), threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Answer(BaseHTTPRequestHandler):
    server: Polymarket

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        token = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("token_id", "")
        if path == "/markets/253591":
            self._json(RECORDS[0])
        elif path == "/book" and token in PRICES:
            bid, ask = PRICES[token]["BUY"], PRICES[token]["SELL"]
            self._json(
                {
                    "market": RECORDS[0]["conditionId"],
                    "asset_id": token,
                    "timestamp": "1761998400000",
                    "hash": "0x1fd2a1c6d5c9a1a0",
                    "bids": [{"price": "0.30", "size": "5000"}, {"price": bid, "size": "1000"}],
                    "asks": [{"price": "0.45", "size": "5000"}, {"price": ask, "size": "1000"}],
                    "min_order_size": "5",
                    "tick_size": "0.01",
                    "neg_risk": False,
                }
            )
        elif path == "/fee-rate":
            self._json({"base_fee": 0})
        elif path == "/hold":
            self.server.held.set()
            self.server.release.wait(60)
            self._json({"held": True})
        else:
            self._json({"error": "not found"}, 404)

    def _json(self, body: Any, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def polymarket() -> Iterator[Polymarket]:
    server = Polymarket()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()
    thread.join(10)


def buy_then_hold(hold_url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The builder's buy node, then a request that holds the run after the order."""
    nodes = [
        {
            "id": "buy",
            "type": "polymarket-buy",
            "position": {"x": 0, "y": 0},
            "data": {
                "label": "Buy",
                "nodeType": "polymarket-buy",
                "config": {"marketId": "253591", "outcome": "Yes", "amount": 39},
            },
        },
        {
            "id": "hold",
            "type": "httpRequest",
            "position": {"x": 250, "y": 0},
            "data": {
                "label": "Hold",
                "nodeType": "httpRequest",
                "config": {"url": hold_url, "method": "GET"},
            },
        },
    ]
    return nodes, [{"id": "e1", "source": "buy", "target": "hold"}]


def kill_after_its_order(
    env: dict[str, str], polymarket: Polymarket, db: psycopg.Connection[Any], log: Path
) -> dict[str, Any]:
    """`cascadian tick` in a process of its own, SIGKILLed once its run holds after
    recording its order; answers that order."""
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-c", "from cascadian.cli.main import app; app()", "tick"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # The run reaches the request after its buy: its order is recorded.
        assert polymarket.held.wait(60), log.read_text(errors="replace")[-3000:]
        [first] = rows(db, "select order_id, result from cascadian_trading_orders")
        assert first["result"] == "filled"
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(10) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
    return first


@pytest.mark.slow
async def test_a_worker_sigkilled_after_its_order_leaves_one_order_the_rerun_sees(
    database_url: str,
    db: psycopg.Connection[Any],
    store: SqlStore,
    polymarket: Polymarket,
    tmp_path: Path,
) -> None:
    sid = add_strategy(
        db,
        next_execution_at=datetime.now(UTC) - timedelta(minutes=1),
        graph=buy_then_hold(f"{polymarket.url}/hold"),
        name="Buys, then is killed",
    )
    env = {
        "CASCADIAN_POLYMARKET_URL": polymarket.url,
        "CASCADIAN_CLOB_URL": polymarket.url,
        "CASCADIAN_HTTP_ALLOWLIST": '["127.0.0.1:*"]',
        "CASCADIAN_MARK_EVERY_SECONDS": "0",
    }
    proc_env = (
        {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CASCADIAN_", "CRON_", "ADMIN_", "DATABASE_"))
        }
        | env
        | {
            "DATABASE_URL": database_url,
            "CASCADIAN_DATA_DIR": str(tmp_path / "unused-embedded"),
        }
    )
    first = kill_after_its_order(proc_env, polymarket, db, tmp_path / "worker.log")
    [lease] = rows(
        db, "select token as lease_token, expires_at as lease_expires_at from cascadian_leases"
    )
    assert lease["lease_token"] is not None  # the dead worker's claim stands

    polymarket.release.set()
    settings = Settings(**env)
    later = FakeClock(lease["lease_expires_at"] + timedelta(seconds=1))
    async with httpx.AsyncClient() as http:
        executor = build_executor(settings, http, store)
        report = await TickService(store, executor, settings, later).tick()

    [rerun] = report.executions
    assert (rerun.status, rerun.attempt) == ("completed", 2), rerun.error
    orders = rows(db, "select order_id from cascadian_trading_orders where workflow_id = %s", sid)
    assert orders == [{"order_id": first["order_id"]}]
    assert len(rows(db, "select 1 from cascadian_paper_orders")) == 1
    [seen] = rows(
        db,
        f"select output from {NODE_LOGS} where execution_id = %s and node_id = 'buy'",
        rerun.execution_id,
    )
    assert seen["output"]["orderId"] == str(first["order_id"])
    assert seen["output"]["replayed"] is True and seen["output"]["status"] == "filled"
    book = portfolio(db, sid)
    assert Decimal(str(book["available_cash"])) == Decimal(10000) - Decimal(39)
