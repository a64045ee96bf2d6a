"""Migration 048 names each open position's holding, the paper order that opened it,
for positions that were open before it: a position bought, sold to nothing and bought
again is held from the second buy; one never flat, from its first. Orders placed
after it keep the holding through its trigger."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import psycopg

from cascadian.store.migrate import SOURCE_MIGRATIONS, migrate
from tests.factories import add_strategy
from tests.store.schema_snapshot import scratch_database
from tests.store.test_trading_book_sql import place

HOLDINGS = "048_holdings_and_event_reruns.sql"
BEFORE = "cascadian_place_paper_order_v4"  # the order function of 041


def paper_ids(db: psycopg.Connection[Any]) -> list[int]:
    return [r[0] for r in db.execute("select id from cascadian_paper_orders order by id")]


def test_open_positions_before_048_are_held_from_the_order_that_last_opened_them(
    admin_url: str, tmp_path: Path
) -> None:
    for migration in sorted(SOURCE_MIGRATIONS.glob("*.sql")):
        if migration.name < HOLDINGS:
            shutil.copy(migration, tmp_path / migration.name)
    with scratch_database(admin_url, "cascadian_holdings_test") as url:
        migrate(url, tmp_path)
        with psycopg.connect(url, autocommit=True) as db:
            sid = add_strategy(db, next_execution_at=None)
            # m1: bought, sold to nothing, bought twice more (held from the 3rd order).
            place(db, sid, "buy", [("0.40", "10")], slot="1", market="m1", function=BEFORE)
            place(
                db,
                sid,
                "sell",
                [("0.50", "10")],
                slot="2",
                market="m1",
                node="sell-1",
                function=BEFORE,
            )
            place(db, sid, "buy", [("0.40", "5")], slot="3", market="m1", function=BEFORE)
            place(db, sid, "buy", [("0.40", "5")], slot="4", market="m1", function=BEFORE)
            # m2: never flat (held from its first order); m3: flat now.
            place(db, sid, "buy", [("0.40", "10")], slot="5", market="m2", function=BEFORE)
            place(db, sid, "buy", [("0.40", "10")], slot="6", market="m3", function=BEFORE)
            place(
                db,
                sid,
                "sell",
                [("0.50", "10")],
                slot="7",
                market="m3",
                node="sell-1",
                function=BEFORE,
            )
            ids = paper_ids(db)
            assert migrate(url)[0] == HOLDINGS
            held = dict(db.execute("select market_id, holding from cascadian_positions").fetchall())
            assert held == {"m1": ids[2], "m2": ids[4], "m3": None}
            # After 048 the trigger keeps it: another buy keeps m1's holding; m3
            # bought again opens a new one.
            place(db, sid, "buy", [("0.40", "5")], slot="8", market="m1")
            place(db, sid, "buy", [("0.40", "5")], slot="9", market="m3")
            later = dict(
                db.execute("select market_id, holding from cascadian_positions").fetchall()
            )
            assert later == {"m1": ids[2], "m2": ids[4], "m3": paper_ids(db)[-1]}
