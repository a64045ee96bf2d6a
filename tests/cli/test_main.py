"""The `cascadian` command line, against the test database."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from cascadian.cli.main import app
from tests.factories import add_strategy, node, rows, strategy

runner = CliRunner()


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)


def test_migrate_on_an_up_to_date_database_is_a_no_op(env: None, db: Any) -> None:
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "database is up to date\n"


def test_tick_json_prints_the_endpoint_payload_and_records_the_run(env: None, db: Any) -> None:
    sid = add_strategy(db, next_execution_at=datetime.now(UTC) - timedelta(seconds=1), name="cli")
    result = runner.invoke(app, ["tick", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["success"] is True and datetime.fromisoformat(body["timestamp"])
    assert [e["workflow_name"] for e in body["data"]["executions"]] == ["cli"]
    assert strategy(db, sid)["execution_count"] == 1
    assert rows(db, "select trigger from cron_ticks") == [{"trigger": "cli"}]


def test_tick_table_shows_failures_by_name(env: None, db: Any) -> None:
    graph = ([node("start", "start"), node("x", "no-such-type")], [])
    add_strategy(db, next_execution_at=datetime.now(UTC), name="broken", graph=graph)
    result = runner.invoke(app, ["tick"])
    assert result.exit_code == 0, result.output
    assert "broken" in result.output and "failed" in result.output


def test_tick_exits_non_zero_when_the_database_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:9/none")
    monkeypatch.setenv("CASCADIAN_DB_TIMEOUT_SECONDS", "0.5")
    result = runner.invoke(app, ["tick"])
    assert result.exit_code == 1
    assert "error: the tick failed: database unavailable" in result.stderr


def test_a_bad_setting_is_reported_as_a_line_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASCADIAN_TICK_BUDGET_SECONDS", "5")
    result = runner.invoke(app, ["tick"])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: configuration error: ")
    assert "must be below CASCADIAN_TICK_BUDGET_SECONDS" in line


def test_tick_json_on_failure_has_the_endpoints_error_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:9/none")
    monkeypatch.setenv("CASCADIAN_DB_TIMEOUT_SECONDS", "0.5")
    result = runner.invoke(app, ["tick", "--json"])
    assert result.exit_code == 1
    body = json.loads(result.stdout)  # the error line is on stderr, not mixed in
    assert body["success"] is False and "database unavailable" in body["error"]
    assert isinstance(body["execution_time_ms"], int) and body["timestamp"]


def test_demo_on_a_busy_port_says_so_in_one_line_and_starts_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("CASCADIAN_DATA_DIR", str(tmp_path / "never-created"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["demo", "--port", str(port)])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert f"cannot listen on 127.0.0.1:{port}" in line and "--port" in line
    assert result.stdout == ""
    assert not (tmp_path / "never-created").exists()


def test_a_database_that_is_down_is_one_line_with_its_cause(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:9/none")
    monkeypatch.setenv("CASCADIAN_DB_TIMEOUT_SECONDS", "0.5")
    result = runner.invoke(app, ["tick"])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert "database unavailable: connection failed" in line
    assert "127.0.0.1" in line and "port 9" in line
