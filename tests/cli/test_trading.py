"""`cascadian strategies limits`, `cascadian kill-switch` and the trading lines of
`cascadian strategies status`, against the test database: a refusal is one line and
exit 1, and changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from psycopg.types.json import Jsonb
from typer.testing import CliRunner

from cascadian.cli import common
from cascadian.cli.main import app
from tests.factories import add_strategy, rows
from tests.store.test_trading_book_sql import NOW, place

runner = CliRunner()


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr(common.console, "width", 200)  # no wrapping in tables


def cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_limits_shows_then_changes_only_the_limits_given(env: None, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None)
    shown = cli("strategies", "limits", str(sid))
    assert shown.exit_code == 0, shown.output
    assert "$10,000.00" in shown.output and "no limit" in shown.output

    cli("strategies", "limits", str(sid), "--max-order", "50", "--daily-loss", "25.5")
    changed = cli(
        "strategies", "limits", str(sid), "--max-open-positions", "2", "--clear", "max-order"
    )

    assert changed.exit_code == 0, changed.output
    [limits] = rows(db, "select * from cascadian_trading_limits")
    assert (limits["max_order_usd"], limits["daily_loss_usd"], limits["max_open_positions"]) == (
        None,
        Decimal("25.5"),
        2,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--max-order", "-5"], "max_order_usd is more than 0"),
        (["--daily-loss", "lots"], "daily_loss_usd is not a number"),
        (["--clear", "stop-loss"], "unknown limit 'stop-loss'"),
    ],
)
def test_a_bad_limit_exits_1_naming_it_and_changes_nothing(
    env: None, db: Any, args: list[str], says: str
) -> None:
    sid = add_strategy(db, next_execution_at=None)
    result = cli("strategies", "limits", str(sid), *args)
    assert result.exit_code == 1
    assert says in result.output
    assert rows(db, "select * from cascadian_trading_limits") == []


def test_limits_of_an_unknown_strategy_exit_1(env: None, db: Any) -> None:
    result = cli("strategies", "limits", str(uuid.uuid4()), "--max-order", "5")
    assert result.exit_code == 1 and "not found" in result.output


def test_the_kill_switch_goes_on_with_who_and_why_and_off_again(env: None, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None, name="Runaway")
    on = cli("kill-switch", "on", "--reason", "exchange incident", "--by", "ana")
    mine = cli("kill-switch", "on", "--strategy", str(sid), "--reason", "looping")
    listed = cli("kill-switch", "list")
    assert on.exit_code == 0 and mine.exit_code == 0, on.output + mine.output
    assert "global" in listed.output and "exchange incident" in listed.output
    assert "Runaway" in listed.output and "(cli)" in listed.output  # this shell's user
    assert place(db, sid, "buy", [("0.5", "1")])["refusal"] == "kill_switch"

    cli("kill-switch", "off")
    cli("kill-switch", "off", "--strategy", str(sid))

    assert rows(db, "select * from cascadian_kill_switches") == []
    logged = rows(db, "select action, workflow_id, source from cascadian_audit_log order by id")
    assert logged == [
        {"action": "kill_switch_on", "workflow_id": None, "source": "cli"},
        {"action": "kill_switch_on", "workflow_id": sid, "source": "cli"},
        {"action": "kill_switch_off", "workflow_id": None, "source": "cli"},
        {"action": "kill_switch_off", "workflow_id": sid, "source": "cli"},
    ]


def test_a_kill_switch_without_a_reason_is_refused_and_stays_off(env: None, db: Any) -> None:
    missing = cli("kill-switch", "on")
    blank = cli("kill-switch", "on", "--reason", "  ")
    assert (missing.exit_code, blank.exit_code) == (2, 1)
    assert "a kill switch needs reason" in blank.output
    assert rows(db, "select * from cascadian_kill_switches") == []


def test_status_shows_exposure_the_days_pnl_and_a_halt(env: None, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None, name="Momentum")
    db.execute(
        "select cascadian_set_trading_limits_v2(%s, %s, %s)",
        (sid, Jsonb({"daily_loss_usd": "10"}), NOW),
    )
    today = datetime.now(UTC)
    place(db, sid, "buy", [("0.5", "300")], now=today, node="buy")
    place(db, sid, "sell", [("0.4", "100")], now=today, node="sell")  # -10: halts

    result = cli("strategies", "status", str(sid))

    assert result.exit_code == 0, result.output
    assert "$100.00 at cost, 1 open position" in result.output
    assert "-$10.00 realised (2 orders)" in result.output
    assert "halted" in result.output and "strategies lift-halt" in result.output
