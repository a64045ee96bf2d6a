"""`cascadian strategies`, against the test database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from cascadian.cli import strategies as cli_strategies
from cascadian.cli.main import app
from tests.factories import add_strategy, node, rows, strategy

runner = CliRunner()


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr(cli_strategies.console, "width", 200)  # no wrapping in tables


def cli(*args: str) -> Any:
    return runner.invoke(app, ["strategies", *args])


def test_list_shows_every_strategy_with_its_status_and_schedule(env: None, db: Any) -> None:
    add_strategy(db, next_execution_at=datetime.now(UTC), name="Alpha")
    add_strategy(
        db, next_execution_at=None, name="Beta", status="paused", auto_run=False, cron="0 9 * * 1"
    )
    result = cli("list")
    assert result.exit_code == 0, result.output
    assert "2 strategies" in result.output
    assert "Alpha" in result.output and "running" in result.output
    assert "Beta" in result.output and "cron '0 9 * * 1' UTC" in result.output


def test_status_shows_counters_and_the_last_error(env: None, db: Any) -> None:
    sid = add_strategy(
        db,
        next_execution_at=None,
        name="Gamma",
        status="error",
        auto_run=False,
        execution_count=4,
        success_count=1,
        error_count=3,
        last_error="node 'f': boom",
    )
    result = cli("status", str(sid))
    assert result.exit_code == 0, result.output
    assert "Gamma" in result.output and "auto-paused" in result.output
    assert "4 (1 ok, success rate 25.0%)" in result.output
    assert "node 'f': boom" in result.output


def test_list_tells_an_auto_paused_strategy_from_one_failing_for_the_first_time(
    env: None, db: Any
) -> None:
    add_strategy(
        db,
        next_execution_at=None,
        name="Paused by errors",
        status="error",
        auto_run=False,
        error_count=3,
    )
    add_strategy(db, next_execution_at=datetime.now(UTC), name="Failing once", error_count=1)
    lines = cli("list").output.splitlines()
    [paused] = [line for line in lines if "Paused by errors" in line]
    [failing] = [line for line in lines if "Failing once" in line]
    assert "auto-paused" in paused and "(3 err)" in paused
    assert "running" in failing and "auto-paused" not in failing and "(1 err)" in failing


def test_list_fits_80_columns_with_every_id_whole(
    env: None, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_strategies.console, "width", 80)
    ids = [
        add_strategy(db, next_execution_at=datetime.now(UTC), name=f"A long strategy name {i}")
        for i in range(3)
    ]
    result = cli("list")
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert all(str(sid) in result.output for sid in ids)
    assert "schedule" not in result.output  # `status ID` has it


def test_start_pause_stop_and_resume_change_the_strategy(env: None, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None, status="draft", auto_run=False)
    started = cli("start", str(sid), "--cron", "*/5 * * * *", "--timezone", "Europe/Paris")
    assert started.exit_code == 0, started.output
    assert "started; next run at" in started.output
    s = strategy(db, sid)
    assert (s["status"], s["auto_run"], s["cron_expression"]) == ("running", True, "*/5 * * * *")
    assert cli("pause", str(sid)).exit_code == 0
    assert strategy(db, sid)["status"] == "paused"
    assert cli("stop", str(sid)).exit_code == 0
    assert strategy(db, sid)["status"] == "stopped"
    resumed = cli("resume", str(sid))
    assert resumed.exit_code == 0, resumed.output
    assert (strategy(db, sid)["status"], strategy(db, sid)["auto_run"]) == ("running", True)


def test_a_refused_change_exits_1_with_the_reason(env: None, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=datetime.now(UTC) + timedelta(minutes=1))
    result = cli("start", str(sid))
    assert result.exit_code == 1
    assert "refused" in result.output and "already running" in result.output


def test_an_invalid_cron_exits_1_and_changes_nothing(env: None, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=None, status="draft", auto_run=False)
    result = cli("start", str(sid), "--cron", "every day")
    assert result.exit_code == 1
    assert "invalid schedule" in result.output and "expected 5 fields" in result.output
    assert strategy(db, sid)["status"] == "draft"


def test_unknown_and_malformed_ids(env: None, db: Any) -> None:
    unknown = cli("pause", str(uuid.uuid4()))
    assert unknown.exit_code == 1 and "not found" in unknown.output
    assert cli("status", "not-a-uuid").exit_code == 2  # a usage error


def test_run_runs_now_without_moving_the_schedule(env: None, db: Any) -> None:
    slot = datetime.now(UTC) + timedelta(hours=1)
    sid = add_strategy(db, next_execution_at=slot, name="Delta")
    result = cli("run", str(sid))
    assert result.exit_code == 0, result.output
    assert "run of Delta" in result.output and "completed" in result.output
    s = strategy(db, sid)
    assert (s["execution_count"], s["next_execution_at"]) == (1, slot)
    assert rows(db, "select trigger_kind from workflow_executions") == [{"trigger_kind": "manual"}]


def test_a_failed_run_exits_1(env: None, db: Any) -> None:
    graph = ([node("start", "start"), node("x", "no-such-type")], [])
    sid = add_strategy(db, next_execution_at=None, name="Broken", graph=graph)
    result = cli("run", str(sid))
    assert result.exit_code == 1
    assert "failed" in result.output
    assert strategy(db, sid)["error_count"] == 1
